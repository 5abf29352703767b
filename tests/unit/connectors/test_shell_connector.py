"""The shell connector running real programs: allow-list, no shell, timeouts, output."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Awaitable, Callable
from contextlib import suppress
from pathlib import Path
from typing import TypeVar

import pytest

from runbookd.connectors.base import CallContext, PermanentError, Result, RetryableError
from runbookd.connectors.shell import SPEC, ShellSettings

pytestmark = pytest.mark.anyio
Caller = Callable[..., Awaitable[Result]]
T = TypeVar("T")

ALLOWED = ShellSettings(
    allow=["/bin/echo", "/bin/sh", "/bin/sleep", "/bin/pwd", "/usr/bin/env", "/usr/bin/touch"]
)


async def test_an_allowed_command_runs(call: Caller) -> None:
    result = await call(SPEC, {"command": ["/bin/echo", "restarting", "nginx"]}, ALLOWED)

    assert result == {"exit_code": 0, "stdout": "restarting nginx\n", "stderr": ""}


@pytest.mark.parametrize("program", ["/bin/rm", "echo", "/bin/../bin/echo", "/bin/echo/"])
async def test_commands_outside_the_allow_list_are_refused(call: Caller, program: str) -> None:
    with pytest.raises(PermanentError) as info:
        await call(SPEC, {"command": [program, "-rf", "/tmp/nothing"]}, ALLOWED)

    assert str(info.value).startswith(f"shell: {program!r} is not in connectors.shell.allow")
    assert "/bin/echo" in str(info.value)


@pytest.mark.parametrize(
    "template",
    ["$(touch {file}); rm -rf", "`touch {file}`", "x; touch {file}", "x && touch {file} | cat"],
)
async def test_shell_syntax_in_arguments_is_passed_literally(
    call: Caller, tmp_path: Path, template: str
) -> None:
    argument = template.format(file=tmp_path / "pwned")

    result = await call(SPEC, {"command": ["/bin/echo", argument]}, ALLOWED)

    assert result["stdout"] == argument + "\n"
    assert not (tmp_path / "pwned").exists()


def _running_with_argument(argument: str) -> list[int]:
    """The live processes whose command line holds ``argument`` (zombies have none)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with suppress(OSError):
                if argument.encode() in (entry / "cmdline").read_bytes().split(b"\0"):
                    found.append(int(entry.name))
    return found


async def test_a_timeout_kills_the_command(call: Caller) -> None:
    # An argument no other process on the machine has, so the check below finds only this one.
    seconds = f"3600.{os.getpid()}"

    with pytest.raises(RetryableError) as info:
        await call(SPEC, {"command": ["/bin/sleep", seconds], "timeout": "200ms"}, ALLOWED)

    assert str(info.value) == (
        "shell: /bin/sleep ran longer than 200ms; its process group was killed"
    )
    # The call returned with the command killed, not left running behind it.
    assert _running_with_argument(seconds) == []


async def test_cancelling_the_call_kills_the_whole_process_group(
    call: Caller, tmp_path: Path
) -> None:
    pidfile = tmp_path / "child.pid"
    script = f"/bin/sleep 3600 & echo $! > {pidfile}.tmp; mv {pidfile}.tmp {pidfile}; wait"
    task = asyncio.create_task(call(SPEC, {"command": ["/bin/sh", "-c", script]}, ALLOWED))
    child = int(await _poll(lambda: pidfile.read_text() if pidfile.exists() else None))
    try:
        task.cancel()
        # A survivor would hold the pipes open and keep the call from ending.
        done, _ = await asyncio.wait({task}, timeout=10)

        assert task in done and task.cancelled()
        assert await _poll(lambda: _gone(child)) is True
    finally:
        with suppress(ProcessLookupError):
            os.kill(child, signal.SIGKILL)


