"""Plan 3.3 on the simulated platform: a channel outage, the switch to backup, the rollback."""

from __future__ import annotations

import pytest

from tests.integration.orderplatform.conftest import Sim, get, on, op


@pytest.fixture
def sim() -> Sim:
    # Busier than the default, so that a 10 s window holds enough payments per channel.
    return Sim(rate=50)


def failed(sim: Sim, channel: str) -> float:
    return sim.metric("orders_payment_failed_total", channel=channel)


def attempts(sim: Sim, channel: str) -> float:
    return sim.metric("orders_payment_attempts_total", channel=channel)


def test_traffic_moves_the_payment_metrics(sim: Sim) -> None:
    placed = sim.platform.advance(10)
    assert placed == 500  # 50 orders/s for 10 s
    total = sum(attempts(sim, c) for c in ("alipay", "wechat", "card"))
    refused_before_paying = sim.metric("orders_failed_total", reason="invalid_input") + sim.metric(
        "orders_failed_total", reason="out_of_stock"
    )
    assert total == placed - refused_before_paying
    assert attempts(sim, "backup") == 0
    # Healthy channels fail only the odd declined card: a few percent, not none, not most.
    failures = sum(failed(sim, c) for c in ("alipay", "wechat", "card"))
    assert 0 < failures < 0.1 * placed
    assert sim.metric("orders_created_total") == total - failures
    assert sim.metric("orders_failed_total", reason="payment_failed") == failures


def test_traffic_is_deterministic_for_a_seed() -> None:
    runs = []
    for _ in range(2):
        sim = Sim(seed=11, rate=50)
        sim.platform.advance(3)
        sim.platform.advance(4.5)
        runs.append(sim.platform.metrics.exposition())
    assert b"orders_payment_attempts_total" in runs[0]
    strip = [b"\n".join(ln for ln in run.splitlines() if b"_created" not in ln) for run in runs]
    assert strip[0] == strip[1]
    assert Sim(seed=12, rate=50).platform.advance(7.5) == 375


def test_channel_outage_fails_its_payments_and_probe(sim: Sim) -> None:
    sim.platform.advance(5)
    answer = sim.http.post("/faults/payment_channel_down", json={"channel": "alipay"})
    assert answer.status_code == 200
    assert sim.metric("orders_payment_channel_up", channel="alipay") == 1  # until the next probe
    sim.platform.advance(1)
    assert sim.metric("orders_payment_channel_up", channel="alipay") == 0
    assert sim.metric("orders_payment_channel_up", channel="wechat") == 1
    before = failed(sim, "alipay"), failed(sim, "wechat")
    tried = attempts(sim, "alipay")
    sim.platform.advance(10)
    new_alipay = failed(sim, "alipay") - before[0]
    assert sim.metric("orders_payment_failed_total", channel="alipay", reason="channel_error") > 100
    assert new_alipay == attempts(sim, "alipay") - tried > 100  # every alipay payment fails
    assert failed(sim, "wechat") - before[1] < 20
    status = sim.http.get("/admin/payments/channels/alipay").json()
    assert status["status"] == "down"
    assert status["routed_to"] is None
    listed = {f["name"]: f for f in sim.http.get("/faults").json()["faults"]}
    assert listed["payment_channel_down"]["active"] is True
    assert listed["payment_channel_down"]["params"] == {"channel": "alipay"}


def test_switch_to_backup_stops_the_failures_and_rollback_undoes_it(sim: Sim) -> None:
    sim.http.post("/faults/payment_channel_down", json={"channel": "alipay"})
    route = {"from": "alipay", "to": "backup"}
    first = sim.http.post("/admin/payments/route", json=route)
    assert first.status_code == 200
    assert first.json() == {"changed": True, "routes": {"alipay": "backup"}}
    again = sim.http.post("/admin/payments/route", json=route)
    assert again.status_code == 200
    assert again.json()["changed"] is False  # idempotent

    alipay_before, backup_before = attempts(sim, "alipay"), attempts(sim, "backup")
    sim.platform.advance(10)
    assert attempts(sim, "alipay") == alipay_before  # nothing goes to the broken channel
    assert attempts(sim, "backup") - backup_before > 100
    assert failed(sim, "backup") < 0.1 * attempts(sim, "backup")
    assert sim.http.get("/admin/payments/channels/backup").json()["receives_from"] == ["alipay"]
    # The probe still sees the channel down: the switch works around it, it does not fix it.
    assert sim.metric("orders_payment_channel_up", channel="alipay") == 0

    # The runbook's rollback names the move the other way round.
    back = sim.http.post("/admin/payments/route", json={"from": "backup", "to": "alipay"})
    assert back.json() == {"changed": True, "routes": {}}
    tried = attempts(sim, "alipay")
    sim.platform.advance(2)
    assert attempts(sim, "alipay") > tried


def test_forbidden_routes_are_409_and_unknown_names_404(sim: Sim) -> None:
    sim.http.post("/faults/payment_channel_down", json={"channel": "backup"})
    down = sim.http.post("/admin/payments/route", json={"from": "alipay", "to": "backup"})
    assert down.status_code == 409
    assert "backup" in down.json()["detail"]
    itself = sim.http.post("/admin/payments/route", json={"from": "card", "to": "card"})
    assert itself.status_code == 409
    unknown = sim.http.post("/admin/payments/route", json={"from": "paypal", "to": "card"})
    assert unknown.status_code == 404
    assert "paypal" in unknown.json()["detail"]
    assert sim.http.get("/admin/payments/channels/paypal").status_code == 404
    missing = sim.http.post("/admin/payments/route", json={"from": "card"})
    assert missing.status_code == 422
    assert "to" in str(missing.json()["detail"])


