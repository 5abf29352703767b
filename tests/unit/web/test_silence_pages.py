"""The /silences page through the real app (uvicorn on loopback, SQLite or PostgreSQL): it lists
the silences and the configured maintenance windows (read-only), adds a silence from its form
and expires one with its button, shows a bad form's reason with a 400, refuses a form without
its CSRF token, and shows a responder the 403 page naming the admin role."""

from __future__ import annotations

import html
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from runbookd.auth.tokens import hash_token
from runbookd.config.settings import load_settings
from runbookd.server.app import create_app
from tests.unit.engine.test_silences import RUNBOOK
from tests.unit.postmortem.rig import database_url
from tests.unit.runbookd.live_app import live
from tests.unit.runbookd.test_windows_service import ALWAYS

TOKEN = "silence-page-token-3d9"
ADMIN, RESPONDER = "page-admin-token-81", "page-responder-token-27"
CLOSED = """\
  - name: y2k
    matchers: ['job="mainframe"']
    time_intervals: [{years: ["2000"]}]
"""
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@contextmanager
def serving(config: Path, token: str = TOKEN) -> Iterator[httpx.Client]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("RUNBOOKD_")}
    app = create_app(load_settings(config, environ), config=config)
    with (
        live(app) as base,
        httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30
        ) as http,
    ):
        yield http


@pytest.fixture
def config(tmp_path: Path) -> Iterator[Path]:
    (tmp_path / "host.yaml").write_text(RUNBOOK)
    with database_url(tmp_path) as url:
        path = tmp_path / "config.yaml"
        path.write_text(
            f"database_url: {url}\ndata_dir: {tmp_path / 'data'}\n"
            f"runbooks: [{tmp_path / 'host.yaml'}]\nengine: {{dry_run: true}}\n"
            f"auth: {{bearer_token: {TOKEN}}}\n" + ALWAYS + CLOSED
        )
        yield path


def _token(page: httpx.Response) -> str:
    found = _CSRF.search(page.text)
    assert found is not None, "the page has no form token"
    return html.unescape(found.group(1))


def _post(http: httpx.Client, path: str, **form: str) -> httpx.Response:
    token = _token(http.get("/silences"))
    return http.post(path, data={"csrf": token, **form})


def _silences(http: httpx.Client) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = http.get("/api/v1/silences").json()["silences"]
    return listed


def test_the_page_lists_windows_read_only_adds_and_expires_a_silence(config: Path) -> None:
    with serving(config) as http:
        page = http.get("/silences")
        assert page.status_code == 200
        assert "No silence is active" in page.text
        windows = page.text.partition("<h2>Maintenance windows</h2>")[2]
        assert 'db-upgrade <span class="sub">(read-only)</span>' in windows
        assert "open until" in windows and "postgres 17 upgrade" in windows
        assert "years 2000:9999; Europe/Paris" in windows
        closed = windows.partition('<tr class="window-closed">')[2].partition("</tr>")[0]
        assert "y2k" in closed and "closed" in closed and "years 2000; UTC" in closed

        added = _post(
            http,
            "/silences",
            matchers='alertname="HostDown", instance=~"web.*"',
            duration="2h",
            comment="load balancer swap",
            by="ana",
        )
        assert added.status_code == 303 and added.headers["location"] == "/silences?done=added"
        [made] = _silences(http)
        assert made["matchers"] == ['alertname="HostDown"', 'instance=~"web.*"']
        assert made["createdBy"] == "ana" and made["comment"] == "load balancer swap"
        assert made["status"] == {"state": "active"}
        shown = http.get("/silences?done=added").text
        assert "Done: silence added." in shown
        row = shown.partition(f'id="silence-{made["id"]}"')[2].partition("</tr>")[0]
        assert "active" in row and "instance=~&#34;web.*&#34;" in row and "Expire" in row

        gone = _post(http, f"/silences/{made['id']}/expire")
        assert gone.status_code == 303
        [expired] = _silences(http)
        assert expired["status"] == {"state": "expired"}
        row = http.get("/silences").text.partition(f'id="silence-{made["id"]}"')[2]
        assert "expired" in row.partition("</tr>")[0]
        assert "Expire" not in row.partition("</tr>")[0]  # nothing left to expire


@pytest.mark.parametrize(
    ("form", "reason"),
    [
        ({"matchers": "instance=~("}, "matchers: "),
        ({"matchers": 'instance=~".*"'}, "body.matchers: every matcher matches the empty"),
        ({"duration": "soon"}, "duration: &#39;soon&#39; is not a duration"),
        ({"end": "tomorrow", "duration": ""}, "end: &#39;tomorrow&#39; is not a date and time"),
        ({"end": "2020-01-01T00:00"}, "body.endsAt: must be after startsAt"),
        ({"comment": " "}, "comment: say why"),
        ({"by": ""}, "by: say who you are"),
    ],
)
def test_a_bad_form_shows_why_and_keeps_nothing(
    config: Path, form: dict[str, str], reason: str
) -> None:
    fields = {"matchers": 'alertname="HostDown"', "duration": "1h", "comment": "x", "by": "ana"}
    with serving(config) as http:
        answer = _post(http, "/silences", **{**fields, **form})
        assert answer.status_code == 400
        assert f"Not done: {reason}" in answer.text
        assert _silences(http) == []


def test_a_form_without_its_csrf_token_is_refused(config: Path) -> None:
    with serving(config) as http:
        http.get("/silences")  # the cookie is set, but the form does not carry the token
        answer = http.post(
            "/silences", data={"matchers": "alertname=X", "comment": "x", "by": "ana"}
        )
        assert answer.status_code == 403 and "CSRF token" in answer.text
        assert _silences(http) == []


def test_a_responder_reads_the_page_and_is_refused_naming_the_admin_role(config: Path) -> None:
    text = config.read_text().replace(f"auth: {{bearer_token: {TOKEN}}}\n", "")
    config.write_text(
        text
        + "users:\n"
        + f"  - {{name: ana, role: admin, token_hash: '{hash_token(ADMIN, log2_n=4)}'}}\n"
        + f"  - {{name: bob, role: responder, token_hash: '{hash_token(RESPONDER, log2_n=4)}'}}\n"
    )
    form = {"matchers": '{alertname="HostDown"}', "duration": "1h", "comment": "x"}
    with serving(config, RESPONDER) as http:
        assert http.get("/silences").status_code == 200
        refused = _post(http, "/silences", **form)
        assert refused.status_code == 403
        assert "this needs the admin role; bob is responder" in refused.text
    with serving(config, ADMIN) as http:
        added = _post(http, "/silences", **form)  # a named user needs no name field
        assert added.status_code == 303
        [made] = _silences(http)
        assert made["createdBy"] == "ana"
    with serving(config, RESPONDER) as http:
        refused = _post(http, f"/silences/{made['id']}/expire")
        assert refused.status_code == 403 and "admin role" in refused.text
        assert _silences(http)[0]["status"] == {"state": "active"}
