"""Secrets never show: not in error messages, not in results, not in reprs of settings.

The servers here are indiscreet on purpose: they echo credentials back in bodies and errors.
"""

from __future__ import annotations

import json
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, Session
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from runbookd.connectors import email, http, pagerduty, prometheus, slack, sql
from runbookd.connectors.base import CallContext, ConnectorError, PermanentError, Result, Settings
from runbookd.connectors.registry import SettingsError, load_settings, load_specs

pytestmark = pytest.mark.anyio
Caller = Callable[..., Awaitable[Result]]

TOKEN = "xoxb-TOKEN-never-shown"
API_TOKEN = "api-TOKEN-from-env"
PASSWORD = "smtp-PASSWORD-never-shown"
ENV = {"API_TOKEN": API_TOKEN, "SLACK_BOT_TOKEN": TOKEN, "SMTP_PASSWORD": PASSWORD}
SECRETS = (TOKEN, API_TOKEN, PASSWORD)

CONFIG: dict[str, Any] = {
    "http": {"headers": {"Authorization": "Bearer ${env:API_TOKEN}"}},
    "slack": {"bot_token": "${env:SLACK_BOT_TOKEN}"},
    "email": {
        "host": "127.0.0.1",
        "port": 25,
        "username": "runbookd",
        "password": "${env:SMTP_PASSWORD}",
        "from_address": "runbookd@example.com",
    },
    "prometheus": {
        "url": "http://127.0.0.1:9090",
        "headers": {"Authorization": "${env:API_TOKEN}"},
    },
    "sql": {"databases": {"main": "postgresql+psycopg://app:${env:SMTP_PASSWORD}@db/app"}},
}


@pytest.fixture
def settings() -> dict[str, Settings]:
    return load_settings(load_specs(include_plugins=False), CONFIG, environ=ENV)


def assert_hidden(*texts: str) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text


def echo(request: Request) -> Response:
    """Answer with everything the request carried, headers included."""
    said = {"headers": dict(request.headers), "body": request.get_data(as_text=True)}
    status = 200 if request.path.endswith("/ok") else 500
    return Response(json.dumps(said), status=status, content_type="application/json")


def test_settings_reprs_hide_secrets(settings: dict[str, Settings]) -> None:
    assert set(settings) == set(CONFIG)
    for loaded in settings.values():
        assert_hidden(repr(loaded), str(loaded), loaded.model_dump_json())


def test_settings_errors_never_quote_values() -> None:
    raw = {"email": {"host": "h", "from_address": "a@b", "port": "${env:SMTP_PASSWORD}"}}

    with pytest.raises(SettingsError) as info:
        load_settings(load_specs(include_plugins=False), raw, environ=ENV)

    assert "connectors.email.port: Input should be a valid integer" in str(info.value)
    assert_hidden(str(info.value))


async def test_http_masks_configured_headers_in_results_and_errors(
    httpserver: HTTPServer, call: Caller, settings: dict[str, Settings]
) -> None:
    httpserver.expect_request("/ok").respond_with_handler(echo)
    httpserver.expect_request("/fail").respond_with_handler(echo)

    result = await call(http.SPEC, {"url": httpserver.url_for("/ok")}, settings["http"])
    with pytest.raises(ConnectorError) as info:
        await call(http.SPEC, {"url": httpserver.url_for("/fail")}, settings["http"])

    # The whole configured value ("Bearer <token>") is the secret.
    assert result["json"]["headers"]["Authorization"] == "***"
    assert '"Authorization": "***"' in str(info.value)
    assert_hidden(json.dumps(result), str(info.value))


async def test_http_masks_what_the_executor_resolved(httpserver: HTTPServer, call: Caller) -> None:
    httpserver.expect_request("/ok").respond_with_handler(echo)
    resolved = CallContext(idempotency_key="k", secrets=frozenset({API_TOKEN}))

    result = await call(
        http.SPEC,
        {"url": httpserver.url_for("/ok"), "headers": {"X-Anything": API_TOKEN}},
        ctx=resolved,
    )

    assert result["json"]["headers"]["X-Anything"] == "***"
    assert_hidden(json.dumps(result))


