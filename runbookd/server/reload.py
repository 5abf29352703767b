"""Reload of config.yaml and the runbooks, on SIGHUP and on ``POST /-/reload`` (the Prometheus and
Alertmanager convention): read and validate everything first, then swap; on any problem the
running version stays and ``runbookd_config_last_reload_successful`` turns 0.

What a reload applies is ``RELOADABLE``; any other key that changed in the file is reported as
needing a restart (logged, and listed in the endpoint's answer), and keeps its running value.
docs/operations.md, "Reloading", says the same to operators.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.params import Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from runbookd.api.auditing import reloaded
from runbookd.api.principals import principal_of
from runbookd.config.positions import with_positions
from runbookd.config.settings import Settings, SettingsError
from runbookd.connectors.base import ConnectorSpec
from runbookd.connectors.registry import SettingsError as ConnectorSettingsError
from runbookd.connectors.registry import load_settings as load_connector_settings
from runbookd.service.core import Service

log = logging.getLogger(__name__)

#: Top-level keys whose new value a reload puts to work. The runbooks and the maintenance windows
#: are journaled (so a replay sees the library and windows each incident ran with), and
#: connector settings are read per call; every other key is wired into a thread, a pool, a
#: socket or a route at start.
RELOADABLE = frozenset({"runbooks", "connectors", "maintenance_windows"})


@dataclass(frozen=True)
class Outcome:
    """What one reload did: ``errors`` (nothing swapped) or the restart-only keys that changed."""

    ok: bool
    errors: tuple[str, ...] = ()
    restart_required: tuple[str, ...] = ()


class Reloader:
    """Reloads ``service`` from ``load()`` (None: the runbooks only, for apps built from
    options); one reload at a time."""

    def __init__(
        self,
        service: Service,
        specs: Mapping[str, ConnectorSpec],
        load: Callable[[], Settings] | None = None,
        started: Settings | None = None,
        clock: Callable[[], float] = time.time,
        config: Path | None = None,
    ) -> None:
        self.service = service
        self.specs = specs
        self._load = load
        self._started = started
        self._clock = clock
        #: the file ``load`` reads, to point problems at their lines in the log
        self._config = config
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[Outcome]] = set()

    def started(self) -> None:
        """The service started with its configuration: that counts as the first good load."""
        self._succeeded()

    async def reload(self) -> Outcome:
        async with self._lock:
            try:
                outcome = await self._reload()
            except Exception as exc:  # a bug or an unreadable disk must not kill the server
                log.exception("configuration reload failed")
                outcome = Outcome(False, (f"reload failed: {type(exc).__name__}",))
        if outcome.ok:
            self._succeeded()
            if outcome.restart_required:
                log.warning(
                    "configuration reloaded; changed keys that need a restart to apply: %s",
                    ", ".join(outcome.restart_required),
                )
            else:
                log.info("configuration reloaded")
        else:
            self.service.metrics.reload_ok.set(0)
            # One record per problem, so each PATH:LINE:COL line stays greppable on its own.
            for line in outcome.errors:
                log.error("configuration not reloaded: %s", line)
        return outcome

    async def _reload(self) -> Outcome:
        if self._load is None:
            errors = await self.service.reload()
            return Outcome(not errors, tuple(str(e) for e in errors))
        try:
            settings = await asyncio.to_thread(self._load)
        except SettingsError as exc:
            problems = exc.problems
            if self._config is not None:
                problems = tuple(with_positions(self._config, problems))
            return Outcome(False, problems)
        try:
            connectors = load_connector_settings(self.specs, settings.connectors)
        except ConnectorSettingsError as exc:
            problems = tuple(exc.problems)
            if self._config is not None:
                named = [f"{self._config}: {p}" for p in problems]
                problems = tuple(with_positions(self._config, named))
            return Outcome(False, problems)
        # The windows travel in the library's journal entry: set them before it is recorded,
        # and put the running ones back when the library is refused.
        running = self.service.options
        self.service.options = replace(running, windows=settings.windows_section())
        errors = await self.service.reload(list(settings.runbooks))
        if errors:
            self.service.options = replace(self.service.options, windows=running.windows)
            return Outcome(False, tuple(str(e) for e in errors))
        # Everything validated and the library swapped: this cannot fail any more.
        self.service.connector_settings = connectors
        if self.service.executor is not None:
            self.service.executor.use_settings(connectors)
        started = self._started
        changed = () if started is None else tuple(restart_only_changes(started, settings))
        return Outcome(True, restart_required=changed)

    def _succeeded(self) -> None:
        self.service.metrics.reload_ok.set(1)
        self.service.metrics.reload_time.set(self._clock())

    def on_sighup(self) -> None:
        """The signal handler's half on the event loop: start a reload, keep its task alive."""
        task = asyncio.get_running_loop().create_task(self.reload())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def install_sighup(self, loop: asyncio.AbstractEventLoop) -> None:
        loop.add_signal_handler(signal.SIGHUP, self.on_sighup)

    def remove_sighup(self, loop: asyncio.AbstractEventLoop) -> None:
        loop.remove_signal_handler(signal.SIGHUP)


def restart_only_changes(before: Settings, after: Settings) -> Iterator[str]:
    """Key paths, outside ``RELOADABLE``, whose value differs between two settings."""
    for name in type(before).model_fields:
        if name not in RELOADABLE:
            yield from _differences(name, getattr(before, name), getattr(after, name))


def _differences(where: str, old: Any, new: Any) -> Iterator[str]:
    if isinstance(old, BaseModel) and type(old) is type(new):
        for name in type(old).model_fields:
            yield from _differences(f"{where}.{name}", getattr(old, name), getattr(new, name))
    elif old != new:  # SecretStr compares its secret: a rotated token is a change
        yield where


def reload_router(reloader: Reloader, dependencies: list[Depends]) -> APIRouter:
    router = APIRouter(tags=["health"], dependencies=dependencies)

    @router.post(
        "/-/reload",
        summary="Reload config.yaml and the runbooks; keep the running version on any error",
        responses={
            200: {"description": "reloaded; `restart_required` lists changes not yet applied"},
            422: {"description": "not reloaded: `errors`, one problem per line"},
        },
    )
    async def reload(request: Request) -> JSONResponse:
        outcome = await reloader.reload()
        library = reloader.service.library
        running = len(library.loaded) if library is not None else 0
        # The router's dependencies let only an admin this far (runbookd.server.app).
        who = await principal_of(request)
        await reloaded(request, who, outcome.errors, None if outcome.errors else running)
        if not outcome.ok:
            return JSONResponse(
                {"detail": "configuration not reloaded", "errors": list(outcome.errors)},
                status_code=422,
            )
        return JSONResponse(
            {
                "status": "reloaded",
                "runbooks": running,
                "restart_required": list(outcome.restart_required),
            }
        )

    return router
