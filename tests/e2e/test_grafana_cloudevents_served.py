"""Grafana Alerting and CloudEvents senders against a real `runbookd serve`: a Grafana-shaped
webhook body and a CloudEvent each open an incident; bad bodies are 4xx naming the field."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx

from tests.e2e.harness import Server, poll
from tests.unit.alerts.test_grafana_cloudevents import cloud_event, grafana_body

RUNBOOKS = {
    "disk.yaml": """
runbook: 1
id: disk-almost-full
title: Disk almost full
team: sre
section: "9.1"
classification: {nature: infrastructure, scope: local, complexity: simple}
detection:
  group_by: [labels.instance]
  triggers:
    - id: full
      match: {field: name, eq: DiskAlmostFull}
handling:
  steps:
    - id: note
      connector: log
      params: {message: "disk full on {{ alert.labels.instance }}"}
""",
    "latency.yaml": """
runbook: 1
id: checkout-latency
title: Checkout latency high
team: checkout
section: "4.1"
classification: {nature: business, scope: local, complexity: simple}
detection:
  group_by: [labels.subject]
  triggers:
    - id: slow
      match: {field: name, eq: com.example.checkout.latency.high}
handling:
  steps:
    - id: note
      connector: log
      params: {message: "slow {{ alert.labels.subject }}"}
""",
}


def test_a_grafana_body_and_a_cloud_event_open_incidents(
    make_server: Callable[..., Server], tmp_path: Path
) -> None:
    folder = tmp_path / "runbooks"
    folder.mkdir()
    for name, text in RUNBOOKS.items():
        (folder / name).write_text(text)
    server = make_server([folder])

    answer = server.post("/api/v1/alerts/grafana", grafana_body())
    assert answer.status_code == 202, answer.text
    assert answer.json() == {"accepted": 1, "duplicates": 0}
    [incident] = poll(
        lambda: server.incidents(runbook="disk-almost-full"), what="the Grafana incident"
    )
    detail = server.incident(incident["id"])
    assert "DiskAlmostFull" in str(detail) and "db-1" in str(detail)
    # Grafana repeats a notification while the alert fires: the same alert, not a new one.
    assert server.post("/api/v1/alerts/grafana", grafana_body()).json()["duplicates"] == 1

    headers = {"content-type": "application/cloudevents+json; charset=utf-8"}
    answer = server.post("/api/v1/events/cloudevents", cloud_event(), headers=headers)
    assert answer.status_code == 202, answer.text
    poll(lambda: server.incidents(runbook="checkout-latency"), what="the CloudEvents incident")
    assert (
        server.metric("runbookd_alerts_received_total", source="grafana", outcome="accepted") == 1
    )
    assert (
        server.metric("runbookd_alerts_received_total", source="cloudevents", outcome="accepted")
        == 1
    )


def test_bad_bodies_are_refused_naming_the_field(make_server: Callable[..., Server]) -> None:
    server = make_server()
    bad = server.post("/api/v1/alerts/grafana", {**grafana_body(), "version": "4"})
    assert bad.status_code == 400 and bad.json()["field"] == "version", bad.text
    bad = server.post("/api/v1/alerts/grafana", grafana_body(values={"B": "high"}))
    assert bad.status_code == 400 and bad.json()["field"] == "alerts[0].values.B", bad.text

    # Binary mode (attributes in ce-* headers) and plain JSON are not CloudEvents' structured mode.
    plain = httpx.post(server.url + "/api/v1/events/cloudevents", json=cloud_event(), timeout=10)
    assert plain.status_code == 415 and plain.json()["field"] == "content-type", plain.text
    headers = {"content-type": "application/cloudevents+json"}
    bad = server.post("/api/v1/events/cloudevents", cloud_event(specversion="0.3"), headers=headers)
    assert bad.status_code == 400 and bad.json()["field"] == "specversion", bad.text
    batch = {"content-type": "application/cloudevents-batch+json"}
    mixed = server.post(
        "/api/v1/events/cloudevents", [cloud_event(), cloud_event(id="x", type="")], headers=batch
    )
    assert mixed.status_code == 202, mixed.text
    assert [r["field"] for r in mixed.json()["rejected"]] == ["[1].type"]


def test_both_routes_want_the_credentials_and_a_bounded_body(
    make_server: Callable[..., Server],
) -> None:
    server = make_server(
        env={
            "RUNBOOKD_AUTH__BEARER_TOKEN": "src-token-8c1",
            "RUNBOOKD_SERVER__MAX_BODY_BYTES": "4096",
        }
    )
    ce = {"content-type": "application/cloudevents+json"}
    assert server.post("/api/v1/alerts/grafana", grafana_body()).status_code == 401
    assert server.post("/api/v1/events/cloudevents", cloud_event(), headers=ce).status_code == 401
    auth = {"authorization": "Bearer src-token-8c1"}
    big = grafana_body(annotations={"summary": "x" * 5000})
    assert server.post("/api/v1/alerts/grafana", big, headers=auth).status_code == 413
    huge = cloud_event(data={"text": "x" * 5000})
    assert server.post("/api/v1/events/cloudevents", huge, headers=ce | auth).status_code == 413
    ok = server.post("/api/v1/alerts/grafana", grafana_body(), headers=auth)
    assert ok.status_code == 202, ok.text