def test_fault_api_validates_and_turns_off(sim: Sim) -> None:
    assert sim.http.post("/faults/no-such-fault").status_code == 404
    bad = sim.http.post("/faults/payment_channel_down", json={"channel": "paypal"})
    assert bad.status_code == 422
    assert "channel" in bad.json()["detail"]
    sim.http.post("/faults/payment_channel_down", json={"channel": "wechat"})
    off = sim.http.delete("/faults/payment_channel_down")
    assert off.json() == {"name": "payment_channel_down", "active": False, "was_active": True}
    sim.platform.advance(1)
    assert sim.metric("orders_payment_channel_up", channel="wechat") == 1
    assert sim.http.delete("/faults/payment_channel_down").json()["was_active"] is False


def test_gateway_errors_hit_every_channel_until_failover_to_standby(sim: Sim) -> None:
    on(sim, "payment_gateway_errors", ratio=0.3)
    sim.platform.advance(10)
    ours = sim.metric("orders_payment_failed_total", reason="gateway_error") + sim.metric(
        "orders_payment_failed_total", reason="timeout"
    )
    for channel in ("alipay", "wechat", "card"):
        assert (
            sim.metric("orders_payment_failed_total", channel=channel, reason="gateway_error") > 0
        )
    assert ours > 0.2 * sum(attempts(sim, c) for c in ("alipay", "wechat", "card"))
    gateway = get(sim, "/admin/payments/gateway")
    assert gateway["active_pool"] == "primary"
    assert gateway["primary"]["healthy"] < gateway["primary"]["total"]
    assert gateway["error_ratio"] > 0
    assert op(sim, "/admin/payments/gateway/failover", {"to": "standby"}) == {
        "active_pool": "standby",
        "previous": "primary",
    }
    sim.platform.advance(10)
    after = sim.metric("orders_payment_failed_total", reason="gateway_error") + sim.metric(
        "orders_payment_failed_total", reason="timeout"
    )
    assert after == ours
    assert get(sim, "/admin/payments/gateway")["error_ratio"] == 0


def test_declines_are_the_customers_side_only(sim: Sim) -> None:
    on(sim, "payment_declines", reason="insufficient_funds", ratio=0.3)
    sim.platform.advance(10)
    assert sim.metric("orders_payment_failed_total", reason="insufficient_funds") > 100
    for ours in ("channel_error", "gateway_error", "timeout"):
        assert sim.metric("orders_payment_failed_total", reason=ours) == 0


def test_amount_mismatches_are_reported_and_corrected(sim: Sim) -> None:
    on(sim, "payment_amount_mismatch", channel="wechat", cause="price_changed", per_minute=6)
    sim.platform.advance(60)
    events = sim.named("PaymentAmountMismatch")
    assert len(events) == 6
    assert events[0]["labels"] == {"channel": "wechat", "cause": "price_changed"}
    assert events[0]["order_amount"] != events[0]["paid_amount"]
    assert (
        sim.metric("orders_payment_amount_mismatch_total", channel="wechat", cause="price_changed")
        == 6
    )
    assert sim.metric("orders_payment_mismatch_open", channel="wechat", kind="system") == 6
    check = op(sim, "/admin/payments/reconcile", {"channel": "wechat", "since_seconds": 3600})
    assert check["mismatched"] == 6
    assert check["system_errors"] == 6
    assert check["checked"] > 6
    fixed = op(sim, "/admin/payments/mismatches/correct", {"channel": "wechat", "kind": "system"})
    assert fixed["corrected"] == 6
    assert fixed["refunded_amount"] + fixed["written_off_amount"] > 0
    assert get(sim, "/admin/payments/mismatches", channel="wechat", kind="system")["open"] == 0
    assert sim.metric("orders_payment_mismatch_open", channel="wechat", kind="system") == 0
    again = op(sim, "/admin/payments/mismatches/correct", {"channel": "wechat", "kind": "system"})
    assert again["corrected"] == 0
    assert again["already_corrected"] == 6


def test_unpaid_timeout_bounds_and_notice_extension(sim: Sim) -> None:
    assert op(sim, "/admin/orders/unpaid-timeout", {"minutes": 120}) == {
        "minutes": 120,
        "previous": 30,
    }
    refused = sim.http.post("/admin/orders/unpaid-timeout", json={"minutes": 5})
    assert refused.status_code == 409
    # With ttl_seconds (what the 3.1 runbook sends) the longer timeout reverts by itself.
    op(sim, "/admin/orders/unpaid-timeout", {"minutes": 240, "ttl_seconds": 3})
    sim.platform.advance(3)
    assert sim.platform.payments.unpaid_timeout == 120
    first = op(sim, "/admin/payments/notice", {"message": "Alipay is slow", "ttl_seconds": 600})
    sim.platform.advance(1)
    again = op(sim, "/admin/payments/notice", {"message": "Alipay is slow", "ttl_seconds": 600})
    assert again["notice_id"] == first["notice_id"]
    assert again["expires_at"] > first["expires_at"]
