"""The slack connector against a real HTTP server standing in for Slack on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from pytest_httpserver import HTTPServer

from runbookd.connectors.base import PermanentError, Result, RetryableError
from runbookd.connectors.slack import SPEC, SlackSettings

pytestmark = pytest.mark.anyio
Caller = Callable[..., Awaitable[Result]]

TOKEN = "xoxb-1111-2222-abcdefSECRET"
WEBHOOK_PATH = "/services/T000/B000/webhookSECRET"


def bot(httpserver: HTTPServer) -> SlackSettings:
    return SlackSettings.model_validate({"bot_token": TOKEN, "api_url": httpserver.url_for("/api")})


async def test_webhook_posts_the_message(httpserver: HTTPServer, call: Caller) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*down*"}}]
    httpserver.expect_oneshot_request(
        WEBHOOK_PATH,
        method="POST",
        json={"text": "payments down", "blocks": blocks, "thread_ts": "1700.1"},
    ).respond_with_data("ok")

    result = await call(
        SPEC,
        {
            "webhook": httpserver.url_for(WEBHOOK_PATH),
            "text": "payments down",
            "blocks": blocks,
            "thread_ts": "1700.1",
        },
    )

    assert result == {"ok": True, "ts": None}
    httpserver.check_assertions()


async def test_webhook_errors_name_the_host_only(httpserver: HTTPServer, call: Caller) -> None:
    httpserver.expect_request(WEBHOOK_PATH).respond_with_data("channel_not_found", status=404)

    with pytest.raises(PermanentError) as info:
        await call(SPEC, {"webhook": httpserver.url_for(WEBHOOK_PATH), "text": "hi"})

    assert str(info.value) == (
        f"slack: POST incoming webhook at http://127.0.0.1:{httpserver.port} "
        "answered 404 NOT FOUND: channel_not_found"
    )


async def test_webhook_rate_limit_is_retryable_and_says_when(
    httpserver: HTTPServer, call: Caller
) -> None:
    httpserver.expect_request(WEBHOOK_PATH).respond_with_data(
        "rate_limited", status=429, headers={"Retry-After": "30"}
    )

    with pytest.raises(RetryableError, match="429 TOO MANY REQUESTS; retry after 30s"):
        await call(SPEC, {"webhook": httpserver.url_for(WEBHOOK_PATH), "text": "hi"})


async def test_post_message_uses_the_bot_token(httpserver: HTTPServer, call: Caller) -> None:
    httpserver.expect_oneshot_request(
        "/api/chat.postMessage",
        method="POST",
        headers={"Authorization": f"Bearer {TOKEN}"},
        json={"channel": "#payments", "text": "failover done"},
    ).respond_with_json({"ok": True, "channel": "C123", "ts": "1700000000.000200"})

    result = await call(SPEC, {"channel": "#payments", "text": "failover done"}, bot(httpserver))

    assert result == {"ok": True, "ts": "1700000000.000200"}
    httpserver.check_assertions()


async def test_slack_refusals_are_permanent(httpserver: HTTPServer, call: Caller) -> None:
    httpserver.expect_request("/api/chat.postMessage").respond_with_json(
        {"ok": False, "error": "channel_not_found"}
    )

    with pytest.raises(PermanentError) as info:
        await call(SPEC, {"channel": "#nope", "text": "hi"}, bot(httpserver))

    assert str(info.value) == "slack: chat.postMessage to '#nope' failed: channel_not_found"


@pytest.mark.parametrize("error", ["ratelimited", "internal_error", "service_unavailable"])
async def test_slacks_passing_troubles_are_retryable(
    httpserver: HTTPServer, call: Caller, error: str
) -> None:
    httpserver.expect_request("/api/chat.postMessage").respond_with_json(
        {"ok": False, "error": error}
    )

    with pytest.raises(RetryableError, match=error):
        await call(SPEC, {"channel": "#ops", "text": "hi"}, bot(httpserver))


async def test_channel_without_a_bot_token_says_what_to_configure(call: Caller) -> None:
    with pytest.raises(PermanentError, match=r"needs connectors\.slack\.bot_token"):
        await call(SPEC, {"channel": "#ops", "text": "hi"})


async def test_unreachable_slack_is_retryable(refused_url: str, call: Caller) -> None:
    settings = SlackSettings.model_validate({"bot_token": TOKEN, "api_url": refused_url})

    with pytest.raises(RetryableError, match="no answer"):
        await call(SPEC, {"channel": "#ops", "text": "hi"}, settings)
