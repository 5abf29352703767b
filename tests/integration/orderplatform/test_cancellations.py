"""Plan chapters 4 and 5 on the simulated platform: cancellations, stock, refunds, changes."""

from __future__ import annotations

from tests.integration.orderplatform.conftest import Sim, get, off, on, op


def test_cancel_errors_leave_a_backlog_that_retry_completes(sim: Sim) -> None:
    on(sim, "cancel_errors", ratio=0.5)
    sim.platform.advance(120)
    errors = sim.metric("orders_cancel_total", result="error")
    assert errors > 0.3 * sim.metric("orders_cancel_total")
    assert sim.metric("orders_cancel_failed_pending") == errors
    failed = get(sim, "/admin/orders/cancellations/failed", since_seconds=900)
    assert failed["failed"] == errors
    assert sum(failed["by_error"].values()) == errors
    off(sim, "cancel_errors")
    done = op(sim, "/admin/orders/cancellations/retry", {"since_seconds": 900, "reason": "INC-6"})
    assert done["retried"] == errors
    assert done["cancelled"] + done["not_allowed"] == errors
    assert done["still_failing"] == 0
    assert sim.metric("orders_cancel_failed_pending") == 0
    assert op(sim, "/admin/orders/cancellations/retry", {"since_seconds": 900})["retried"] == 0


def test_stuck_releases_become_overdue_and_rerun_releases_them(sim: Sim) -> None:
    on(sim, "stock_release_stuck", warehouse="east", mode="transient")
    sim.platform.advance(60)
    assert sim.metric("orders_stock_release_overdue", warehouse="east") == 0  # not 5 min yet
    released_east = sim.metric("orders_stock_released_total", warehouse="east")
    sim.platform.advance(300)
    overdue = sim.metric("orders_stock_release_overdue", warehouse="east")
    assert overdue > 0
    assert sim.metric("orders_stock_release_overdue_units", warehouse="east") >= overdue
    assert sim.metric("orders_stock_released_total", warehouse="east") == released_east
    assert sim.metric("orders_stock_released_total", warehouse="west") > 0
    off(sim, "stock_release_stuck")
    rerun = op(sim, "/admin/stock/release/rerun", {"warehouse": "east", "older_than_seconds": 0})
    assert rerun["released"] == rerun["rerun"] >= overdue
    sim.platform.advance(1)
    assert sim.metric("orders_stock_release_overdue", warehouse="east") == 0


def test_persistent_release_failure_is_reported_not_hidden(sim: Sim) -> None:
    on(sim, "stock_release_stuck", warehouse="north", mode="persistent")
    sim.platform.advance(360)
    rerun = op(sim, "/admin/stock/release/rerun", {"warehouse": "north", "older_than_seconds": 300})
    assert rerun["rerun"] > 0
    assert rerun["released"] == 0
    assert rerun["failed"] == rerun["rerun"]
    assert sim.metric("orders_stock_release_overdue", warehouse="north") > 0


def test_refund_failures_on_a_route_are_paid_by_rerouting(sim: Sim) -> None:
    on(sim, "refund_failures", route="balance", ratio=1.0)
    sim.platform.advance(300)
    failed = sim.metric("orders_refund_total", route="balance", result="failed")
    assert failed > 0
    assert sim.metric("orders_refund_total", route="balance", result="ok") == 0
    assert sim.metric("orders_refund_total", route="original", result="failed") == 0
    verify = op(sim, "/admin/refunds/verify", {"route": "balance", "since_seconds": 3600})
    assert verify["failed"] == failed
    same = sim.http.post("/admin/refunds/reroute", json={"from": "balance", "to": "balance"})
    assert same.status_code == 409
    ok_before = sim.metric("orders_refund_total", route="original", result="ok")
    assert op(sim, "/admin/refunds/reroute", {"from": "balance", "to": "original"}) == {
        "rerouted": failed
    }
    assert sim.metric("orders_refund_total", route="original", result="ok") == ok_before + failed
    assert op(sim, "/admin/refunds/reroute", {"from": "balance", "to": "original"}) == {
        "rerouted": 0
    }


def test_failed_refunds_turn_overdue_after_the_sla_and_customers_are_told_once(sim: Sim) -> None:
    slow = Sim(rate=2)
    on(slow, "refund_failures", route="balance", ratio=1.0)
    slow.platform.advance(600)
    off(slow, "refund_failures")
    assert slow.metric("orders_refund_overdue", route="balance") == 0
    slow.platform.advance(3600)  # the balance route's SLA is an hour
    overdue = slow.metric("orders_refund_overdue", route="balance")
    assert overdue > 0
    told = op(
        slow,
        "/admin/refunds/notify-delayed",
        {"route": "balance", "message": "Your refund is late"},
    )
    assert told == {"notified": overdue, "already_notified": 0}
    again = op(
        slow,
        "/admin/refunds/notify-delayed",
        {"route": "balance", "message": "Your refund is late"},
    )
    assert again == {"notified": 0, "already_notified": overdue}


