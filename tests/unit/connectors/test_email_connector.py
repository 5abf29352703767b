"""The email connector against a real SMTP server (aiosmtpd) on 127.0.0.1, with STARTTLS."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from runbookd.connectors.base import CallContext, PermanentError, Result, RetryableError
from runbookd.connectors.email import SPEC, EmailSettings

pytestmark = pytest.mark.anyio
Caller = Callable[..., Awaitable[Result]]

PASSWORD = "smtp-pass-SECRET"
MAIL = {"to": "oncall@example.org", "subject": "INC-7: payments down", "body": "Failover started."}


@dataclass
class Inbox:
    """What the server accepted; RCPT answers for special addresses."""

    messages: list[tuple[Envelope, EmailMessage]] = field(default_factory=list)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if address.startswith("nobody@"):
            return "550 5.1.1 no such user"
        if address.startswith("later@"):
            return "451 4.3.0 mailbox busy, try later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.content if isinstance(envelope.content, bytes) else b""
        parsed = message_from_bytes(content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append((envelope, parsed))
        return "250 OK"


@dataclass
class Server:
    inbox: Inbox
    port: int
    ca_file: Path


def _authenticate(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
        b"runbookd",
        PASSWORD.encode(),
    )
    # handled=False: aiosmtpd answers 535 itself, as a real server does.
    return AuthResult(success=ok, handled=False)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> tuple[trustme.CA, Path]:
    authority = trustme.CA()
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    authority.cert_pem.write_to_path(str(path))
    return authority, path


def _serve(ca: tuple[trustme.CA, Path], *, tls: bool) -> Iterator[Server]:
    authority, ca_file = ca
    tls_context = None
    if tls:
        tls_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        authority.issue_cert("127.0.0.1").configure_cert(tls_context)
    inbox = Inbox()
    port = _free_port()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        tls_context=tls_context,
        require_starttls=tls,
        authenticator=_authenticate if tls else None,
        auth_require_tls=True,
    )
    controller.start()
    try:
        yield Server(inbox, port, ca_file)
    finally:
        controller.stop()


@pytest.fixture
def smtp(ca: tuple[trustme.CA, Path]) -> Iterator[Server]:
    """An SMTP server that requires STARTTLS and a login."""
    yield from _serve(ca, tls=True)


@pytest.fixture
def plain_smtp(ca: tuple[trustme.CA, Path]) -> Iterator[Server]:
    """A local relay without TLS or login."""
    yield from _serve(ca, tls=False)


def settings(server: Server, **changes: Any) -> EmailSettings:
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": server.port,
        "username": "runbookd",
        "password": PASSWORD,
        "from_address": "runbookd@example.com",
        "ca_file": str(server.ca_file),
        "timeout": "5s",
    }
    return EmailSettings.model_validate(values | changes)


async def test_a_message_arrives_over_starttls_with_login(call: Caller, smtp: Server) -> None:
    result = await call(SPEC, MAIL | {"cc": ["lead@example.org"]}, settings(smtp))

    [(envelope, message)] = smtp.inbox.messages
    assert envelope.mail_from == "runbookd@example.com"
    assert envelope.rcpt_tos == ["oncall@example.org", "lead@example.org"]
    assert message["Subject"] == "INC-7: payments down"
    assert message["To"] == "oncall@example.org"
    assert message["Cc"] == "lead@example.org"
    assert message.get_content().splitlines() == ["Failover started."]
    assert result == {"message_id": message["Message-ID"]}


async def test_a_retried_call_sends_the_same_message_id(call: Caller, smtp: Server) -> None:
    first = await call(SPEC, MAIL, settings(smtp))
    again = await call(SPEC, MAIL, settings(smtp))
    other = await call(SPEC, MAIL, settings(smtp), ctx=CallContext(idempotency_key="call-0002"))

    assert first == again
    assert first["message_id"].endswith("@example.com>")
    assert other != first


async def test_a_subject_rendered_with_line_breaks_stays_one_header(
    call: Caller, smtp: Server
) -> None:
    await call(SPEC, MAIL | {"subject": "disk full\nBcc: everyone@example.org"}, settings(smtp))

    [(envelope, message)] = smtp.inbox.messages
    assert message["Subject"] == "disk full Bcc: everyone@example.org"
    assert message["Bcc"] is None
    assert envelope.rcpt_tos == ["oncall@example.org"]


async def test_a_wrong_password_is_permanent_and_not_repeated(call: Caller, smtp: Server) -> None:
    with pytest.raises(PermanentError) as info:
        await call(SPEC, MAIL, settings(smtp, password="wrong-SECRET"))

    assert str(info.value).startswith(f"email: SMTP 127.0.0.1:{smtp.port}: login refused: 535")
    assert "wrong-SECRET" not in str(info.value)
    assert smtp.inbox.messages == []


async def test_an_untrusted_certificate_is_permanent(call: Caller, smtp: Server) -> None:
    with pytest.raises(PermanentError, match="TLS certificate not trusted"):
        await call(SPEC, MAIL, settings(smtp, ca_file=None))


async def test_refused_recipients(call: Caller, smtp: Server) -> None:
    with pytest.raises(PermanentError, match=r"all recipients refused: nobody@example\.org.*550"):
        await call(SPEC, MAIL | {"to": "nobody@example.org"}, settings(smtp))
    with pytest.raises(RetryableError, match=r"later@example\.org.*451"):
        await call(SPEC, MAIL | {"to": "later@example.org"}, settings(smtp))
    with pytest.raises(PermanentError, match=r"refused nobody@example\.org .*; sent to the others"):
        await call(
            SPEC, MAIL | {"to": ["oncall@example.org", "nobody@example.org"]}, settings(smtp)
        )

    [(envelope, _)] = smtp.inbox.messages
    assert envelope.rcpt_tos == ["oncall@example.org"]


async def test_a_plain_local_relay(call: Caller, plain_smtp: Server) -> None:
    relay = settings(plain_smtp, starttls=False, username=None, password=None)

    await call(SPEC, MAIL, relay)

    assert len(plain_smtp.inbox.messages) == 1


async def test_starttls_missing_on_the_server_is_permanent(
    call: Caller, plain_smtp: Server
) -> None:
    with pytest.raises(PermanentError, match="STARTTLS extension not supported"):
        await call(SPEC, MAIL, settings(plain_smtp))


async def test_a_refused_connection_is_retryable(call: Caller, smtp: Server) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        with pytest.raises(RetryableError, match=f"127.0.0.1:{port}: no connection"):
            await call(SPEC, MAIL, settings(smtp, port=port))


async def test_a_server_that_never_greets_times_out_as_retryable(
    call: Caller, smtp: Server
) -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()  # connections complete in the backlog; nobody ever answers
        port = silent.getsockname()[1]
        with pytest.raises(RetryableError, match="timed out"):
            await call(SPEC, MAIL, settings(smtp, port=port, timeout=0.2))


def test_settings_refuse_contradictions() -> None:
    base = {"host": "h", "from_address": "a@b"}
    with pytest.raises(ValueError, match="starttls or ssl, not both"):
        EmailSettings.model_validate(base | {"ssl": True})
    with pytest.raises(ValueError, match="username and password together"):
        EmailSettings.model_validate(base | {"username": "u"})
    assert EmailSettings.model_validate(base | {"timeout": "1m"}).timeout == 60.0
