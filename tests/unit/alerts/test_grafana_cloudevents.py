"""Grafana Alerting's webhook body and CloudEvents (structured JSON) as events: what each field
becomes, and bad fields named."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from runbookd.alerts.alertmanager import dedup_key, parse_notification
from runbookd.alerts.cloudevents import parse_cloudevents
from runbookd.alerts.errors import PayloadError
from runbookd.alerts.grafana import parse_grafana

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def grafana_body(**alert: Any) -> dict[str, Any]:
    """A body as Grafana's webhook contact point sends it (unified alerting, version "1")."""
    one = {
        "status": "firing",
        "labels": {"alertname": "DiskAlmostFull", "instance": "db-1", "grafana_folder": "infra"},
        "annotations": {"summary": "Disk on db-1 is 93% full"},
        "startsAt": "2026-12-07T11:58:00+01:00",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "https://grafana.internal/alerting/grafana/abc/view",
        "fingerprint": "9d1f2c3b4a5e6f70",
        "silenceURL": "https://grafana.internal/alerting/silence/new?matcher=alertname%3DDisk",
        "dashboardURL": "https://grafana.internal/d/disk",
        "panelURL": "https://grafana.internal/d/disk?viewPanel=2",
        "values": {"B": 93.2, "C": 1},
        "valueString": "[ var='B' labels={instance=db-1} value=93.2 ]",
        **alert,
    }
    return {
        "receiver": "runbookd",
        "status": "firing",
        "orgId": 1,
        "alerts": [one],
        "groupLabels": {"alertname": "DiskAlmostFull"},
        "commonLabels": {"alertname": "DiskAlmostFull", "instance": "db-1"},
        "commonAnnotations": {"summary": "Disk on db-1 is 93% full"},
        "externalURL": "https://grafana.internal/",
        "version": "1",
        "groupKey": '{}/{alertname="DiskAlmostFull"}:{alertname="DiskAlmostFull"}',
        "truncatedAlerts": 0,
        "title": "[FIRING:1] DiskAlmostFull",
        "state": "alerting",
        "message": "**Firing**\n\nValue: B=93.2\nLabels:\n - alertname = DiskAlmostFull\n",
    }


def test_a_grafana_body_becomes_alerts_with_its_extras_as_fields() -> None:
    note = parse_grafana(json.dumps(grafana_body()), received_at=NOW)
    [event] = note.alerts
    assert (event.name, event.status, event.source) == ("DiskAlmostFull", "firing", "grafana")
    assert event.labels["instance"] == "db-1"
    assert event.annotations == {"summary": "Disk on db-1 is 93% full"}
    assert event.starts_at == datetime(2026, 12, 7, 10, 58, tzinfo=UTC)
    assert event.ends_at is None and event.fingerprint == "9d1f2c3b4a5e6f70"
    assert event.fields["value_B"] == 93.2 and event.fields["value_C"] == 1
    assert event.fields["dashboardURL"] == "https://grafana.internal/d/disk"
    assert event.fields["valueString"].startswith("[ var='B'")
    assert note.receiver == "runbookd" and note.external_url == "https://grafana.internal/"


def test_grafana_and_alertmanager_versions_are_not_mixed_up() -> None:
    with pytest.raises(PayloadError) as info:
        parse_notification(json.dumps(grafana_body()), received_at=NOW)
    assert str(info.value) == "version: unsupported payload version '1'; expected the string '4'"
    with pytest.raises(PayloadError) as info:
        parse_grafana(json.dumps({**grafana_body(), "version": "4"}), received_at=NOW)
    assert str(info.value) == "version: unsupported payload version '4'; expected the string '1'"


@pytest.mark.parametrize(
    ("alert", "field"),
    [
        ({"values": [93.2]}, "alerts[0].values"),
        ({"values": {"B": "93.2"}}, "alerts[0].values.B"),
        ({"values": {"B c": 1}}, "alerts[0].values.B c"),
        ({"dashboardURL": 7}, "alerts[0].dashboardURL"),
        ({"labels": {"instance": "db-1"}}, "alerts[0].labels.alertname"),
    ],
)
def test_bad_grafana_fields_are_named(alert: dict[str, Any], field: str) -> None:
    with pytest.raises(PayloadError) as info:
        parse_grafana(json.dumps(grafana_body(**alert)), received_at=NOW)
    assert info.value.field == field


