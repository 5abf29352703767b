"""The post-mortem API and `runbookd postmortem` against the real app under uvicorn on loopback,
on a database whose incidents the engine thread stored (one resolved, one still open)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest

from runbookd.api.auth import Credentials
from runbookd.cli.main import main
from runbookd.server.app import build_app
from runbookd.service.core import Options
from tests.unit.postmortem.rig import PAYMENT, Rig, database_url, run_payment_outage
from tests.unit.runbookd.live_app import live

TOKEN = "pm-test-token-9f2c"


@dataclass
class Api:
    url: str

    def client(self, token: str | None = TOKEN) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    with database_url(tmp_path_factory.mktemp("pm-api")) as url:
        rig = Rig(url)
        run_payment_outage(rig)  # INC-1, resolved
        rig.alert("PaymentFailureRateHigh", channel="wechat")
        rig.alert("PaymentChannelProbeFailed", channel="wechat")  # INC-2, open
        rig.at(timedelta(minutes=11))
        rig.db.dispose()
        app = build_app(
            Options(database_url=url, runbooks=[PAYMENT], dry_run=True),
            credentials=Credentials(bearer_token=TOKEN),
        )
        with live(app) as url:
            yield Api(url)


def test_postmortem_in_three_formats(api: Api) -> None:
    with api.client() as http:
        md = http.get("/api/v1/incidents/INC-1/postmortem")
        html = http.get("/api/v1/incidents/INC-1/postmortem", params={"format": "html"})
        data = http.get("/api/v1/incidents/INC-1/postmortem", params={"format": "json"})
    assert md.status_code == 200 and md.headers["content-type"].startswith("text/markdown")
    assert md.text.startswith("# Post-mortem: Payment channel abnormal (INC-1)")
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert "@media print" in html.text
    summary = data.json()
    assert summary["final"] is True
    assert summary["timings"]["time_to_resolve"] == 450
    assert summary["timings"]["time_to_mitigate"] == 330
    assert [i["value"] for i in summary["impact"]] == [42]


def test_open_incident_answers_a_draft(api: Api) -> None:
    with api.client() as http:
        data = http.get("/api/v1/incidents/INC-2/postmortem", params={"format": "json"}).json()
        md = http.get("/api/v1/incidents/INC-2/postmortem").text
        html = http.get("/api/v1/incidents/INC-2/postmortem", params={"format": "html"}).text
    assert data["final"] is False and data["timings"]["resolved"] is None
    assert "**DRAFT" in md and 'class="draft"' in html


def test_unknown_incident_is_404_everywhere(api: Api) -> None:
    with api.client() as http:
        answers = [
            http.get("/api/v1/incidents/INC-404/postmortem"),
            http.post("/api/v1/incidents/INC-404/follow-ups", json={"title": "x", "by": "a"}),
            http.patch("/api/v1/incidents/INC-404/follow-ups/1", json={"by": "a"}),
            http.put("/api/v1/incidents/INC-404/lessons", json={"text": "x", "by": "a"}),
        ]
    assert [r.status_code for r in answers] == [404, 404, 404, 404]
    assert all("INC-404" in r.json()["detail"] for r in answers)


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("GET", "/api/v1/incidents/INC-1/postmortem?format=pdf", None, "query.format"),
        ("POST", "/api/v1/incidents/INC-1/follow-ups", {"by": "a"}, "body.title"),
        ("POST", "/api/v1/incidents/INC-1/follow-ups", {"title": "t"}, "body.by"),
        (
            "POST",
            "/api/v1/incidents/INC-1/follow-ups",
            {"title": "t", "by": "a", "due": "2026-13-01"},
            "body.due",
        ),
        (
            "POST",
            "/api/v1/incidents/INC-1/follow-ups",
            {"title": "t", "by": "a", "status": "closed"},
            "body.status",
        ),
        ("PATCH", "/api/v1/incidents/INC-1/follow-ups/1", {"by": "a", "title": None}, "body.title"),
        ("PATCH", "/api/v1/incidents/INC-1/follow-ups/x", {"by": "a"}, "path.follow_up_id"),
        ("PUT", "/api/v1/incidents/INC-1/lessons", {"text": "", "by": "a"}, "body.text"),
    ],
)
def test_bad_input_is_422_naming_the_field(
    api: Api, method: str, path: str, body: object, field: str
) -> None:
    with api.client() as http:
        response = http.request(method, path, json=body)
    assert response.status_code == 422
    assert response.json()["detail"].startswith(field + ":")


def test_auth_is_required_like_the_rest_of_the_api(api: Api) -> None:
    with api.client(token=None) as anonymous, api.client(token="wrong") as wrong:
        for http in (anonymous, wrong):
            answers = [
                http.get("/api/v1/incidents/INC-1/postmortem"),
                http.post("/api/v1/incidents/INC-1/follow-ups", json={"title": "x", "by": "a"}),
                http.patch("/api/v1/incidents/INC-1/follow-ups/1", json={"by": "a"}),
                http.put("/api/v1/incidents/INC-1/lessons", json={"text": "x", "by": "a"}),
            ]
            assert [r.status_code for r in answers] == [401] * 4
            assert all(TOKEN not in r.text for r in answers)


def test_follow_ups_and_lessons_change_the_summary_and_the_timeline(api: Api) -> None:
    base = "/api/v1/incidents/INC-1"
    with api.client() as http:
        made = http.post(
            f"{base}/follow-ups",
            json={
                "title": "Alert on probe latency",
                "owner": "dave",
                "due": "2026-04-01",
                "by": "erin",
            },
        )
        assert made.status_code == 201
        item = made.json()
        assert (item["status"], item["due"], item["created_by"]) == ("open", "2026-04-01", "erin")
        other = http.post(f"{base}/follow-ups", json={"title": "Runbook review", "by": "erin"})
        assert other.json()["owner"] is None

        changed = http.patch(
            f"{base}/follow-ups/{item['id']}", json={"status": "done", "due": None, "by": "dave"}
        )
        assert changed.status_code == 200
        assert (changed.json()["status"], changed.json()["due"]) == ("done", None)
        assert changed.json()["updated_by"] == "dave" and changed.json()["title"] == item["title"]
        # A follow-up of INC-1 is not reachable through another incident.
        assert (
            http.patch(
                f"/api/v1/incidents/INC-2/follow-ups/{item['id']}", json={"by": "x"}
            ).status_code
            == 404
        )

        lessons = http.put(f"{base}/lessons", json={"text": "Probe earlier.", "by": "frank"})
        assert lessons.status_code == 200
        http.put(f"{base}/lessons", json={"text": "Probe earlier; page sooner.", "by": "grace"})

        summary = http.get(f"{base}/postmortem", params={"format": "json"}).json()
        timeline = http.get(base).json()["timeline"]

    by_id = {f["id"]: f for f in summary["follow_ups"]}
    assert by_id[item["id"]]["status"] == "done" and by_id[item["id"]]["due"] is None
    assert by_id[other.json()["id"]]["status"] == "open"
    assert summary["lessons"]["text"] == "Probe earlier; page sooner."
    assert summary["lessons"]["updated_by"] == "grace"
    edits = [(e["kind"], e["data"].get("by"), e["data"].get("action")) for e in timeline]
    assert ("follow_up", "erin", "added") in edits
    assert ("follow_up", "dave", "changed") in edits
    assert [e for e in edits if e[0] == "lessons"] == [
        ("lessons", "frank", None),
        ("lessons", "grace", None),
    ]


def test_cli_prints_the_post_mortem(
    api: Api, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUNBOOKD_TOKEN", TOKEN)
    assert main(["postmortem", "INC-1", "--url", api.url, "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["incident"] == "INC-1" and data["timings"]["time_to_resolve"] == 450

    assert main(["postmortem", "INC-1", "--url", api.url]) == 0
    assert capsys.readouterr().out.startswith("# Post-mortem: Payment channel abnormal (INC-1)")

    assert main(["postmortem", "INC-404", "--url", api.url]) == 1
    assert "404 no incident 'INC-404'" in capsys.readouterr().err

    monkeypatch.delenv("RUNBOOKD_TOKEN")
    assert main(["postmortem", "INC-1", "--url", api.url]) == 1
    err = capsys.readouterr().err
    assert "401" in err and "set RUNBOOKD_TOKEN" in err
