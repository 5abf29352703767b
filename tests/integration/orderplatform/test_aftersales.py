"""Plan chapters 8, 9 and 11 on the simulated platform: returns, after-sales, security."""

from __future__ import annotations

from tests.integration.orderplatform.conftest import Sim, get, off, on, op


def test_a_window_bug_rejects_returns_the_policy_allows_and_reprocess_accepts_them() -> None:
    sim = Sim(rate=40)
    on(sim, "return_window_bug")
    sim.platform.advance(300)
    rejected = sim.metric(
        "orders_return_requests_total", outcome="rejected", reason="window_expired"
    )
    assert rejected / sim.metric("orders_return_requests_total") > 0.2
    found = get(sim, "/admin/returns/rejections", reason="window_expired", since="1h")
    assert found["count"] == rejected
    assert 0 < found["within_policy"] < found["count"]
    done = op(sim, "/admin/returns/reprocess", {"reason": "window_expired", "since": "1h"})
    assert done == {
        "accepted": found["within_policy"],
        "still_rejected": found["count"] - found["within_policy"],
    }
    told = op(sim, "/admin/returns/explain-policy", {"reason": "window_expired", "since": "1h"})
    assert told == {"sent": done["still_rejected"]}
    bad = sim.http.get(
        "/admin/returns/rejections", params={"reason": "window_expired", "since": "soon"}
    )
    assert bad.status_code == 422
    assert "since" in bad.json()["detail"]


def test_service_errors_fail_return_requests(sim: Sim) -> None:
    on(sim, "return_service_errors")
    sim.platform.advance(120)
    assert sim.metric("orders_return_requests_total", outcome="error", reason="none") > 0
    assert sim.metric("orders_return_requests_total", outcome="accepted") == 0


def test_swapped_returns_show_as_mismatches_and_fast_refund_can_wait_for_inspection() -> None:
    sim = Sim(rate=20)
    on(sim, "return_swap_in_transit", warehouse="east")
    sim.platform.advance(900)
    mismatch = sim.metric("orders_return_inspections_total", warehouse="east", result="mismatch")
    inspected = sim.metric("orders_return_inspections_total", warehouse="east")
    assert mismatch / inspected > 0.05
    slow = op(sim, "/admin/returns/fast-refund", {"warehouse": "east", "enabled": False})
    assert slow["enabled"] is False
    sim.platform.advance(300)
    waiting = op(sim, "/admin/returns/fast-refund", {"warehouse": "east", "enabled": False})[
        "waiting_inspection"
    ]
    assert waiting > 0
    asked = op(sim, "/admin/returns/request-details", {"warehouse": "east"})
    assert asked["sent"] > 0
    assert op(sim, "/admin/returns/request-details", {"warehouse": "east"}) == {"sent": 0}


def test_return_refund_failures_are_rerouted_to_the_original_payment() -> None:
    sim = Sim(rate=60)
    on(sim, "return_refund_failures", route="balance")
    sim.platform.advance(300)
    failed = sim.metric("orders_return_refunds_total", route="balance", result="failed")
    assert failed > 0
    assert sim.metric("orders_return_refunds_total", route="balance", result="ok") == 0
    same = sim.http.post(
        "/admin/returns/refunds/reroute", json={"from": "original", "to": "original"}
    )
    assert same.json()["error"] == "same_route"
    sim.http.post("/faults/payment_channel_down", json={"channel": "alipay"})
    op(sim, "/admin/payments/route", {"from": "alipay", "to": "backup"})
    routed_away = sim.http.post(
        "/admin/returns/refunds/reroute", json={"from": "balance", "to": "original"}
    )
    assert routed_away.json()["error"] == "channel_unavailable"
    op(sim, "/admin/payments/route", {"from": "backup", "to": "alipay"})
    ok_before = sim.metric("orders_return_refunds_total", route="original", result="ok")
    assert op(sim, "/admin/returns/refunds/reroute", {"from": "balance", "to": "original"}) == {
        "rerouted": failed
    }
    assert (
        sim.metric("orders_return_refunds_total", route="original", result="ok")
        == ok_before + failed
    )


def test_a_bank_delay_makes_refunds_overdue_and_cases_are_opened_once(sim: Sim) -> None:
    on(sim, "return_refund_bank_delay", backlog=25)
    sim.platform.advance(1)
    assert sim.metric("orders_return_refunds_overdue", route="bank_transfer") == 25
    assert sim.metric("orders_return_refunds_overdue", route="balance") == 0
    cases = op(
        sim,
        "/admin/aftersales/cases",
        {"kind": "return_refund", "route": "bank_transfer", "incident": "INC-9"},
    )
    assert cases["cases"] >= 25
    again = op(
        sim,
        "/admin/aftersales/cases",
        {"kind": "return_refund", "route": "bank_transfer", "incident": "INC-9"},
    )
    assert again == {"cases": 0}


