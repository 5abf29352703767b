"""SIGHUP reloads a real `runbookd serve` (as `systemctl reload` and Kubernetes config changes do):
a broken config.yaml is refused with its PATH:LINE:COL in the log while the running version keeps
handling alerts, and a good one swaps the runbooks and the connector settings without a restart."""

from __future__ import annotations

import re
import signal
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from runbookd.toolchain.testing import am_alert, am_notification
from tests.e2e.harness import HOOK, T0, Receiver, Server, poll

RUNBOOK = """
runbook: 1
id: reload-target
title: Reload target
version: 1
team: platform
section: "10.1"
classification: {nature: infrastructure, scope: local, complexity: simple}
detection:
  group_by: [labels.key]
  triggers:
    - id: down
      match: {field: name, eq: ReloadTargetDown}
handling:
  steps:
    - id: fix
      connector: http
      params: {method: POST, url: "{TARGET}/fix"}
      timeout: 5s
"""

CONFIG = """connectors:
  http:
    headers:
      X-Deploy: {deploy}
"""


def _alert(key: str) -> dict[str, object]:
    return am_notification(
        [am_alert({"alertname": "ReloadTargetDown", "key": key}, starts_at=T0)],
        group_labels={"key": key},
    )


def test_sighup_refuses_a_broken_file_then_applies_a_good_one(
    make_server: Callable[..., Server], tmp_path: Path
) -> None:
    seen: list[str] = []
    lock = threading.Lock()

    def answer(handler: BaseHTTPRequestHandler) -> None:
        with lock:
            seen.append(handler.headers.get("x-deploy") or "")
        handler.send_response(200)
        handler.send_header("content-type", "application/json")
        handler.end_headers()
        handler.wfile.write(b"{}")

    target = Receiver(answer)
    folder = tmp_path / "runbooks"
    folder.mkdir()
    runbook = folder / "target.yaml"
    runbook.write_text(RUNBOOK.replace("{TARGET}", target.url))
    # The harness runs the server in tmp_path, where `serve` reads ./config.yaml.
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG.format(deploy="one"))
    try:
        server = make_server([folder])
        assert server.metric("runbookd_config_last_reload_successful") == 1
        assert server.post(HOOK, _alert("k1")).status_code == 202
        poll(lambda: seen == ["one"], what="the first call, with the header of the start")

        config.write_text(CONFIG.format(deploy="two") + "executor: {workers: [\n")
        assert server.proc is not None
        server.proc.send_signal(signal.SIGHUP)
        poll(
            lambda: server.metric("runbookd_config_last_reload_successful") == 0,
            what="the refused reload to show in the metric",
        )
        # The default ./config.yaml, named as it was found; the position of the broken line.
        assert re.search(r"configuration not reloaded: config\.yaml:6:\d+: YAML", server.log())
        # Still the running version: it serves, and calls go out with the old header.
        assert server.post(HOOK, _alert("k2")).status_code == 202
        poll(lambda: seen == ["one", "one"], what="a call with the header still running")

        config.write_text(CONFIG.format(deploy="two"))
        runbook.write_text(
            RUNBOOK.replace("{TARGET}", target.url).replace("version: 1", "version: 2")
        )
        server.proc.send_signal(signal.SIGHUP)
        poll(
            lambda: server.metric("runbookd_config_last_reload_successful") == 1,
            what="the good reload to show in the metric",
        )
        [listed] = server.get("/api/v1/runbooks").json()["runbooks"]
        assert listed["version"] == 2
        assert server.post(HOOK, _alert("k3")).status_code == 202
        poll(lambda: seen == ["one", "one", "two"], what="a call with the reloaded header")
        assert server.proc.poll() is None, "SIGHUP must not end the process"
    finally:
        target.close()
