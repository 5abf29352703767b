"""`runbookd serve` with `server.tls`: HTTPS with a certificate from a CA made for the test, for
Alertmanager's webhook and the API alike; plain HTTP gets no answer; a certificate that cannot be
loaded stops the start with the key named."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.e2e.harness import HOOK, REPO, Alertmanager, Server, channel_pair, free_port, poll
from tests.tls_files import server_cert

AM_CONFIG = """
route:
  receiver: runbookd
  group_by: [alertname]
  group_wait: 1s
receivers:
  - name: runbookd
    webhook_configs:
      - url: https://127.0.0.1:{port}/api/v1/alerts/alertmanager
        http_config:
          tls_config:
            ca_file: {ca_file}
"""


def test_the_service_answers_over_https(make_server: Callable[..., Server], tmp_path: Path) -> None:
    ca_file = server_cert(tmp_path).ca_file
    # Relative paths in the file are relative to its folder (the server runs in tmp_path).
    (tmp_path / "config.yaml").write_text(
        "server:\n  tls: {cert_file: server.pem, key_file: server.key}\n"
    )
    server = make_server(ca_file=ca_file)
    assert server.url.startswith("https://")
    assert server.post(HOOK, channel_pair("alipay")).status_code == 202
    poll(lambda: server.incidents(), what="an incident from the webhook sent over HTTPS")
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{server.port}/healthz", timeout=5)
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(server.url + "/healthz", timeout=5)  # the system CAs do not know this one


def test_alertmanager_delivers_over_https_with_the_ca(
    make_server: Callable[..., Server], tmp_path: Path
) -> None:
    ca_file = server_cert(tmp_path).ca_file
    port = free_port()
    am = Alertmanager(tmp_path / "am", AM_CONFIG.format(port=port, ca_file=ca_file))
    am.start()
    try:
        server = make_server(
            env={
                "RUNBOOKD_SERVER__TLS__CERT_FILE": str(tmp_path / "server.pem"),
                "RUNBOOKD_SERVER__TLS__KEY_FILE": str(tmp_path / "server.key"),
            },
            port=port,
            ca_file=ca_file,
        )
        alerts = [
            {"labels": {"alertname": name, "channel": "alipay"}}
            for name in ("PaymentFailureRateHigh", "PaymentChannelProbeFailed")
        ]
        assert httpx.post(am.url + "/api/v2/alerts", json=alerts, timeout=5).status_code == 200
        poll(lambda: server.incidents(), what="an incident from Alertmanager's HTTPS delivery")
    finally:
        am.stop()


def test_a_key_that_does_not_fit_stops_the_start(tmp_path: Path) -> None:
    made = server_cert(tmp_path)
    made.ca.issue_cert("other").private_key_pem.write_to_path(str(tmp_path / "other.key"))
    (tmp_path / "config.yaml").write_text(
        "server:\n  tls: {cert_file: server.pem, key_file: other.key}\n"
        f"runbooks: [{REPO / 'runbooks'}]\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "runbookd.cli.main", "serve", "--config", "config.yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 2, done.stderr
    assert (
        f"config.yaml: server.tls: cannot load cert_file '{tmp_path / 'server.pem'}' and key_file "
        f"'{tmp_path / 'other.key'}': KEY_VALUES_MISMATCH"
    ) in done.stderr
