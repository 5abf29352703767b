"""One strange alert must not lose its whole notification (issue #19), against a real server.

Hostile variants of real Alertmanager bodies, posted as bytes the way a sender would put them on
the wire: every identifiable alert is stored, visible through the API and the pages, and opens or
joins the incident its runbook says; refused alerts are listed in the answer, the log and the
metrics; nothing answers 5xx; a body that is no notification still gets a 400 naming the field.
Runs on SQLite, and on PostgreSQL with RUNBOOKD_TEST_DATABASE_URL.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from runbookd.toolchain.testing import am_alert, am_notification
from tests.e2e.harness import Server, poll

HOOK = "/api/v1/alerts/alertmanager"
EVENTS = "/api/v1/events"
T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
#: A label value from a misbehaving target: NUL beside valid but unusual text.
ODD = "ali\x00pay\u202e\ufeff\U0001f525"
#: How it is stored and shown: the NUL escaped, the rest verbatim.
ODD_SHOWN = "ali\\u0000pay\u202e\ufeff\U0001f525"


def failures(channel: str, **annotations: str) -> dict[str, Any]:
    return am_alert(
        {"alertname": "PaymentFailureRateHigh", "channel": channel, "severity": "critical"},
        starts_at=T0,
        annotations={"summary": f"payment failures above 5% on {channel}", **annotations},
    )


def probe(channel: str, **annotations: str) -> dict[str, Any]:
    return am_alert(
        {"alertname": "PaymentChannelProbeFailed", "channel": channel},
        starts_at=T0 + timedelta(seconds=30),
        annotations=annotations,
    )


def wire(body: Any) -> bytes:
    """JSON as a sender writes it: NUL as \\u0000, a lone surrogate as \\ud800, ASCII only."""
    return json.dumps(body).encode()


def post(server: Server, path: str, body: Any) -> httpx.Response:
    response = server.post(path, content=wire(body), headers={"content-type": "application/json"})
    assert response.status_code < 500, response.text
    return response


def incident_for(server: Server, channel: str) -> dict[str, Any]:
    def find() -> dict[str, Any] | None:
        for incident in server.incidents(runbook="payment-channel-abnormal"):
            if incident["labels"].get("channel") == channel:
                return incident
        return None

    return poll(find, what=f"the incident of channel {channel!r}")


def test_a_notification_with_odd_text_is_stored_whole_and_shown_escaped(
    make_server: Callable[..., Server],
) -> None:
    server = make_server()
    body = am_notification(
        [
            failures("wechat"),  # the ordinary alerts of the group
            probe("wechat"),
            failures(ODD, description="probe said \\u0000 literally"),
            # a lone surrogate (not UTF-8) and a literal backslash sequence like the escape's
            probe(ODD, summary="bad \ud800 text", note="C:\\u0000 sent as six characters"),
        ],
        group_labels={"alertname": "PaymentFailureRateHigh"},
    )
    first = post(server, HOOK, body)
    assert first.status_code == 202
    answer = first.json()
    assert answer["accepted"] == 4 and answer["duplicates"] == 0
    assert "rejected" not in answer
    assert answer["escaped"] == [
        "alerts[2].labels.channel",
        "alerts[2].annotations.summary",  # its summary names the channel
        "alerts[3].labels.channel",
        "alerts[3].annotations.summary",
    ]

    # Both incidents open, the hostile one under the escaped channel, the same on every store.
    ordinary = incident_for(server, "wechat")
    odd = incident_for(server, ODD_SHOWN)
    assert ordinary["id"] != odd["id"]
    detail = server.incident(odd["id"])
    alerts = {a["name"]: a for a in detail["detail"]["alerts"]}
    assert alerts["PaymentFailureRateHigh"]["labels"]["channel"] == ODD_SHOWN
    assert alerts["PaymentChannelProbeFailed"]["escaped"] == [
        "labels.channel",
        "annotations.summary",
    ]
    kinds = [e["kind"] for e in detail["timeline"]]
    assert kinds[:2] == ["open_incident", "attach"]
    assert "escaped" not in server.incident(ordinary["id"])["detail"]["alerts"][0]

    # The pages show it as text.
    page = server.get(f"/incidents/{odd['id']}")
    assert page.status_code == 200 and "ali\\u0000pay" in page.text
    assert server.get("/").status_code == 200

    # A retry of the same hostile body is a duplicate, not new alerts.
    again = post(server, HOOK, body)
    assert again.status_code == 202
    assert (again.json()["accepted"], again.json()["duplicates"]) == (0, 4)
    assert len(server.incidents(runbook="payment-channel-abnormal")) == 2
    assert server.metric("runbookd_alert_values_escaped_total", source="alertmanager") == 8


def test_unusable_alerts_are_reported_and_the_rest_of_the_group_stored(
    make_server: Callable[..., Server],
) -> None:
    server = make_server()
    no_labels = failures("paypal")
    del no_labels["labels"]
    number_label = probe("paypal")
    number_label["labels"]["port"] = 8443
    long_fingerprint = probe("paypal")
    long_fingerprint["fingerprint"] = "f" * 200  # past the store's column: once a 503 on PostgreSQL
    doc = am_notification(
        [failures("paypal"), failures("paypal"), probe("paypal"), probe("paypal")]
    )
    doc["alerts"][1] = no_labels
    doc["alerts"][3] = number_label
    doc["alerts"].append(long_fingerprint)

    response = post(server, HOOK, doc)
    assert response.status_code == 202
    answer = response.json()
    assert (answer["accepted"], answer["duplicates"]) == (2, 0)
    assert [(r["index"], r["field"]) for r in answer["rejected"]] == [
        (1, "alerts[1].labels"),
        (3, "alerts[3].labels.port"),
        (4, "alerts[4].fingerprint"),
    ]
    assert answer["rejected"][1]["fingerprint"] == number_label["fingerprint"]
    assert "expected a string" in answer["rejected"][1]["reason"]
    # the usable two still make their incident
    incident = incident_for(server, "paypal")
    assert incident["alerts"] == 2
    assert (
        server.metric("runbookd_alerts_rejected_total", source="alertmanager", reason="labels") == 2
    )
    assert (
        server.metric("runbookd_alerts_rejected_total", source="alertmanager", reason="fingerprint")
        == 1
    )
    assert (
        server.metric("runbookd_alerts_received_total", source="alertmanager", outcome="rejected")
        == 3
    )
    log = server.log()
    assert log.count("of the body refused, the others kept") == 3
    assert "'alerts[3].labels.port'" in log

    # Nothing usable: 400 naming the first field, every alert listed.
    hopeless = am_notification([failures("paypal")])
    hopeless["alerts"] = [no_labels, number_label]
    refused = post(server, HOOK, hopeless)
    assert refused.status_code == 400
    assert refused.json()["field"] == "alerts[0].labels"
    assert [r["index"] for r in refused.json()["rejected"]] == [0, 1]


def test_bodies_that_are_no_notification_get_400_naming_the_field(
    make_server: Callable[..., Server],
) -> None:
    server = make_server()
    good = am_notification([failures("alipay")])
    cases: list[tuple[Any, str]] = [
        (good | {"alerts": {"0": good["alerts"][0]}}, "alerts"),
        (good | {"version": 4}, "version"),
        ({k: v for k, v in good.items() if k != "version"}, "version"),
        (good | {"groupLabels": ["channel"]}, "groupLabels"),
        (good | {"truncatedAlerts": -1}, "truncatedAlerts"),
        ([good], "body"),
    ]
    for body, field in cases:
        response = post(server, HOOK, body)
        assert response.status_code == 400, (field, response.text)
        assert response.json()["field"] == field
    for raw in (b'{"version": "4", "alerts": [', b"\xff\xfe", b""):
        response = server.post(HOOK, content=raw)
        assert response.status_code == 400 and response.json()["field"] == "body"
    assert server.incidents() == []


def test_generic_event_lists_follow_the_same_rule(make_server: Callable[..., Server]) -> None:
    server = make_server()
    response = post(
        server,
        EVENTS,
        [
            {
                "name": "PaymentFailureRateHigh",
                "labels": {"channel": ODD},
                "at": "2026-11-25T09:00:00Z",
            },
            {"name": "PaymentChannelProbeFailed", "labels": {"channel": ODD}, "detail": "x\ud800"},
            {"labels": {"channel": ODD}},
            {"name": "PaymentChannelProbeFailed", "labels": {"channel": ["not", "text"]}},
        ],
    )
    assert response.status_code == 202
    answer = response.json()
    assert answer["accepted"] == 2
    assert [(r["index"], r["field"]) for r in answer["rejected"]] == [
        (2, "[2].name"),
        (3, "[3].labels.channel"),
    ]
    assert answer["escaped"] == ["[0].labels.channel", "[1].labels.channel", "[1].detail"]
    incident_for(server, ODD_SHOWN)
    assert server.metric("runbookd_alerts_rejected_total", source="generic", reason="name") == 1
    assert server.metric("runbookd_alert_values_escaped_total", source="generic") == 3

    refused = post(server, EVENTS, [{"name": ""}, {"labels": {}}])
    assert refused.status_code == 400 and refused.json()["field"] == "[0].name"
    single = post(server, EVENTS, {"name": "x", "status": "burning"})
    assert single.status_code == 400 and single.json()["field"] == "status"
