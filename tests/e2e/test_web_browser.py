"""The web pages in a real browser (Debian's chromium driven by Playwright) against a real
`runbookd serve`: filters, the action buttons (seen through the API afterwards), escaping of a
hostile label, CSRF, basic auth, and the forms gated by role for configured users. Screenshots of every page, on a laptop and a phone viewport,
are saved under test-artifacts/screenshots/.

Incidents come from two sources: real ones opened by alerts posted to the webhook (the buttons
act on these), and 300 synthetic resolved ones written straight into the store
(``runbookd.web.sample``) so the list, paging and reports have history to show.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from runbookd.auth.tokens import hash_token
from runbookd.store import db as store
from runbookd.toolchain.testing import am_alert, am_notification
from runbookd.web import sample
from tests.e2e.harness import HOOK, REPO, Server, poll

CHROMIUM = "/usr/bin/chromium"
SHOTS = REPO / "test-artifacts" / "screenshots"
VIEWPORTS = {"laptop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}
HOSTILE = "<script>window.__pwned = 1; alert('x')</script><img src=x onerror=\"window.__pwned=2\">"

if not os.path.exists(CHROMIUM):
    pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)", allow_module_level=True)
playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

RUNBOOK = """\
runbook: 1
id: web-checkout
title: Checkout service failing
team: web
section: "2.1"
classification: {nature: business, scope: global, complexity: complex}
detection:
  group_by: [labels.service]
  triggers:
    - id: failing
      match: {field: name, eq: CheckoutFailing}
escalation:
  levels:
    - id: oncall
      who: web on-call
      connector: log
      params: {message: "page {{ incident.id }}"}
      ack_within: 30m
handling:
  steps:
    - id: restart
      title: Restart checkout
      connector: log
      params: {message: "restart {{ incident.labels.service }}"}
      approval: {required: true, timeout: 30m, on_timeout: abort}
resolution:
  on_alerts_resolved: false
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright_api.sync_playwright() as p:
        args = ["--no-sandbox"] if os.geteuid() == 0 else []
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
        yield b
        b.close()


def open_incident(server: Server, service: str, **extra: str) -> str:
    labels = {"alertname": "CheckoutFailing", "service": service, **extra}
    body = am_notification([am_alert(labels)], group_labels={"service": service})
    assert server.post(HOOK, body).status_code == 202

    def opened() -> str | None:
        for inc in server.incidents(runbook="web-checkout"):
            if inc["labels"].get("service") == service:
                return str(inc["id"])
        return None

    return poll(opened, what=f"an incident for {service}")


def waiting_approval(server: Server, incident_id: str) -> str:
    def find() -> str | None:
        for a in server.get("/api/v1/approvals").json()["approvals"]:
            if a["incident"] == incident_id:
                return str(a["id"])
        return None

    return poll(find, what=f"the approval of {incident_id}")


@pytest.fixture
def site(make_server: Any, tmp_path: Path) -> Server:
    book = tmp_path / "runbooks" / "web-checkout.yaml"
    book.parent.mkdir()
    book.write_text(RUNBOOK)
    server: Server = make_server([book])
    engine = store.make_engine(server.database.url)
    try:
        sample.seed(engine, 300, end=datetime.now(UTC), days=60, open_share=0.0)
    finally:
        engine.dispose()
    return server


def shoot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    for viewport, size in VIEWPORTS.items():
        page.set_viewport_size(size)
        page.screenshot(path=str(SHOTS / f"{name}-{viewport}.png"), full_page=True)


def submit(page: Any, selector: str) -> None:
    """Click a form button and wait for the page the server answers with (after its redirect)."""
    with page.expect_navigation():
        page.click(selector)
    assert page.locator(".error").count() == 0, page.locator(".error").inner_text()
    assert page.locator(".message").count() == 1


def test_list_filters_and_paging(site: Server, browser: Any) -> None:
    open_incident(site, "checkout-eu")
    page = browser.new_page()
    page.goto(site.url + "/")
    total = int(page.locator(".count").inner_text().split()[0])
    assert total == 301
    shoot(page, "incidents")

    page.check("input[name=severity][value=critical]")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**/?*severity=critical*")
    severities = page.locator("table.incidents tbody .sev").all_inner_texts()
    assert severities and set(severities) == {"critical"}
    api_critical = [i for i in site.incidents(limit=1000) if i["severity"] == "critical"]
    assert int(page.locator(".count").inner_text().split()[0]) == len(api_critical)

    page.goto(site.url + "/")
    page.fill("input[name=q]", "checkout-eu")
    page.click("form.filters button[type=submit]")
    rows = page.locator("table.incidents tbody tr")
    assert rows.count() == 1
    assert "Checkout service failing" in rows.first.inner_text()

    page.goto(site.url + "/?runbook=web-checkout&status=resolved")
    assert page.locator("table.incidents tbody tr").first.inner_text().startswith("No incident")

    page.goto(site.url + "/")
    page.click("a[rel=next]")
    assert "page 2 of 7" in page.locator(".count").inner_text()
    page.close()


