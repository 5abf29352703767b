"""The executor: runs the connector calls the engine asked for, one attempt per command.

Retries are the engine's decision (a step's ``on_failure``), so each retry is a new command with
its own call id; the executor only makes one attempt per command, bounded by a timeout, and
reports the outcome. Its inputs and outputs go through a ``WorkPort`` (the service implements it
on the outbox and the journal), so this module does no storage and knows no database.

Secrets: ``${env:NAME}`` references in parameters are resolved here, just before the call, and
every resolved value is masked in error messages. Rendered parameters in the timeline keep the
reference, never the value. ``$${env:`` is what templating made of a ``${env:`` inside alert
data (``engine.templating.inert_references``): it is sent as the text ``${env:`` and resolves
nothing, so alert content cannot read the service's environment.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx
from pydantic import ValidationError

from runbookd.connectors.base import (
    CallContext,
    ConnectorError,
    ConnectorSpec,
    PermanentError,
    RetryableError,
    Runtime,
    Settings,
)
from runbookd.connectors.calls import Masker
from runbookd.connectors.web import origin
from runbookd.engine.breaker import Breakers
from runbookd.engine.lang.durations import parse_duration

log = logging.getLogger(__name__)

#: How many finished call ids the executor remembers (far more than a read of the outbox claims).
DONE_REMEMBERED = 4096

#: ``${env:NAME}`` (group 1 is the name), or ``$${env:`` (escaped data: no group).
ENV_REF = re.compile(r"\$\$\{env:|\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class Work:
    call_id: str
    kind: str
    data: Mapping[str, Any]


@dataclass(frozen=True)
class Outcome:
    result: dict[str, Any] | None = None
    error: str | None = None
    retryable: bool = False
    seconds: float = 0.0


class WorkPort(Protocol):
    def pending(self, limit: int, exclude: frozenset[str]) -> list[Work]:
        """Calls not finished yet, oldest first (blocking; run in a thread)."""

    async def finish(self, work: Work, outcome: Outcome) -> None:
        """Durably record the outcome; it re-enters the engine as an input."""


@dataclass
class Secrets:
    """Resolves ``${env:NAME}`` and remembers what to mask."""

    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)
    used: set[str] = field(default_factory=set)

    def resolve(self, value: Any) -> Any:
        if isinstance(value, str):
            return ENV_REF.sub(self._lookup, value)
        if isinstance(value, dict):
            return {k: self.resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        return value

    def _lookup(self, match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:
            return "${env:"  # data that looked like a reference: text, not a lookup
        if name not in self.environ:
            raise PermanentError(f"environment variable {name} is not set")
        secret = self.environ[name]
        if secret:
            self.used.add(secret)
        return secret

    def mask(self, text: str) -> str:
        # The connectors' masker: of a secret URL it also hides the path and query on their own.
        return Masker(self.used).text(text)


class Executor:
    def __init__(
        self,
        specs: Mapping[str, ConnectorSpec],
        port: WorkPort,
        http: httpx.AsyncClient,
        *,
        settings: Mapping[str, Settings] | None = None,
        workers: int = 16,
        default_timeout: float = 30.0,
        environ: Mapping[str, str] | None = None,
        breakers: Breakers | None = None,
        permit: Callable[[], bool] | None = None,
    ) -> None:
        self._specs = specs
        #: replicas: whether this process may start a call now (it holds the engine lease and
        #: its local deadline has not passed); asked right before each call
        self._permit = permit
        self.breakers = breakers or Breakers()
        self._port = port
        self._http = http
        self._settings = dict(settings or {})
        self._workers = workers
        self._sem = asyncio.Semaphore(workers)
        self._default_timeout = default_timeout
        self._environ = environ if environ is not None else os.environ
        self._inflight: set[str] = set()
        # Calls finished lately. A read of the outbox that began before a call's outcome was
        # stored can still list it as pending after it left _inflight; this keeps it from
        # running twice.
        self._done: dict[str, None] = {}
        # True while the outbox may hold pending calls not claimed yet (unknown at start): then
        # calls offered by the engine wait their turn there instead of overtaking them.
        self._backlog = True
        self._tasks: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self.calls = 0

    def wake(self) -> None:
        self._wake.set()

    def use_settings(self, settings: Mapping[str, Settings]) -> None:
        """Connector settings for calls that start from now on (a config reload); calls in
        flight finish with the settings they started with."""
        self._settings = dict(settings)

    def offer(self, works: list[Work]) -> None:
        """Calls the engine has just stored in the outbox, handed over without reading them back.

        Saves a read of the outbox (and two thread hops) per engine batch on the way from an
        alert to its first connector call. Anything not taken here is still pending in the
        outbox, and the next read claims it, in order.
        """
        if self._backlog or not self._permitted():
            self._wake.set()
            return
        for work in works:
            if len(self._inflight) >= self._workers * 4:
                self._backlog = True
                self._wake.set()
                return
            self._start(work)

    @property
    def inflight(self) -> int:
        return len(self._inflight)

    async def run(self) -> None:
        """Claim and run pending work until cancelled."""
        while True:
            # A periodic look catches missed wake-ups. asyncio.timeout, not wait_for: on 3.11
            # wait_for drops a cancel that arrives just after the wake-up (CPython gh-86296),
            # and a shutdown that cancels once would then wait forever.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.0):
                    await self._wake.wait()
            self._wake.clear()
            try:
                await self._dispatch()
            except Exception:  # the store may be down: try again on the next wake-up
                log.warning("executor could not read pending work", exc_info=True)

    def _permitted(self) -> bool:
        return self._permit is None or self._permit()

    def resume(self) -> None:
        """This process may run calls again (it took the engine lease over): read the outbox,
        where the previous holder's unfinished calls wait, before anything offered."""
        self._backlog = True
        self._wake.set()

    async def _dispatch(self) -> None:
        if not self._permitted():
            return
        room = self._workers * 4 - len(self._inflight)
        if room <= 0:
            self._backlog = True
            return
        items = await asyncio.to_thread(self._port.pending, room, frozenset(self._inflight))
        # A full read means more may be waiting; a short one that nothing is left behind it.
        self._backlog = len(items) >= room
        for work in items:
            self._start(work)

    def _start(self, work: Work) -> None:
        if work.call_id in self._inflight or work.call_id in self._done:
            return
        self._inflight.add(work.call_id)
        task = asyncio.create_task(self._run_one(work))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run_one(self, work: Work) -> None:
        try:
            async with self._sem:
                if not self._permitted():  # the lease may be someone else's: leave it pending
                    return
                outcome = await self.call(work)
            await self._port.finish(work, outcome)
            self._done[work.call_id] = None
            if len(self._done) > DONE_REMEMBERED:
                del self._done[next(iter(self._done))]
        except Exception:  # not recorded: it stays pending and is tried again
            log.warning("could not record the outcome of %s", work.call_id, exc_info=True)
        finally:
            self._inflight.discard(work.call_id)
            self._wake.set()

    async def call(self, work: Work) -> Outcome:
        data = work.data
        started = time.perf_counter()
        secrets = Secrets(self._environ)
        try:
            spec = self._specs.get(data["connector"])
            if spec is None:
                raise PermanentError(f"unknown connector {data['connector']!r}")
            if spec.run is None:
                raise PermanentError(f"connector {spec.name!r} cannot run calls")
            params = spec.params.model_validate(secrets.resolve(dict(data.get("params", {}))))
            if data.get("dry_run") and not _reads_only(spec, params):
                return Outcome(result={"dry_run": True}, seconds=time.perf_counter() - started)
            circuit = _circuit(spec.name, params)
            refused = self.breakers.refuse(circuit)
            if refused is not None:
                return Outcome(error=refused, seconds=time.perf_counter() - started)
            ctx = CallContext(
                idempotency_key=work.call_id,
                dry_run=bool(data.get("dry_run")),
                # the values resolved from ${env:} references: connectors mask them in results
                secrets=frozenset(secrets.used),
            )
            runtime = Runtime(http=self._http, settings=self._settings.get(spec.name))
            timeout = _seconds(data.get("timeout")) or self._default_timeout
            try:
                result = await asyncio.wait_for(spec.run(params, ctx, runtime), timeout=timeout)
            except (TimeoutError, RetryableError):
                self.breakers.record(circuit, ok=False)
                raise
            except Exception:
                self.breakers.record(circuit, ok=False, counts=False)
                raise
            self.breakers.record(circuit, ok=True)
            self.calls += 1
            return Outcome(result=result, seconds=time.perf_counter() - started)
        except TimeoutError:
            error, retryable = f"{data.get('connector')}: no answer within the timeout", True
        except ValidationError as exc:
            error, retryable = f"{data.get('connector')}: bad parameters: {_brief(exc)}", False
        except RetryableError as exc:
            error, retryable = str(exc) or type(exc).__name__, True
        except ConnectorError as exc:
            error, retryable = str(exc) or type(exc).__name__, False
        except Exception as exc:  # a connector bug must become a failed step, not a lost one
            log.exception("connector %s crashed", data.get("connector"))
            error, retryable = f"{data.get('connector')}: {type(exc).__name__}", False
        return Outcome(
            error=secrets.mask(error), retryable=retryable, seconds=time.perf_counter() - started
        )

    async def drain(self) -> None:
        """Wait for calls in flight (shutdown)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


def _circuit(name: str, params: Any) -> str:
    """The circuit a call belongs to: its connector, and the host for one that calls any URL.

    One ``http`` connector serves every runbook; a single dead host must not stop the calls to
    all the others (pages to the on-call included), so each host has a circuit of its own.
    """
    url = getattr(params, "url", None)
    return f"{name} {origin(url)}" if isinstance(url, str) else name


def _reads_only(spec: ConnectorSpec, params: Any) -> bool:
    return spec.read_only and getattr(params, "read_only", True) is not False


def _seconds(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return parse_duration(str(value)).total_seconds()
    except ValueError:
        return None


def _brief(exc: ValidationError) -> str:
    # include_input=False: a parameter's value may be a resolved secret.
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}"
        for err in exc.errors(include_input=False)
    )
