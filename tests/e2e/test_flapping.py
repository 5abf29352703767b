"""A flapping alert against the running service: the restart's rate limit holds on the wall clock.

The service has no clock to inject: its engine reads each journal entry's receive time. So this
is the short variant of ``tests/unit/engine/test_flapping_storm.py`` (1,000 flaps on a virtual
clock): 60 flaps posted back to back, and the expected number of restarts is worked out from the
times the service recorded, by the runbook's rule (at most 2 runs in any 15 s), not assumed.
"""

from __future__ import annotations

import functools
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pytest_httpserver import HTTPServer

from runbookd.toolchain.testing import am_alert, am_notification
from tests.e2e.harness import HOOK, REPO, T0, Server, poll

FLAPS = 60
RATE_MAX, RATE_PER = 2, timedelta(seconds=15)
LABELS = {"alertname": "ServiceUnhealthy", "service": "checkout"}
RATE_LIMITED = "blocked by safety limit: rate limit 2 per 15s for 'checkout' reached"


@pytest.fixture(scope="session")
def httpserver_listen_address() -> tuple[str, int]:
    return ("127.0.0.1", 0)


def allowed_runs(times: list[datetime]) -> list[datetime]:
    """Which of these first runs a limit of RATE_MAX per RATE_PER lets through."""
    ran: list[datetime] = []
    for at in times:
        if sum(1 for r in ran if at - r < RATE_PER) < RATE_MAX:
            ran.append(at)
    return ran


def test_a_flapping_alert_restarts_no_more_than_the_rate_limit(
    make_server: Any, httpserver: HTTPServer, tmp_path: Path
) -> None:
    httpserver.expect_request("/admin/services/checkout/restart", method="POST").respond_with_json(
        {"restarted": True}
    )
    source = (REPO / "tests" / "runbooks" / "flapping-service.yaml").read_text()
    folder = tmp_path / "runbooks"
    folder.mkdir()
    (folder / "flapping-service.yaml").write_text(
        source.replace("http://127.0.0.1:8082", httpserver.url_for("").rstrip("/"))
    )
    server: Server = make_server([folder])

    with httpx.Client(base_url=server.url, timeout=10) as client:
        for i in range(FLAPS):
            # startsAt advances with every flap: each firing is a new occurrence to Alertmanager.
            fired = T0 + timedelta(seconds=i)
            for alert in (
                am_alert(LABELS, starts_at=fired),
                am_alert(LABELS, status="resolved", starts_at=fired, ends_at=fired),
            ):
                answer = client.post(HOOK, json=am_notification([alert]))
                assert answer.json() == {"accepted": 1, "duplicates": 0}, answer.text

    def all_resolved() -> list[dict[str, Any]] | None:
        found = server.incidents(limit=1000)
        done = len(found) == FLAPS and all(i["status"] == "resolved" for i in found)
        return found if done else None

    incidents = sorted(poll(all_resolved, 60, "every flap resolved"), key=lambda i: i["opened_at"])
    opened = [datetime.fromisoformat(i["opened_at"]) for i in incidents]
    expected = allowed_runs(opened)
    # The posts take a second or two, well inside one window: 2 restarts. A machine slow enough
    # to spread them past 15 s gets the runs the window allows then, still counted exactly.
    assert len(expected) == RATE_MAX or opened[-1] - opened[0] >= RATE_PER

    should_run = {i["id"] for i, at in zip(incidents, opened, strict=True) if at in expected}

    def restarts() -> list[str] | None:
        got = [request.get_json()["reason"] for request, _ in httpserver.log]
        return got if len(got) >= len(expected) else None

    ran = poll(restarts, 30, "the allowed restarts to reach the orchestrator")
    assert sorted(ran) == sorted(should_run)

    def timeline(incident_id: str) -> list[tuple[str, dict[str, Any]]]:
        return [(e["kind"], e["data"]) for e in server.incident(incident_id)["timeline"]]

    def recorded(incident_id: str) -> list[tuple[str, dict[str, Any]]] | None:
        # The restart's outcome is journaled after the call; the flap may have resolved the
        # incident meanwhile, so the attempt's own record (call_done) is what to wait for.
        entries = timeline(incident_id)
        return entries if any(kind == "call_done" for kind, _ in entries) else None

    for incident in incidents:
        if incident["id"] in should_run:
            entries = poll(functools.partial(recorded, incident["id"]), 30, "the record")
            [done] = [data for kind, data in entries if kind == "call_done"]
            assert (done["outcome"], done["connector"], done["target"]) == (
                "ok",
                "http",
                "checkout",
            )
            assert not [d for k, d in entries if k == "step_outcome" and d["outcome"] != "ok"]
        else:  # refused, and on the record as such: not silently dropped
            entries = timeline(incident["id"])
            outcomes = [(d["outcome"], d["error"]) for k, d in entries if k == "step_outcome"]
            assert outcomes == [("failed", RATE_LIMITED)], entries
            assert not [k for k, _ in entries if k in ("run_step", "call_done")]

    # Every call the engine asked for has been made and recorded: nothing more arrives.
    assert len(httpserver.log) == len(expected)
