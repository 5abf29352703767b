"""The ``shell`` connector: run an allowed program with an argument list, never through a shell.

The program must be listed, by absolute path, in ``connectors.shell.allow``. It runs in its own
process group with only the environment variables named in ``pass_env`` (the service's own
environment holds every connector's secrets) plus the call's ``env``. A timeout, or the executor
cancelling the call, kills the whole group.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import signal
from contextlib import suppress

from pydantic import Field, field_validator

from runbookd.connectors.base import (
    CallContext,
    ConnectorSpec,
    Params,
    PermanentError,
    Result,
    RetryableError,
    Runtime,
)
from runbookd.connectors.base import Settings as BaseSettings
from runbookd.connectors.calls import connector_call, settings_of
from runbookd.connectors.durations import parse_duration

#: Characters of stderr quoted in the error of a failed command.
SNIPPET = 300
#: How long a killed command's pipes may stay open before the call ends anyway.
REAP_SECONDS = 5.0


def _split_hint(text: str) -> str:
    try:
        return repr(shlex.split(text))
    except ValueError:  # unbalanced quotes: no suggestion is better than a wrong one
        return "a list of arguments"


class ShellParams(Params):
    """A program and its arguments, executed directly (never through ``sh -c``)."""

    command: list[str] = Field(
        min_length=1,
        description="Program and arguments as a list, e.g. [systemctl, restart, nginx].",
    )
    cwd: str | None = Field(None, description="Working directory; by default the service's.")
    env: dict[str, str] = Field(
        default_factory=dict, description="Variables added to the command's environment."
    )
    timeout: str | None = Field(
        None, description="Kill the command after this long, e.g. 30s; by default the step's."
    )

    @field_validator("command", mode="before")
    @classmethod
    def _argument_list(cls, value: object) -> object:
        # Without a shell, "systemctl restart nginx" would name a program that does not exist;
        # a shell string would also let alert text inject commands. Say how to write it instead.
        if isinstance(value, str):
            raise ValueError(
                f"command must be a list of arguments, not a shell string: write {_split_hint(value)}"
            )
        if isinstance(value, list) and len(value) == 1:
            only = value[0]
            if isinstance(only, str) and len(only.split()) > 1:
                raise ValueError(
                    f"command {only!r} is one argument containing spaces and is not run by a "
                    f"shell: split it into {_split_hint(only)}"
                )
        return value


class ShellSettings(BaseSettings):
    """``connectors.shell`` in config.yaml: which programs may run, and with what."""

    allow: list[str] = Field(
        description=(
            "Absolute paths of the programs runbooks may run, e.g. /usr/bin/systemctl; a call "
            "must name one exactly."
        )
    )
    max_output_bytes: int = Field(
        64 * 1024, gt=0, description="Bytes of stdout, and of stderr, kept in the results."
    )
    pass_env: list[str] = Field(
        ["PATH", "HOME", "LANG", "LC_ALL", "TZ"],
        description="Variables of the service's environment that commands inherit.",
    )

    @field_validator("allow")
    @classmethod
    def _absolute(cls, value: list[str]) -> list[str]:
        for path in value:
            if not os.path.isabs(path) or os.path.normpath(path) != path:
                raise ValueError(f"{path!r} is not a normalized absolute path, e.g. /usr/bin/true")
        return value


async def _drain(stream: asyncio.StreamReader | None, keep: int) -> tuple[bytes, int]:
    """Read a pipe to its end (a full pipe would stall the command); keep the first bytes."""
    kept, total = bytearray(), 0
    while stream is not None and (chunk := await stream.read(65536)):
        total += len(chunk)
        kept.extend(chunk[: max(0, keep - len(kept))])
    return bytes(kept), total


def _text(data: bytes, total: int) -> str:
    text = data.decode(errors="replace")
    return text + f"\n[{total - len(data)} more bytes not kept]" if total > len(data) else text


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:  # a real-time signal has no name
        return str(number)


async def _start(
    command: list[str], *, cwd: str | None, env: dict[str, str]
) -> asyncio.subprocess.Process:
    """Start the program in a process group of its own; a call cancelled meanwhile kills it."""
    spawn = asyncio.ensure_future(
        asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=cwd,
            env=env,
            start_new_session=True,  # its own process group, so a kill reaches its children
        )
    )
    try:
        return await asyncio.shield(spawn)
    except asyncio.CancelledError:
        # Cancelled between fork and return, asyncio would kill the program but not its
        # children, then wait for pipes they hold. Finish starting it, and stop the group.
        with suppress(OSError):
            await _stop(await spawn)
        raise


async def _stop(process: asyncio.subprocess.Process) -> None:
    """Kill the whole process group and reap it; the group may outlive its leader."""
    with suppress(ProcessLookupError):  # already gone
        os.killpg(process.pid, signal.SIGKILL)
    # wait() also waits for the pipes to close. A process that left the group (setsid) while
    # holding them must not keep the call from ending, so the wait is bounded.
    with suppress(TimeoutError):
        async with asyncio.timeout(REAP_SECONDS):
            await process.wait()


@connector_call()
async def run(params: ShellParams, ctx: CallContext, runtime: Runtime) -> Result:
    """Run the command; a non-zero exit status is a permanent failure quoting stderr."""
    settings = settings_of(runtime, ShellSettings, "shell")
    program = params.command[0]
    if program not in settings.allow:
        raise PermanentError(
            f"shell: {program!r} is not in connectors.shell.allow "
            f"(allowed: {', '.join(settings.allow) or 'nothing'})"
        )
    try:
        limit = parse_duration(params.timeout).total_seconds() if params.timeout else None
    except ValueError as exc:
        raise PermanentError(f"shell: timeout: {exc}") from None
    if params.cwd is not None and not os.path.isdir(params.cwd):
        raise PermanentError(f"shell: working directory {params.cwd!r} does not exist")
    env = {name: os.environ[name] for name in settings.pass_env if name in os.environ}
    env.update(params.env)
    try:
        process = await _start(params.command, cwd=params.cwd, env=env)
    except OSError as exc:
        raise PermanentError(f"shell: cannot run {program!r}: {exc.strerror}") from None
    keep = settings.max_output_bytes
    finished = False
    try:
        async with asyncio.timeout(limit):
            (out, out_total), (err, err_total) = await asyncio.gather(
                _drain(process.stdout, keep), _drain(process.stderr, keep)
            )
            code = await process.wait()
        finished = True
    except TimeoutError:
        raise RetryableError(
            f"shell: {program} ran longer than {params.timeout}; its process group was killed"
        ) from None
    finally:
        if not finished:  # timed out, or the executor cancelled the call
            await _stop(process)
    stderr = _text(err, err_total)
    if code != 0:
        how = f"was killed by signal {_signal_name(-code)}" if code < 0 else f"exited with {code}"
        tail = " ".join(stderr[-SNIPPET:].split())
        raise PermanentError(f"shell: {program} {how}" + (f": {tail}" if tail else ""))
    return {"exit_code": code, "stdout": _text(out, out_total), "stderr": stderr}


SPEC = ConnectorSpec(
    name="shell",
    params=ShellParams,
    description="Run a program on the runbookd host with an argument list; no shell.",
    result_fields=("exit_code", "stdout", "stderr"),
    run=run,
    settings=ShellSettings,
)
