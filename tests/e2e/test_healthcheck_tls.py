"""The image's health check (deploy/docker/healthcheck.py) against a runbookd serving HTTPS.

A real `runbookd serve` with server.tls and a certificate from a CA made for the test. The
check is run as the image runs it, a separate Python process: with RUNBOOKD_HEALTHCHECK_URL and
RUNBOOKD_HEALTHCHECK_CA_FILE it says healthy; without the CA, with its default plain-HTTP URL,
or once the server is stopped it says unhealthy and why.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from tests.e2e.harness import REPO, Server
from tests.tls_files import server_cert

HEALTHCHECK = REPO / "deploy" / "docker" / "healthcheck.py"


def check(*argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("RUNBOOKD_HEALTHCHECK_")}
    return subprocess.run(
        [sys.executable, str(HEALTHCHECK), *argv],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_the_health_check_speaks_https_with_the_ca(
    make_server: Callable[..., Server], tmp_path: Path
) -> None:
    cert = server_cert(tmp_path / "tls")
    server = make_server(
        env={
            "RUNBOOKD_SERVER__TLS__CERT_FILE": str(cert.cert_file),
            "RUNBOOKD_SERVER__TLS__KEY_FILE": str(cert.key_file),
        },
        ca_file=cert.ca_file,
    )
    url = f"https://127.0.0.1:{server.port}/healthz"
    healthy = check(RUNBOOKD_HEALTHCHECK_URL=url, RUNBOOKD_HEALTHCHECK_CA_FILE=str(cert.ca_file))
    assert healthy.returncode == 0, healthy.stderr
    # The environment wins over the image's plain-HTTP argument: no new image for TLS.
    plain = f"http://127.0.0.1:{server.port}/healthz"
    overridden = check(
        plain, RUNBOOKD_HEALTHCHECK_URL=url, RUNBOOKD_HEALTHCHECK_CA_FILE=str(cert.ca_file)
    )
    assert overridden.returncode == 0, overridden.stderr

    untrusted = check(RUNBOOKD_HEALTHCHECK_URL=url)  # the system CAs do not know this one
    assert untrusted.returncode == 1
    assert f"{url}: " in untrusted.stderr and "CERTIFICATE_VERIFY_FAILED" in untrusted.stderr
    # The certificate names 127.0.0.1, not localhost: the host name is checked too.
    other_name = check(
        RUNBOOKD_HEALTHCHECK_URL=url.replace("127.0.0.1", "localhost"),
        RUNBOOKD_HEALTHCHECK_CA_FILE=str(cert.ca_file),
    )
    assert other_name.returncode == 1
    assert "CERTIFICATE_VERIFY_FAILED" in other_name.stderr, other_name.stderr
    # As the image calls it (its argument, no environment): plain HTTP gets no health.
    assert check(plain).returncode == 1
    missing = check(
        RUNBOOKD_HEALTHCHECK_URL=url, RUNBOOKD_HEALTHCHECK_CA_FILE=str(tmp_path / "none.pem")
    )
    assert missing.returncode == 1
    assert f"CA file {tmp_path / 'none.pem'}" in missing.stderr

    server.stop()
    gone = check(RUNBOOKD_HEALTHCHECK_URL=url, RUNBOOKD_HEALTHCHECK_CA_FILE=str(cert.ca_file))
    assert gone.returncode == 1
    assert "Connection refused" in gone.stderr
