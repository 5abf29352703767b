"""Every alert accounted for, against a real server: ``GET /api/v1/alerts`` says what each
received alert did, its filters work, unmatched ones are counted, and a restart (a replay of the
journal) neither loses nor repeats an outcome."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from runbookd.toolchain.testing import am_alert, am_notification
from tests.e2e.harness import REPO, Server, poll

HOOK = "/api/v1/alerts/alertmanager"
T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
#: the bundled library without the fallback, which would take the unmatched alerts
LIBRARY = [p for p in sorted((REPO / "runbooks").iterdir()) if p.name != "00-fallback"]


def failures(channel: str) -> dict[str, object]:
    labels = {"alertname": "PaymentFailureRateHigh", "channel": channel, "severity": "critical"}
    return am_alert(labels, starts_at=T0)


def probe(channel: str) -> dict[str, object]:
    labels = {"alertname": "PaymentChannelProbeFailed", "channel": channel}
    return am_alert(labels, starts_at=T0 + timedelta(seconds=30))


def stranger(instance: str) -> dict[str, object]:
    labels = {"alertname": "HostSwapIsFillingUp", "instance": instance, "severity": "warning"}
    return am_alert(labels, starts_at=T0)


def alerts(server: Server, **params: Any) -> list[dict[str, Any]]:
    answer = server.get("/api/v1/alerts", params=params)
    assert answer.status_code == 200, answer.text
    found: list[dict[str, Any]] = answer.json()["alerts"]
    return found


def _exactly(rows: list[dict[str, Any]], n: int) -> list[dict[str, Any]] | None:
    return rows if len(rows) == n else None


def test_every_alert_shows_what_it_did(make_server: Callable[..., Server]) -> None:
    server = make_server(LIBRARY)
    server.post(HOOK, am_notification([failures("alipay")]))
    [half] = poll(lambda: alerts(server), what="the first outcome")
    assert half["outcome"] == "pending" and half["runbook"] == "payment-channel-abnormal"
    assert half["results"][0]["until"] and "until" in half["summary"]

    server.post(HOOK, am_notification([probe("alipay")]))
    server.post(HOOK, am_notification([stranger("db-1:9100"), stranger("db-2:9100")]))
    rows = poll(lambda: _exactly(alerts(server), 4), what="four outcomes")
    [incident] = server.incidents()
    assert [r["outcome"] for r in rows] == ["unmatched", "unmatched", "opened", "pending"]
    assert rows[2]["incident"] == incident["id"]
    assert incident["missing_labels"] == []  # its key has the channel it groups on
    assert rows[0]["summary"] == "matched no runbook"

    unmatched = alerts(server, outcome="unmatched")
    assert {r["labels"]["instance"] for r in unmatched} == {"db-1:9100", "db-2:9100"}
    assert server.metric("runbookd_alerts_unmatched_total", alertname="HostSwapIsFillingUp") == 2
    assert [r["name"] for r in alerts(server, alertname="PaymentChannelProbeFailed")] == [
        "PaymentChannelProbeFailed"
    ]
    crit = alerts(server, match='{severity=~"crit.*",channel!="wechat"}')
    assert [r["name"] for r in crit] == ["PaymentFailureRateHigh"]
    assert len(alerts(server, match='{instance=~"db-.*", instance!="db-2:9100"}')) == 1
    assert alerts(server, since=(datetime.now(UTC) + timedelta(hours=1)).isoformat()) == []
    assert len(alerts(server, status="firing", limit=2)) == 2

    bad = server.get("/api/v1/alerts", params={"match": '{severity=~"(crit"}'})
    assert bad.status_code == 422 and "match" in bad.text
    assert server.get("/api/v1/alerts", params={"outcome": "lost"}).status_code == 422

    # The page people read shows the same, with the same filters.
    page = server.get("/alerts", params={"outcome": "unmatched"}).text
    assert page.count('<tr class="outcome-unmatched">') == 2 and "db-2:9100" in page
    assert "PaymentFailureRateHigh" not in page
    page = server.get("/alerts", params={"match": '{channel="alipay"}'}).text
    assert f'href="/incidents/{incident["id"]}"' in page and "HostSwapIsFillingUp" not in page
    wrong = server.get("/alerts", params={"match": "{channel~alipay}"})
    assert wrong.status_code == 400 and "match:" in wrong.text

    # A restart replays the journal: the stored outcomes are neither repeated nor lost.
    server.stop()
    server.start()
    assert [r["id"] for r in alerts(server)] == [r["id"] for r in rows]


def test_the_fallback_runbook_takes_what_no_runbook_handles(
    make_server: Callable[..., Server],
) -> None:
    # The bundled library and the fallback the bundled config.yaml names.
    server = make_server(env={"RUNBOOKD_FALLBACK_RUNBOOK": "unhandled-alert"})
    server.post(HOOK, am_notification([stranger("db-1:9100"), stranger("db-2:9100")]))
    server.post(HOOK, am_notification([failures("alipay")]))
    rows = poll(lambda: _exactly(alerts(server), 3), what="three outcomes")
    [incident] = poll(lambda: server.incidents(runbook="unhandled-alert"), what="its incident")
    assert incident["severity"] == "low"
    assert incident["labels"]["alertname"] == "HostSwapIsFillingUp"
    assert incident["alerts"] == 2  # one incident per alertname
    pending, *strangers = rows
    assert pending["outcome"] == "pending"  # handled elsewhere: the fallback never saw it
    assert [r["outcome"] for r in strangers] == ["unmatched", "unmatched"]
    assert {r["incident"] for r in strangers} == {incident["id"]}
    assert all(r["results"][0]["fallback"] for r in strangers)
    assert "fallback unhandled-alert" in strangers[0]["summary"]
    # Still counted as unmatched: the fallback is the safety net, not a runbook for it.
    assert server.metric("runbookd_alerts_unmatched_total", alertname="HostSwapIsFillingUp") == 2
    kinds = [e["kind"] for e in server.incident(incident["id"])["timeline"]]
    assert "notify" in kinds


def test_a_key_built_from_a_missing_label_is_shown(make_server: Callable[..., Server]) -> None:
    server = make_server(LIBRARY)
    # payment-channel-abnormal groups by labels.channel; these alerts do not carry it.
    nameless = {"alertname": "PaymentFailureRateHigh", "severity": "critical"}
    server.post(HOOK, am_notification([am_alert(nameless, starts_at=T0)]))
    probe_only = {"alertname": "PaymentChannelProbeFailed"}
    server.post(HOOK, am_notification([am_alert(probe_only, starts_at=T0)]))
    [incident] = poll(lambda: server.incidents(), what="an incident")
    assert incident["key"] == "labels.channel="
    assert incident["missing_labels"] == ["channel"]
    assert server.incident(incident["id"])["missing_labels"] == ["channel"]
    page = server.get(f"/incidents/{incident['id']}").text
    assert "no channel label: every alert without it joins this incident" in page
