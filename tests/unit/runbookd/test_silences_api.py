"""Silences through the real app (uvicorn on loopback, SQLite or PostgreSQL): created and expired
over ``/api/v1/silences``, refused with a 400 naming the field, muting alerts Alertmanager
sends (outcome ``silenced``, no incident), counted by ``runbookd_silences_active``, and kept
across a restart because they are journal entries."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from runbookd.auth.tokens import hash_token
from runbookd.cli.main import main
from runbookd.config.settings import load_settings
from runbookd.server.app import create_app
from runbookd.store import tables as t
from runbookd.store.db import make_engine
from runbookd.toolchain.testing import am_alert, am_notification
from tests.e2e.harness import poll
from tests.unit.engine.test_silences import RUNBOOK
from tests.unit.postmortem.rig import database_url
from tests.unit.runbookd.live_app import live

TOKEN = "silence-test-token-7f1"


@dataclass
class Setup:
    config: Path

    @contextmanager
    def serve(self) -> Iterator[httpx.Client]:
        environ = {k: v for k, v in os.environ.items() if not k.startswith("RUNBOOKD_")}
        app = create_app(load_settings(self.config, environ), config=self.config)
        with (
            live(app) as base,
            httpx.Client(
                base_url=base, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30
            ) as http,
        ):
            yield http


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    (tmp_path / "host.yaml").write_text(RUNBOOK)
    with database_url(tmp_path) as url:
        config = tmp_path / "config.yaml"
        config.write_text(
            f"database_url: {url}\ndata_dir: {tmp_path / 'data'}\n"
            f"runbooks: [{tmp_path / 'host.yaml'}]\nengine: {{dry_run: true}}\n"
            f"auth: {{bearer_token: {TOKEN}}}\n"
        )
        yield Setup(config)


def _body(**fields: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "matchers": ['alertname="HostDown"', 'instance=~"db.*"'],
        "endsAt": (now + timedelta(hours=2)).isoformat(),
        "createdBy": "ana",
        "comment": "kernel upgrade",
        **fields,
    }


def _send(http: httpx.Client, instance: str) -> None:
    alert = am_alert({"alertname": "HostDown", "instance": instance})
    answer = http.post("/api/v1/alerts/alertmanager", json=am_notification([alert]))
    assert answer.status_code == 202, answer.text


def _outcome(http: httpx.Client, instance: str) -> Callable[[], dict[str, Any] | None]:
    def found() -> dict[str, Any] | None:
        rows = http.get("/api/v1/alerts", params={"match": f'{{instance="{instance}"}}'}).json()
        return rows["alerts"][0] if rows["alerts"] else None

    return found


def _active(http: httpx.Client) -> float:
    for line in http.get("/metrics").text.splitlines():
        if line.startswith("runbookd_silences_active "):
            return float(line.split()[1])
    raise AssertionError("runbookd_silences_active is not exported")


@pytest.mark.parametrize(
    ("fields", "where"),
    [
        ({"matchers": []}, "body.matchers: at least one matcher"),
        ({"matchers": ['instance=~".*"']}, "body.matchers: every matcher matches the empty"),
        ({"matchers": ['alertname=~"("']}, "body.matchers[0]: "),
        ({"startsAt": "2030-01-01T00:00:00Z"}, "body.endsAt: must be after startsAt"),
        ({"endsAt": "2020-01-01T00:00:00Z"}, "body.endsAt: must be after startsAt"),
        (
            {"startsAt": "2019-01-01T00:00:00Z", "endsAt": "2020-01-01T00:00:00Z"},
            "body.endsAt: is in the past",
        ),
    ],
)
def test_a_bad_silence_is_a_400_naming_the_field_and_nothing_is_kept(
    setup: Setup, fields: dict[str, Any], where: str
) -> None:
    with setup.serve() as http:
        answer = http.post("/api/v1/silences", json=_body(**fields))
        assert answer.status_code == 400, answer.text
        assert answer.json()["detail"].startswith(where)
        assert http.get("/api/v1/silences").json() == {"silences": []}


def test_a_silence_mutes_the_alerts_it_matches_and_survives_a_restart(setup: Setup) -> None:
    with setup.serve() as http:
        made = http.post("/api/v1/silences", json=_body())
        assert made.status_code == 201, made.text
        silence = made.json()
        assert silence["status"] == {"state": "active"} and silence["createdBy"] == "ana"
        assert silence["matchers"] == ['alertname="HostDown"', 'instance=~"db.*"']
        assert _active(http) == 1

        _send(http, "db-1")
        muted = poll(_outcome(http, "db-1"), what="the silenced alert's outcome")
        assert muted["outcome"] == "silenced"
        assert muted["summary"] == f"silenced by silence {silence['id']}"
        _send(http, "web-1")  # not matched: pages as always
        assert poll(_outcome(http, "web-1"), what="web-1's outcome")["outcome"] == "opened"
        [incident] = http.get("/api/v1/incidents").json()["incidents"]
        assert incident["labels"]["instance"] == "web-1"

        # Alertmanager's matcher objects and a start without an offset (UTC) are taken too
        later = http.post(
            "/api/v1/silences",
            json=_body(
                matchers=[
                    "alertname=HostDown",
                    {"name": "instance", "value": "db.*", "isRegex": True, "isEqual": False},
                ],
                startsAt="2031-01-01T02:00:00",
                endsAt="2031-01-01T03:00:00Z",
            ),
        ).json()
        shown = http.get(f"/api/v1/silences/{later['id']}").json()
        assert (
            shown["matchers"] == ['alertname="HostDown"', 'instance!~"db.*"']
            and shown["status"]["state"] == "pending"
        )
        assert shown["startsAt"] == "2031-01-01T02:00:00+00:00"
        assert http.get("/api/v1/silences/nope").status_code == 404

    with setup.serve() as http:  # a new process on the same store
        [kept] = http.get("/api/v1/silences", params={"state": "active"}).json()["silences"]
        assert kept["id"] == silence["id"] and _active(http) == 1
        expired = http.delete(f"/api/v1/silences/{silence['id']}")
        assert expired.status_code == 200, expired.text
        assert expired.json()["status"] == {"state": "expired"}
        assert http.delete(f"/api/v1/silences/{silence['id']}").status_code == 409
        assert http.delete("/api/v1/silences/nope").status_code == 404
        assert http.get("/api/v1/silences", params={"state": "active"}).json()["silences"] == []
        assert _active(http) == 0
        _send(http, "db-2")
        assert poll(_outcome(http, "db-2"), what="db-2's outcome")["outcome"] == "opened"


def test_only_admins_make_or_expire_silences_and_a_user_is_recorded_as_who_they_are(
    setup: Setup,
) -> None:
    admin, responder = "admin-token-4b2c", "responder-token-9d1e"
    setup.config.write_text(
        setup.config.read_text().replace(f"auth: {{bearer_token: {TOKEN}}}\n", "")
        + "users:\n"
        + f"  - {{name: ana, role: admin, token_hash: '{hash_token(admin, log2_n=4)}'}}\n"
        + f"  - {{name: bob, role: responder, token_hash: '{hash_token(responder, log2_n=4)}'}}\n"
    )
    with setup.serve() as http:
        as_bob = {"Authorization": f"Bearer {responder}"}
        as_ana = {"Authorization": f"Bearer {admin}"}
        refused = http.post("/api/v1/silences", json=_body(), headers=as_bob)
        assert refused.status_code == 403 and "admin" in refused.json()["detail"]
        made = http.post("/api/v1/silences", json=_body(createdBy="mallory"), headers=as_ana)
        assert made.status_code == 201 and made.json()["createdBy"] == "ana"
        sid = made.json()["id"]
        assert http.delete(f"/api/v1/silences/{sid}", headers=as_bob).status_code == 403
        # anyone with a role reads them
        [listed] = http.get("/api/v1/silences", headers=as_bob).json()["silences"]
        assert listed["id"] == sid
        gone = http.delete(f"/api/v1/silences/{sid}", headers=as_ana)
        assert gone.json()["expiredBy"] == "ana"
        url = load_settings(setup.config, {}).database_url
    # every attempt is in the audit log: who, what, and how it went
    db = make_engine(url)
    with db.connect() as conn:
        rows = conn.execute(select(t.audit).order_by(t.audit.c.id)).all()
    db.dispose()
    assert [(r.actor, r.action, r.outcome) for r in rows if r.target_kind == "silence"] == [
        ("bob", "silence", "denied"),
        ("ana", "silence", "applied"),
        ("bob", "unsilence", "denied"),
        ("ana", "unsilence", "applied"),
    ]


def test_the_cli_adds_lists_and_expires_silences_like_amtool(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    with setup.serve() as http:
        server = ["--url", str(http.base_url), "--token", TOKEN]
        code = main(
            ["silence", "add", "alertname=HostDown", 'instance=~"db.*"', "--duration", "2h"]
            + ["--comment", "kernel upgrade", "--author", "ana", *server]
        )
        out = capsys.readouterr().out
        assert code == 0, out
        sid = out.split()[0]
        [made] = http.get("/api/v1/silences").json()["silences"]
        assert made["id"] == sid and made["matchers"] == [
            'alertname="HostDown"',
            'instance=~"db.*"',
        ]
        ends = datetime.fromisoformat(made["endsAt"]) - datetime.fromisoformat(made["startsAt"])
        assert ends == timedelta(hours=2) and made["createdBy"] == "ana"

        assert main(["silence", "list", "--state", "active", *server]) == 0
        listed = capsys.readouterr().out
        assert f"{sid}  active" in listed and 'instance=~"db.*"' in listed

        assert main(["silence", "add", "instance=~(", "-c", "x", *server]) == 1
        assert "400 body.matchers[0]:" in capsys.readouterr().err
        assert main(["silence", "add", "a=b", "-c", "x", "--duration", "soon", *server]) == 2

        assert main(["silence", "expire", sid, *server]) == 0
        assert f"{sid}  expired" in capsys.readouterr().out
        assert main(["silence", "expire", sid, *server]) == 1
        assert "already expired" in capsys.readouterr().err
