"""Alertmanager webhook (payload v4) -> Notification of Events, as a receiver must see it."""

from __future__ import annotations

import json
import pickle
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from alert_payloads import (
    EXTERNAL_URL,
    EXTERNAL_URL_PEER,
    GO_ZERO_TIME,
    RECEIVED_AT,
    blackbox_probe_failed,
    mysql_too_many_connections,
    node_filesystem_almost_out_of_space,
    notification,
    postgres_too_many_connections,
)

from runbookd.alerts.alertmanager import dedup_key, label_fingerprint, parse_notification
from runbookd.alerts.errors import PayloadError


def parse(body: bytes | str | dict[str, Any]) -> Any:
    return parse_notification(body, received_at=RECEIVED_AT)


def error(body: bytes | str | dict[str, Any]) -> PayloadError:
    with pytest.raises(PayloadError) as info:
        parse(body)
    return info.value


def test_firing_alert_becomes_an_event() -> None:
    body = notification(postgres_too_many_connections())

    note = parse(json.dumps(body).encode())

    assert note.receiver == "runbookd"
    assert note.status == "firing"
    assert (
        note.group_key
        == '{}/{severity=~"warning|critical"}:{alertname="PostgresqlTooManyConnections"}'
    )
    assert note.external_url == EXTERNAL_URL
    assert note.truncated_alerts == 0
    assert note.group_labels == {"alertname": "PostgresqlTooManyConnections"}
    assert note.common_labels["instance"] == "pg-orders-1.db.internal:9187"
    [event] = note.alerts
    assert event.name == "PostgresqlTooManyConnections"
    assert (event.kind, event.status, event.source) == ("alert", "firing", "alertmanager")
    assert event.labels == body["alerts"][0]["labels"]
    assert event.fingerprint == "4c1d8e2b7f0a9e35"
    assert event.at == RECEIVED_AT
    assert event.value is None
    assert event.starts_at == datetime(2024, 5, 1, 9, 58, 12, 481930, tzinfo=UTC)
    assert event.ends_at is None  # Go's zero time: not ended
    assert event.fields == {"generatorURL": body["alerts"][0]["generatorURL"]}


def test_annotation_text_is_kept_verbatim() -> None:
    raw = postgres_too_many_connections()
    raw["annotations"]["description"] += " {{ $labels.instance }} {% raw %}"

    [event] = parse(notification(raw)).alerts

    assert event.annotations == raw["annotations"]
    assert "VALUE = 84.5" in event.annotations["description"]


def test_bytes_str_and_dict_bodies_parse_alike() -> None:
    body = notification(blackbox_probe_failed(), node_filesystem_almost_out_of_space())
    text = json.dumps(body)

    assert parse(text) == parse(text.encode()) == parse(body)


def test_mixed_notification_keeps_each_alerts_own_status() -> None:
    body = notification(
        postgres_too_many_connections("firing"),
        mysql_too_many_connections("resolved"),
        group_labels={"severity": "warning"},
    )

    note = parse(body)

    assert note.status == "firing"
    firing, resolved = note.alerts
    assert (firing.status, firing.ends_at) == ("firing", None)
    assert resolved.status == "resolved"
    assert resolved.name == "MysqlTooManyConnections(>80%)"
    plus_two = timezone(timedelta(hours=2))
    assert resolved.starts_at == datetime(2024, 5, 1, 11, 41, 55, 90000, tzinfo=plus_two)
    assert resolved.ends_at == datetime(2024, 5, 1, 11, 59, 25, 90000, tzinfo=plus_two)


def test_top_level_status_defaults_from_the_alerts() -> None:
    body = notification(mysql_too_many_connections("resolved"))
    del body["status"]

    assert parse(body).status == "resolved"


@pytest.mark.parametrize("ends_at", [GO_ZERO_TIME, "0001-01-01T00:00:00.000Z", None])
def test_zero_or_missing_ends_at_means_not_ended(ends_at: str | None) -> None:
    raw = blackbox_probe_failed()
    raw["endsAt"] = ends_at

    [event] = parse(notification(raw)).alerts

    assert event.ends_at is None


def test_nanosecond_start_is_truncated_to_microseconds() -> None:
    [event] = parse(notification(blackbox_probe_failed())).alerts

    assert event.starts_at == datetime(2024, 5, 1, 10, 0, 31, 3417, tzinfo=UTC)


