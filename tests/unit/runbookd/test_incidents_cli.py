"""``runbookd incidents`` against a real HTTP server that speaks the incidents API contract."""

from __future__ import annotations

import copy
import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import pytest
from fastapi import FastAPI, Header, HTTPException, Query
from pydantic import BaseModel

from runbookd.cli.main import main
from tests.unit.runbookd.live_app import live

TOKEN = "s3cret-token-value"


def _incident(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "runbook_version": 1,
        "labels": {},
        "acknowledged_at": None,
        "acknowledged_by": None,
        "mitigated_at": None,
        "resolved_at": None,
        "resolved_by": None,
        "closed_at": None,
        "alerts": 1,
    }
    return base | fields


def _seed(now: datetime) -> dict[str, dict[str, Any]]:
    """Two incidents opened 3d2h and 5m ago (relative to ``now``: ages are asserted)."""
    return {
        "inc-1": _incident(
            id="inc-1",
            runbook="payment-channel-abnormal",
            runbook_version=3,
            section="3.3",
            title="Payment channel abnormal",
            severity="critical",
            status="triggered",
            key="channel=alipay",
            labels={"channel": "alipay", "env": "prod"},
            opened_at=(now - timedelta(days=3, hours=2)).isoformat(),
            alerts=4,
        ),
        "inc-22": _incident(
            id="inc-22",
            runbook="db-replica-lag",
            section="2.1",
            title="Replica lag on orders-db",
            severity="high",
            status="acknowledged",
            key="db=orders",
            opened_at=(now - timedelta(minutes=5, seconds=10)).isoformat(),
            acknowledged_at=(now - timedelta(minutes=4)).isoformat(),
            acknowledged_by="dana",
        ),
    }


TIMELINE = {
    "inc-1": [
        {
            "at": "2024-05-01T10:00:00Z",
            "kind": "opened",
            "summary": "opened by trigger error-rate",
            "data": {},
        },
        {
            "at": "2024-05-01T10:00:05.250000+00:00",
            "kind": "step_ok",
            "summary": "notify-oncall: slack ok",
            "data": {"step": "notify-oncall"},
        },
    ]
}


#: Route parameters are resolved from module globals (annotations are strings here).
Auth = Annotated[str | None, Header()]


class By(BaseModel):
    by: str


class Resolve(By):
    reason: str | None = None


class Note(By):
    text: str


@dataclass
class FakeServer:
    """An in-memory implementation of the incidents API; records what clients sent."""

    url: str = ""
    incidents: dict[str, dict[str, Any]] = field(default_factory=dict)
    timeline: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    authorization: list[str | None] = field(default_factory=list)
    queries: list[dict[str, Any]] = field(default_factory=list)

    def reset(self) -> None:
        self.incidents = _seed(datetime.now(UTC))
        self.timeline = copy.deepcopy(TIMELINE)
        self.authorization.clear()
        self.queries.clear()

    def app(self) -> FastAPI:
        app = FastAPI()

        def check(authorization: str | None) -> None:
            self.authorization.append(authorization)
            if authorization != f"Bearer {TOKEN}":
                raise HTTPException(401, "missing or wrong credentials")

        def one(incident_id: str) -> dict[str, Any]:
            if incident_id not in self.incidents:
                raise HTTPException(404, f"no incident {incident_id!r}")
            return self.incidents[incident_id]

        def log(incident_id: str, kind: str, summary: str) -> None:
            entry = {"at": datetime.now(UTC).isoformat(), "kind": kind, "summary": summary}
            self.timeline.setdefault(incident_id, []).append({**entry, "data": {}})

        @app.get("/api/v1/incidents")
        def list_incidents(
            authorization: Auth = None,
            status: Annotated[list[str] | None, Query()] = None,
            severity: Annotated[list[str] | None, Query()] = None,
            runbook: str | None = None,
            since: datetime | None = None,
            limit: int = 100,
        ) -> dict[str, Any]:
            check(authorization)
            self.queries.append(
                {"status": status, "severity": severity, "runbook": runbook, "since": since}
            )
            rows = sorted(self.incidents.values(), key=lambda i: i["opened_at"], reverse=True)
            rows = [
                i
                for i in rows
                if (not status or i["status"] in status)
                and (not severity or i["severity"] in severity)
                and (not runbook or i["runbook"] == runbook)
                and (not since or datetime.fromisoformat(i["opened_at"]) >= since)
            ]
            return {"incidents": rows[:limit]}

        @app.get("/api/v1/incidents/{incident_id}")
        def show(incident_id: str, authorization: Auth = None) -> dict[str, Any]:
            check(authorization)
            return one(incident_id) | {"timeline": self.timeline.get(incident_id, [])}

        @app.post("/api/v1/incidents/{incident_id}/ack")
        def ack(incident_id: str, body: By, authorization: Auth = None) -> dict[str, Any]:
            check(authorization)
            incident = one(incident_id)
            if incident["status"] in ("resolved", "closed"):
                raise HTTPException(409, f"incident {incident_id} is already {incident['status']}")
            incident |= {
                "status": "acknowledged",
                "acknowledged_at": datetime.now(UTC).isoformat(),
                "acknowledged_by": body.by,
            }
            log(incident_id, "acknowledged", f"acknowledged by {body.by}")
            return incident

        @app.post("/api/v1/incidents/{incident_id}/resolve")
        def resolve(incident_id: str, body: Resolve, authorization: Auth = None) -> dict[str, Any]:
            check(authorization)
            incident = one(incident_id)
            incident |= {
                "status": "resolved",
                "resolved_at": datetime.now(UTC).isoformat(),
                "resolved_by": body.by,
            }
            log(incident_id, "resolved", f"resolved by {body.by}: {body.reason}")
            return incident

        @app.post("/api/v1/incidents/{incident_id}/notes")
        def note(incident_id: str, body: Note, authorization: Auth = None) -> dict[str, Any]:
            check(authorization)
            incident = one(incident_id)
            log(incident_id, "note", f"{body.by}: {body.text}")
            return incident

        return app


