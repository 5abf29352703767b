"""The Alertmanager webhook as real Alertmanager traffic exercises it, against a real server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from runbookd.toolchain.testing import am_alert, am_notification
from tests.e2e.harness import REPO, Server, poll

HOOK = "/api/v1/alerts/alertmanager"
T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def failures(channel: str, status: str = "firing") -> dict[str, object]:
    return am_alert(
        {"alertname": "PaymentFailureRateHigh", "channel": channel, "severity": "critical"},
        status=status,
        starts_at=T0,
        annotations={"summary": "payment failures above 5% on {{ $labels.channel }}"},
    )


def probe(channel: str, status: str = "firing") -> dict[str, object]:
    return am_alert(
        {"alertname": "PaymentChannelProbeFailed", "channel": channel},
        status=status,
        starts_at=T0 + timedelta(seconds=30),
    )


def test_correlated_alerts_open_one_incident_with_a_timeline(
    make_server: Callable[..., Server],
) -> None:
    server = make_server()
    first = server.post(HOOK, am_notification([failures("alipay")]))
    assert first.status_code == 202 and first.json() == {"accepted": 1, "duplicates": 0}
    assert server.post(HOOK, am_notification([probe("alipay")])).json()["accepted"] == 1

    [incident] = poll(lambda: server.incidents(), what="an incident")
    assert incident["runbook"] == "payment-channel-abnormal"
    assert incident["section"] == "3.3"
    assert incident["severity"] == "critical"
    assert incident["status"] == "triggered"
    assert incident["labels"]["channel"] == "alipay"
    correlated = {a["name"]: a for a in incident["detail"]["alerts"]}
    assert set(correlated) == {"PaymentFailureRateHigh", "PaymentChannelProbeFailed"}
    assert correlated["PaymentFailureRateHigh"]["labels"]["channel"] == "alipay"
    assert correlated["PaymentFailureRateHigh"]["starts_at"].startswith("2026-11-25T09:00:00")
    detail = server.incident(incident["id"])
    kinds = [e["kind"] for e in detail["timeline"]]
    assert kinds[:3] == ["open_incident", "attach", "notify"]
    assert "run_step" in kinds
    # Annotation text is data: the template syntax in it is stored verbatim, never rendered.
    assert server.metric("runbookd_incidents_opened_total", runbook="payment-channel-abnormal") == 1


def test_retries_and_ha_copies_are_duplicates(make_server: Callable[..., Server]) -> None:
    server = make_server()
    body = json.dumps(am_notification([failures("alipay"), failures("wechat")])).encode()
    headers = {"content-type": "application/json"}
    assert server.post(HOOK, content=body, headers=headers).json() == {
        "accepted": 2,
        "duplicates": 0,
    }
    # A retry after a timeout is byte-identical.
    assert server.post(HOOK, content=body, headers=headers).json() == {
        "accepted": 0,
        "duplicates": 2,
    }
    # The other Alertmanager of an unclustered pair differs only in externalURL.
    twin = am_notification(
        [failures("alipay"), failures("wechat")], external_url="http://127.0.0.1:9094"
    )
    assert server.post(HOOK, twin).json() == {"accepted": 0, "duplicates": 2}
    assert (
        server.metric("runbookd_alerts_received_total", source="alertmanager", outcome="duplicate")
        == 4
    )


def test_mixed_group_and_a_stale_firing_after_resolved(make_server: Callable[..., Server]) -> None:
    server = make_server()
    assert server.post(HOOK, am_notification([failures("alipay"), probe("alipay")])).json() == {
        "accepted": 2,
        "duplicates": 0,
    }
    [incident] = poll(lambda: server.incidents(), what="an incident")
    # One notification, status "firing", carrying a resolved alert next to a firing one.
    mixed = am_notification([failures("alipay", "resolved"), probe("alipay")])
    assert mixed["status"] == "firing"
    assert server.post(HOOK, mixed).json() == {"accepted": 1, "duplicates": 1}
    both = am_notification([failures("alipay", "resolved"), probe("alipay", "resolved")])
    assert server.post(HOOK, both).json() == {"accepted": 1, "duplicates": 1}
    poll(lambda: server.incident(incident["id"])["status"] == "resolved", what="resolution")
    # A clustered peer delivers the old firing state late: it must not reopen anything.
    stale = server.post(HOOK, am_notification([failures("alipay"), probe("alipay")]))
    assert stale.json() == {"accepted": 0, "duplicates": 2}
    assert [i["status"] for i in server.incidents()] == ["resolved"]
    assert (
        server.metric("runbookd_alerts_received_total", source="alertmanager", outcome="stale") == 2
    )


def test_bad_bodies_get_4xx_naming_the_field(make_server: Callable[..., Server]) -> None:
    server = make_server(env={"RUNBOOKD_SERVER__MAX_BODY_BYTES": "20000"})
    wrong_version = am_notification([failures("alipay")]) | {"version": 4}
    response = server.post(HOOK, wrong_version)
    assert response.status_code == 400
    assert response.json()["field"] == "version"

    no_labels = am_notification([failures("alipay")])
    no_labels["alerts"][0]["startsAt"] = "yesterday"
    response = server.post(HOOK, no_labels)
    assert response.status_code == 400
    assert response.json()["field"] == "alerts[0].startsAt"

    response = server.post(HOOK, content=b'{"version": "4", "alerts": [')
    assert response.status_code == 400 and response.json()["field"] == "body"

    big = am_notification([failures(f"c{i}") for i in range(200)])
    response = server.post(HOOK, big)
    assert response.status_code == 413
    assert server.incidents() == []
    assert (
        server.metric(
            "runbookd_ingest_requests_rejected_total", source="alertmanager", reason="too_large"
        )
        == 1
    )


def test_auth_bearer_and_basic(make_server: Callable[..., Server]) -> None:
    server = make_server(
        env={
            "RUNBOOKD_AUTH__BEARER_TOKEN": "s3cret-token",
            "RUNBOOKD_AUTH__BASIC_USERNAME": "am",
            "RUNBOOKD_AUTH__BASIC_PASSWORD": "pw",
        }
    )
    body = am_notification([failures("alipay")])
    assert server.post(HOOK, body).status_code == 401
    wrong = server.post(HOOK, body, headers={"authorization": "Bearer nope"})
    assert wrong.status_code == 401 and "s3cret" not in wrong.text
    ok = server.post(HOOK, body, headers={"authorization": "Bearer s3cret-token"})
    assert ok.status_code == 202
    basic = server.post(HOOK, body, auth=("am", "pw"))
    assert basic.status_code == 202 and basic.json()["duplicates"] == 1
    assert server.get("/api/v1/incidents").status_code == 401
    assert server.get("/healthz").status_code == 200
    assert "s3cret-token" not in server.log()


def test_generic_events_and_truncation(make_server: Callable[..., Server]) -> None:
    server = make_server()
    response = server.post(
        "/api/v1/events",
        [
            {
                "name": "PaymentFailureRateHigh",
                "labels": {"channel": "unionpay"},
                "at": "2026-11-25T09:00:00Z",
            },
            {"name": "PaymentChannelProbeFailed", "labels": {"channel": "unionpay"}},
        ],
    )
    assert response.status_code == 202 and response.json()["accepted"] == 2
    poll(lambda: server.incidents(runbook="payment-channel-abnormal"), what="an incident")
    # One unusable event of a list costs only itself (issue #19); none usable is a 400.
    partly = server.post("/api/v1/events", [{"name": "x"}, {"labels": {}}])
    assert partly.status_code == 202 and partly.json()["accepted"] == 1
    assert [r["field"] for r in partly.json()["rejected"]] == ["[1].name"]
    bad = server.post("/api/v1/events", [{"labels": {}}, {"name": ""}])
    assert bad.status_code == 400 and bad.json()["field"] == "[0].name"

    cut = am_notification([failures("paypal")], truncated=7)
    assert server.post(HOOK, cut).status_code == 202
    assert server.metric("runbookd_alertmanager_truncated_alerts_total") == 7


def test_people_ack_resolve_and_note(make_server: Callable[..., Server]) -> None:
    server = make_server()
    server.post(HOOK, am_notification([failures("alipay"), probe("alipay")]))
    [incident] = poll(lambda: server.incidents(), what="an incident")
    iid = incident["id"]
    acked = server.post(f"/api/v1/incidents/{iid}/ack", {"by": "alice"})
    assert acked.status_code == 200
    assert acked.json()["status"] == "acknowledged" and acked.json()["acknowledged_by"] == "alice"
    assert (
        server.post(f"/api/v1/incidents/{iid}/notes", {"by": "alice", "text": "on it"}).status_code
        == 200
    )
    resolved = server.post(f"/api/v1/incidents/{iid}/resolve", {"by": "alice", "reason": "fixed"})
    assert resolved.json()["status"] == "resolved"
    assert server.post(f"/api/v1/incidents/{iid}/ack", {"by": "bob"}).status_code == 409
    assert server.post("/api/v1/incidents/INC-999/ack", {"by": "bob"}).status_code == 404
    missing = server.post(f"/api/v1/incidents/{iid}/notes", {"by": "bob"})
    assert missing.status_code == 422 and "text" in missing.json()["detail"]
    timeline = server.incident(iid)["timeline"]
    assert any(e["kind"] == "acknowledge" and "alice" in e["summary"] for e in timeline)
    assert any(e["kind"] == "note" and "on it" in e["summary"] for e in timeline)
    assert server.incidents(status="resolved")[0]["id"] == iid
    assert server.incidents(status="triggered") == []
    closed = server.post(f"/api/v1/incidents/{iid}/close", {"by": "alice"})
    assert closed.json()["status"] == "closed" and closed.json()["closed_at"]
    reopened = server.post(f"/api/v1/incidents/{iid}/reopen", {"by": "bob", "reason": "back"})
    assert reopened.json()["status"] == "triggered" and reopened.json()["resolved_at"] is None
    assert server.post(f"/api/v1/incidents/{iid}/close", {"by": "bob"}).status_code == 409
    assert "/api/v1/incidents/{incident_id}/ack" in server.get("/openapi.json").json()["paths"]
    # List filters: a value that cannot match is a 422 naming the parameter, never a 5xx
    # (PostgreSQL refuses a NUL in a parameter and offsets past 15:59; the fuzzer found both).
    for query, field in [
        ({"status": "bogus"}, "status"),
        ({"severity": "urgent"}, "severity"),
        ({"runbook": "pay\x00ment"}, "runbook"),
        ({"until": "9999-12-31T23:00:00-05:00"}, "until"),
    ]:
        bad = server.get("/api/v1/incidents", params=query)
        assert bad.status_code == 422, (query, bad.text)
        assert bad.json()["detail"].startswith(f"query.{field}"), bad.text
    far_offset = {"until": "2100-01-01T00:00:00-17:12", "since": "2026-01-01T00:00:00+16:30"}
    assert [i["id"] for i in server.incidents(**far_offset)] == [iid]


def test_reload_keeps_the_running_library_on_errors(
    make_server: Callable[..., Server], tmp_path: Path
) -> None:
    library = tmp_path / "library"
    library.mkdir()
    source = (REPO / "runbooks" / "03-payment" / "payment-channel-abnormal.yaml").read_text()
    (library / "payment.yaml").write_text(source)
    server = make_server(runbooks=[library])
    assert [r["id"] for r in server.get("/api/v1/runbooks").json()["runbooks"]] == [
        "payment-channel-abnormal"
    ]
    (library / "payment.yaml").write_text(source.replace("ack_within: 5m", "ack_withn: 5m"))
    refused = server.post("/api/v1/runbooks/reload")
    assert refused.status_code == 422
    [error] = refused.json()["errors"]
    assert error.startswith(f"{library / 'payment.yaml'}:") and "ack_withn" in error
    # The running version still opens incidents.
    server.post(HOOK, am_notification([failures("alipay"), probe("alipay")]))
    poll(lambda: server.incidents(), what="an incident from the running version")
    (library / "payment.yaml").write_text(source.replace("version: 1", "version: 2", 1))
    assert server.post("/api/v1/runbooks/reload").status_code == 200
    assert server.get("/api/v1/runbooks").json()["runbooks"][0]["version"] == 2


APPROVAL_RUNBOOK = """
runbook: 1
id: disk-cleanup
title: Disk almost full
team: sre
section: "9.1"
classification: {nature: infrastructure, scope: local, complexity: simple}
detection:
  group_by: [labels.instance]
  triggers:
    - match: {field: name, eq: NodeFilesystemAlmostOutOfSpace}
