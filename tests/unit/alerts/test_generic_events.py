"""Generic JSON events (one object or a list) -> Events, with errors that name the field."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alert_payloads import RECEIVED_AT, replication_lag, ssh_brute_force

from runbookd.alerts.alertmanager import dedup_key
from runbookd.alerts.errors import PayloadError
from runbookd.alerts.generic import parse_events


def parse(body: Any) -> list[Any]:
    return parse_events(body, received_at=RECEIVED_AT)


def error(body: Any) -> PayloadError:
    with pytest.raises(PayloadError) as info:
        parse(body)
    return info.value


def test_minimal_event_gets_the_defaults() -> None:
    [event] = parse({"name": "PostgresqlReplicationLag"})

    assert event.name == "PostgresqlReplicationLag"
    assert (event.kind, event.status, event.source) == ("event", "firing", "generic")
    assert event.at == RECEIVED_AT
    assert (event.labels, event.annotations, event.fields) == ({}, {}, {})
    assert (event.value, event.fingerprint, event.starts_at, event.ends_at) == (None,) * 4


def test_full_event_maps_every_field() -> None:
    [event] = parse(json.dumps(ssh_brute_force()).encode())

    assert event.name == "SshBruteForce"
    assert event.status == "firing"
    assert event.labels == {
        "host": "bastion-1.dmz.internal",
        "service": "sshd",
        "severity": "critical",
    }
    assert event.annotations == {"summary": "57 failed SSH logins from 203.0.113.44 in 60s"}
    assert event.value == 57.0
    assert isinstance(event.value, float)
    assert event.at == datetime(2024, 5, 1, 10, 1, 58, 120443, tzinfo=UTC)
    assert event.source == "fail2ban"
    assert event.fingerprint == "sshd/203.0.113.44"
    assert event.fields == {
        "jail": "sshd",
        "banned": True,
        "ban_seconds": 3600,
        "client_ip": "203.0.113.44",
    }


def test_a_list_gives_one_event_each_in_order() -> None:
    resolved = ssh_brute_force()
    resolved["status"] = "resolved"

    events = parse([ssh_brute_force(), replication_lag(), resolved])

    assert [(e.name, e.status) for e in events] == [
        ("SshBruteForce", "firing"),
        ("PostgresqlReplicationLag", "firing"),
        ("SshBruteForce", "resolved"),
    ]
    assert events[1].value == 42.7


def test_null_means_absent() -> None:
    body = {"name": "PostgresqlReplicationLag", "labels": None, "value": None, "at": None}
    body["status"] = body["source"] = body["fingerprint"] = body["owner"] = None

    [event] = parse(body)

    assert (event.labels, event.value, event.at, event.status) == ({}, None, RECEIVED_AT, "firing")
    assert (event.source, event.fingerprint, event.fields) == ("generic", None, {})


def test_nanosecond_time_with_offset() -> None:
    [event] = parse({"name": "SshBruteForce", "at": "2024-05-01T12:01:58.120443999+02:00"})

    assert event.at == datetime(2024, 5, 1, 10, 1, 58, 120443, tzinfo=UTC)
    assert event.at.utcoffset() == timedelta(hours=2)


def test_annotation_text_is_not_interpreted() -> None:
    text = "VALUE = 57\n  LABELS = map[host:bastion-1] {{ $labels.host }}"

    [event] = parse({"name": "SshBruteForce", "annotations": {"description": text}})

    assert event.annotations["description"] == text


def test_empty_list_is_refused() -> None:
    exc = error(b"[]")

    assert exc.field == "body"
    assert "no events" in exc.message


@pytest.mark.parametrize("body", ['"SshBruteForce"', "42", "null", "true"])
def test_body_must_be_an_object_or_a_list(body: str) -> None:
    assert error(body).field == "body"


def test_invalid_json_is_refused_with_its_position() -> None:
    exc = error('[{"name": "SshBruteForce",}]')

    assert exc.field == "body"
    assert "line 1 column 27" in exc.message  # the "}" after the comma


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda e: e.pop("name"), "name"),
        (lambda e: e.update(name=""), "name"),
        (lambda e: e.update(name=["SshBruteForce"]), "name"),
        (lambda e: e.update(status="open"), "status"),
        (lambda e: e.update(labels=["host"]), "labels"),
        (lambda e: e["labels"].update(port=22), "labels.port"),
        (lambda e: e["annotations"].update(count=57), "annotations.count"),
        (lambda e: e.update(value=True), "value"),
        (lambda e: e.update(value="57"), "value"),
        (lambda e: e.update(value=10**400), "value"),
        (lambda e: e.update(at="2024-05-01 10:01:58"), "at"),
        (lambda e: e.update(at=1714557718), "at"),
        (lambda e: e.update(fingerprint=7), "fingerprint"),
        (lambda e: e.update(source=""), "source"),
        (lambda e: e.update(details={"attempts": 57}), "details"),
        (lambda e: e.update(ips=["203.0.113.44"]), "ips"),
    ],
)
def test_bad_fields_are_named_in_a_single_object(mutate: Any, field: str) -> None:
    event = ssh_brute_force()
    mutate(event)

    assert error(event).field == field


def test_paths_in_a_list_carry_the_index() -> None:
    bad = replication_lag()
    bad["labels"]["host"] = None

    exc = error([ssh_brute_force(), replication_lag(), replication_lag(), bad])

    assert exc.field == "[3].labels.host"
    assert str(exc) == "[3].labels.host: missing (or null); expected a string"


def test_nested_unknown_key_in_a_list_names_index_and_key() -> None:
    bad = ssh_brute_force()
    bad["geo"] = {"country": "NL"}

    exc = error([replication_lag(), bad])

    assert exc.field == "[1].geo"
    assert "{'country': 'NL'}" in exc.message


def test_list_item_must_be_an_object() -> None:
    assert error([replication_lag(), "SshBruteForce"]).field == "[1]"


def test_non_finite_numbers_are_refused() -> None:
    assert error('{"name": "PostgresqlReplicationLag", "value": NaN}').field == "value"
    assert error('{"name": "PostgresqlReplicationLag", "lag": Infinity}').field == "lag"


def test_redelivery_with_at_and_fingerprint_has_one_dedup_key() -> None:
    body = json.dumps(ssh_brute_force())

    [first] = parse_events(body, received_at=RECEIVED_AT)
    [again] = parse_events(body, received_at=RECEIVED_AT + timedelta(seconds=5))

    assert dedup_key(first) == dedup_key(again)
    assert dedup_key(first)[0] == "sshd/203.0.113.44"


def test_dedup_key_without_fingerprint_hashes_name_and_labels() -> None:
    lag = replication_lag()
    lag["at"] = "2024-05-01T10:00:00Z"
    other_host = replication_lag()
    other_host["at"] = lag["at"]
    other_host["labels"]["host"] = "pg-orders-3.db.internal"

    [a, b, c] = parse([lag, replication_lag() | {"at": lag["at"]}, other_host])

    assert dedup_key(a) == dedup_key(b)
    assert dedup_key(a) != dedup_key(c)