def test_punctuation_in_alert_names_is_allowed() -> None:
    [event] = parse(notification(mysql_too_many_connections("firing"))).alerts

    assert event.name == "MysqlTooManyConnections(>80%)"


def test_unknown_keys_are_tolerated() -> None:
    raw = blackbox_probe_failed()
    raw["silenceURL"] = "https://grafana.example.com/alerting/silence/new"
    raw["values"] = {"B": 0, "C": 1}
    body = notification(raw)
    body["orgId"] = 1
    body["someFutureField"] = {"nested": [1, 2]}

    [event] = parse(body).alerts

    assert event.name == "BlackboxProbeFailed"


def test_truncated_alerts_is_reported() -> None:
    body = notification(blackbox_probe_failed(), truncated_alerts=12)

    assert parse(body).truncated_alerts == 12


def test_truncated_alerts_defaults_to_zero() -> None:
    body = notification(blackbox_probe_failed())
    del body["truncatedAlerts"]

    assert parse(body).truncated_alerts == 0


@pytest.mark.parametrize("bad", [-1, "3", 2.5, True])
def test_truncated_alerts_must_be_a_non_negative_integer(bad: object) -> None:
    body = notification(blackbox_probe_failed())
    body["truncatedAlerts"] = bad

    assert error(body).field == "truncatedAlerts"


# --- errors a sender must be able to act on (4xx naming the field) ---------------------------


def test_missing_alertname_names_the_label() -> None:
    raw = node_filesystem_almost_out_of_space()
    del raw["labels"]["alertname"]

    exc = error(notification(raw, group_labels={"severity": "critical"}))

    assert isinstance(exc, ValueError)
    assert exc.field == "alerts[0].labels.alertname"
    assert str(exc).startswith("alerts[0].labels.alertname: missing")


def test_empty_alertname_is_refused() -> None:
    raw = blackbox_probe_failed()
    raw["labels"]["alertname"] = ""

    assert error(notification(raw)).field == "alerts[0].labels.alertname"


def test_non_string_label_names_the_label_and_value() -> None:
    bad = postgres_too_many_connections()
    bad["labels"]["server_port"] = 5432
    body = notification(blackbox_probe_failed(), bad, group_labels={"severity": "critical"})

    exc = error(body)

    assert exc.field == "alerts[1].labels.server_port"
    assert str(exc) == "alerts[1].labels.server_port: expected a string, got number 5432"


def test_non_string_annotation_names_it() -> None:
    raw = blackbox_probe_failed()
    raw["annotations"]["value"] = 0

    assert error(notification(raw)).field == "alerts[0].annotations.value"


@pytest.mark.parametrize("version", ["3", 4, "4.0", None])
def test_only_version_4_is_accepted(version: object) -> None:
    body = notification(blackbox_probe_failed())
    body["version"] = version

    exc = error(body)

    assert exc.field == "version"
    assert "'4'" in exc.message


def test_missing_version_is_refused() -> None:
    body = notification(blackbox_probe_failed())
    del body["version"]

    assert error(body).field == "version"


def test_invalid_json_reports_the_position() -> None:
    text = json.dumps(notification(blackbox_probe_failed()))[:57]

    exc = error(text.encode())

    assert exc.field == "body"
    assert exc.message.startswith("invalid JSON: ")
    assert "line 1 column" in exc.message


def test_body_that_is_not_utf8_is_refused() -> None:
    exc = error(b'{"version": "4", "receiver": "\xff"}')

    assert exc.field == "body"


def test_body_must_be_an_object() -> None:
    exc = error(json.dumps([notification(blackbox_probe_failed())]))

    assert (exc.field, exc.message.split(",")[0]) == (
        "body",
        "expected a JSON object (Alertmanager notification)",
    )


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda b: b.pop("alerts"), "alerts"),
        (lambda b: b.update(alerts={"0": {}}), "alerts"),
        (lambda b: b.update(status="pending"), "status"),
        (lambda b: b.update(commonLabels={"severity": ["critical"]}), "commonLabels.severity"),
        (lambda b: b["alerts"].append("BlackboxProbeFailed"), "alerts[1]"),
        (lambda b: b["alerts"][0].update(status="inactive"), "alerts[0].status"),
        (lambda b: b["alerts"][0].pop("labels"), "alerts[0].labels"),
        (lambda b: b["alerts"][0].pop("startsAt"), "alerts[0].startsAt"),
        (lambda b: b["alerts"][0].update(startsAt="2024-05-01T10:00:31"), "alerts[0].startsAt"),
        (lambda b: b["alerts"][0].update(endsAt="yesterday"), "alerts[0].endsAt"),
        (lambda b: b["alerts"][0].update(fingerprint=42), "alerts[0].fingerprint"),
        (lambda b: b["alerts"][0].update(generatorURL=False), "alerts[0].generatorURL"),
    ],
)
def test_bad_shapes_name_their_field(mutate: Any, field: str) -> None:
    body = notification(blackbox_probe_failed())
    mutate(body)

    assert error(body).field == field


