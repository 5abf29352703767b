"""The pages' login and the gates on their forms, on the real app under uvicorn (SQLite, or
PostgreSQL with RUNBOOKD_TEST_DATABASE_URL): basic auth for users and the shared credential, a
trusted proxy's X-Forwarded-User, disabled buttons naming the role, the 403 page and its audit
record for a POST sent anyway, the logged-in name on the timeline, and approvals by team."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, select

from runbookd.api.auth import Credentials
from runbookd.api.principals import Access
from runbookd.auth.roles import Role
from runbookd.auth.tokens import hash_token, parse_hash
from runbookd.auth.users import Account, Users
from runbookd.server.app import build_app
from runbookd.service.core import Options
from runbookd.store import tables as t
from runbookd.toolchain.testing import am_alert, am_notification
from tests.e2e.harness import poll
from tests.unit.runbookd.live_app import live

SHARED = "shared-page-token-5e1a"
USERS = {
    "ana": (Role.APPROVER, ("payments",)),
    "olga": (Role.APPROVER, ("orders",)),
    "rob": (Role.RESPONDER, ()),
    "vic": (Role.VIEWER, ()),
}
RUNBOOK = """\
runbook: 1
id: pay-gate
title: Payment gateway failing
team: payments
section: "3.3"
classification: {nature: external, scope: global, complexity: complex}
detection:
  group_by: [labels.channel]
  triggers:
    - id: failing
      match: {field: name, eq: GatewayFailing}
handling:
  steps:
    - id: switch
      title: Switch the gateway
      connector: log
      params: {message: "switch {{ incident.labels.channel }}"}
      approval: {required: true, timeout: 30m, on_timeout: abort, team: payments}
resolution:
  on_alerts_resolved: false
