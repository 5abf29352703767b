"""Plan chapters 6 and 7 on the simulated platform: dispatch, addresses, parcels, deliveries."""

from __future__ import annotations

from tests.integration.orderplatform.conftest import Sim, get, off, on, op


def test_a_carrier_outage_is_routed_to_another_carrier(sim: Sim) -> None:
    on(sim, "carrier_api_down", carrier="sf")
    sim.platform.advance(60)
    assert sim.metric("orders_carrier_api_requests_total", carrier="sf", outcome="error") > 50
    assert sim.metric("orders_carrier_api_requests_total", carrier="sf", outcome="ok") == 0
    rejected = sim.metric("orders_shipment_failed_total", reason="carrier_rejected")
    assert rejected == sim.metric(
        "orders_carrier_api_requests_total", carrier="sf", outcome="error"
    )
    status = get(sim, "/admin/shipments/carriers/sf")
    assert status["api_error_ratio"] == 1.0
    assert status["routed_to"] is None
    same = sim.http.post("/admin/shipments/carrier-route", json={"from": "sf", "to": "sf"})
    assert same.json()["error"] == "same_carrier"
    moved = op(sim, "/admin/shipments/carrier-route", {"from": "sf", "to": "jd"})
    assert moved == {"from": "sf", "to": "jd", "requeued": rejected}
    assert get(sim, "/admin/shipments/carriers/sf")["routed_to"] == "jd"
    rejected_after = sim.metric("orders_shipment_failed_total", reason="carrier_rejected")
    errors = sim.metric("orders_carrier_api_requests_total", carrier="sf", outcome="error")
    sim.platform.advance(60)
    assert sim.metric("orders_shipment_failed_total", reason="carrier_rejected") == rejected_after
    assert (
        get(sim, "/admin/shipments/failed", warehouse="east", reason="carrier_rejected")["count"]
        == 0
    )
    # The routed-away carrier is still probed every 10 s: its error ratio keeps measuring it.
    assert (
        sim.metric("orders_carrier_api_requests_total", carrier="sf", outcome="error") == errors + 6
    )
    off(sim, "carrier_api_down")
    sim.platform.advance(60)
    assert sim.metric("orders_carrier_api_requests_total", carrier="sf", outcome="ok") == 6
    # The route ends when the carrier is back; a second DELETE is a no-op.
    assert sim.http.delete("/admin/shipments/carrier-route/sf").json() == {
        "from": "sf",
        "routed_to": None,
    }
    assert sim.http.delete("/admin/shipments/carrier-route/sf").status_code == 200


def test_routing_to_a_failing_carrier_is_refused(sim: Sim) -> None:
    on(sim, "carrier_api_down", carrier="jd")
    refused = sim.http.post("/admin/shipments/carrier-route", json={"from": "sf", "to": "jd"})
    assert refused.status_code == 409
    assert refused.json()["error"] == "carrier_unavailable"


def test_incomplete_data_failures_wait_and_customers_are_asked_once(sim: Sim) -> None:
    on(sim, "shipment_incomplete_data", warehouse="north")
    sim.platform.advance(60)
    waiting = get(sim, "/admin/shipments/failed", warehouse="north", reason="incomplete_data")
    assert (
        waiting["count"]
        == sim.metric("orders_shipment_failed_total", warehouse="north", reason="incomplete_data")
        > 0
    )
    assert waiting["oldest_seconds"] > 30
    asked = op(sim, "/admin/shipments/request-info", {"warehouse": "north"})
    assert asked["requested"] == waiting["count"]
    assert op(sim, "/admin/shipments/request-info", {"warehouse": "north"})["requested"] == 0


def test_a_stock_shortage_fails_shipments_until_stock_is_rebalanced(sim: Sim) -> None:
    on(sim, "shipping_stock_shortage", warehouse="south")
    sim.platform.advance(60)
    short = sim.metric("orders_shipment_failed_total", warehouse="south", reason="out_of_stock")
    assert short > 0
    assert (
        sim.metric("orders_shipment_items_missing_total", warehouse="south", cause="out_of_stock")
        > 0
    )
    moved = op(sim, "/admin/stock/rebalance", {"warehouse": "south"})
    assert moved["requeued"] == short
    assert moved["moved_units"] > 0
    sim.platform.advance(60)
    assert (
        sim.metric("orders_shipment_failed_total", warehouse="south", reason="out_of_stock")
        == short
    )


def test_unpaid_failures_are_rechecked(sim: Sim) -> None:
    on(sim, "shipment_unpaid", warehouse="west")
    sim.platform.advance(60)
    unpaid = sim.metric("orders_shipment_failed_total", warehouse="west", reason="unpaid")
    result = op(sim, "/admin/shipments/recheck-payment", {"warehouse": "west"})
    assert result["requeued"] + result["returned_to_payment"] == unpaid > 0


def test_autofill_bug_makes_addresses_invalid_and_review_holds_them(sim: Sim) -> None:
    on(sim, "address_autofill_bug", client="ios")
    op(sim, "/admin/shipments/address-review", {"client": "ios", "enabled": True})
    sim.platform.advance(120)
    ios_invalid = sim.metric("orders_address_verifications_total", client="ios", result="invalid")
    ios_all = sim.metric("orders_address_verifications_total", client="ios")
    web_invalid = sim.metric("orders_address_verifications_total", client="web", result="invalid")
    web_all = sim.metric("orders_address_verifications_total", client="web")
    assert ios_invalid / ios_all > 0.08  # AddressVerificationFailureRateHigh's threshold
    assert web_invalid / web_all < 0.08
    review = op(sim, "/admin/shipments/address-review", {"client": "ios", "enabled": True})
    assert review["held"] > 0
    assert (
        op(sim, "/admin/shipments/address-confirmations", {"client": "ios"})["sent"]
        == review["held"]
    )


