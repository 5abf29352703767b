"""``/audit``: the audit log page for admins, with the API's filters as a GET form; anyone
below admin gets the 403 page naming the role. The real app under uvicorn, read with httpx."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import unescape
from pathlib import Path

import pytest

from tests.unit.postmortem.rig import database_url
from tests.unit.runbookd.audit_app import CLI_AGENT, App, outage, serve


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    with database_url(tmp_path) as url, serve(url) as running:
        outage(running)
        with running.client("rob", **CLI_AGENT) as rob:
            assert rob.post("/api/v1/incidents/INC-1/ack", json={"by": "rob"}).is_success
        with running.client("rob") as rob:
            note = {"by": "rob", "text": "switching to the backup channel"}
            assert rob.post("/api/v1/incidents/INC-1/notes", json=note).is_success
        with running.client("vic") as vic:
            assert vic.post("/api/v1/incidents/INC-1/ack", json={"by": "vic"}).status_code == 403
        yield running


def _rows(html: str) -> list[str]:
    """The table's rows as plain text, one line each."""
    body = html[html.index("<tbody>") : html.index("</tbody>")]
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", body, flags=re.S)
    return [" ".join(unescape(re.sub(r"<[^>]+>", " ", r)).split()) for r in rows]


def test_an_admin_sees_who_did_what_newest_first(app: App) -> None:
    with app.client() as admin:
        page = admin.get("/audit")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    rows = _rows(page.text)
    assert len(rows) == 3
    assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC ", rows[0])  # when, first
    assert "vic (viewer) api 127.0.0.1 ack INC-1 denied this needs the responder role" in rows[0]
    assert "rob (responder) api 127.0.0.1 note INC-1 applied switching to the backup" in rows[1]
    assert "rob (responder) cli 127.0.0.1 ack INC-1 applied" in rows[2]
    assert '<a href="/incidents/INC-1">INC-1</a>' in page.text
    assert '<a href="/audit">Audit</a>' in page.text  # the nav links the page


def test_the_form_filters_and_pages_like_the_api(app: App) -> None:
    with app.client() as admin:
        mine = admin.get("/audit", params={"actor": "rob", "via": "", "outcome": ""})
        cli = admin.get("/audit", params={"via": "cli"})
        first = admin.get("/audit", params={"limit": "2"})
        older = re.search(r'<a rel="next" href="([^"]+)"', first.text)
        assert older is not None
        second = admin.get(unescape(older[1]))
    assert len(_rows(mine.text)) == 2 and all(" rob " in f" {r} " for r in _rows(mine.text))
    assert 'name="actor" value="rob"' in mine.text  # the form shows what was asked
    assert [" cli " in r for r in _rows(cli.text)] == [True]  # one row: rob's ack
    assert len(_rows(first.text)) == 2
    assert unescape(older[1]).startswith("/audit?limit=2&before=")
    assert len(_rows(second.text)) == 1 and "cli 127.0.0.1 ack" in _rows(second.text)[0]
    assert 'rel="next"' not in second.text


def test_a_bad_filter_is_named_on_the_page(app: App) -> None:
    with app.client() as admin:
        page = admin.get("/audit", params={"since": "last tuesday"})
    assert page.status_code == 400
    assert "since: &#39;last tuesday&#39; is not an RFC 3339 time" in page.text
    assert 'name="since" value="last tuesday"' in page.text


def test_a_viewer_gets_the_403_page_naming_the_role(app: App) -> None:
    with app.client("vic") as vic:
        page = vic.get("/audit")
        index = vic.get("/")
    assert page.status_code == 403
    assert page.headers["content-type"].startswith("text/html")
    assert "this needs the admin role; vic is viewer" in page.text
    assert "<tbody>" not in page.text
    with app.client() as admin:
        denied = admin.get("/api/v1/audit", params={"action": "read_audit"}).json()["entries"]
    assert [(e["actor"], e["via"], e["outcome"], e["reason"]) for e in denied] == [
        ("vic", "web", "denied", "this needs the admin role; vic is viewer")
    ]
    # The nav links the page only for those who may read it.
    assert index.status_code == 200 and '<a href="/audit">Audit</a>' not in index.text
