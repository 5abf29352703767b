"""Secrets used by connectors reach their receivers and show up nowhere else; alert text is inert.

One full incident through ``runbookd serve`` (tests/runbooks/secrets-canary.yaml): a Slack
notification through a webhook whose path is a secret, an HTTP step with a bearer token that fails
once (the receiver echoes the credentials back in its 503) and then succeeds, a step whose secret
URL refuses connections, a program given a secret in its environment that prints it, mail over
STARTTLS whose first login is refused with the password repeated, a step behind an approval, and
the resolution. The secrets are random per run and share one random
marker; after the incident, that marker is looked for in the server's log, the test's own log,
every API answer, the CLI's output, every row of every table and, on SQLite, the database files
byte for byte.

The alert carries template syntax, command substitutions and markup. It must arrive at the
receivers exactly as sent, and the program must get it as single arguments.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from pytest_httpserver import HTTPServer
from sqlalchemy import create_engine, inspect, select
from sqlalchemy.engine import make_url
from sqlalchemy.schema import MetaData
from werkzeug import Request, Response

from runbookd.toolchain.testing import am_alert, am_notification
from tests.e2e.harness import HOOK, REPO, T0, Database, Server, poll

HOSTILE = (
    "{{ 7*7 }} {% for x in y %}{{ x }}{% endfor %} $(rm -rf /) ; rm -rf / `id` "
    "<script>alert(1)</script> ${env:CANARY_TOKEN} {# c #} 'q' \"dq\" & | > /tmp/x"
)
PAYLOAD = "$(curl evil) `reboot`; {{ config }} {{ ''.__class__ }} <img src=x onerror=alert(1)>"
LABELS = {"alertname": "CanaryAlert", "service": "checkout", "payload": PAYLOAD}
RECEIVER_LOGGERS = ("werkzeug", "mail.log")


@pytest.fixture(scope="session")
def httpserver_listen_address() -> tuple[str, int]:
    return ("127.0.0.1", 0)


@pytest.fixture
def refused_port() -> Iterator[int]:
    """A loopback port that is bound but not listening: connecting is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


class Receivers:
    """What the loopback receivers got, by endpoint; the first orchestrator call fails."""

    def __init__(self, server: HTTPServer, marker: str) -> None:
        self.lock = threading.Lock()
        self.got: dict[str, list[Request]] = {"slack": [], "hook": [], "approved": []}
        self.slack_path = f"/services/T0/B0/slk{marker}"
        self.hook_path = f"/hook/pth{marker}"
        self.approved_path = f"/approved/apr{marker}"
        server.expect_request(self.slack_path, method="POST").respond_with_handler(self._slack)
        server.expect_request(self.hook_path, method="POST").respond_with_handler(self._hook)
        server.expect_request(self.approved_path, method="POST").respond_with_handler(
            self._approved
        )

    def _record(self, name: str, request: Request) -> int:
        with self.lock:
            self.got[name].append(request)
            return len(self.got[name])

    def _slack(self, request: Request) -> Response:
        self._record("slack", request)
        return Response("ok", content_type="text/plain")

    @staticmethod
    def _indiscreet(request: Request) -> str:
        # What a careless server says: the credentials and the full URL it was called on.
        return json.dumps(
            {
                "authorization": request.headers.get("Authorization"),
                "url": request.url,
                "query": request.query_string.decode(),
            }
        )

    def _hook(self, request: Request) -> Response:
        first = self._record("hook", request) == 1
        body = self._indiscreet(request)
        return Response(body, status=503 if first else 200, content_type="application/json")

    def _approved(self, request: Request) -> Response:
        self._record("approved", request)
        return Response(self._indiscreet(request), content_type="application/json")


@dataclass
class MailServer:
    """SMTP with STARTTLS and login on 127.0.0.1; the first login is refused, indiscreetly."""

    port: int
    ca_file: Path
    passwords: list[str] = field(default_factory=list)
    messages: list[EmailMessage] = field(default_factory=list)

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        self.passwords.append(data.password.decode())
        # Every login of the first connection is refused (smtplib tries each mechanism).
        self.sessions = getattr(self, "sessions", None) or [session]
        if session is self.sessions[0]:
            return AuthResult(success=False, handled=False, message=f"535 no: {data.password!r}")
        return AuthResult(success=True)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.content if isinstance(envelope.content, bytes) else b""
        message = message_from_bytes(content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 OK"


@pytest.fixture
def mail_server(tmp_path: Path) -> Iterator[MailServer]:
    authority = trustme.CA()
    ca_file = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(ca_file))
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(tls)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    mail = MailServer(port, ca_file)
    controller = Controller(
        mail,
        hostname="127.0.0.1",
        port=port,
        tls_context=tls,
        require_starttls=True,
        authenticator=mail.authenticate,
        auth_require_tls=True,
    )
    controller.start()
    try:
        yield mail
    finally:
        controller.stop()


