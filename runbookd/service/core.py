"""The running service's parts and their wiring: store, journal writer, engine thread, executor.

``Service`` is built from settings by ``create_app``'s lifespan and torn down with it; nothing
here runs at import. Start order matters: migrate, recover the engine from the journal, record
the runbook library if it changed, then accept traffic.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from runbookd.alerts.alertmanager import Notification
from runbookd.alerts.amapi import fetch_group
from runbookd.alerts.inbox import Receipt
from runbookd.alerts.polling import Poll, run_poll
from runbookd.auth.audit import Redactor
from runbookd.connectors.base import ConnectorSpec, Settings
from runbookd.drills.schedule import DrillJob, add_drill_jobs, run_drill_job
from runbookd.engine.breaker import Breakers
from runbookd.engine.commands import Command
from runbookd.engine.executor import Executor, Work
from runbookd.engine.lang.diagnostics import Diagnostic
from runbookd.engine.timing import RETENTION
from runbookd.service.cluster import ClusterOptions, cluster_view, make_lease
from runbookd.service.gauges import read_cluster_gauges, read_store_gauges
from runbookd.service.journal import library_payload
from runbookd.service.metrics import Metrics
from runbookd.service.oncall import Overrides
from runbookd.service.outbound import outbound_client
from runbookd.service.outcomes import UnmatchedCounter
from runbookd.service.ports import JournalInbox, OutboxPort
from runbookd.service.silences import SilenceBook, SilenceWorker
from runbookd.service.snapshots import SnapshotPolicy
from runbookd.store import db
from runbookd.store.writer import EntryJob, Writer
from runbookd.toolchain.library import Library, load_library, select_fallback
from runbookd.toolchain.schedules import check_references, load_schedules

log = logging.getLogger(__name__)


class StartError(Exception):
    """The service cannot start (bad runbooks, unreachable database); the message says why."""


@dataclass(frozen=True)
class Options:
    """What the service needs from the settings, flattened (keeps this module testable)."""

    database_url: str
    runbooks: list[Path]
    fallback_runbook: str | None = None  # settings fallback_runbook
    fallback_notify: Mapping[str, Any] | None = None  # settings fallback_notify, as a dict
    dry_run: bool = False
    ingest_batch_max: int = 500
    ingest_commit_interval: float = 0.0
    engine_batch_max: int = 500
    engine_retention: float = RETENTION.total_seconds()
    snapshot_every: int = 2000
    snapshot_interval: float = 300.0
    workers: int = 16
    default_timeout: float = 30.0
    alertmanager_api_url: str | None = None
    alertmanager_timeout: float = 5.0
    polls: tuple[Poll, ...] = ()
    breaker_failures: int = 5
    breaker_open_for: float = 30.0
    drills: tuple[DrillJob, ...] = ()
    schedules: tuple[Path, ...] = ()
    cluster: ClusterOptions = field(default_factory=ClusterOptions)
    windows: Mapping[str, Any] = field(default_factory=dict)
    outcome_retention: timedelta | None = None  # settings retention.alert_outcomes


class Service:
    def __init__(
        self,
        options: Options,
        specs: Mapping[str, ConnectorSpec],
        connector_settings: Mapping[str, Settings] | None = None,
    ) -> None:
        self.options = options
        self.specs = specs
        self.connector_settings = dict(connector_settings or {})
        self.metrics = Metrics()
        self.unmatched = UnmatchedCounter(self.metrics.alerts_unmatched)
        self.redactor = Redactor()  #: configured secrets out of notes and reasons (build_app)
        cluster = options.cluster
        self.db = db.make_engine(options.database_url, session=cluster.session())
        #: replicas: the engine lease this process stands for (None: alone, or ingest role)
        self.lease = make_lease(options.database_url, cluster)
        # One lock for every write transaction in this process (journal writer, engine thread).
        write_lock = threading.Lock()
        #: on-call overrides and silences as journaled (runbookd.service.oncall, .silences)
        self.oncall, self.silences = Overrides(), SilenceBook(self.metrics.silences_active)
        self.worker = SilenceWorker(
            self.db,
            overrides=self.oncall,
            silences=self.silences,
            lock=write_lock,
            dry_run=options.dry_run,
            batch_max=options.engine_batch_max,
            snapshots=SnapshotPolicy(options.snapshot_every, options.snapshot_interval),
            outcome_retention=options.outcome_retention,
            on_work=self._wake_executor,
            on_applied=self._observe,
            on_tick=self.metrics.timer_lateness.observe,
            fence=self.lease,
            on_role=self._role_changed,
        )
        self.writer = Writer(
            self.db,
            batch_max=options.ingest_batch_max,
            on_commit=self.worker.notify,
            lock=write_lock,
            commit_interval=options.ingest_commit_interval,
            shared=cluster.enabled,
        )
        self.inbox = JournalInbox(self.writer)
        # Read at scrape time: both are plain reads of values other threads keep current.
        self.metrics.writer_queue.set_function(self.writer.depth)
        self.metrics.applied_seq.set_function(lambda: self.worker.applied_seq)
        self._circuits_shown: set[str] = set()
        self.library: Library | None = None
        self.http: httpx.AsyncClient | None = None
        self.executor: Executor | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: list[asyncio.Task[Any]] = []
        self._scheduler: Any = None  # apscheduler 3 ships no type hints

    # --- start / stop ---------------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        library = self._load_library()
        if not library.ok:
            lines = "\n".join(str(d) for d in library.diagnostics)
            raise StartError(f"the runbooks do not pass `runbookd check`:\n{lines}")
        schedules = load_schedules(self.options.schedules, skip_missing=True)
        problems = [*schedules.diagnostics, *check_references(library, schedules)]
        if problems:
            lines = "\n".join(str(d) for d in problems)
            raise StartError(f"the on-call schedules do not pass `runbookd check`:\n{lines}")
        self.oncall.set_library(schedules)
        self.library = library
        try:
            await asyncio.to_thread(db.upgrade, self.db)
        except Exception as exc:
            raise StartError(f"cannot prepare the database: {type(exc).__name__}: {exc}") from exc
        await asyncio.to_thread(self.oncall.load, self.db)
        await asyncio.to_thread(self.silences.load, self.db)
        cluster = self.options.cluster
        self.writer.start()
        if cluster.runs_engine:
            replayed = await asyncio.to_thread(self.worker.recover)
            self.metrics.replayed.set(replayed)
            log.info("engine rebuilt from %d journal entries", replayed)
            self.worker.start()
            if self.lease is not None:
                self.lease.start()
        else:
            self.worker.watch()
        self.http = outbound_client(self.options.workers)
        if not cluster.runs_engine:
            # The ingest role journals no library: it would replace the leader's at every start.
            return  # no executor, polls or drills either
        # Replicas: applied once a leader exists; the replica started (or reloaded) last wins.
        await self.record_library(library, wait=not cluster.enabled)
        self.metrics.leader.set_function(lambda: 1 if self.leads() else 0)
        self.executor = Executor(
            self.specs,
            OutboxPort(self.db, self.writer, self.metrics),
            self.http,
            settings=self.connector_settings,
            workers=self.options.workers,
            default_timeout=self.options.default_timeout,
            breakers=Breakers(self.options.breaker_failures, self.options.breaker_open_for),
            permit=self.leads,
        )
        self._tasks.append(asyncio.create_task(self.executor.run()))
        self._tasks.append(asyncio.create_task(self._gauges()))
        self._start_polls()

    def _start_polls(self) -> None:
        if not (self.options.polls or self.options.drills) or self.http is None:
            return
        # APScheduler (ARCHITECTURE decision 3): one run per poll at a time, missed ones coalesced.
        from apscheduler.schedulers.asyncio import (  # type: ignore[import-untyped]  # no hints in 3.x
            AsyncIOScheduler,
        )

        scheduler = AsyncIOScheduler(timezone=UTC)
        client = self.http
        for poll in self.options.polls:
            scheduler.add_job(
                self._poll_once,
                "interval",
                args=[poll, client],
                seconds=poll.every_s,
                id=f"poll:{poll.name}",
                next_run_time=datetime.now(UTC),
                coalesce=True,
                max_instances=1,
            )
        add_drill_jobs(scheduler, self.options.drills, self._drill_once)
        scheduler.start()
        self._scheduler = scheduler

    def leads(self) -> bool:
        """Whether this process runs effects now: alone, or the leader with a valid lease."""
        if self.lease is None:
            return self.options.cluster.runs_engine
        return self.worker.leading is not None and self.worker.leading == self.lease.epoch

    def _role_changed(self, leading: bool) -> None:
        """On the engine thread, when it became the leader or stopped being it."""
        if leading:
            self.metrics.failovers.inc()
            if self._loop is not None and self.executor is not None:
                # The previous leader's unfinished calls are pending in the outbox.
                self._loop.call_soon_threadsafe(self.executor.resume)

    async def _drill_once(self, job: DrillJob) -> None:
        if not self.leads():  # one replica runs the scheduled drills: the leader
            return
        # Drills are CPU work on their own engines: a thread keeps the loop answering webhooks.
        compiled = self.library.compiled() if self.library is not None else []
        results = await asyncio.to_thread(run_drill_job, job, compiled, self.db)
        failed = [r.runbook_id for r in results if not r.passed]
        log.info("scheduled drill %s: %d runbooks, failed: %s", job.job_id, len(results), failed)

    async def _poll_once(self, poll: Poll, client: httpx.AsyncClient) -> None:
        if not self.leads():  # one replica polls: the leader (followers would add copies)
            return
        stored = await run_poll(poll, client, self.inbox, datetime.now(UTC))
        self.metrics.alerts_received.labels(f"poll:{poll.name}", "accepted").inc(stored)

    async def stop(self) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.executor is not None:
            await self.executor.drain()
        self.worker.stop()  # its last snapshot is a fenced commit: before the lease goes
        if self.lease is not None:
            self.lease.stop()  # hands over at once
        self.writer.stop()
        if self.http is not None:
            await self.http.aclose()
        self.db.dispose()

    def _load_library(self, paths: list[Path] | None = None) -> Library:
        """The configured runbooks (or ``paths``), only the configured fallback (restart-only)."""
        o = self.options
        library = load_library(paths or o.runbooks, specs=dict(self.specs))
        select_fallback(library, o.fallback_runbook, notify=o.fallback_notify, specs=self.specs)
        return library

    async def record_library(self, library: Library, *, wait: bool = True) -> bool:
        """Journal the library when it differs from the one the engine runs; True if it did.
        ``wait``: until the engine applied it (with replicas, that needs a leader)."""
        o = self.options
        files = [(str(item.file), Path(item.file).read_text()) for item in library.loaded]
        payload = library_payload(files, o.engine_retention, o.windows, o.fallback_notify)
        digest = hashlib.sha256(repr(payload).encode()).hexdigest()
        if digest == self.worker.library_digest:
            return False
        payload["digest"] = digest
        seq = await asyncio.wrap_future(
            self.writer.submit(EntryJob(kind="runbooks", payload=payload, at=datetime.now(UTC)))
        )
        if wait:
            await asyncio.wrap_future(self.worker.wait_applied(int(seq)))
        return True

    async def reload(self, runbooks: list[Path] | None = None) -> list[Diagnostic]:
        """Validate the runbooks on disk (``runbooks``: from now on these paths), then swap; on
        any error keep the running version. The rest of a config reload is server/reload.py's."""
        paths = self.options.runbooks if runbooks is None else runbooks
        library = await asyncio.to_thread(self._load_library, paths)
        if not library.ok:
            return library.diagnostics
        # A reloaded runbook may not page a schedule that is not loaded.
        unknown = check_references(library, self.oncall.directory.library)
        if unknown:
            return unknown
        await self.record_library(library)
        self.library = library
        self.options = dataclasses.replace(self.options, runbooks=list(paths))
        return []

    # --- wiring ---------------------------------------------------------------------------

    def _wake_executor(self, work: list[Work]) -> None:
        """Called on the engine thread right after it stored ``work`` in the outbox."""
        if self._loop is not None and self.executor is not None:
            self._loop.call_soon_threadsafe(self.executor.offer, work)

    def _observe(self, commands: list[Command], seconds: float) -> None:
        m = self.metrics
        m.engine_batch_seconds.observe(seconds)
        self.unmatched.observe(commands)
        now = datetime.now(UTC)
        for c in commands:
            if c.kind == "open_incident":
                m.incidents_opened.labels(c.runbook or "").inc()
                # The engine's clock reads the triggering entry's receive time (see worker).
                m.alert_to_incident.observe(max((now - c.at).total_seconds(), 0.0))
            elif c.kind == "escalate":
                m.escalations.labels(c.runbook or "").inc()

    async def on_truncated(self, note: Notification) -> None:
        """Fetch the alerts a truncated notification cut, in the background."""
        self.metrics.truncated_alerts.inc(note.truncated_alerts)
        url = self.options.alertmanager_api_url
        if not url or self.http is None:
            return
        client = self.http

        async def fetch() -> None:
            try:
                events = await fetch_group(
                    client,
                    url,
                    note.group_labels,
                    received_at=datetime.now(UTC),
                    timeout=self.options.alertmanager_timeout,
                )
                receipt = Receipt(source="alertmanager-api", received_at=datetime.now(UTC))
                result = await self.inbox.put(events, receipt)
                self.metrics.truncated_fetched.inc(result.accepted)
            except Exception as exc:  # the notification itself is stored; this is a bonus
                log.warning("could not fetch truncated alerts from %s: %s", url, type(exc).__name__)

        self._tasks.append(asyncio.create_task(fetch()))

    async def _gauges(self) -> None:
        while True:
            self._show_circuits()
            # Apart from the store's gauges: with the store down, readiness must still turn 0.
            ready = await asyncio.to_thread(self.ready)
            self.metrics.ready.set(1 if ready["ok"] else 0)
            try:
                await asyncio.to_thread(self._read_gauges)
            except Exception:
                log.debug("gauge refresh failed", exc_info=True)
            await asyncio.sleep(5)

    def _show_circuits(self) -> None:
        """Open circuits as 1, ones closed since as 0 (only the event loop touches breakers)."""
        if self.executor is None:
            return
        open_now = set(self.executor.breakers.open_circuits())
        for circuit in open_now | self._circuits_shown:
            connector, _, target = circuit.partition(" ")
            self.metrics.circuit_open.labels(connector, target).set(circuit in open_now)
        self._circuits_shown |= open_now

    def _read_gauges(self) -> None:
        if self.options.cluster.enabled:
            read_cluster_gauges(self.db, self.metrics, self.leads(), self.worker.applied_seq)
        read_store_gauges(self.db, self.metrics, self.worker.applied_seq)

    def ready(self) -> dict[str, Any]:
        """What /readyz reports; ``ok`` only when every part is."""
        checks: dict[str, Any] = {}
        try:
            checks["store"] = db.is_current(self.db)
            if not checks["store"]:
                checks["store_detail"] = "migrations are not current"
            elif not db.can_write(self.db):
                checks["store"] = False
                checks["store_detail"] = "the database refuses writes (locked or read-only)"
        except Exception as exc:
            checks["store"] = False
            checks["store_detail"] = type(exc).__name__
        cluster = self.options.cluster
        if cluster.runs_engine:
            checks["engine"] = self.worker.running and self.worker.last_error is None
        else:
            checks["engine"] = True  # the ingest role runs none; the leader's /readyz tells
        if self.worker.last_error:
            checks["engine_detail"] = self.worker.last_error
        if cluster.enabled:
            checks["cluster"] = cluster_view(cluster, self.lease, self.worker)
        checks["ok"] = bool(checks["store"] and checks["engine"])
        return checks
