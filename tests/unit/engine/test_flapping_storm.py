"""A flapping alert storm on a virtual clock: the restart's rate limit holds, and says so.

The alert fires 1,000 times in one minute (a firing notification every 60 ms, each resolved 30 ms
later, as Alertmanager sends them for a flapping rule). Every firing opens an incident whose only
step restarts the service, limited to 2 runs per 15 s. The engine runs on a virtual clock, as in
the service (whose clock reads each journal entry's time); each ``run_step`` command goes through
the real executor and the real ``http`` connector to a real server on 127.0.0.1, and its outcome
comes back to the engine as the service's worker feeds it. So the requests counted are real.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from pytest_httpserver import HTTPServer

from runbookd.alerts.alertmanager import parse_notification
from runbookd.connectors.registry import load_specs
from runbookd.engine.clock import VirtualClock
from runbookd.engine.commands import WORK_KINDS, Command
from runbookd.engine.compiler import compile_runbook
from runbookd.engine.executor import Executor, Outcome, Work
from runbookd.engine.lang.loader import load_text
from runbookd.engine.runtime import Engine
from runbookd.toolchain.testing import am_alert, am_notification

RUNBOOK = Path(__file__).resolve().parents[2] / "runbooks" / "flapping-service.yaml"
START = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
LABELS = {"alertname": "ServiceUnhealthy", "service": "checkout"}
FIRINGS = 1000
EVERY = timedelta(milliseconds=60)  # 1,000 firings in 60 s
RATE_LIMITED = "blocked by safety limit: rate limit 2 per 15s for 'checkout' reached"


@pytest.fixture(scope="session")
def httpserver_listen_address() -> tuple[str, int]:
    return ("127.0.0.1", 0)


class NoQueue:
    """The executor's work port, unused: this test hands each command to ``Executor.call``."""

    def pending(self, limit: int, exclude: frozenset[str]) -> list[Work]:
        return []

    async def finish(self, work: Work, outcome: Outcome) -> None:
        raise AssertionError("not used: outcomes go straight back to the engine")


class Storm:
    """The engine on a virtual clock; connector calls through the real executor."""

    def __init__(self, runbook_text: str, executor: Executor) -> None:
        loaded, problems = load_text(runbook_text, str(RUNBOOK))
        assert loaded is not None and not problems, problems
        self.clock = VirtualClock(START)
        self.engine = Engine([compile_runbook(loaded.runbook)], self.clock)
        self.executor = executor
        self.timeline: list[Command] = []

    async def notify(self, at: datetime, alert: dict[str, object]) -> None:
        while (due := self.engine.next_due()) is not None and due <= at:
            self.clock.set(max(due, self.clock.now()))
            await self._absorb(self.engine.advance())
        self.clock.set(at)
        events = parse_notification(am_notification([alert]), received_at=at).alerts
        for event in events:
            await self._absorb(self.engine.ingest(event))

    async def _absorb(self, commands: list[Command]) -> None:
        queue = list(commands)
        while queue:
            command = queue.pop(0)
            self.timeline.append(command)
            if command.kind in WORK_KINDS:
                work = Work(command.data["call_id"], command.kind, command.data)
                outcome = await self.executor.call(work)
                queue += self.engine.call_finished(
                    work.call_id,
                    result=outcome.result,
                    error=outcome.error,
                    retryable=outcome.retryable,
                    seconds=outcome.seconds,
                )


async def flap(storm: Storm) -> None:
    for i in range(FIRINGS):
        fired = START + i * EVERY
        await storm.notify(fired, am_alert(LABELS, starts_at=fired))
        resolved = fired + EVERY / 2
        await storm.notify(
            resolved, am_alert(LABELS, status="resolved", starts_at=fired, ends_at=resolved)
        )


def test_a_thousand_flaps_in_a_minute_restart_the_service_eight_times(
    httpserver: HTTPServer,
) -> None:
    httpserver.expect_request("/admin/services/checkout/restart", method="POST").respond_with_json(
        {"restarted": True}
    )
    text = RUNBOOK.read_text().replace("http://127.0.0.1:8082", httpserver.url_for("").rstrip("/"))
    assert httpserver.url_for("") in text

    async def run() -> Storm:
        specs = {"http": load_specs(include_plugins=False)["http"]}
        async with httpx.AsyncClient() as client:
            storm = Storm(text, Executor(specs, NoQueue(), client, environ={}))
            await flap(storm)
        return storm

    storm = asyncio.run(run())

    opened = {c.incident: c.at for c in storm.timeline if c.kind == "open_incident"}
    assert len(opened) == FIRINGS  # every firing opened an incident: none was dropped
    # At most 2 restarts in any 15 s; a run exactly 15 s old no longer counts. Over 60 s of
    # firings 60 ms apart that is 4 windows x 2 runs, at 0 s, 0.06 s, 15 s, 15.06 s, 30 s, ...
    expected = [START + timedelta(seconds=15 * w) + k * EVERY for w in range(4) for k in range(2)]

    requests = [request for request, _ in httpserver.log]
    assert len(requests) == len(expected) == 8
    ran = [request.get_json()["reason"] for request in requests]
    assert [opened[incident] for incident in ran] == expected
    assert [r.headers["Idempotency-Key"] for r in requests] == [f"{i}:restart:1" for i in ran]

    # Every refused run is on the record as rate-limited, one outcome per incident.
    outcomes = [c for c in storm.timeline if c.kind == "step_outcome"]
    assert Counter(c.incident for c in outcomes) == dict.fromkeys(opened, 1)
    assert Counter((c.data["outcome"], c.data["error"]) for c in outcomes) == {
        ("ok", None): 8,
        ("failed", RATE_LIMITED): FIRINGS - 8,
    }
    assert sorted(str(c.incident) for c in outcomes if c.data["outcome"] == "ok") == sorted(ran)
    done = [c for c in storm.timeline if c.kind == "call_done"]
    assert [(c.data["outcome"], c.data["connector"]) for c in done] == [("ok", "http")] * 8
    assert sum(1 for c in storm.timeline if c.kind == "resolve") == FIRINGS