def test_buttons_change_the_incident(site: Server, browser: Any) -> None:
    first = open_incident(site, "checkout-us")
    second = open_incident(site, "checkout-ap")
    approval = waiting_approval(site, first)
    waiting_approval(site, second)
    page = browser.new_page()
    page.goto(f"{site.url}/incidents/{first}")
    shoot(page, "incident")
    assert page.locator("svg.timeline").count() == 1
    assert page.locator("svg.timeline g.mark").count() >= 3

    page.locator("form.approval input[name=by]").fill("ana")
    submit(page, f"form[action='/approvals/{approval}'] button[value=approve]")
    timeline = site.incident(first)["timeline"]
    decided = [e["data"] for e in timeline if e["kind"] == "decide_approval"]
    assert decided == [{**decided[0], "decision": "approved", "by": "ana"}]
    poll(lambda: any(e["kind"] == "step_outcome" for e in site.incident(first)["timeline"]))

    # The name typed once is remembered for the next form.
    assert page.locator("form.inline input[name=by]").input_value() == "ana"
    submit(page, "form.inline button:has-text('Acknowledge')")
    inc = site.incident(first)
    # The approved restart already mitigated it; the acknowledgement is recorded all the same.
    assert (inc["status"], inc["acknowledged_by"]) == ("mitigated", "ana")

    page.fill("form.note textarea[name=text]", "Rolled the <b>canary</b> back")
    submit(page, "form.note button[type=submit]")
    notes = [e["data"] for e in site.incident(first)["timeline"] if e["kind"] == "note"]
    assert any(n.get("text") == "Rolled the <b>canary</b> back" for n in notes)
    assert page.locator("table.timeline").inner_text().count("Rolled the <b>canary</b> back") == 1

    page.fill("form.inline input[name=reason]", "fixed by the restart")
    submit(page, "form.inline button:has-text('Resolve')")
    inc = site.incident(first)
    assert (inc["status"], inc["resolved_by"]) == ("resolved", "ana")
    assert page.locator("dd.status").inner_text() == "resolved"
    assert page.locator("form.inline").count() == 0  # nothing left to acknowledge or resolve

    page.goto(f"{site.url}/incidents/{second}")
    submit(page, "form.approval button[value=deny]")
    decided = [
        e["data"] for e in site.incident(second)["timeline"] if e["kind"] == "decide_approval"
    ]
    assert [(d["decision"], d["by"]) for d in decided] == [("denied", "ana")]
    assert not [
        a for a in site.get("/api/v1/approvals").json()["approvals"] if a["incident"] == second
    ]
    page.close()


def test_a_hostile_label_stays_text(site: Server, browser: Any) -> None:
    incident_id = open_incident(site, "checkout-x", note=HOSTILE)
    page = browser.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    for path in (f"/incidents/{incident_id}", "/?q=checkout-x", f"/postmortems/{incident_id}"):
        page.goto(site.url + path)
        assert page.evaluate("window.__pwned") is None, path
        assert page.locator("script").count() == 0, path
    page.goto(f"{site.url}/incidents/{incident_id}")
    assert HOSTILE in page.locator("table.labels").inner_text()
    assert dialogs == []
    page.close()


