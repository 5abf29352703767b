"""The ``prometheus`` connector: one instant query over the HTTP API (``/api/v1/query``)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from runbookd.connectors import web
from runbookd.connectors.base import (
    CallContext,
    ConnectorSpec,
    Params,
    PermanentError,
    Result,
    Runtime,
)
from runbookd.connectors.calls import connector_call, settings_of

#: Series kept in the ``series`` result; a query that returns more should aggregate (topk, sum).
MAX_SERIES = 1000
#: Bytes of answer read; a larger one is an error that asks for a narrower query.
MAX_ANSWER = 4 * 1024 * 1024


class PrometheusParams(Params):
    """An instant PromQL query (``/api/v1/query``)."""

    query: str = Field(description="PromQL expression; `value` is the first sample's value.")
    at: str | None = Field(
        None, description="Evaluation time, RFC 3339 or Unix seconds; by default now."
    )


class PrometheusSettings(web.Endpoint):
    """``connectors.prometheus`` in config.yaml: the Prometheus (or compatible API) to query."""


def samples(result_type: str, result: Any) -> list[dict[str, Any]]:
    """Series as ``{"labels": {...}, "value": float, "at": unix seconds}``, first ones first.

    A range vector (``rate(x[5m])`` is not one; ``x[5m]`` is) keeps each series' latest sample.
    """
    if result_type == "scalar":
        return [{"labels": {}, "value": float(result[1]), "at": float(result[0])}]
    if result_type == "vector":
        pairs = [(item["metric"], item["value"]) for item in result]
    elif result_type == "matrix":
        pairs = [(item["metric"], item["values"][-1]) for item in result if item["values"]]
    else:  # "string": no number to report
        return []
    return [
        {"labels": metric, "value": float(value), "at": float(at)}
        for metric, (at, value) in pairs[:MAX_SERIES]
    ]


@connector_call(reads=lambda params: True)
async def run(params: PrometheusParams, ctx: CallContext, runtime: Runtime) -> Result:
    """Evaluate the query; ``value`` is the first sample's value (None when there is none)."""
    settings = settings_of(runtime, PrometheusSettings, "prometheus")
    query = {"query": params.query} | ({"time": params.at} if params.at else {})
    answer = await web.request(
        runtime.http,
        "prometheus",
        "GET",
        settings.join("/api/v1/query"),
        headers=settings.header_values(),
        params=query,
        max_body=MAX_ANSWER,
    )
    data = answer.json()
    if not answer.ok:
        detail = None
        if isinstance(data, dict) and "error" in data:
            detail = f"{data.get('errorType', 'error')}: {data['error']} (query {params.query!r})"
        raise answer.failure("prometheus", detail)
    if answer.truncated:
        raise PermanentError(
            f"prometheus: the answer to {params.query!r} is larger than {MAX_ANSWER} bytes; "
            "aggregate it (sum, topk) to fewer series"
        )
    try:
        series = samples(data["data"]["resultType"], data["data"]["result"])
    except (TypeError, KeyError, IndexError, ValueError):
        raise PermanentError(
            f"prometheus: GET {answer.shown} answered {answer.status} with something that is "
            "not a Prometheus query result"
        ) from None
    return {"value": series[0]["value"] if series else None, "series": series}


SPEC = ConnectorSpec(
    name="prometheus",
    params=PrometheusParams,
    description="Evaluate a PromQL instant query against the configured Prometheus.",
    result_fields=("value", "series"),
    read_only=True,
    run=run,
    settings=PrometheusSettings,
)