def test_long_bad_values_are_truncated_in_messages() -> None:
    raw = blackbox_probe_failed()
    raw["startsAt"] = "x" * 5000

    exc = error(notification(raw))

    assert len(str(exc)) < 200
    assert "..." in exc.message


def test_payload_error_survives_pickling() -> None:
    exc = PayloadError("alerts[0].labels.job", "expected a string, got number 1")

    copy = pickle.loads(pickle.dumps(exc))

    assert (copy.field, str(copy)) == (exc.field, str(exc))


def test_naive_received_at_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        parse_notification(notification(blackbox_probe_failed()), received_at=datetime(2024, 5, 1))


# --- identity: fingerprints and dedup keys ----------------------------------------------------


def test_ha_duplicates_have_equal_dedup_keys() -> None:
    alerts = (postgres_too_many_connections(), mysql_too_many_connections("resolved"))
    first = parse_notification(
        notification(*alerts, external_url=EXTERNAL_URL), received_at=RECEIVED_AT
    )
    second = parse_notification(
        notification(*alerts, external_url=EXTERNAL_URL_PEER),
        received_at=RECEIVED_AT + timedelta(milliseconds=40),
    )

    assert [dedup_key(e) for e in first.alerts] == [dedup_key(e) for e in second.alerts]
    assert first.alerts != second.alerts  # different receive time: the events themselves differ


def test_retried_body_has_equal_dedup_keys() -> None:
    body = json.dumps(notification(node_filesystem_almost_out_of_space())).encode()

    [first] = parse_notification(body, received_at=RECEIVED_AT).alerts
    [retry] = parse_notification(body, received_at=RECEIVED_AT + timedelta(seconds=0.4)).alerts

    assert dedup_key(first) == dedup_key(retry)


def test_resolution_has_a_new_dedup_key() -> None:
    [firing] = parse(notification(postgres_too_many_connections("firing"))).alerts
    [resolved] = parse(notification(postgres_too_many_connections("resolved"))).alerts

    assert dedup_key(firing)[:2] == dedup_key(resolved)[:2]
    assert dedup_key(resolved)[2] == "resolved"
    assert dedup_key(firing) != dedup_key(resolved)


def test_dedup_key_compares_start_instants_not_spellings() -> None:
    utc = mysql_too_many_connections()
    utc["startsAt"] = "2024-05-01T09:41:55.09Z"

    [offset_event] = parse(notification(mysql_too_many_connections())).alerts
    [utc_event] = parse(notification(utc)).alerts

    assert dedup_key(offset_event) == dedup_key(utc_event)
    assert dedup_key(utc_event) == (
        "a07be3f95d21c6e8",
        "2024-05-01T09:41:55.090000+00:00",
        "resolved",
    )


def test_missing_fingerprint_falls_back_to_a_stable_label_hash() -> None:
    raw = node_filesystem_almost_out_of_space()
    del raw["fingerprint"]
    reordered = node_filesystem_almost_out_of_space()
    reordered["fingerprint"] = ""
    reordered["labels"] = dict(reversed(list(reordered["labels"].items())))

    [a] = parse(notification(raw)).alerts
    [b] = parse(notification(reordered)).alerts

    assert a.fingerprint == b.fingerprint == label_fingerprint(raw["labels"])
    assert a.fingerprint is not None
    assert len(a.fingerprint) == 16
    assert int(a.fingerprint, 16) >= 0
    assert dedup_key(a) == dedup_key(b)


def test_label_fingerprint_separates_names_from_values() -> None:
    assert label_fingerprint({"a": "bc"}) != label_fingerprint({"ab": "c"})
    assert label_fingerprint({"job": "mysqld"}) != label_fingerprint({"job": "mysqld", "x": ""})
