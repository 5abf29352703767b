"""The http connector against a real HTTP server on 127.0.0.1.

Timeouts: a connector adds none of its own. The shared client's timeouts surface as
RetryableError, and the executor's deadline (``asyncio.wait_for``) cancels the call cleanly.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable

import httpx
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from runbookd.connectors.base import PermanentError, Result, RetryableError
from runbookd.connectors.http import SPEC, HttpSettings

pytestmark = pytest.mark.anyio
Caller = Callable[..., Awaitable[Result]]


async def test_posts_json_with_the_idempotency_key_and_parses_the_answer(
    httpserver: HTTPServer, call: Caller
) -> None:
    httpserver.expect_oneshot_request(
        "/hook",
        method="POST",
        json={"incident": "INC-1"},
        headers={"Idempotency-Key": "call-0001"},
    ).respond_with_data('{"accepted": true}', status=202, content_type="application/json")

    result = await call(SPEC, {"url": httpserver.url_for("/hook"), "json": {"incident": "INC-1"}})

    assert result == {"status_code": 202, "body": '{"accepted": true}', "json": {"accepted": True}}
    httpserver.check_assertions()


async def test_text_answers_have_no_json(httpserver: HTTPServer, call: Caller) -> None:
    httpserver.expect_request("/status", method="GET").respond_with_data("all good")

    result = await call(SPEC, {"url": httpserver.url_for("/status"), "method": "get"})

    assert result == {"status_code": 200, "body": "all good", "json": None}


async def test_raw_body_is_sent_as_given(httpserver: HTTPServer, call: Caller) -> None:
    httpserver.expect_oneshot_request("/raw", method="PUT", data="a=1&b=2").respond_with_data(
        "", status=204
    )

    result = await call(
        SPEC, {"url": httpserver.url_for("/raw"), "method": "PUT", "body": "a=1&b=2"}
    )

    assert result["status_code"] == 204
    httpserver.check_assertions()


async def test_expect_status_decides_what_success_is(httpserver: HTTPServer, call: Caller) -> None:
    httpserver.expect_request("/gone").respond_with_data("no such thing", status=404)
    httpserver.expect_request("/ok").respond_with_data("fine")

    found = await call(SPEC, {"url": httpserver.url_for("/gone"), "expect_status": [404]})
    with pytest.raises(PermanentError) as info:
        await call(SPEC, {"url": httpserver.url_for("/ok"), "expect_status": [201]})

    assert found["status_code"] == 404
    assert "answered 200 OK (expected 201)" in str(info.value)


@pytest.mark.parametrize("status", [500, 502, 503, 429, 408])
async def test_server_trouble_is_retryable(
    httpserver: HTTPServer, call: Caller, status: int
) -> None:
    httpserver.expect_request("/flaky").respond_with_data("try later", status=status)
    url = httpserver.url_for("/flaky")

    with pytest.raises(RetryableError) as info:
        await call(SPEC, {"url": url})

    assert str(info.value).startswith(f"http: POST {url} answered {status}")
    assert "try later" in str(info.value)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422])
async def test_client_errors_are_permanent(
    httpserver: HTTPServer, call: Caller, status: int
) -> None:
    httpserver.expect_request("/strict").respond_with_json({"error": "bad field"}, status=status)

    with pytest.raises(PermanentError) as info:
        await call(SPEC, {"url": httpserver.url_for("/strict")})

    assert f"answered {status}" in str(info.value)
    assert "bad field" in str(info.value)


async def test_messages_name_the_target_without_credentials_or_query(
    httpserver: HTTPServer, call: Caller
) -> None:
    httpserver.expect_request("/fail").respond_with_data("", status=500)
    port = httpserver.port

    with pytest.raises(RetryableError) as info:
        await call(SPEC, {"url": f"http://ops:hunter2@127.0.0.1:{port}/fail?token=abc123"})

    message = str(info.value)
    assert message == f"http: POST http://127.0.0.1:{port}/fail answered 500 INTERNAL SERVER ERROR"
    assert "hunter2" not in message
    assert "abc123" not in message


async def test_connection_refused_is_retryable(refused_url: str, call: Caller) -> None:
    with pytest.raises(RetryableError) as info:
        await call(SPEC, {"url": f"{refused_url}/hook"})

    assert str(info.value).startswith(f"http: POST {refused_url}/hook: no answer:")


async def test_the_clients_timeout_is_retryable(
    httpserver: HTTPServer, call: Caller, release: threading.Event
) -> None:
    def stall(request: Request) -> Response:
        release.wait()
        return Response("late")

    httpserver.expect_request("/slow").respond_with_handler(stall)

    async with httpx.AsyncClient(timeout=0.2) as impatient:
        with pytest.raises(RetryableError) as info:
            await call(SPEC, {"url": httpserver.url_for("/slow")}, client=impatient)

    assert "timed out (ReadTimeout)" in str(info.value)


async def test_the_executors_deadline_cancels_the_call(
    httpserver: HTTPServer, call: Caller, release: threading.Event
) -> None:
    def stall(request: Request) -> Response:
        release.wait()
        return Response("late")

    httpserver.expect_request("/slow").respond_with_handler(stall)

    with pytest.raises(TimeoutError):
        await asyncio.wait_for(call(SPEC, {"url": httpserver.url_for("/slow")}), timeout=0.2)


async def test_long_bodies_are_truncated_and_not_parsed(
    httpserver: HTTPServer, call: Caller
) -> None:
    httpserver.expect_request("/big").respond_with_json({"data": "x" * 5000})

    result = await call(SPEC, {"url": httpserver.url_for("/big")}, HttpSettings(max_body_bytes=100))

    assert len(result["body"]) == 100
    assert result["json"] is None


async def test_configured_headers_are_sent_and_a_calls_own_headers_win(
    httpserver: HTTPServer, call: Caller
) -> None:
    httpserver.expect_oneshot_request(
        "/h", headers={"X-Team": "payments", "User-Agent": "runbook/2"}
    ).respond_with_data("ok")
    settings = HttpSettings.model_validate(
        {"headers": {"X-Team": "payments", "User-Agent": "runbookd/1"}}
    )

    await call(
        SPEC, {"url": httpserver.url_for("/h"), "headers": {"User-Agent": "runbook/2"}}, settings
    )

    httpserver.check_assertions()


@pytest.mark.parametrize("url", ["ftp://example.org/x", "/relative/path", "http://"])
async def test_urls_that_are_not_http_are_permanent(call: Caller, url: str) -> None:
    with pytest.raises(PermanentError, match=r"^http: url: "):
        await call(SPEC, {"url": url})
