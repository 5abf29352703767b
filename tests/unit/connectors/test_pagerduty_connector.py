"""The pagerduty connector against a real HTTP server answering like the Events API v2."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from pytest_httpserver import HTTPServer

from runbookd.connectors.base import CallContext, PermanentError, Result, RetryableError
from runbookd.connectors.pagerduty import SPEC, PagerDutySettings

pytestmark = pytest.mark.anyio
Caller = Callable[..., Awaitable[Result]]

KEY = "R0UTINGKEYSECRET0000000000000000"
ACCEPTED = {"status": "success", "message": "Event processed", "dedup_key": "pd-dedup-1"}


def events(httpserver: HTTPServer) -> PagerDutySettings:
    return PagerDutySettings(events_url=httpserver.url_for("/v2/enqueue"))


async def test_trigger_sends_the_payload(httpserver: HTTPServer, call: Caller) -> None:
    httpserver.expect_oneshot_request(
        "/v2/enqueue",
        method="POST",
        json={
            "routing_key": KEY,
            "event_action": "trigger",
            "dedup_key": "call-0001",
            "payload": {
                "summary": "Payments down",
                "source": "checkout-1",
                "severity": "critical",
                "class": "availability",
                "custom_details": {"runbook": "payments"},
            },
        },
    ).respond_with_json(ACCEPTED, status=202)

    result = await call(
        SPEC,
        {
            "routing_key": KEY,
            "summary": "Payments down",
            "source": "checkout-1",
            "severity": "critical",
            "class": "availability",
            "custom_details": {"runbook": "payments"},
        },
        events(httpserver),
    )

    assert result == {"dedup_key": "pd-dedup-1", "status": "success"}
    httpserver.check_assertions()


async def test_resolve_names_the_alert_and_sends_no_payload(
    httpserver: HTTPServer, call: Caller
) -> None:
    httpserver.expect_oneshot_request(
        "/v2/enqueue",
        json={"routing_key": KEY, "event_action": "resolve", "dedup_key": "pd-dedup-1"},
    ).respond_with_json(ACCEPTED, status=202)

    result = await call(
        SPEC,
        {"routing_key": KEY, "action": "resolve", "dedup_key": "pd-dedup-1"},
        events(httpserver),
        ctx=CallContext(idempotency_key="call-0002"),
    )

    assert result["dedup_key"] == "pd-dedup-1"
    httpserver.check_assertions()


async def test_invalid_events_are_permanent_and_say_why(
    httpserver: HTTPServer, call: Caller
) -> None:
    httpserver.expect_request("/v2/enqueue").respond_with_json(
        {
            "status": "invalid event",
            "message": "Event object is invalid",
            "errors": ["Length of 'routing_key' is incorrect (should be 32 characters)"],
        },
        status=400,
    )

    with pytest.raises(PermanentError) as info:
        await call(SPEC, {"routing_key": "short", "summary": "s"}, events(httpserver))

    assert "answered 400 BAD REQUEST: Event object is invalid" in str(info.value)
    assert "should be 32 characters" in str(info.value)


@pytest.mark.parametrize("status", [429, 500, 503])
async def test_throttling_and_outages_are_retryable(
    httpserver: HTTPServer, call: Caller, status: int
) -> None:
    httpserver.expect_request("/v2/enqueue").respond_with_data("", status=status)

    with pytest.raises(RetryableError, match=f"answered {status}"):
        await call(SPEC, {"routing_key": KEY, "summary": "s"}, events(httpserver))


async def test_unreachable_pagerduty_is_retryable(refused_url: str, call: Caller) -> None:
    settings = PagerDutySettings(events_url=f"{refused_url}/v2/enqueue")

    with pytest.raises(RetryableError, match="no answer"):
        await call(SPEC, {"routing_key": KEY, "summary": "s"}, settings)