def test_wrong_return_refund_amounts_are_reported_and_audited() -> None:
    sim = Sim(rate=60)
    on(sim, "return_refund_amount_wrong", route="original")
    sim.platform.advance(300)
    events = sim.named("ReturnRefundAmountMismatch")
    assert events
    assert events[0]["labels"] == {"route": "original"}
    assert events[0]["refund_amount"] > events[0]["expected_amount"]
    audit = op(sim, "/admin/returns/refunds/audit", {"route": "original", "since": "24h"})
    assert audit["mismatched"] == len(events)
    assert audit["difference"] > 0
    held = op(sim, "/admin/returns/refunds/hold", {"route": "original"})
    assert held["held"] is True
    sim.platform.advance(300)
    assert len(sim.named("ReturnRefundAmountMismatch")) == len(events)  # an agent decides now
    assert op(sim, "/admin/returns/refunds/hold", {"route": "original"})["waiting"] > 0
    assert sim.http.delete("/admin/returns/refunds/hold/original").json() == {
        "route": "original",
        "held": False,
    }


def test_understaffing_breaches_the_sla_and_overflow_brings_it_back() -> None:
    sim = Sim(rate=2)  # a matter of time, not of traffic
    on(sim, "aftersales_understaffed", contact="chat")
    sim.platform.advance(600)
    assert sim.metric("orders_aftersales_first_response_overdue", contact="chat") > 10
    assert sim.metric("orders_aftersales_first_response_overdue", contact="email") <= 3
    assert (
        op(sim, "/admin/aftersales/overflow", {"contact": "chat", "enabled": True})["enabled"]
        is True
    )
    busy = sim.http.post("/admin/aftersales/overflow", json={"contact": "phone", "enabled": True})
    assert busy.json()["error"] == "overflow_busy"
    sim.platform.advance(1200)
    assert sim.metric("orders_aftersales_first_response_overdue", contact="chat") < 5


def test_a_channel_down_probe_and_the_redirect_notice(sim: Sim) -> None:
    on(sim, "aftersales_contact_down", contact="phone")
    sim.platform.advance(1)
    assert sim.metric("orders_aftersales_contact_up", contact="phone") == 0
    assert sim.metric("orders_aftersales_contact_up", contact="chat") == 1
    shown = op(
        sim,
        "/admin/aftersales/contact-notice",
        {"contact": "phone", "enabled": True, "redirect_to": "chat"},
    )
    assert shown == {"contact": "phone", "enabled": True}
    on(sim, "aftersales_contact_down", contact="chat")
    refused = sim.http.post(
        "/admin/aftersales/contact-notice",
        json={"contact": "email", "enabled": True, "redirect_to": "chat"},
    )
    assert refused.json()["error"] == "redirect_down"


def test_recurring_cases_send_events_and_are_reopened_for_review(sim: Sim) -> None:
    on(sim, "aftersales_recurring", category="damaged")
    sim.platform.advance(300)
    events = sim.named("AftersalesCaseRecurred")
    assert events
    assert {e["labels"]["category"] for e in events} == {"damaged"}
    assert {"case_id", "previous_case_id", "order_id"} <= set(events[0])
    assert sim.metric("orders_aftersales_cases_recurred_total", category="damaged") == len(events)
    assert op(sim, "/admin/aftersales/cases/review", {"category": "damaged", "since": "24h"}) == {
        "reopened": len(events)
    }


def test_dropped_records_show_at_reconciliation_and_backfill_recreates_them() -> None:
    sim = Sim(rate=2)  # the reconciliation runs every 30 minutes: a matter of time
    on(sim, "aftersales_records_dropped", kind="refund")
    sim.platform.advance(1800)  # one scheduled reconciliation
    beats = sim.named("AftersalesReconciliationCompleted")
    assert len(beats) == 1
    missing = sim.metric("orders_aftersales_records_missing", kind="refund")
    assert missing > 0
    assert beats[0]["missing"] == missing
    assert sim.metric("orders_aftersales_records_missing", kind="return") == 0
    filled = op(sim, "/admin/aftersales/records/backfill", {"kind": "refund"})
    assert filled["created"] + filled["unresolved"] == missing
    assert sim.metric("orders_aftersales_records_missing", kind="refund") == filled["unresolved"]
    # A stuck job sends no heartbeat; a reconcile call still works.
    on(sim, "aftersales_reconciliation_stuck")
    sim.platform.advance(1800)
    assert len(sim.named("AftersalesReconciliationCompleted")) == 1
    assert op(sim, "/admin/aftersales/records/reconcile")["missing"] == filled["unresolved"]
    assert len(sim.named("AftersalesReconciliationCompleted")) == 2


