"""The prometheus connector against a real HTTP server answering like /api/v1/query."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from runbookd.connectors.base import CallContext, PermanentError, Result, RetryableError
from runbookd.connectors.prometheus import SPEC, PrometheusSettings

pytestmark = pytest.mark.anyio
Caller = Callable[..., Awaitable[Result]]

QUERY = 'sum by (job) (rate(http_requests_total{status=~"5.."}[5m]))'


def prometheus(httpserver: HTTPServer, **extra: Any) -> PrometheusSettings:
    return PrometheusSettings.model_validate({"url": httpserver.url_for("/prom/"), **extra})


def answer(result_type: str, result: Any) -> dict[str, Any]:
    return {"status": "success", "data": {"resultType": result_type, "result": result}}


async def test_vector_value_is_the_first_samples(httpserver: HTTPServer, call: Caller) -> None:
    httpserver.expect_oneshot_request(
        "/prom/api/v1/query",
        method="GET",
        query_string={"query": QUERY, "time": "1700000000"},
    ).respond_with_json(
        answer(
            "vector",
            [
                {"metric": {"job": "api"}, "value": [1700000000, "0.25"]},
                {"metric": {"job": "web"}, "value": [1700000000, "NaN"]},
            ],
        )
    )

    result = await call(SPEC, {"query": QUERY, "at": "1700000000"}, prometheus(httpserver))

    assert result["value"] == 0.25
    assert result["series"][0] == {"labels": {"job": "api"}, "value": 0.25, "at": 1700000000.0}
    assert result["series"][1]["labels"] == {"job": "web"}
    httpserver.check_assertions()


@pytest.mark.parametrize(
    ("result_type", "result", "value"),
    [
        ("scalar", [1700000000.5, "3"], 3.0),
        ("vector", [], None),
        ("string", [1700000000, "hello"], None),
        (
            "matrix",
            [{"metric": {"i": "a"}, "values": [[1700000000, "1"], [1700000015, "2"]]}],
            2.0,
        ),
    ],
)
async def test_every_result_type_has_a_value(
    httpserver: HTTPServer, call: Caller, result_type: str, result: Any, value: float | None
) -> None:
    httpserver.expect_request("/prom/api/v1/query").respond_with_json(answer(result_type, result))

    got = await call(SPEC, {"query": "x"}, prometheus(httpserver))

    assert got["value"] == value
    assert len(got["series"]) == (0 if value is None else 1)


async def test_bad_queries_are_permanent_and_quote_prometheus(
    httpserver: HTTPServer, call: Caller
) -> None:
    httpserver.expect_request("/prom/api/v1/query").respond_with_json(
        {"status": "error", "errorType": "bad_data", "error": "1:5: parse error: unexpected"},
        status=400,
    )

    with pytest.raises(PermanentError) as info:
        await call(SPEC, {"query": "sum(("}, prometheus(httpserver))

    assert str(info.value) == (
        f"prometheus: GET {httpserver.url_for('/prom/api/v1/query')} answered 400 BAD REQUEST: "
        "bad_data: 1:5: parse error: unexpected (query 'sum((')"
    )


async def test_an_overloaded_prometheus_is_retryable(httpserver: HTTPServer, call: Caller) -> None:
    httpserver.expect_request("/prom/api/v1/query").respond_with_json(
        {"status": "error", "errorType": "timeout", "error": "query timed out"}, status=503
    )

    with pytest.raises(RetryableError, match="timeout: query timed out"):
        await call(SPEC, {"query": "up"}, prometheus(httpserver))


async def test_something_else_answering_is_permanent(httpserver: HTTPServer, call: Caller) -> None:
    httpserver.expect_request("/prom/api/v1/query").respond_with_data("<html>login</html>")

    with pytest.raises(PermanentError, match="not a Prometheus query result"):
        await call(SPEC, {"query": "up"}, prometheus(httpserver))


async def test_dry_runs_still_query_and_headers_are_sent(
    httpserver: HTTPServer, call: Caller
) -> None:
    httpserver.expect_oneshot_request(
        "/prom/api/v1/query", headers={"X-Scope-OrgID": "payments"}
    ).respond_with_json(answer("vector", [{"metric": {}, "value": [1, "1"]}]))
    settings = prometheus(httpserver, headers={"X-Scope-OrgID": "payments"})

    result = await call(
        SPEC, {"query": "up"}, settings, ctx=CallContext(idempotency_key="d", dry_run=True)
    )

    assert result["value"] == 1.0
    httpserver.check_assertions()


async def test_unconfigured_prometheus_says_what_is_missing(call: Caller) -> None:
    with pytest.raises(PermanentError) as info:
        await call(SPEC, {"query": "up"})

    assert str(info.value) == (
        "prometheus: not configured: config.yaml needs a connectors.prometheus section with url"
    )


async def test_unreachable_prometheus_is_retryable(refused_url: str, call: Caller) -> None:
    settings = PrometheusSettings(url=refused_url)

    with pytest.raises(RetryableError, match="no answer"):
        await call(SPEC, {"query": "up"}, settings)
