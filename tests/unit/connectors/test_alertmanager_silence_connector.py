"""alertmanager_silence's requests and failure kinds, against a stand-in server on 127.0.0.1.

The real Alertmanager is in tests/integration/connectors/test_alertmanager_silences.py.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import pytest
from pytest_httpserver import HTTPServer

from runbookd.connectors.alertmanager_silence import SPEC, AlertmanagerSettings
from runbookd.connectors.base import PermanentError, Result, RetryableError

pytestmark = pytest.mark.anyio
Caller = Callable[..., Awaitable[Result]]

MATCHERS = [{"name": "alertname", "value": "DiskFull"}]


def am(httpserver: HTTPServer) -> AlertmanagerSettings:
    return AlertmanagerSettings.model_validate(
        {"url": httpserver.url_for("/am"), "headers": {"Authorization": "Bearer am-token"}}
    )


async def test_create_posts_a_silence_of_the_given_length(
    httpserver: HTTPServer, call: Caller
) -> None:
    httpserver.expect_oneshot_request(
        "/am/api/v2/silences", method="POST", headers={"Authorization": "Bearer am-token"}
    ).respond_with_json({"silenceID": "abc"})

    result = await call(SPEC, {"matchers": MATCHERS, "duration": "1h30m"}, am(httpserver))

    [(request, _)] = httpserver.log
    body = json.loads(request.get_data())
    length = datetime.fromisoformat(body["endsAt"]) - datetime.fromisoformat(body["startsAt"])
    assert result == {"silence_id": "abc"}
    assert length == timedelta(hours=1, minutes=30)
    assert body["matchers"] == [
        {"name": "alertname", "value": "DiskFull", "isRegex": False, "isEqual": True}
    ]
    assert (body["createdBy"], body["comment"]) == ("runbookd", "Silenced by runbookd.")


async def test_a_bad_duration_is_permanent_and_sends_nothing(
    httpserver: HTTPServer, call: Caller
) -> None:
    with pytest.raises(PermanentError, match="duration: '90 minutes' is not a duration"):
        await call(SPEC, {"matchers": MATCHERS, "duration": "90 minutes"}, am(httpserver))

    assert httpserver.log == []


async def test_an_alertmanager_in_trouble_is_retryable(
    httpserver: HTTPServer, call: Caller
) -> None:
    httpserver.expect_request("/am/api/v2/silences").respond_with_data("", status=503)

    with pytest.raises(RetryableError, match="answered 503"):
        await call(SPEC, {"matchers": MATCHERS}, am(httpserver))


async def test_an_answer_without_an_id_is_permanent(httpserver: HTTPServer, call: Caller) -> None:
    httpserver.expect_request("/am/api/v2/silences").respond_with_json({})

    with pytest.raises(PermanentError, match="without a silenceID"):
        await call(SPEC, {"matchers": MATCHERS}, am(httpserver))


async def test_an_unreachable_alertmanager_is_retryable(refused_url: str, call: Caller) -> None:
    with pytest.raises(RetryableError, match="no answer"):
        await call(SPEC, {"matchers": MATCHERS}, AlertmanagerSettings(url=refused_url))
