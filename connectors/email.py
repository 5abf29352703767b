"""The ``email`` connector: a plain-text message over the configured SMTP server.

smtplib blocks, so the conversation runs in a worker thread, bounded by the ``timeout`` setting
(the executor's deadline abandons the thread; the socket timeout ends it).
"""

from __future__ import annotations

import asyncio
import hashlib
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Self

from pydantic import Field, SecretStr, field_validator, model_validator

from runbookd.connectors.base import (
    CallContext,
    ConnectorError,
    ConnectorSpec,
    Params,
    PermanentError,
    Result,
    RetryableError,
    Runtime,
)
from runbookd.connectors.base import Settings as BaseSettings
from runbookd.connectors.calls import connector_call, settings_of
from runbookd.connectors.durations import Seconds


class EmailParams(Params):
    """One email; a single address may be given as a plain string."""

    to: list[str] = Field(min_length=1, description="Recipient addresses, at least one.")
    subject: str = Field(description="Subject line.")
    body: str = Field(description="Plain-text body.")
    cc: list[str] = Field(default_factory=list, description="Carbon-copy addresses.")

    @field_validator("to", "cc", mode="before")
    @classmethod
    def _one_address(cls, value: object) -> object:
        # A template renders to a string, so `to: "{{ owner }}"` must mean one recipient.
        return [value] if isinstance(value, str) else value


class EmailSettings(BaseSettings):
    """``connectors.email`` in config.yaml: the SMTP server that sends runbookd's mail."""

    host: str = Field(description="SMTP server host name.")
    port: int = Field(587, gt=0, lt=65536, description="SMTP port: 587 (submission), 465 or 25.")
    starttls: bool = Field(True, description="Upgrade the connection with STARTTLS (port 587).")
    ssl: bool = Field(False, description="Implicit TLS from the first byte (SMTPS, port 465).")
    username: str | None = Field(None, description="Login name; no login when absent.")
    password: SecretStr | None = Field(None, description="Password, e.g. ${env:SMTP_PASSWORD}.")
    from_address: str = Field(description="Sender address, e.g. runbookd@example.com.")
    timeout: Seconds = Field(30.0, description="Socket timeout: 30, or 30s.")
    ca_file: str | None = Field(
        None,
        description="PEM file of CAs to trust for the server's certificate; system CAs by default.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.ssl and self.starttls:
            raise ValueError("give starttls or ssl, not both: ssl is TLS from the start")
        if (self.username is None) != (self.password is None):
            raise ValueError("give username and password together")
        return self


def message(params: EmailParams, sender: str, idempotency_key: str) -> EmailMessage:
    """The message to send; its Message-ID comes from the idempotency key, so a retried call
    sends the same id and receivers can tell a duplicate."""
    domain = sender.rpartition("@")[2] or "runbookd.invalid"
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = ", ".join(params.to)
    if params.cc:
        mail["Cc"] = ", ".join(params.cc)
    # A subject rendered from alert text may hold line breaks, which headers cannot.
    mail["Subject"] = " ".join(params.subject.splitlines())
    mail["Date"] = formatdate(usegmt=True)
    if idempotency_key:
        digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]
        mail["Message-ID"] = f"<{digest}@{domain}>"
    else:
        mail["Message-ID"] = make_msgid(domain=domain)
    mail.set_content(params.body)
    return mail


def _send(settings: EmailSettings, mail: EmailMessage, recipients: list[str]) -> None:
    context = ssl.create_default_context(cafile=settings.ca_file)
    smtp: smtplib.SMTP
    if settings.ssl:
        smtp = smtplib.SMTP_SSL(
            settings.host, settings.port, timeout=settings.timeout, context=context
        )
    else:
        smtp = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
    with smtp:
        if settings.starttls:
            smtp.starttls(context=context)
        if settings.username is not None and settings.password is not None:
            smtp.login(settings.username, settings.password.get_secret_value())
        refused = smtp.send_message(mail, from_addr=settings.from_address, to_addrs=recipients)
    if refused:
        raise PermanentError(f"refused {_refusals(refused)}; sent to the others")


def _refusals(refused: dict[str, tuple[int, bytes]]) -> str:
    return ", ".join(
        f"{address} ({code} {text.decode(errors='replace')})"
        for address, (code, text) in refused.items()
    )


def _failure(exc: Exception) -> ConnectorError:
    """smtplib's and the socket's errors as retryable (4xx, no connection) or permanent."""
    if isinstance(exc, ConnectorError):
        return exc
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        error = RetryableError if codes and all(400 <= c < 500 for c in codes) else PermanentError
        return error(f"all recipients refused: {_refusals(exc.recipients)}")
    if isinstance(exc, smtplib.SMTPResponseException):
        said = (
            exc.smtp_error.decode(errors="replace")
            if isinstance(exc.smtp_error, bytes)
            else exc.smtp_error
        )
        what = "login refused" if isinstance(exc, smtplib.SMTPAuthenticationError) else "refused"
        error = RetryableError if 400 <= exc.smtp_code < 500 else PermanentError
        return error(f"{what}: {exc.smtp_code} {said}")
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return RetryableError(f"server disconnected: {exc}")
    if isinstance(exc, ssl.SSLCertVerificationError):
        return PermanentError(f"TLS certificate not trusted: {exc.verify_message}")
    if isinstance(exc, ssl.SSLError | smtplib.SMTPException):
        # The TLS mode does not fit the port, or the server lacks STARTTLS or AUTH.
        return PermanentError(f"{type(exc).__name__}: {exc}")
    if isinstance(exc, TimeoutError):
        return RetryableError("timed out")
    return RetryableError(f"no connection: {exc}")  # refused, reset, unreachable


@connector_call()
async def run(params: EmailParams, ctx: CallContext, runtime: Runtime) -> Result:
    """Send the message to ``to`` and ``cc``; the result is its Message-ID."""
    settings = settings_of(runtime, EmailSettings, "email")
    where = f"email: SMTP {settings.host}:{settings.port}"
    try:
        mail = message(params, settings.from_address, ctx.idempotency_key)
    except ValueError as exc:  # a header the email package refuses, e.g. a newline in an address
        raise PermanentError(f"{where}: cannot build the message: {exc}") from None
    try:
        await asyncio.to_thread(_send, settings, mail, [*params.to, *params.cc])
    except (OSError, smtplib.SMTPException, ConnectorError) as exc:
        failure = _failure(exc)
        raise type(failure)(f"{where}: {failure}") from None
    return {"message_id": mail["Message-ID"]}


SPEC = ConnectorSpec(
    name="email",
    params=EmailParams,
    description="Send an email through the SMTP server in the service configuration.",
    result_fields=("message_id",),
    run=run,
    settings=EmailSettings,
)