handling:
  steps:
    - id: cleanup
      connector: log
      params: {message: "clean {{ incident.labels.instance }}"}
      approval: {required: true, timeout: 30m}
"""


def cli(server: Server, *args: str) -> subprocess.CompletedProcess[str]:
    """The ``runbookd`` command line against the running server, as an operator would use it."""
    env = {**os.environ, "RUNBOOKD_URL": server.url}
    return subprocess.run(
        [sys.executable, "-m", "runbookd.cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_step_waits_for_approval_through_the_api(
    make_server: Callable[..., Server], tmp_path: Path
) -> None:
    library = tmp_path / "library"
    library.mkdir()
    (library / "disk.yaml").write_text(APPROVAL_RUNBOOK)
    server = make_server(runbooks=[library])
    labels = {"alertname": "NodeFilesystemAlmostOutOfSpace", "instance": "node-1:9100"}
    server.post(HOOK, am_notification([am_alert(labels, starts_at=T0)]))
    [waiting] = poll(lambda: server.get("/api/v1/approvals").json()["approvals"], what="approval")
    assert waiting["step"] == "cleanup" and waiting["deadline"]
    assert server.post("/api/v1/approvals/nope", {"approve": True, "by": "x"}).status_code == 404
    listed = cli(server, "incidents", "approvals")
    assert listed.returncode == 0 and waiting["id"] in listed.stdout and "cleanup" in listed.stdout
    decided = cli(server, "incidents", "approve", waiting["id"], "--by", "carol")
    assert decided.returncode == 0, decided.stderr
    assert decided.stdout.strip() == f"{waiting['id']}: approved by carol"
    assert server.get("/api/v1/approvals").json()["approvals"] == []
    timeline = server.incident(waiting["incident"])["timeline"]
    kinds = [e["kind"] for e in timeline]
    assert (
        kinds.index("request_approval") < kinds.index("decide_approval") < kinds.index("run_step")
    )
    again = server.post(f"/api/v1/approvals/{waiting['id']}", {"approve": True, "by": "carol"})
    assert again.status_code == 404
