"""One strange alert must not lose its whole notification (issue #19).

Alertmanager does not retry a 4xx, so the webhook (``partial=True``) keeps every usable alert of a
group, escapes text no store holds, and reports the alerts it had to refuse; only a body that is
no notification, or one with no usable alert at all, is refused whole.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from alert_payloads import RECEIVED_AT, blackbox_probe_failed, notification

from runbookd.alerts.alertmanager import MAX_FINGERPRINT, dedup_key, parse_notification
from runbookd.alerts.errors import PayloadError
from runbookd.alerts.generic import parse_event_batch, parse_events
from runbookd.alerts.outcome import REASONS, AllRejected, Rejected
from runbookd.alerts.storable import unescape
from runbookd.store.codec import dumps, event_from_dict, loads

ODD_VALUE = "pay-\x00-\u202eevil\ufeff-\U0001f525"


def payment_failures() -> dict[str, Any]:
    return {
        "status": "firing",
        "labels": {"alertname": "PaymentFailures", "service": "payments", "severity": "critical"},
        "annotations": {"summary": "payment failures above 5%"},
        "startsAt": "2024-05-01T09:58:00Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus:9090/graph?g0.expr=payment_failures",
        "fingerprint": "9a1c2b3d4e5f6071",
    }


def odd_alert() -> dict[str, Any]:
    alert = blackbox_probe_failed()
    alert["labels"]["instance"] = ODD_VALUE
    alert["annotations"]["description"] = "probe said \x00 and \\u0000"
    return alert


def body_of(*alerts: dict[str, Any], **kw: Any) -> bytes:
    return json.dumps(notification(*alerts, **kw)).encode()


def parse(body: bytes | dict[str, Any]) -> Any:
    return parse_notification(body, received_at=RECEIVED_AT, partial=True)


def test_the_issues_notification_keeps_both_alerts() -> None:
    note = parse(body_of(payment_failures(), odd_alert()))
    good, odd = note.alerts
    assert good.name == "PaymentFailures" and good.escaped == ()
    assert odd.labels["instance"] == "pay-\\u0000-\u202eevil\ufeff-\U0001f525"
    assert unescape(odd.labels["instance"]) == ODD_VALUE
    assert odd.annotations["description"] == "probe said \\u0000 and \\\\u0000"
    assert odd.escaped == ("labels.instance", "annotations.description")
    assert note.escaped == ["alerts[1].labels.instance", "alerts[1].annotations.description"]
    assert note.rejected == []
    # the journal form keeps the record, and reads back the same
    assert event_from_dict(loads(dumps(odd.to_dict()))) == odd


def test_the_same_hostile_alert_twice_has_one_dedup_key() -> None:
    body = body_of(payment_failures(), odd_alert())
    assert [dedup_key(e) for e in parse(body).alerts] == [dedup_key(e) for e in parse(body).alerts]


def test_without_a_fingerprint_a_nul_and_its_literal_spelling_are_two_alerts() -> None:
    nul, literal = payment_failures(), payment_failures()
    nul["labels"]["service"] = "a\x00b"
    literal["labels"]["service"] = "a\\u0000b"  # the six characters, sent on purpose
    for alert in (nul, literal):
        del alert["fingerprint"]
    first = parse(body_of(nul)).alerts[0]
    second = parse(body_of(literal)).alerts[0]
    assert first.labels == second.labels  # stored alike ...
    assert first.escaped != second.escaped  # ... told apart by the record ...
    assert dedup_key(first) != dedup_key(second)  # ... and by identity
    assert dedup_key(parse(body_of(nul)).alerts[0]) == dedup_key(first)  # stable


@pytest.mark.parametrize(
    ("mutate", "field", "reason"),
    [
        (lambda a: a.pop("labels"), "alerts[1].labels", "labels"),
        (lambda a: a["labels"].update(port=8080), "alerts[1].labels.port", "labels"),
        (lambda a: a["labels"].pop("alertname"), "alerts[1].labels.alertname", "labels"),
        (lambda a: a.update(startsAt="yesterday"), "alerts[1].startsAt", "startsAt"),
        (lambda a: a.update(status="on fire"), "alerts[1].status", "status"),
        (
            lambda a: a["annotations"].update(value=0.5),
            "alerts[1].annotations.value",
            "annotations",
        ),
        (lambda a: a.update(fingerprint="f" * 129), "alerts[1].fingerprint", "fingerprint"),
    ],
)
def test_one_unusable_alert_is_reported_and_the_others_kept(
    mutate: Any, field: str, reason: str
) -> None:
    doc = notification(
        payment_failures(), blackbox_probe_failed(), odd_alert(), group_labels={"severity": "x"}
    )
    bad = doc["alerts"][1]
    mutate(bad)
    note = parse(json.dumps(doc).encode())
    assert [a.name for a in note.alerts] == ["PaymentFailures", "BlackboxProbeFailed"]
    [rejected] = note.rejected
    assert (rejected.index, rejected.field, rejected.reason) == (1, field, reason)
    assert rejected.to_answer()["fingerprint"] == bad.get("fingerprint")
    assert rejected.to_answer()["reason"]  # the human message


def test_an_alert_that_is_not_an_object_is_reported() -> None:
    doc = notification(payment_failures())
    doc["alerts"].append("PaymentFailures")
    [rejected] = parse(doc).rejected
    assert (rejected.field, rejected.reason, rejected.fingerprint) == (
        "alerts[1]",
        "not_an_object",
        None,
    )


def test_every_alert_unusable_is_refused_naming_the_first_field() -> None:
    doc = notification(payment_failures(), blackbox_probe_failed())
    del doc["alerts"][0]["labels"]
    doc["alerts"][1]["labels"]["alertname"] = 7
    with pytest.raises(AllRejected) as info:
        parse(json.dumps(doc).encode())
    assert info.value.field == "alerts[0].labels"
    assert [(r.index, r.field) for r in info.value.rejected] == [
        (0, "alerts[0].labels"),
        (1, "alerts[1].labels.alertname"),
    ]


def test_without_partial_the_first_unusable_alert_raises_as_before() -> None:
    bad = blackbox_probe_failed()
    bad["labels"]["port"] = 8080
    with pytest.raises(PayloadError) as info:
        parse_notification(body_of(payment_failures(), bad), received_at=RECEIVED_AT)
    assert not isinstance(info.value, AllRejected)
    assert info.value.field == "alerts[1].labels.port"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"[]", "body"),
        (b'{"version": "4", "alerts": {"0": {}}}', "alerts"),
        (b'{"version": 4, "alerts": []}', "version"),
        (b'{"version": "4", "alerts": [], "groupLabels": []}', "groupLabels"),
        (b'{"version": "4", "alerts": [], "truncatedAlerts": "3"}', "truncatedAlerts"),
        (b"not json", "body"),
    ],
)
def test_a_body_that_is_no_notification_is_still_refused_naming_the_field(
    body: bytes, field: str
) -> None:
    with pytest.raises(PayloadError) as info:
        parse(body)
    assert info.value.field == field


def test_notification_level_text_is_escaped_too() -> None:
    body = body_of(odd_alert(), group_labels={"instance": ODD_VALUE})
    note = parse(body)
    assert note.group_labels == {"instance": "pay-\\u0000-\u202eevil\ufeff-\U0001f525"}
    assert "groupLabels.instance" in note.escaped
    assert note.group_key.count("\\u0000") == 1


def test_ordinary_bodies_are_not_walked_nor_changed() -> None:
    doc = notification(payment_failures(), blackbox_probe_failed())
    doc["alerts"][1]["annotations"]["description"] = "C:\\temp and \\u0000 spelled out"
    note = parse(json.dumps(doc).encode())
    assert note.escaped == [] and note.rejected == []
    assert note.alerts[1].annotations["description"] == "C:\\temp and \\u0000 spelled out"


def test_fingerprint_limit_matches_the_store_column() -> None:
    from runbookd.store import tables

    assert tables.alert_state.c.fingerprint.type.length == MAX_FINGERPRINT


# --- generic events posted as a list -----------------------------------------------------------


def test_events_list_keeps_the_usable_events() -> None:
    body = json.dumps(
        [
            {"name": "PaymentFailureRateHigh", "labels": {"channel": "unionpay"}},
            {"name": "PaymentChannelProbeFailed", "labels": {"channel": "union\x00pay"}},
            {"labels": {"channel": "unionpay"}},
            {"name": "X", "value": "high"},
        ]
    ).encode()
    batch = parse_event_batch(body, received_at=RECEIVED_AT)
    assert [e.name for e in batch.events] == ["PaymentFailureRateHigh", "PaymentChannelProbeFailed"]
    assert batch.events[1].escaped == ("labels.channel",)
    assert batch.escaped == ["[1].labels.channel"]
    assert [(r.index, r.field, r.reason) for r in batch.rejected] == [
        (2, "[2].name", "name"),
        (3, "[3].value", "value"),
    ]


def test_events_every_one_unusable_or_a_single_bad_object_is_refused() -> None:
    with pytest.raises(AllRejected) as info:
        parse_event_batch(b'[{"name": ""}, {"name": 3}]', received_at=RECEIVED_AT)
    assert info.value.field == "[0].name" and len(info.value.rejected) == 2
    with pytest.raises(PayloadError) as single:
        parse_event_batch(b'{"name": "x", "at": "noon"}', received_at=RECEIVED_AT)
    assert single.value.field == "at"


def test_extra_event_keys_are_escaped_under_fields() -> None:
    [event] = parse_events(b'{"name": "x", "note\\u0000": "a\\ud800"}', received_at=RECEIVED_AT)
    assert event.fields == {"note\\u0000": "a\\ud800"}
    assert event.escaped == ("fields.note\\u0000",)
    batch = parse_event_batch(b'[{"name": "x", "note\\u0000": "y"}]', received_at=RECEIVED_AT)
    assert batch.escaped == ["[0].note\\u0000"]  # the body's path


def test_reasons_are_bounded() -> None:
    for field in ("alerts[0].labels.x", "[3].whatever", "alerts[12]", "body", "[0].fields.y"):
        reason = Rejected(0, field, "m").reason
        assert reason in REASONS
    assert Rejected(0, "[3].whatever", "m").reason == "other"