def test_an_exfiltrating_account_is_reported_and_revoking_it_stops_the_exports(sim: Sim) -> None:
    on(sim, "data_exfiltration", account="ops.li", dataset="customers", records=50000)
    sim.platform.advance(180)
    leaks = [
        e
        for e in sim.named("SensitiveDataExported")
        if e["labels"]["account"] == "ops.li" and e["value"] == 50000
    ]
    assert len(leaks) == 3
    assert leaks[0]["labels"]["dataset"] == "customers"
    assert "export_id" in leaks[0]
    assert sim.metric("orders_sensitive_records_exported_total", dataset="customers") >= 150000
    listed = get(sim, "/admin/exports", account="ops.li", since="24h")
    assert listed["records_total"] >= 150000
    revoked = op(sim, "/admin/accounts/ops.li/revoke", {"reason": "INC-11"})
    assert revoked["status"] == "revoked"
    assert revoked["sessions_ended"] > 0
    assert op(sim, "/admin/accounts/ops.li/revoke", {"reason": "INC-11"})["sessions_ended"] == 0
    assert get(sim, "/admin/accounts/ops.li")["status"] == "revoked"
    assert op(sim, "/admin/exports/expire", {"account": "ops.li"})["expired"] == len(
        listed["exports"]
    )
    sim.platform.advance(180)
    assert (
        len(
            [
                e
                for e in sim.named("SensitiveDataExported")
                if e["labels"]["account"] == "ops.li" and e["value"] == 50000
            ]
        )
        == 3
    )
    assert sim.http.get("/admin/accounts/nobody").status_code == 404


def test_a_departed_account_is_allowed_until_revoked(sim: Sim) -> None:
    on(sim, "departed_account_active", account="ops.wang", system="vpn")
    sim.platform.advance(120)
    seen = sim.named("DepartedAccountAccess")
    assert [e["labels"]["outcome"] for e in seen] == ["allowed", "allowed"]
    assert seen[0]["labels"] == {"account": "ops.wang", "system": "vpn", "outcome": "allowed"}
    op(sim, "/admin/accounts/ops.wang/revoke", {"reason": "INC-12"})
    sim.platform.advance(60)
    assert sim.named("DepartedAccountAccess")[-1]["labels"]["outcome"] == "denied"
    assert sim.metric("orders_departed_account_access_total", system="vpn", outcome="denied") == 1


def test_an_account_ring_is_found_frozen_and_its_instrument_blocked(sim: Sim) -> None:
    on(sim, "account_ring", instrument="pi_ring1", accounts=5, chargebacks=True)
    sim.platform.advance(900)
    links = [
        e for e in sim.named("PaymentInstrumentLinked") if e["labels"]["instrument"] == "pi_ring1"
    ]
    assert len(links) == 5
    assert {e["labels"]["account_age"] for e in links} == {"new"}
    chargebacks = [
        e for e in sim.named("ChargebackReceived") if e["labels"]["instrument"] == "pi_ring1"
    ]
    assert len(chargebacks) == 5
    assert get(sim, "/admin/accounts", instrument="pi_ring1", account_age="new")["count"] == 5
    assert op(sim, "/admin/accounts/freeze", {"instrument": "pi_ring1", "account_age": "new"}) == {
        "frozen": 5
    }
    assert get(sim, "/admin/accounts", instrument="pi_ring1", status="active")["count"] == 0
    assert op(sim, "/admin/accounts/notify", {"instrument": "pi_ring1", "account_age": "new"}) == {
        "notified": 5
    }
    op(sim, "/admin/payments/instruments/pi_ring1/block", {"reason": "INC-13"})
    state = get(sim, "/admin/payments/instruments/pi_ring1")
    assert state["blocked"] is True
    assert state["accounts"] == 5
    off(sim, "account_ring")
    assert op(
        sim, "/admin/accounts/unfreeze", {"instrument": "pi_ring1", "account_age": "new"}
    ) == {"unfrozen": 5}


def test_an_impersonation_campaign_files_reports_and_one_notice_per_channel() -> None:
    sim = Sim(rate=2)  # reports come at the fault's own rate, not the order rate
    on(sim, "impersonation_campaign", channel="sms", reports_per_hour=120)
    sim.platform.advance(600)
    reports = [e for e in sim.named("ImpersonationReported") if e["labels"]["channel"] == "sms"]
    assert len(reports) >= 20
    assert [e["labels"]["loss"] for e in reports].count("yes") >= len(reports) // 4 - 1
    listed = get(sim, "/admin/aftersales/impersonation-reports", channel="sms", since="24h")
    assert listed["count"] == len(reports)
    first = op(
        sim, "/admin/notices", {"kind": "impersonation_warning", "channel": "sms", "ttl_hours": 1}
    )
    again = op(
        sim, "/admin/notices", {"kind": "impersonation_warning", "channel": "sms", "ttl_hours": 1}
    )
    assert first == again == {"id": first["id"], "active": 1}
    assert get(sim, "/admin/notices", kind="impersonation_warning")["active"] == 1
    sim.platform.advance(3601)
    assert get(sim, "/admin/notices", kind="impersonation_warning")["active"] == 0