"""


def token(name: str) -> str:
    return f"tok-{name}-page"


def _account(name: str) -> Account:
    role, teams = USERS[name]
    digest = parse_hash(hash_token(token(name), log2_n=4, r=1))
    return Account(name, role, token_hash=digest, teams=teams)


ACCESS = Access(users=Users([_account(n) for n in USERS]), shared=Credentials(bearer_token=SHARED))


@dataclass
class Site:
    url: str
    db_url: str

    def client(self, who: str | None = None, **kwargs: Any) -> httpx.Client:
        auth = (who, token(who)) if who else None
        return httpx.Client(
            base_url=self.url, auth=auth, timeout=30, follow_redirects=True, **kwargs
        )

    def api(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"authorization": f"Bearer {SHARED}"}, timeout=30
        )


@contextmanager
def serve(db_url: str, book: Path, access: Access = ACCESS) -> Iterator[Site]:
    app = build_app(
        Options(database_url=db_url, runbooks=[book], dry_run=True),
        credentials=access.shared,
        access=access,
    )
    with live(app) as base:
        yield Site(base, db_url)


@pytest.fixture
def book(tmp_path: Path) -> Path:
    path = tmp_path / "pay-gate.yaml"
    path.write_text(RUNBOOK)
    return path


@pytest.fixture
def site(db_url: str, book: Path) -> Iterator[Site]:
    with serve(db_url, book) as running:
        yield running


def open_incident(site: Site) -> str:
    """One incident through the webhook; returns its id once its approval waits."""
    body = am_notification([am_alert({"alertname": "GatewayFailing", "channel": "card"})])
    with site.api() as api:
        assert api.post("/api/v1/alerts/alertmanager", json=body).status_code == 202
        waiting = poll(lambda: api.get("/api/v1/approvals").json()["approvals"], what="approval")
    return str(waiting[0]["incident"])


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, "the page has a form with a CSRF token"
    return found[1]


def post_form(client: httpx.Client, path: str, page: str, **fields: str) -> httpx.Response:
    return client.post(path, data={"csrf": csrf_of(page), **fields})


def audit_rows(db_url: str) -> list[dict[str, Any]]:
    db = create_engine(db_url)
    try:
        with db.connect() as conn:
            rows = conn.execute(select(t.audit).order_by(t.audit.c.id)).all()
    finally:
        db.dispose()
    return [dict(r._mapping) for r in rows]


def summaries(site: Site, incident: str) -> dict[str, str]:
    with site.api() as api:
        timeline = api.get(f"/api/v1/incidents/{incident}").json()["timeline"]
    return {e["kind"]: e["summary"] for e in timeline}


def test_every_page_asks_a_browser_to_log_in(site: Site) -> None:
    with site.client() as anonymous:
        for path in ("/", "/alerts", "/runbooks", "/reports", "/incidents/INC-1"):
            answer = anonymous.get(path)
            assert answer.status_code == 401, path
            assert answer.headers["www-authenticate"] == 'Basic realm="runbookd"'
    with httpx.Client(base_url=site.url, auth=("vic", "wrong"), timeout=30) as wrong:
        assert wrong.get("/").status_code == 401
    with site.client("vic") as vic:
        page = vic.get("/")
    assert page.status_code == 200
    assert "signed in as vic (viewer)" in page.text


def test_the_shared_credential_still_opens_the_pages(site: Site) -> None:
    with site.api() as api:
        assert api.get("/").status_code == 200


def test_forwarded_user_only_from_a_trusted_proxy(db_url: str, book: Path) -> None:
    header = {"x-forwarded-user": "rob"}
    with serve(db_url, book) as untrusted, untrusted.client(headers=header) as client:
        assert client.get("/").status_code == 401
    proxied = replace(ACCESS, trusted_proxies=(ipaddress.ip_network("127.0.0.0/8"),))
    with serve(db_url, book, proxied) as trusted, trusted.client(headers=header) as client:
        page = client.get("/")
    assert page.status_code == 200 and "signed in as rob (responder)" in page.text


def test_nothing_configured_keeps_the_pages_open(db_url: str, book: Path) -> None:
    with serve(db_url, book, Access()) as open_site, open_site.client() as client:
        page = client.get("/")
    assert page.status_code == 200 and "signed in" not in page.text


def test_a_viewer_sees_no_working_button_and_a_post_anyway_is_403_and_audited(
    site: Site,
) -> None:
    incident = open_incident(site)
    with site.client("vic") as vic:
        page = vic.get(f"/incidents/{incident}").text
        refused = post_form(vic, f"/incidents/{incident}/ack", page)
    assert "needs role responder" in page
    assert 'type="submit"' not in page.split('aria-label="Actions"')[1].split("</section>")[0]
    assert "Your name" not in page
    assert refused.status_code == 403
    assert "this needs the responder role; vic is viewer" in refused.text
    assert "acknowledge" not in summaries(site, incident)
    rows = audit_rows(site.db_url)
    assert [(r["actor"], r["action"], r["outcome"], r["via"]) for r in rows] == [
        ("vic", "ack", "denied", "web")
    ]


def test_a_responders_ack_is_recorded_under_their_name_via_web(site: Site) -> None:
    incident = open_incident(site)
    with site.client("rob") as rob:
        page = rob.get(f"/incidents/{incident}").text
        assert "Your name" not in page and "needs role responder" not in page
        done = post_form(rob, f"/incidents/{incident}/ack", page, by="someone-else")
    assert done.status_code == 200 and "Done: acknowledged" in done.text
    assert summaries(site, incident)["acknowledge"] == "by rob (responder) via web from 127.0.0.1"
    with site.api() as api:
        assert api.get(f"/api/v1/incidents/{incident}").json()["acknowledged_by"] == "rob"


def test_an_approval_needs_the_steps_team_on_the_page_and_the_api(site: Site) -> None:
    incident = open_incident(site)
    approval = f"{incident}:switch"
    reason = "this needs role approver in team payments; olga is approver in orders"
    with site.client("olga") as olga:
        page = olga.get(f"/incidents/{incident}").text
        on_page = post_form(olga, f"/approvals/{approval}", page, decision="approve")
        on_api = olga.post(f"/api/v1/approvals/{approval}", json={"approve": True, "by": "x"})
    assert "needs role approver in team payments" in page
    assert (on_page.status_code, on_api.status_code) == (403, 403)
    assert reason in on_page.text and on_api.json()["detail"] == reason
    with site.api() as api:
        listed = api.get("/api/v1/approvals").json()["approvals"]
    assert [(a["id"], a["role"], a["team"]) for a in listed] == [(approval, "approver", "payments")]
    with site.client("ana") as ana:
        page = ana.get(f"/incidents/{incident}").text
        assert "needs role" not in page
        done = post_form(ana, f"/approvals/{approval}", page, decision="approve")
    assert done.status_code == 200 and "Done: step approved" in done.text
    assert summaries(site, incident)["decide_approval"] == (
        "step=switch approved by ana (approver) via web from 127.0.0.1"
    )
    denied = [(r["actor"], r["outcome"]) for r in audit_rows(site.db_url)]
    assert denied == [("olga", "denied"), ("olga", "denied"), ("ana", "applied")]


def test_an_admin_may_decide_whatever_the_team(site: Site) -> None:
    incident = open_incident(site)
    with site.api() as api:
        decided = api.post(
            f"/api/v1/approvals/{incident}:switch", json={"approve": False, "by": "lead"}
        )
    assert decided.status_code == 200 and decided.json()["decision"] == "denied"
