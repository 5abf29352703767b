"""The fallback runbook tells someone out of the box: with the bundled config.yaml its notice is
a timeline note that succeeds, and changing ``fallback_notify`` alone sends it to Slack."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Request

from runbookd.toolchain.testing import am_alert, am_notification
from tests.e2e.harness import REPO, Server, poll
from tests.unit.runbookd.live_app import live

HOOK = "/api/v1/alerts/alertmanager"
T0 = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
SLACK = """fallback_notify:
  connector: slack
  who: "#alerts-unhandled"
  params:
    webhook: ${env:FALLBACK_SLACK_WEBHOOK}
    text: "{{ incident.id }}: {{ alert.name }} fired and no runbook handles it"
"""


def stranger() -> dict[str, object]:
    labels = {"alertname": "HostSwapIsFillingUp", "instance": "db-1:9100"}
    return am_alert(labels, starts_at=T0)


def bundled_config(tmp_path: Path, replace_key: str | None = None) -> None:
    """The bundled config.yaml in the server's working folder (``serve`` reads ./config.yaml),
    with the ``fallback_notify: null`` line replaced when asked."""
    shutil.copy(REPO / "config.yaml", tmp_path / "config.yaml")
    if replace_key is not None:
        text = (tmp_path / "config.yaml").read_text()
        lines = [
            replace_key if ln.startswith("fallback_notify:") else ln for ln in text.split("\n")
        ]
        (tmp_path / "config.yaml").write_text("\n".join(lines))


def fallback_timeline(server: Server) -> list[dict[str, Any]]:
    [incident] = poll(lambda: server.incidents(runbook="unhandled-alert"), what="its incident")

    def done() -> list[dict[str, Any]] | None:
        timeline: list[dict[str, Any]] = server.incident(incident["id"])["timeline"]
        return timeline if any(e["kind"] == "call_done" for e in timeline) else None

    return poll(done, what="the notice's result")


@pytest.fixture
def slack() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A stand-in for Slack's incoming webhook on loopback: it records what it was sent."""
    received: list[dict[str, Any]] = []
    app = FastAPI()

    @app.post("/services/T000/B000/secret")
    async def hook(request: Request) -> str:
        received.append(await request.json())
        return "ok"

    with live(app) as url:
        yield url + "/services/T000/B000/secret", received


def test_the_bundled_config_notifies_without_connector_settings(
    make_server: Callable[..., Server], tmp_path: Path
) -> None:
    bundled_config(tmp_path)
    server = make_server()
    server.post(HOOK, am_notification([stranger()]))
    timeline = fallback_timeline(server)
    [notify] = [e for e in timeline if e["kind"] == "notify"]
    assert "level=unhandled-owner via log" in notify["summary"]
    [done] = [e for e in timeline if e["kind"] == "call_done"]
    assert done["data"]["outcome"] == "ok" and "via log" in done["summary"]
    assert not [e for e in timeline if "failed" in e["summary"]]


def test_one_key_sends_the_notice_to_slack(
    make_server: Callable[..., Server],
    tmp_path: Path,
    slack: tuple[str, list[dict[str, Any]]],
) -> None:
    url, received = slack
    bundled_config(tmp_path, SLACK)
    server = make_server(env={"FALLBACK_SLACK_WEBHOOK": url})
    server.post(HOOK, am_notification([stranger()]))
    timeline = fallback_timeline(server)
    [done] = [e for e in timeline if e["kind"] == "call_done"]
    assert done["data"]["outcome"] == "ok" and "via slack" in done["summary"]
    [message] = poll(lambda: received or None, what="the Slack message")
    assert "HostSwapIsFillingUp fired and no runbook handles it" in message["text"]
    # The webhook's path is its secret: the timeline names the connector, never the URL.
    assert "secret" not in str(timeline)