def test_forms_without_a_valid_csrf_token_get_403(site: Server, browser: Any) -> None:
    incident_id = open_incident(site, "checkout-csrf")
    form = {"by": "mallory"}
    plain = site.post(
        f"/incidents/{incident_id}/resolve",
        content=b"by=mallory",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert plain.status_code == 403
    # A page elsewhere cannot read the cookie: a guessed token with a guessed cookie fails too.
    forged = httpx.post(
        f"{site.url}/incidents/{incident_id}/resolve",
        data={**form, "csrf": "abc.def"},
        cookies={"runbookd_csrf": "abc.def"},
        timeout=10,
    )
    assert forged.status_code == 403
    # A cross-site form, submitted from another origin's page in the browser.
    page = browser.new_page()
    page.set_content(
        f'<form method="post" action="{site.url}/incidents/{incident_id}/resolve">'
        '<input name="by" value="mallory"></form>'
    )
    with page.expect_navigation():
        page.evaluate("document.forms[0].submit()")
    assert "403" in page.title()
    page.close()
    assert site.incident(incident_id)["status"] == "triggered"


def test_pages_with_basic_auth(make_server: Any, tmp_path: Path, browser: Any) -> None:
    book = tmp_path / "rb" / "web-checkout.yaml"
    book.parent.mkdir()
    book.write_text(RUNBOOK)
    server: Server = make_server(
        [book],
        env={"RUNBOOKD_AUTH__BASIC_USERNAME": "ana", "RUNBOOKD_AUTH__BASIC_PASSWORD": "pw-1"},
    )
    auth = ("ana", "pw-1")
    for path in ("/", "/reports", "/incidents/INC-1"):
        response = server.get(path)
        assert response.status_code == 401, path
        assert "Basic" in response.headers["www-authenticate"]
    body = am_notification([am_alert({"alertname": "CheckoutFailing", "service": "s1"})])
    assert server.post(HOOK, body, auth=auth).status_code == 202
    poll(lambda: server.get("/api/v1/incidents", auth=auth).json()["incidents"], what="incident")

    context = browser.new_context(http_credentials={"username": "ana", "password": "pw-1"})
    page = context.new_page()
    page.goto(server.url + "/incidents/INC-1")
    assert "signed in as token (admin)" in page.locator("header").inner_text()
    # the shared pair is no one in particular: who acts says their name in the form
    page.fill("form.inline input[name=by]", "carla")
    submit(page, "form.inline button:has-text('Acknowledge')")
    inc = server.get("/api/v1/incidents/INC-1", auth=auth).json()
    assert inc["acknowledged_by"] == "carla"
    context.close()


def _users_file(tmp_path: Path, roles: dict[str, str]) -> Path:
    lines = ["users:"]
    for name, role in roles.items():
        digest = hash_token(f"{name}-token", log2_n=10)
        lines.append(f"  - {{name: {name}, role: {role}, token_hash: '{digest}'}}")
    path = tmp_path / "users.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_viewer_cannot_ack_a_responder_can_and_is_named(
    make_server: Any, tmp_path: Path, browser: Any
) -> None:
    book = tmp_path / "rb" / "web-checkout.yaml"
    book.parent.mkdir()
    book.write_text(RUNBOOK)
    users = _users_file(tmp_path, {"vic": "viewer", "rob": "responder"})
    server: Server = make_server([book], env={"RUNBOOKD_USERS_FILE": str(users)})
    assert server.get("/").headers["www-authenticate"] == 'Basic realm="runbookd"'
    # the webhook keeps its own (here: no) credential; users log in to the pages and the API
    body = am_notification([am_alert({"alertname": "CheckoutFailing", "service": "s2"})])
    assert server.post(HOOK, body).status_code == 202
    rob = ("rob", "rob-token")
    poll(lambda: server.get("/api/v1/incidents", auth=rob).json()["incidents"], what="incident")

    viewer = browser.new_context(http_credentials={"username": "vic", "password": "vic-token"})
    page = viewer.new_page()
    page.goto(server.url + "/incidents/INC-1")
    assert "signed in as vic (viewer)" in page.locator("header").inner_text()
    assert page.locator("form.inline button:has-text('Acknowledge')").is_disabled()
    assert "needs role responder" in page.locator("form.inline").inner_text()
    assert page.locator("section.actions button[type=submit]").count() == 0
    shoot(page, "incident-viewer")
    viewer.close()

    responder = browser.new_context(http_credentials={"username": "rob", "password": "rob-token"})
    page = responder.new_page()
    page.goto(server.url + "/incidents/INC-1")
    assert page.locator("input[name=by]").count() == 0  # a known user acts as themselves
    submit(page, "form.inline button:has-text('Acknowledge')")
    assert "by rob (responder) via web" in page.locator("table.timeline").inner_text()
    responder.close()
    assert server.get("/api/v1/incidents/INC-1", auth=rob).json()["acknowledged_by"] == "rob"


def test_reports_and_postmortem_pages(site: Server, browser: Any) -> None:
    page = browser.new_page()
    page.goto(site.url + "/reports")
    assert page.locator("section.report svg").count() >= 7
    severity_rows = page.locator("table[data-section=severity] tbody tr").all_inner_texts()
    counted = sum(int(r.split()[-1]) for r in severity_rows)
    api = [i for i in site.incidents(limit=1000) if i["severity"]]
    in_period = [i for i in api if i["opened_at"] >= page.locator("input[name=from]").input_value()]
    assert counted == len(in_period)
    shoot(page, "reports")
    page.goto(site.url + "/reports?from=2026-13-01")
    assert "from: expected a date" in page.locator(".error").inner_text()

    first = site.incidents(limit=1)[0]["id"]
    page.goto(f"{site.url}/incidents/{first}")
    page.click("a:has-text('summary')")
    page.wait_for_url(f"**/postmortems/{first}")
    assert first in page.content()
    shoot(page, "postmortem")
    page.close()


def teardown_module() -> None:
    # Keep the screenshots (artifacts); nothing else of ours is left behind.
    shutil.rmtree(REPO / "test-artifacts" / "tmp", ignore_errors=True)