@pytest.fixture(scope="module")
def running() -> Iterator[FakeServer]:
    fake = FakeServer()
    with live(fake.app(), lifespan="off") as url:
        fake.url = url
        yield fake


@pytest.fixture
def api(running: FakeServer, monkeypatch: pytest.MonkeyPatch) -> FakeServer:
    running.reset()
    monkeypatch.setenv("RUNBOOKD_URL", running.url)
    monkeypatch.setenv("RUNBOOKD_TOKEN", TOKEN)
    monkeypatch.setenv("USER", "alice")
    return running


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["incidents", *argv])
    out, err = capsys.readouterr()
    assert TOKEN not in out + err
    return code, out, err


def test_list_prints_an_aligned_table_newest_first(
    api: FakeServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(capsys, "list")
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        "ID      SEVERITY  STATUS        SECTION  RUNBOOK                   AGE   TITLE",
        "inc-22  high      acknowledged  2.1      db-replica-lag            5m    Replica lag on orders-db",
        "inc-1   critical  triggered     3.3      payment-channel-abnormal  3d2h  Payment channel abnormal",
    ]
    assert api.authorization == [f"Bearer {TOKEN}"]


def test_list_sends_filters_and_prints_json(
    api: FakeServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(
        capsys, "list", "--status", "triggered,acknowledged", "--severity", "critical",
        "--runbook", "payment-channel-abnormal", "--since", "7d", "--limit", "5", "--json",
    )  # fmt: skip
    assert code == 0
    assert [i["id"] for i in json.loads(out)["incidents"]] == ["inc-1"]
    (query,) = api.queries
    assert query["status"] == ["triggered", "acknowledged"]
    assert query["severity"] == ["critical"]
    assert query["runbook"] == "payment-channel-abnormal"
    assert abs(query["since"] - (datetime.now(UTC) - timedelta(days=7))) < timedelta(minutes=1)


def test_list_with_no_match_says_so(api: FakeServer, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(capsys, "list", "--status", "closed")[:2] == (0, "no incidents\n")


def test_show_prints_fields_then_timeline(
    api: FakeServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(capsys, "show", "inc-1")
    assert code == 0
    head, _, timeline = out.partition("\n\n")
    assert "Title:     Payment channel abnormal" in head
    assert "Runbook:   payment-channel-abnormal v3 (section 3.3)" in head
    assert "Labels:    channel=alipay env=prod" in head
    assert "(3d2h ago)" in head
    assert "Acknowledged" not in head  # lifecycle lines only once they happened
    assert timeline.splitlines() == [
        "Timeline (2 entries):",
        "  2024-05-01 10:00:00Z  opened   opened by trigger error-rate",
        "  2024-05-01 10:00:05Z  step_ok  notify-oncall: slack ok",
    ]


def test_ack_resolve_note_then_conflict(
    api: FakeServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(capsys, "ack", "inc-1")[:2] == (0, "inc-1: acknowledged by alice\n")
    code, out, _ = _run(capsys, "resolve", "inc-1", "--by", "bob", "--reason", "failover done")
    assert (code, out) == (0, "inc-1: resolved by bob\n")
    code, out, _ = _run(capsys, "note", "inc-1", "root", "cause:", "expired", "cert")
    assert (code, out) == (0, "inc-1: note added (status resolved)\n")
    assert api.timeline["inc-1"][-1]["summary"] == "alice: root cause: expired cert"
    code, out, err = _run(capsys, "ack", "inc-1")
    assert (code, out) == (1, "")
    assert err == "runbookd incidents: 409 incident inc-1 is already resolved\n"


def test_unknown_incident_is_an_api_error(
    api: FakeServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _run(capsys, "show", "nope")
    assert (code, err) == (1, "runbookd incidents: 404 no incident 'nope'\n")


def test_wrong_token_is_401_and_never_printed(
    api: FakeServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RUNBOOKD_TOKEN")
    code, _, err = _run(capsys, "list")
    assert code == 1
    assert err.splitlines() == [
        "runbookd incidents: 401 missing or wrong credentials",
        "runbookd incidents: set RUNBOOKD_TOKEN or --token",
    ]
    code, _, err = _run(capsys, "list", "--token", "wrong-" + TOKEN[:4])
    assert code == 1
    assert "wrong-" not in err
    assert api.authorization == [None, "Bearer wrong-s3cr"]


def test_url_option_wins_over_environment(
    api: FakeServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUNBOOKD_URL", "http://127.0.0.1:1")
    assert _run(capsys, "list", "--url", api.url + "/")[0] == 0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_unreachable_server_exits_3_naming_the_url(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUNBOOKD_TOKEN", TOKEN)
    url = f"http://127.0.0.1:{_free_port()}"
    code, out, err = _run(capsys, "list", "--url", url)
    assert (code, out) == (3, "")
    assert f"cannot reach runbookd at {url} (connection refused)" in err
    assert "runbookd serve" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["list", "--status", "open"], "--status 'open' is not one of triggered"),
        (["list", "--since", "yesterday"], "--since 'yesterday' is neither a duration"),
        (["list", "--limit", "0"], "--limit must be at least 1, got 0"),
        (["list", "--url", "127.0.0.1:8080"], "--url must start with http:// or https://"),
    ],
)
def test_bad_option_values_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _run(capsys, *argv)
    assert code == 2
    assert err.startswith(f"runbookd incidents: {message}")


def test_missing_action_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as exited:
        main(["incidents"])
    assert exited.value.code == 2
