"""`/runbooks`, `/runbooks/{id}` and `GET /api/v1/runbooks/{id}` against the real app under uvicorn
on loopback, on a database whose incident the engine thread stored and with one drill on record."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
import pytest
from sqlalchemy import insert

from runbookd.api.auth import Credentials
from runbookd.server.app import build_app
from runbookd.service.core import Options
from runbookd.store.tables import DrillRun
from tests.unit.postmortem.rig import PAYMENT, T0, Rig, database_url, run_payment_outage
from tests.unit.runbookd.live_app import live

TOKEN = "runbook-pages-token-5d1e"
RUNBOOK = "payment-channel-abnormal"


@dataclass
class Site:
    url: str

    def client(self, token: str | None = TOKEN) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with database_url(tmp_path_factory.mktemp("runbook-pages")) as url:
        rig = Rig(url)
        run_payment_outage(rig, ack=True)  # INC-1: acknowledged, then resolved
        with rig.db.begin() as conn:
            conn.execute(
                insert(DrillRun.__table__),  # type: ignore[arg-type]  # SQLModel's table
                [
                    _drill(T0 - timedelta(days=2), passed=True, score=1.0),
                    _drill(T0 - timedelta(days=1), passed=False, score=0.75),
                ],
            )
        rig.db.dispose()
        app = build_app(
            Options(database_url=url, runbooks=[PAYMENT], dry_run=True),
            credentials=Credentials(bearer_token=TOKEN),
        )
        with live(app) as url:
            yield Site(url)


def _drill(at: datetime, *, passed: bool, score: float) -> dict[str, object]:
    return {
        "runbook_id": RUNBOOK,
        "runbook_version": 1,
        "started_at": at,
        "finished_at": at + timedelta(seconds=5),
        "passed": passed,
        "score": score,
        "details": "{}",
    }


def test_api_describes_the_runbook_and_how_it_went(site: Site) -> None:
    with site.client() as client:
        body = client.get(f"/api/v1/runbooks/{RUNBOOK}").json()
        incident = client.get("/api/v1/incidents/INC-1").json()
    assert (body["id"], body["section"], body["severity"]) == (RUNBOOK, "3.3", "critical")
    (trigger,) = body["detection"]["triggers"]
    assert trigger["id"] == "failures-and-probe"
    assert trigger["words"].endswith("for the same incident key within 5m")
    assert body["detection"]["group_by"] == ["labels.channel"]
    levels = [(lv["id"], lv["told_after"], lv["ack_within"]) for lv in body["escalation"]["levels"]]
    assert levels == [
        ("payments-oncall", "at once", "5m"),
        ("payments-lead", "5m", "10m"),
        ("manager", "15m", None),
    ]
    switch = next(s for s in body["handling"]["steps"] if s["id"] == "switch_channel")
    assert switch["approval"] == {
        "required": False,
        "min_severity": "critical",
        "timeout": "10m",
        "on_timeout": "escalate",
    }
    assert switch["verify"]["within"] == "10m"
    assert switch["rollback"] is not None
    assert f"id: {RUNBOOK}" in body["yaml"]
    # The figures agree with the incident's own record.
    assert [i["id"] for i in body["incidents"]] == ["INC-1"]
    opened = datetime.fromisoformat(incident["opened_at"])
    acked = datetime.fromisoformat(incident["acknowledged_at"])
    resolved = datetime.fromisoformat(incident["resolved_at"])
    assert body["mtta_s"] == pytest.approx((acked - opened).total_seconds())
    assert body["mttr_s"] == pytest.approx((resolved - opened).total_seconds())
    # The newest drill, not the best one.
    assert body["last_drill"]["score"] == 0.75
    assert body["last_drill"]["passed"] is False


def test_unknown_runbook_is_404_naming_it(site: Site) -> None:
    with site.client() as client:
        api = client.get("/api/v1/runbooks/no-such-runbook")
        page = client.get("/runbooks/no-such-runbook")
    assert api.status_code == 404
    assert "no-such-runbook" in api.json()["detail"]
    assert page.status_code == 404
    assert "no runbook &#39;no-such-runbook&#39;" in page.text


def test_pages_need_the_same_credentials_as_the_api(site: Site) -> None:
    with site.client(token=None) as client:
        assert client.get(f"/runbooks/{RUNBOOK}").status_code == 401
        assert client.get("/runbooks").status_code == 401
        assert client.get(f"/api/v1/runbooks/{RUNBOOK}").status_code == 401


def test_the_list_page_links_every_runbook(site: Site) -> None:
    with site.client() as client:
        html = client.get("/runbooks").text
    assert f'<a href="/runbooks/{RUNBOOK}">{RUNBOOK}</a>' in html
    assert '<a href="/runbooks">Runbooks</a>' in html  # in every page's navigation


def test_the_runbook_page_shows_detection_escalation_steps_and_figures(site: Site) -> None:
    with site.client() as client:
        html = client.get(f"/runbooks/{RUNBOOK}").text
        mtta = client.get(f"/api/v1/runbooks/{RUNBOOK}").json()["mtta_s"]
    assert "plan section <strong>3.3</strong>" in html
    assert "<strong>failures-and-probe</strong> (correlate): both (" in html
    assert "<td>payments-lead</td>" in html and "<td>after 5m</td>" in html
    assert "approval: when severity is at least critical, within 10m, else escalate" in html
    assert "verify within 10m" in html and "rollback through" in html
    assert '<a href="/incidents/INC-1">INC-1</a>' in html
    assert f"<dt>MTTA</dt><dd>{round(mtta)}s</dd>" in html
    assert "<dt>Last drill</dt><dd>75% (failed)" in html
    assert "MTTA and MTTR over its newest 1 incident." in html
    assert "id: payment-channel-abnormal" in html  # the YAML, escaped as text
