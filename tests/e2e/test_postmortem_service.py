"""The post-mortem through `runbookd serve`: Alertmanager alerts open the 3.3 incident, a person
resolves it, the real executor asks a (loopback) Prometheus for the impact figure, and the
post-mortem shows that figure with the query that was sent; a draft before, final after."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.e2e.harness import HOOK, REPO, Server, channel_pair, poll


def test_resolved_incident_post_mortem_has_the_measured_impact(
    make_server: Callable[..., Server], httpserver: HTTPServer
) -> None:
    queries: list[str] = []

    def prometheus(request: Request) -> Response:
        queries.append(request.args["query"])
        body = {
            "status": "success",
            "data": {"resultType": "vector", "result": [{"metric": {}, "value": [1, "17"]}]},
        }
        return Response(json.dumps(body), content_type="application/json")

    httpserver.expect_request("/api/v1/query").respond_with_handler(prometheus)
    server = make_server(
        runbooks=[REPO / "runbooks" / "03-payment" / "payment-channel-abnormal.yaml"],
        env={
            "RUNBOOKD_CONNECTORS__PROMETHEUS__URL": httpserver.url_for("/").rstrip("/"),
            "RUNBOOKD_ENGINE__DRY_RUN": "true",  # pages and channel switches are not the point
        },
    )
    assert server.post(HOOK, channel_pair("alipay")).status_code == 202
    [incident] = poll(lambda: server.incidents(), what="the 3.3 incident")
    path = f"/api/v1/incidents/{incident['id']}/postmortem"

    draft = server.get(path, params={"format": "json"}).json()
    assert draft["final"] is False and draft["timings"]["resolved"] is None
    assert "**DRAFT" in server.get(path).text

    resolved = server.post(f"/api/v1/incidents/{incident['id']}/resolve", {"by": "ops"})
    assert resolved.status_code == 200

    def measured() -> dict[str, Any] | None:
        summary: dict[str, Any] = server.get(path, params={"format": "json"}).json()
        return summary if summary["impact"] else None

    summary = poll(measured, what="the impact figure")
    [impact] = summary["impact"]
    assert summary["final"] is True
    assert summary["timings"]["resolved_by"] == "ops"
    assert (impact["id"], impact["value"], impact["unit"]) == ("failed_payments", 17.0, "payments")
    # The query shown is the one Prometheus received, window rendered in.
    assert queries == [impact["query"]]
    assert 'channel="alipay"' in impact["query"]
    md = server.get(path).text
    assert "Failed payments during the incident: 17 payments" in md
    assert "DRAFT" not in md