def test_wrong_refund_amounts_are_reported_and_corrected(sim: Sim) -> None:
    on(sim, "refund_amount_wrong", route="original", per_minute=4)
    sim.platform.advance(60)
    events = sim.named("RefundAmountMismatch")
    assert len(events) == 4
    assert events[0]["labels"] == {"route": "original"}
    assert events[0]["paid_amount"] != events[0]["refund_amount"]
    assert sim.metric("orders_refund_amount_mismatch_total", route="original") == 4
    fixed = op(sim, "/admin/refunds/correct-amounts", {"route": "original", "reason": "INC-7"})
    assert fixed["corrected"] + fixed["flagged"] == 4
    assert (
        op(sim, "/admin/refunds/correct-amounts", {"route": "original"})["already_correct"]
        == fixed["corrected"]
    )


def test_modification_errors_are_logged_and_retried(sim: Sim) -> None:
    on(sim, "modify_errors", ratio=0.5)
    sim.platform.advance(120)
    errors = sim.metric("orders_modify_total", result="error")
    assert errors > 0.3 * sim.metric("orders_modify_total")
    logged = get(sim, "/admin/orders/modifications/errors", since_seconds=900)
    assert logged["errors"] == errors
    assert set(logged["by_cause"]) <= {"database", "timeout"}
    off(sim, "modify_errors")
    done = op(sim, "/admin/orders/modifications/retry", {"since_seconds": 900, "reason": "INC-8"})
    assert done["retried"] == errors
    assert done["applied"] + done["not_allowed"] == errors
    on(sim, "modify_forbidden", ratio=0.5)
    sim.platform.advance(60)
    assert sim.metric("orders_modify_total", result="forbidden") > 20


def test_partner_changes_stored_wrongly_stop_when_partner_sync_is_off(sim: Sim) -> None:
    on(sim, "modify_wrong_data", source="partner_api", field="shipping_address", per_minute=6)
    sim.platform.advance(60)
    events = sim.named("OrderModificationMismatch")
    assert len(events) == 6
    assert events[0]["labels"] == {"field": "shipping_address", "source": "partner_api"}
    audit = op(
        sim, "/admin/orders/modifications/audit", {"source": "partner_api", "since_seconds": 3600}
    )
    assert audit["wrong"] == audit["open"] == 6
    assert audit["checked"] >= 6
    assert op(sim, "/admin/orders/partners/sync", {"enabled": False}) == {
        "enabled": False,
        "previous": True,
    }
    sim.platform.advance(60)
    assert len(sim.named("OrderModificationMismatch")) == 6
    fixed = op(
        sim, "/admin/orders/modifications/correct", {"source": "partner_api", "since_seconds": 3600}
    )
    assert fixed["corrected"] + fixed["needs_customer_service"] == 6
    assert get(sim, "/admin/orders/modifications/mismatches", source="partner_api")["open"] == 0


def test_stock_drift_is_cleared_by_an_applied_reconcile_and_undo_is_refused_once_sold(
    sim: Sim,
) -> None:
    on(sim, "stock_drift", warehouse="east", units=17, failing_adjusts=True)
    sim.platform.advance(60)
    assert sim.metric("orders_stock_drift_units", warehouse="east") == 17
    assert sim.metric("orders_stock_drift_units", warehouse="west") == 0
    assert sim.metric("orders_stock_update_failed_total", warehouse="east", operation="adjust") > 0
    dry = op(sim, "/admin/stock/reconcile", {"warehouse": "east", "apply": False})
    assert dry["units_over"] + dry["units_short"] == 17
    assert dry["applied"] is False
    assert sim.metric("orders_stock_drift_units", warehouse="east") == 17
    applied = op(sim, "/admin/stock/reconcile", {"warehouse": "east", "apply": True})
    sim.platform.advance(60)
    assert sim.metric("orders_stock_drift_units", warehouse="east") == 0
    failing = sim.metric("orders_stock_update_failed_total", warehouse="east", operation="adjust")
    sim.platform.advance(60)
    assert (
        sim.metric("orders_stock_update_failed_total", warehouse="east", operation="adjust")
        == failing
    )
    undo = sim.http.post(
        "/admin/stock/reconcile/undo", json={"reconcile_id": applied["reconcile_id"]}
    )
    assert undo.status_code == 409  # orders were placed against the reconciled levels
    assert undo.json()["error"] == "stock_moved"