def test_garbled_addresses_are_held_and_relabelled(sim: Sim) -> None:
    refused = sim.http.post("/admin/shipments/relabel", json={"warehouse": "east"})
    assert refused.status_code == 409
    assert refused.json()["error"] == "nothing_held"
    on(sim, "address_garbling", warehouse="east")
    sim.platform.advance(120)
    flagged = sim.metric("orders_shipment_address_mismatch_total", warehouse="east")
    assert flagged > 0
    held = op(sim, "/admin/shipments/hold", {"warehouse": "east", "filter": "address_mismatch"})
    assert held["held"] + held["already_collected"] == flagged
    assert op(sim, "/admin/shipments/relabel", {"warehouse": "east"}) == {
        "relabelled": held["held"]
    }


def test_picking_errors_stop_rising_under_strict_pack_verification(sim: Sim) -> None:
    on(sim, "picking_errors", warehouse="west")
    sim.platform.advance(120)
    missing = sim.metric(
        "orders_shipment_items_missing_total", warehouse="west", cause="picking_error"
    )
    assert missing > 5
    op(sim, "/admin/shipments/pack-verification", {"warehouse": "west", "mode": "strict"})
    sim.platform.advance(120)
    assert (
        sim.metric("orders_shipment_items_missing_total", warehouse="west", cause="picking_error")
        == missing
    )
    on(sim, "procurement_delay", warehouse="west")
    sim.platform.advance(120)
    late = sim.metric(
        "orders_shipment_items_missing_total", warehouse="west", cause="procurement_delay"
    )
    waiting = op(
        sim, "/admin/shipments/reship-missing", {"warehouse": "west", "cause": "procurement_delay"}
    )
    assert waiting == {"reshipped": 0, "waiting_stock": late}
    told = op(
        sim, "/admin/shipments/notify-delay", {"warehouse": "west", "cause": "procurement_delay"}
    )
    assert told == {"notified": late}


def late_ratio(sim: Sim, carrier: str, region: str, seconds: float) -> float:
    late = sim.metric("orders_deliveries_total", carrier=carrier, region=region, outcome="late")
    total = sim.metric("orders_deliveries_total", carrier=carrier, region=region)
    sim.platform.advance(seconds)
    d_late = (
        sim.metric("orders_deliveries_total", carrier=carrier, region=region, outcome="late") - late
    )
    return d_late / (sim.metric("orders_deliveries_total", carrier=carrier, region=region) - total)


def test_a_courier_shortage_is_fixed_by_reassigning_not_by_rebalancing() -> None:
    sim = Sim(rate=60)
    on(sim, "courier_shortage", carrier="zto", region="east")
    assert late_ratio(sim, "zto", "east", 120) > 0.4
    assert sim.metric("orders_courier_parcels_per_courier", carrier="zto", region="east") > 45
    assert late_ratio(sim, "sf", "east", 120) < 0.15
    op(sim, "/admin/deliveries/rebalance", {"carrier": "zto", "region": "east"})
    assert late_ratio(sim, "zto", "east", 120) > 0.4
    moved = op(
        sim,
        "/admin/deliveries/reassign",
        {"region": "east", "from_carrier": "zto", "to_carrier": "sf", "max_parcels": 150},
    )
    assert moved == {"reassigned": 150}
    assert late_ratio(sim, "zto", "east", 120) < 0.15
    assert sim.metric("orders_courier_parcels_per_courier", carrier="zto", region="east") <= 45
    no_room = sim.http.post(
        "/admin/deliveries/reassign",
        json={"region": "east", "from_carrier": "sf", "to_carrier": "sf", "max_parcels": 10},
    )
    assert no_room.json()["error"] == "same_carrier"


def test_misdeliveries_stop_with_the_pod_code(sim: Sim) -> None:
    on(sim, "misdelivery", carrier="zto", region="south")
    sim.platform.advance(400)
    pods = sim.metric("orders_delivery_pod_mismatch_total", carrier="zto", region="south")
    assert pods > 5  # DeliveryLocationMismatchHigh's threshold
    assert (
        sim.metric("orders_delivery_not_received_claims_total", carrier="zto", region="south")
        == pods
    )
    op(sim, "/admin/deliveries/pod-code", {"carrier": "zto", "region": "south", "enabled": True})
    sim.platform.advance(200)
    assert sim.metric("orders_delivery_pod_mismatch_total", carrier="zto", region="south") == pods
    assert op(sim, "/admin/deliveries/recover", {"carrier": "zto", "region": "south"}) == {
        "tasks": pods
    }


def test_damage_stops_when_the_carrier_no_longer_takes_that_packaging() -> None:
    sim = Sim(rate=60)
    on(sim, "transit_damage", carrier="yto", packaging="fragile")
    sim.platform.advance(300)
    damaged = sim.metric("orders_delivery_damaged_total", carrier="yto", packaging="fragile")
    delivered = sim.metric(
        "orders_deliveries_by_packaging_total", carrier="yto", packaging="fragile"
    )
    assert damaged / delivered > 0.02
    op(
        sim,
        "/admin/shipments/carrier-policy",
        {"carrier": "yto", "packaging": "fragile", "allowed": False},
    )
    sim.platform.advance(120)
    assert (
        sim.metric("orders_deliveries_by_packaging_total", carrier="yto", packaging="fragile")
        == delivered
    )
    assert (
        op(sim, "/admin/deliveries/damage-fast-track", {"carrier": "yto", "packaging": "fragile"})[
            "settled"
        ]
        >= damaged
    )
    back = sim.http.delete("/admin/shipments/carrier-policy/yto/fragile").json()
    assert back == {"carrier": "yto", "packaging": "fragile", "allowed": True}