def test_null_values_mean_none() -> None:
    [event] = parse_grafana(json.dumps(grafana_body(values=None)), received_at=NOW).alerts
    assert not any(k.startswith("value_") for k in event.fields)


def cloud_event(**attributes: Any) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": "evt-0001",
        "source": "//monitoring/checkout",
        "type": "com.example.checkout.latency.high",
        "subject": "checkout-eu",
        "time": "2026-12-07T11:59:30Z",
        "datacontenttype": "application/json",
        "severity": "critical",
        "data": {"value": 1.8, "threshold": 1.0, "unit": "s", "samples": [1, 2], "a.b": 1},
        **attributes,
    }


def test_a_cloud_event_becomes_an_event() -> None:
    [event] = parse_cloudevents(json.dumps(cloud_event()), received_at=NOW).events
    assert event.name == "com.example.checkout.latency.high"
    assert event.source == "cloudevents" and event.status == "firing"
    assert event.labels == {
        "source": "//monitoring/checkout",
        "subject": "checkout-eu",
        "severity": "critical",
    }
    assert event.value == 1.8 and event.at == NOW
    assert event.starts_at == datetime(2026, 12, 7, 11, 59, 30, tzinfo=UTC)
    assert event.fields == {
        "id": "evt-0001",
        "datacontenttype": "application/json",
        "data_value": 1.8,
        "data_threshold": 1.0,
        "data_unit": "s",
    }


def test_a_redelivered_cloud_event_has_the_same_dedup_key_and_status_comes_from_its_extension() -> (
    None
):
    first = parse_cloudevents(json.dumps(cloud_event()), received_at=NOW).events[0]
    again = parse_cloudevents(
        json.dumps(cloud_event()), received_at=datetime(2026, 12, 7, 12, 5, tzinfo=UTC)
    ).events[0]
    assert dedup_key(first) == dedup_key(again)
    [resolved] = parse_cloudevents(
        json.dumps(cloud_event(status="resolved")), received_at=NOW
    ).events
    assert resolved.status == "resolved" and "status" not in resolved.labels


@pytest.mark.parametrize(
    ("attributes", "field"),
    [
        ({"specversion": "0.3"}, "specversion"),
        ({"id": ""}, "id"),
        ({"source": None}, "source"),
        ({"type": 5}, "type"),
        ({"time": "yesterday"}, "time"),
        ({"Severity": "x"}, "Severity"),
        ({"severity": {"level": 1}}, "severity"),
        ({"status": "open"}, "status"),
    ],
)
def test_bad_cloud_event_attributes_are_named(attributes: dict[str, Any], field: str) -> None:
    with pytest.raises(PayloadError) as info:
        parse_cloudevents(json.dumps(cloud_event(**attributes)), received_at=NOW)
    assert info.value.field == field


def test_a_batch_keeps_its_usable_events_and_names_the_bad_one() -> None:
    body = [cloud_event(), cloud_event(id="evt-2", type=""), cloud_event(id="evt-3")]
    batch = parse_cloudevents(json.dumps(body), received_at=NOW, batch=True)
    assert [e.fields["id"] for e in batch.events] == ["evt-0001", "evt-3"]
    [rejected] = batch.rejected
    assert (rejected.index, rejected.field) == (1, "[1].type")
    with pytest.raises(PayloadError) as info:
        parse_cloudevents(json.dumps(body), received_at=NOW)
    assert info.value.field == "body" and "cloudevents-batch+json" in str(info.value)
    with pytest.raises(PayloadError) as info:
        parse_cloudevents(json.dumps(cloud_event()), received_at=NOW, batch=True)
    assert info.value.field == "body"


def test_text_no_store_holds_is_escaped_and_listed() -> None:
    note = parse_grafana(
        json.dumps(grafana_body(panelURL="https://g/d?x=\u0000")), received_at=NOW, partial=True
    )
    [event] = note.alerts
    assert event.fields["panelURL"] == "https://g/d?x=\\u0000"
    assert note.escaped == ["alerts[0].panelURL"]
    batch = parse_cloudevents(json.dumps(cloud_event(subject="eu\u0000")), received_at=NOW)
    assert batch.events[0].labels["subject"] == "eu\\u0000"
    assert batch.escaped == ["subject"] and batch.events[0].escaped == ("labels.subject",)