async def test_http_masks_credential_headers_of_the_call_itself(
    httpserver: HTTPServer, call: Caller
) -> None:
    httpserver.expect_request("/fail").respond_with_handler(echo)

    with pytest.raises(ConnectorError) as info:
        await call(
            http.SPEC, {"url": httpserver.url_for("/fail"), "headers": {"X-Api-Key": API_TOKEN}}
        )

    assert_hidden(str(info.value))


async def test_slack_token_and_webhook_stay_hidden(
    httpserver: HTTPServer, call: Caller, settings: dict[str, Settings]
) -> None:
    httpserver.expect_request("/api/chat.postMessage").respond_with_handler(echo)
    httpserver.expect_request("/services/T0/B0/hookSECRET").respond_with_handler(echo)
    bot = slack.SlackSettings.model_validate(
        {"bot_token": TOKEN, "api_url": httpserver.url_for("/api")}
    )
    webhook = httpserver.url_for("/services/T0/B0/hookSECRET")

    with pytest.raises(ConnectorError) as posted:
        await call(slack.SPEC, {"channel": "#ops", "text": "hi"}, bot)
    with pytest.raises(ConnectorError) as hooked:
        await call(slack.SPEC, {"webhook": webhook, "text": "hi"})

    assert "Bearer ***" in str(posted.value)
    assert_hidden(str(posted.value))
    assert "hookSECRET" not in str(hooked.value)


async def test_pagerduty_routing_key_stays_hidden(httpserver: HTTPServer, call: Caller) -> None:
    httpserver.expect_request("/v2/enqueue").respond_with_handler(echo)
    settings = pagerduty.PagerDutySettings(events_url=httpserver.url_for("/v2/enqueue"))

    with pytest.raises(ConnectorError) as info:
        await call(pagerduty.SPEC, {"routing_key": "R0UTING-KEY-SECRET", "summary": "s"}, settings)

    assert "R0UTING-KEY-SECRET" not in str(info.value)


async def test_prometheus_headers_stay_hidden(
    httpserver: HTTPServer, call: Caller, settings: dict[str, Settings]
) -> None:
    httpserver.expect_request("/api/v1/query").respond_with_handler(echo)
    configured = settings["prometheus"]
    assert isinstance(configured, prometheus.PrometheusSettings)
    here = configured.model_copy(update={"url": httpserver.url_for("/").rstrip("/")})

    with pytest.raises(ConnectorError) as info:
        await call(prometheus.SPEC, {"query": "up"}, here)

    assert_hidden(str(info.value))


@pytest.fixture
def indiscreet_smtp() -> Iterator[int]:
    """An SMTP server whose login refusal repeats the password it was given."""

    def refuse(
        server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        password = data.password.decode()
        return AuthResult(success=False, handled=False, message=f"535 wrong: {password}")

    authority = trustme.CA()
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(tls)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    controller = Controller(
        object(), hostname="127.0.0.1", port=port, authenticator=refuse, auth_require_tls=False
    )
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


async def test_smtp_password_stays_hidden(
    indiscreet_smtp: int, call: Caller, settings: dict[str, Settings]
) -> None:
    configured = settings["email"]
    assert isinstance(configured, email.EmailSettings)
    here = configured.model_copy(update={"port": indiscreet_smtp, "starttls": False})

    with pytest.raises(PermanentError) as info:
        await call(email.SPEC, {"to": "a@example.org", "subject": "s", "body": "b"}, here)

    assert "login refused: 535 wrong: ***" in str(info.value)
    assert_hidden(str(info.value))


async def test_sql_url_password_stays_hidden(
    call: Caller, settings: dict[str, Settings], refused_url: str
) -> None:
    configured = settings["sql"]
    assert isinstance(configured, sql.SqlSettings)
    port = refused_url.rsplit(":", 1)[1]
    url = f"postgresql+psycopg://app:{PASSWORD}@127.0.0.1:{port}/app"
    here = sql.SqlSettings.model_validate({"databases": {"main": url}})

    with pytest.raises(ConnectorError) as info:
        await call(sql.SPEC, {"database": "main", "query": "SELECT 1"}, here)

    assert_hidden(str(info.value))
