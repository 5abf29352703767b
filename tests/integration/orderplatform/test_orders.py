"""Plan chapter 2 on the simulated platform: creation failures, wrong data, duplicates."""

from __future__ import annotations

from tests.integration.orderplatform.conftest import Sim, get, on, op


def failure_ratio(sim: Sim, client: str, reason: str, seconds: float) -> float:
    created = sim.metric("orders_created_total", client=client)
    failed = sim.metric("orders_failed_total", client=client)
    mine = sim.metric("orders_failed_total", client=client, reason=reason)
    sim.platform.advance(seconds)
    d_created = sim.metric("orders_created_total", client=client) - created
    d_failed = sim.metric("orders_failed_total", client=client) - failed
    d_mine = sim.metric("orders_failed_total", client=client, reason=reason) - mine
    return d_mine / (d_created + d_failed)


def test_system_errors_fail_orders_until_the_sick_instance_is_recycled(sim: Sim) -> None:
    assert failure_ratio(sim, "app", "system_error", 20) == 0
    on(sim, "order_system_errors", client="app", ratio=0.6)
    assert failure_ratio(sim, "app", "system_error", 20) > 0.5  # OrderCreationDown's threshold
    assert failure_ratio(sim, "web", "system_error", 20) == 0  # other clients unaffected
    health = get(sim, "/admin/orders/health")
    assert health["unhealthy"] == 1
    assert [i["healthy"] for i in health["instances"]].count(False) == 1

    assert op(sim, "/admin/orders/instances/recycle", {"unhealthy_only": True}) == {
        "recycled": 1,
        "healthy": 4,
    }
    assert failure_ratio(sim, "app", "system_error", 20) == 0
    # A second identical call finds nothing to restart.
    assert op(sim, "/admin/orders/instances/recycle", {"unhealthy_only": True})["recycled"] == 0


def test_out_of_stock_and_invalid_input_are_counted_by_reason(sim: Sim) -> None:
    on(sim, "order_out_of_stock", client="web", ratio=0.2)
    assert 0.1 < failure_ratio(sim, "web", "out_of_stock", 30) < 0.35
    mode = op(
        sim,
        "/admin/orders/storefront/out-of-stock-mode",
        {"client": "web", "mode": "suggest_alternatives"},
    )
    assert mode == {"client": "web", "mode": "suggest_alternatives", "previous": "plain"}
    on(sim, "order_invalid_input", client="miniprogram", ratio=0.3)
    assert failure_ratio(sim, "miniprogram", "invalid_input", 60) > 0.2


def test_price_mismatches_are_reported_then_resync_stops_them(sim: Sim) -> None:
    on(sim, "order_data_mismatch", field="price", per_minute=6)
    sim.platform.advance(60)
    events = sim.named("OrderDataMismatch")
    assert len(events) == 6
    assert events[0]["labels"]["field"] == "price"
    assert events[0]["source"] == "orderplatform"
    assert {"order_id", "expected", "actual"} <= set(events[0])
    assert sim.metric("orders_data_mismatch_total", field="price") == 6
    found = get(sim, "/admin/orders/mismatches", field="price")
    assert found["open"] == 6
    assert found["orders"][0] == events[0]["order_id"]

    assert op(sim, "/admin/orders/catalogue/resync", {"fields": ["price"]})["products_updated"] == 6
    sim.platform.advance(60)
    assert len(sim.named("OrderDataMismatch")) == 6  # the stale cache was the cause
    fixed = op(
        sim, "/admin/orders/mismatches/correct", {"field": "price", "notify_customers": True}
    )
    assert fixed["corrected"] + fixed["held_for_review"] == 6
    assert get(sim, "/admin/orders/mismatches", field="price")["open"] == 0


def test_address_mismatches_stop_with_strict_validation(sim: Sim) -> None:
    on(sim, "order_data_mismatch", field="shipping_address", per_minute=6)
    sim.platform.advance(30)
    assert len(sim.named("OrderDataMismatch")) == 3
    answer = op(sim, "/admin/orders/validation", {"field": "shipping_address", "mode": "strict"})
    assert answer["previous"] == "lenient"
    refused_before = sim.metric("orders_failed_total", reason="invalid_input")
    sim.platform.advance(60)
    assert len(sim.named("OrderDataMismatch")) == 3
    assert sim.metric("orders_failed_total", reason="invalid_input") > refused_before
    # Catalogue fields have no validator: the contract's 409.
    refused = sim.http.post("/admin/orders/validation", json={"field": "price", "mode": "strict"})
    assert refused.status_code == 409
    assert refused.json()["error"] == "no_validator"


def test_duplicates_are_flagged_cancelled_once_and_stopped_by_the_guard(sim: Sim) -> None:
    on(sim, "duplicate_orders", client="app", per_minute=30)
    sim.platform.advance(60)
    assert len(sim.named("DuplicateOrderDetected")) == 30
    assert sim.metric("orders_duplicate_total", client="app") == 30
    assert sim.metric("orders_duplicate_pending", client="app") == 30
    first = op(sim, "/admin/orders/duplicates/cancel", {"client": "app", "reason": "INC-2"})
    assert first["cancelled"] + first["skipped_shipped"] == 30
    assert 0 < first["refunded"] <= first["cancelled"]
    assert sim.metric("orders_duplicate_pending", client="app") == 0
    again = op(sim, "/admin/orders/duplicates/cancel", {"client": "app", "reason": "INC-2"})
    assert again["cancelled"] == 0
    assert again["already_cancelled"] == first["cancelled"]

    op(sim, "/admin/orders/submit-guard", {"client": "app", "mode": "strict"})
    sim.platform.advance(60)
    assert len(sim.named("DuplicateOrderDetected")) == 30


def test_recycling_everything_with_one_healthy_instance_is_refused(sim: Sim) -> None:
    for instance in list(sim.platform.orders.healthy)[1:]:
        sim.platform.orders.healthy[instance] = False
    refused = sim.http.post("/admin/orders/instances/recycle", json={"unhealthy_only": False})
    assert refused.status_code == 409
    notice = op(
        sim,
        "/admin/orders/storefront/notice",
        {"client": "app", "message": "Checkout is slow", "ttl_seconds": 600},
    )
    again = op(
        sim,
        "/admin/orders/storefront/notice",
        {"client": "app", "message": "Checkout is slow", "ttl_seconds": 900},
    )
    assert again["notice_id"] == notice["notice_id"]  # the same notice, extended
    assert again["expires_at"] > notice["expires_at"]