def every_row(database: Database) -> list[str]:
    """Every row of every table of the service's database, as text."""
    engine = create_engine(database.url)
    try:
        metadata = MetaData()
        metadata.reflect(engine)
        rows = []
        with engine.connect() as conn:
            for table in metadata.sorted_tables:
                rows += [f"{table.name}: {tuple(r)!r}" for r in conn.execute(select(table))]
        assert inspect(engine).get_table_names(), "no tables found: wrong database?"
        return rows
    finally:
        engine.dispose()


def database_files(database: Database) -> list[bytes]:
    """The SQLite database and its journal files, raw (freed pages included)."""
    if database.is_postgres:
        return []
    path = Path(make_url(database.url).database or "")
    return [p.read_bytes() for p in path.parent.glob(path.name + "*")]


def cli(server: Server, *args: str) -> str:
    env = {**os.environ, "RUNBOOKD_URL": server.url}
    done = subprocess.run(
        [sys.executable, "-m", "runbookd.cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done.stdout + done.stderr


# Both log formats: the json formatter writes each record's message and exception text itself.
@pytest.mark.parametrize("log_format", ["text", "json"])
def test_secrets_reach_receivers_and_nothing_else(
    log_format: str,
    make_server: Any,
    database: Database,
    httpserver: HTTPServer,
    refused_port: int,
    mail_server: MailServer,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    marker = secrets.token_hex(16)
    receivers = Receivers(httpserver, marker)
    base = httpserver.url_for("").rstrip("/")
    env = {
        "CANARY_TOKEN": f"tok{marker}",
        "CANARY_CONFIG_KEY": f"cfg{marker}",
        "CANARY_SLACK_WEBHOOK": base + receivers.slack_path,
        "CANARY_HOOK_URL": f"{base}{receivers.hook_path}?token=qry{marker}",
        "CANARY_DEAD_URL": f"http://127.0.0.1:{refused_port}/dead/ded{marker}",
        "CANARY_APPROVED_URL": base + receivers.approved_path,
        "CANARY_SMTP_PASSWORD": f"pwd{marker}",
        "CANARY_PYTHON": sys.executable,
        # as verbose as the service gets: debug logs are where secrets like to hide
        "RUNBOOKD_LOG__LEVEL": "debug",
        "RUNBOOKD_LOG__FORMAT": log_format,
    }
    # A secret from config.yaml as well: the http connector sends this header with every call.
    (tmp_path / "config.yaml").write_text(
        "connectors:\n"
        "  http:\n"
        "    headers: {X-Api-Key: '${env:CANARY_CONFIG_KEY}'}\n"
        "  shell:\n"
        f"    allow: [{json.dumps(sys.executable)}]\n"
        "  email:\n"
        "    host: 127.0.0.1\n"
        f"    port: {mail_server.port}\n"
        "    username: runbookd\n"
        "    password: '${env:CANARY_SMTP_PASSWORD}'\n"
        "    from_address: runbookd@example.org\n"
        f"    ca_file: {json.dumps(str(mail_server.ca_file))}\n"
    )
    server: Server = make_server([REPO / "tests" / "runbooks" / "secrets-canary.yaml"], env=env)

    fired = am_alert(LABELS, starts_at=T0, annotations={"summary": HOSTILE})
    assert server.post(HOOK, am_notification([fired])).json() == {"accepted": 1, "duplicates": 0}

    # --- the incident runs: notification, a failed then retried call, a refused call, a program
    approvals = poll(
        lambda: (r := server.get("/api/v1/approvals").json())["approvals"] and r,
        30,
        "the approval request",
    )
    [waiting] = approvals["approvals"]
    incident_id = waiting["incident"]
    decision = server.post(f"/api/v1/approvals/{waiting['id']}", {"approve": True, "by": "carol"})
    assert decision.status_code == 200, decision.text

    def handled() -> dict[str, Any] | None:
        detail = server.incident(incident_id)
        notes = [e["data"].get("text") for e in detail["timeline"] if e["kind"] == "note"]
        return detail if "handling complete" in notes else None

    poll(handled, 30, "the handling to complete")
    poll(lambda: len(receivers.got["slack"]) == 1, 30, "the slack notification")
    resolved = am_alert(LABELS, status="resolved", starts_at=T0, ends_at=T0, annotations={})
    assert server.post(HOOK, am_notification([resolved])).status_code == 202
    detail = poll(
        lambda: (d := server.incident(incident_id))["status"] == "resolved" and d,
        30,
        "the resolution",
    )

    # --- every secret was used where it belongs -----------------------------------------------
    [slack] = receivers.got["slack"]
    first, retried = receivers.got["hook"]
    [approved] = receivers.got["approved"]
    for request in (first, retried, approved):
        assert request.headers["Authorization"] == f"Bearer tok{marker}"
        assert request.headers["X-Api-Key"] == f"cfg{marker}"
    assert first.args["token"] == retried.args["token"] == f"qry{marker}"
    assert set(mail_server.passwords) == {f"pwd{marker}"}

    # --- the alert's text arrived verbatim, evaluated nowhere ---------------------------------
    body = retried.get_json()
    assert (body["summary"], body["payload"]) == (HOSTILE, PAYLOAD)
    assert approved.get_json()["summary"] == HOSTILE
    assert slack.get_json()["text"] == f"{incident_id} {HOSTILE}"
    [mail] = mail_server.messages
    assert mail["Subject"] == f"{incident_id}: {HOSTILE}"
    assert mail.get_content().rstrip("\r\n") == HOSTILE  # SMTP ends lines with CRLF
    for request in (slack, retried, approved):
        text = request.get_data(as_text=True)
        assert "49" not in text.replace(incident_id, "").replace(marker, "")
    steps = {
        e["data"]["step"]: e["data"] for e in detail["timeline"] if e["kind"] == "step_outcome"
    }
    program = json.loads(steps["run_program"]["result"]["stdout"])
    assert program["argv"] == [HOSTILE, PAYLOAD]  # one argument each, untouched
    assert program["secret_length"] == len(f"tok{marker}")  # the program got the secret...
    assert program["secret"] == "***"  # ...and what it printed was masked
    assert steps["call_orchestrator"]["outcome"] == "ok"
    assert steps["call_orchestrator"]["attempts"] == 2
    assert steps["call_dead_endpoint"]["outcome"] == "failed"
    assert steps["approved_call"]["outcome"] == "ok"
    assert (steps["mail_refused"]["outcome"], steps["mail_sent"]["outcome"]) == ("failed", "ok")
    errors = [e["data"]["error"] for e in detail["timeline"] if e["kind"] == "call_done"]
    # the failures are explained, with the secret parts of their URLs masked
    assert any("answered 503" in (e or "") and "127.0.0.1" in (e or "") for e in errors), errors
    assert any("no answer" in (e or "") for e in errors), errors
    assert any("535 no" in (e or "") for e in errors), errors

    # --- and nowhere else ---------------------------------------------------------------------
    outputs: dict[str, str] = {}
    for path in (
        "/api/v1/incidents",
        f"/api/v1/incidents/{incident_id}",
        f"/api/v1/incidents/{incident_id}/postmortem?format=md",
        f"/api/v1/incidents/{incident_id}/postmortem?format=html",
        f"/api/v1/incidents/{incident_id}/postmortem?format=json",
        "/api/v1/approvals",
        "/api/v1/runbooks",
        "/api/v1/runbooks/secrets-canary",  # the runbook's YAML holds only ${env:...} references
        "/runbooks",
        "/runbooks/secrets-canary",
        "/metrics",
        "/readyz",
        "/",
        f"/incidents/{incident_id}",
        f"/postmortems/{incident_id}",
    ):
        answer = server.get(path)
        assert answer.status_code in (200, 404), (path, answer.status_code, answer.text)
        outputs[path] = answer.text
    assert incident_id in outputs[f"/api/v1/incidents/{incident_id}/postmortem?format=md"]
    outputs["approval decision"] = decision.text
    outputs["approvals while waiting"] = json.dumps(approvals)
    outputs["cli incidents list"] = cli(server, "incidents", "list")
    outputs["cli incidents show"] = cli(server, "incidents", "show", incident_id)
    outputs["cli incidents show --json"] = cli(server, "incidents", "show", incident_id, "--json")
    outputs["cli postmortem"] = cli(server, "postmortem", incident_id)
    server.stop()  # its shutdown logs too
    outputs["server log"] = server.log()
    # The test's own log, minus the receivers' logs (werkzeug for HTTP, aiosmtpd's mail.log):
    # they are meant to see the secrets.
    outputs["test log"] = "\n".join(
        r.getMessage() for r in caplog.records if not r.name.startswith(RECEIVER_LOGGERS)
    )
    for number, row in enumerate(every_row(database)):
        outputs[f"row {number}"] = row
    leaks = [name for name, text in outputs.items() if marker in text]
    assert not leaks, {name: _around(outputs[name], marker) for name in leaks}
    for number, data in enumerate(database_files(database)):
        assert marker.encode() not in data, f"database file {number} holds a secret"
    # the checks above looked at something: the stored timeline is in the rows
    assert any("call_orchestrator" in text for name, text in outputs.items() if "row" in name)


def _around(text: str, marker: str, width: int = 120) -> list[str]:
    """Where the marker occurs, with some context, for a readable failure."""
    out, start = [], 0
    while (at := text.find(marker, start)) >= 0:
        out.append(text[max(at - width, 0) : at + len(marker) + 20])
        start = at + 1
    return out[:5]