async def test_a_timeout_also_kills_children_of_a_program_that_exited(
    call: Caller, tmp_path: Path
) -> None:
    pidfile = tmp_path / "child.pid"
    # sh exits at once; its background child keeps stdout open until it is killed.
    script = f"/bin/sleep 3600 & echo $! > {pidfile}"

    with pytest.raises(RetryableError, match="ran longer than 300ms"):
        await asyncio.wait_for(
            call(SPEC, {"command": ["/bin/sh", "-c", script], "timeout": "300ms"}, ALLOWED),
            timeout=10,
        )

    child = int(pidfile.read_text())
    try:
        assert await _poll(lambda: _gone(child)) is True
    finally:
        with suppress(ProcessLookupError):
            os.kill(child, signal.SIGKILL)


async def test_a_failing_command_is_permanent_and_quotes_stderr(call: Caller) -> None:
    with pytest.raises(PermanentError) as info:
        await call(
            SPEC, {"command": ["/bin/sh", "-c", "echo 'unit not found' >&2; exit 5"]}, ALLOWED
        )

    assert str(info.value) == "shell: /bin/sh exited with 5: unit not found"


async def test_output_is_truncated(call: Caller) -> None:
    settings = ShellSettings(allow=["/bin/sh"], max_output_bytes=1000)

    result = await call(
        SPEC, {"command": ["/bin/sh", "-c", "head -c 100000 /dev/zero | tr '\\0' x"]}, settings
    )

    assert result["stdout"] == "x" * 1000 + "\n[99000 more bytes not kept]"


async def test_commands_get_only_the_passed_environment(
    call: Caller, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMTP_PASSWORD", "service-secret")

    result = await call(SPEC, {"command": ["/usr/bin/env"], "env": {"DRAIN": "yes"}}, ALLOWED)

    assert "DRAIN=yes" in result["stdout"].splitlines()
    assert f"PATH={os.environ['PATH']}" in result["stdout"].splitlines()
    assert "service-secret" not in result["stdout"]


async def test_working_directory(call: Caller, tmp_path: Path) -> None:
    result = await call(SPEC, {"command": ["/bin/pwd"], "cwd": str(tmp_path)}, ALLOWED)
    with pytest.raises(PermanentError, match="does not exist"):
        await call(SPEC, {"command": ["/bin/pwd"], "cwd": str(tmp_path / "nope")}, ALLOWED)

    assert result["stdout"] == f"{tmp_path}\n"


async def test_an_allowed_program_that_is_missing_is_permanent(call: Caller) -> None:
    settings = ShellSettings(allow=["/opt/nowhere/restart-it"])

    with pytest.raises(PermanentError, match="cannot run '/opt/nowhere/restart-it'"):
        await call(SPEC, {"command": ["/opt/nowhere/restart-it"]}, settings)


async def test_nothing_runs_without_an_allow_list(call: Caller) -> None:
    with pytest.raises(PermanentError, match=r"connectors\.shell section with allow"):
        await call(SPEC, {"command": ["/bin/echo", "hi"]})


async def test_a_dry_run_runs_nothing(call: Caller, tmp_path: Path) -> None:
    marker = tmp_path / "touched"

    result = await call(
        SPEC,
        {"command": ["/usr/bin/touch", str(marker)]},
        ALLOWED,
        ctx=CallContext(idempotency_key="d", dry_run=True),
    )

    assert result == {"dry_run": True}
    assert not marker.exists()


def test_the_allow_list_takes_absolute_paths_only() -> None:
    with pytest.raises(ValueError, match="'sbin/reboot' is not a normalized absolute path"):
        ShellSettings(allow=["sbin/reboot"])


async def _poll(probe: Callable[[], T | None], deadline: float = 10.0) -> T:
    """Wait for ``probe`` to return something, checking every 10 ms, up to ``deadline`` s."""
    end = time.monotonic() + deadline
    while (found := probe()) is None:
        assert time.monotonic() < end, "gave up waiting"
        await asyncio.sleep(0.01)
    return found


def _gone(pid: int) -> bool | None:
    """True once ``pid`` has exited (a zombie awaiting its reaper counts as exited)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return True if state in ("Z", "X") else None
