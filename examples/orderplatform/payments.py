"""Plan chapter 3: payment channels, our payment gateway, amount mismatches, routing."""

from __future__ import annotations

from collections import deque
from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from examples.orderplatform import labels as L
from examples.orderplatform.faults import FaultSpec
from examples.orderplatform.kernel import Conflict, Domain, Kernel, require

#: Healthy channels still decline a few payments, for the customer's reasons (plan 3.1).
BASE_DECLINES = {"wrong_password": 0.005, "insufficient_funds": 0.01, "unsupported_method": 0.005}
CHANNEL_WEIGHTS = (0.45, 0.35, 0.20)
#: A channel's share of payments that normally differs in amount (fees, FX) and the channel settles.
POOL_SIZE = 3


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Route(Strict):
    source: str = Field(alias="from", description="the channel whose payments move")
    target: str = Field(alias="to", description="the channel that takes them")


class Failover(Strict):
    to: Literal["primary", "standby"]


class Notice(Strict):
    message: str = Field(min_length=1, max_length=500)
    ttl_seconds: int = Field(1800, ge=1, le=7 * 86_400)


class UnpaidTimeout(Strict):
    minutes: int
    reason: str | None = None
    # Not in the contract's table, but the 3.1 runbook sends it: the timeout reverts after it.
    ttl_seconds: int | None = Field(None, ge=1)


class Reconcile(Strict):
    channel: str
    since_seconds: int = Field(3600, ge=1)


class Correct(Strict):
    channel: str
    kind: Literal["system", "user", "channel"] = "system"
    notify_customers: bool = True
    reason: str | None = None


class OfferAmend(Strict):
    channel: str


class Payments(Domain):
    faults = (
        FaultSpec(
            "payment_channel_down",
            "3.3",
            "The channel's payments fail with channel_error and its probe fails; routing the "
            "channel to backup makes new payments succeed.",
            choices={"channel": ("alipay", L.CHANNELS)},
        ),
        FaultSpec(
            "payment_gateway_errors",
            "3.1",
            "That share of all payments fails in our gateway (gateway_error/timeout) while the "
            "primary pool is active; failing over to standby clears it.",
            numbers={"ratio": (0.2, 0.0, 1.0)},
        ),
        FaultSpec(
            "payment_declines",
            "3.1",
            "Customer-side declines only (a near-miss: no runbook acts on them).",
            choices={"reason": ("insufficient_funds", L.DECLINE_REASONS)},
            numbers={"ratio": (0.3, 0.0, 1.0)},
        ),
        FaultSpec(
            "payment_amount_mismatch",
            "3.2",
            "Captures whose amount differs from the order, with a PaymentAmountMismatch event each.",
            choices={
                "channel": ("wechat", L.CUSTOMER_CHANNELS),
                "cause": ("price_changed", L.MISMATCH_CAUSES),
            },
            numbers={"per_minute": (1.0, 0.0, 600.0)},
        ),
    )

    def __init__(self, k: Kernel, probe_interval: float = 15.0) -> None:
        super().__init__(k)
        m = k.metrics
        self.attempts = m.counter(
            "orders_payment_attempts", "Payment attempts.", channel=L.CHANNELS
        )
        self.failed = m.counter(
            "orders_payment_failed",
            "Failed payment attempts.",
            channel=L.CHANNELS,
            reason=L.PAYMENT_REASONS,
        )
        self.up = m.gauge(
            "orders_payment_channel_up",
            "1 when the last probe payment against the channel's sandbox succeeded, else 0.",
            channel=L.CHANNELS,
        )
        self.mismatch_total = m.counter(
            "orders_payment_amount_mismatch",
            "Payments whose captured amount differs from the order amount.",
            channel=L.CUSTOMER_CHANNELS,
            cause=L.MISMATCH_CAUSES,
        )
        self.mismatch_open = m.gauge(
            "orders_payment_mismatch_open",
            "Amount mismatches not yet corrected, offered or settled with the channel.",
            channel=L.CUSTOMER_CHANNELS,
            kind=L.MISMATCH_KINDS,
        )
        self.probe_interval = probe_interval
        self._since_probe = probe_interval  # the first step probes
        #: customer channel -> channel that processes its payments, when not itself
        self.routes_to: dict[str, str] = {}
        self.active_pool = "primary"
        self.notices: dict[str, tuple[str, float]] = {}
        self.unpaid_timeout = 30
        self._revert_timeout: tuple[float, int] | None = None
        #: recent captures per channel as (elapsed, count), for reconciliation windows
        self.captures: dict[str, deque[tuple[float, int]]] = {c: deque() for c in L.CHANNELS}
        self.mismatches: list[dict[str, Any]] = []
        for channel in L.CHANNELS:
            self.up.labels(channel=channel).set(1)

    # --- traffic ------------------------------------------------------------------------------

    def choose(self) -> str:
        return self.k.pick(L.CUSTOMER_CHANNELS, CHANNEL_WEIGHTS)

    def healthy(self, channel: str) -> bool:
        return self.k.fault("payment_channel_down", channel=channel) is None

    def pay(self, chosen: str) -> tuple[str, str | None]:
        """Charge one order: (channel that processed it, failure reason or None)."""
        k = self.k
        channel = self.routes_to.get(chosen, chosen)
        self.attempts.labels(channel=channel).inc()
        reason: str | None = None
        gateway = k.fault("payment_gateway_errors")
        declines = k.fault("payment_declines")
        if gateway and self.active_pool == "primary" and k.chance(gateway["ratio"]):
            reason = k.pick(("gateway_error", "timeout"))
        elif not self.healthy(channel):
            reason = "channel_error"
        elif declines and k.chance(declines["ratio"]):
            reason = declines["reason"]
        else:
            roll = k.rng.random()
            for why, share in BASE_DECLINES.items():
                if roll < share:
                    reason = why
                    break
                roll -= share
        if reason is not None:
            self.failed.labels(channel=channel, reason=reason).inc()
        else:
            captures = self.captures[channel]
            captures.append((k.elapsed, 1))
            while captures and captures[0][0] < k.elapsed - 86_400:
                captures.popleft()
        return channel, reason

    def step(self, dt: float) -> None:
        if self._revert_timeout and self.k.elapsed >= self._revert_timeout[0]:
            self.unpaid_timeout, self._revert_timeout = self._revert_timeout[1], None
        self._since_probe += dt
        if self._since_probe >= self.probe_interval:
            self._since_probe = 0.0
            self.probe()
        fault = self.k.fault("payment_amount_mismatch")
        if fault:
            for _ in range(self.k.due("payment_amount_mismatch", fault["per_minute"] / 60 * dt)):
                self._mismatch(fault["channel"], fault["cause"])

    def fault_changed(self, name: str) -> None:
        if name == "payment_channel_down":
            self._since_probe = self.probe_interval  # probed at the next step, as on a schedule

    def probe(self) -> None:
        for channel in L.CHANNELS:
            self.up.labels(channel=channel).set(1 if self.healthy(channel) else 0)

    def _mismatch(self, channel: str, cause: str) -> None:
        k = self.k
        order_amount = round(k.rng.uniform(20, 500), 2)
        delta = round(k.rng.uniform(0.5, 30), 2) * k.pick((1, -1))
        payment_id, order_id = k.new_id("pay"), k.new_id("O")
        paid_amount = round(order_amount + delta, 2)
        item: dict[str, Any] = {
            "id": payment_id,
            "order_id": order_id,
            "channel": channel,
            "cause": cause,
            "kind": L.MISMATCH_KIND[cause],
            "order_amount": order_amount,
            "paid_amount": paid_amount,
            "state": "open",
        }
        self.mismatches.append(item)
        self.mismatch_total.labels(channel=channel, cause=cause).inc()
        self._refresh_open()
        k.emit(
            "PaymentAmountMismatch",
            {"channel": channel, "cause": cause},
            order_id=order_id,
            payment_id=payment_id,
            order_amount=order_amount,
            paid_amount=paid_amount,
            currency="CNY",
        )

    def _refresh_open(self) -> None:
        for channel in L.CUSTOMER_CHANNELS:
            for kind in L.MISMATCH_KINDS:
                count = sum(
                    1
                    for m in self.mismatches
                    if m["channel"] == channel and m["kind"] == kind and m["state"] == "open"
                )
                self.mismatch_open.labels(channel=channel, kind=kind).set(count)

    # --- admin operations ---------------------------------------------------------------------

    def status(self, channel: str) -> dict[str, Any]:
        require(channel, L.CHANNELS, "channel")
        m = self.k.metrics
        return {
            "channel": channel,
            "status": "up" if self.healthy(channel) else "down",
            "routed_to": self.routes_to.get(channel),
            "receives_from": sorted(c for c, to in self.routes_to.items() if to == channel),
            "attempts": m.value("orders_payment_attempts_total", channel=channel),
            "failed": m.total("orders_payment_failed_total", channel=channel),
        }

    def route(self, source: str, target: str) -> dict[str, Any]:
        """Send ``source``'s payments to ``target``; sending them back home undoes a route."""
        require(source, L.CHANNELS, "channel")
        require(target, L.CHANNELS, "channel")
        if source == target:
            raise Conflict("same_channel", f"cannot route {source!r} to itself")
        if self.routes_to.get(target) == source:
            # {from: backup, to: alipay} while alipay goes to backup: the rollback of 3.3.
            del self.routes_to[target]
            return {"changed": True, "routes": dict(self.routes_to)}
        if self.routes_to.get(source) == target:
            return {"changed": False, "routes": dict(self.routes_to)}
        if source == "backup":
            raise Conflict("nothing_routed", f"nothing is routed to backup from {target!r}")
        if not self.healthy(target):
            raise Conflict("channel_down", f"target channel {target!r} is down")
        if target in self.routes_to:
            raise Conflict(
                "channel_routed",
                f"target channel {target!r} is itself routed to {self.routes_to[target]!r}",
            )
        self.routes_to[source] = target
        return {"changed": True, "routes": dict(self.routes_to)}

    def gateway(self) -> dict[str, Any]:
        broken = self.k.fault("payment_gateway_errors")
        primary_healthy = 1 if broken else POOL_SIZE
        ratio = broken["ratio"] if broken and self.active_pool == "primary" else 0.0
        return {
            "active_pool": self.active_pool,
            "primary": {"healthy": primary_healthy, "total": POOL_SIZE},
            "standby": {"healthy": POOL_SIZE, "total": POOL_SIZE},
            "error_ratio": ratio,
        }

    def routes(self, router: APIRouter) -> None:
        @router.get("/payments/channels/{channel}", summary="A payment channel's state")
        def channel(channel: str) -> dict[str, Any]:
            return self.status(channel)

        @router.post("/payments/route", summary="Route a channel's payments to another channel")
        def route(body: Route) -> dict[str, Any]:
            return self.route(body.source, body.target)

        @router.get("/payments/gateway", summary="Our payment gateway's pools")
        def gateway() -> dict[str, Any]:
            return self.gateway()

        @router.post("/payments/gateway/failover", summary="Move payment traffic to a pool")
        def failover(body: Failover) -> dict[str, Any]:
            if self.gateway()[body.to]["healthy"] == 0:
                raise Conflict("no_healthy_instance", f"pool {body.to!r} has no healthy instance")
            previous, self.active_pool = self.active_pool, body.to
            return {"active_pool": self.active_pool, "previous": previous}

        @router.post("/payments/notice", summary="A banner on every checkout page")
        def notice(body: Notice) -> dict[str, Any]:
            notice_id = self.notices.get(body.message, (self.k.new_id("p"), 0.0))[0]
            self.notices[body.message] = (notice_id, self.k.elapsed + body.ttl_seconds)
            return {"notice_id": notice_id, "expires_at": self.k.iso(body.ttl_seconds)}

        @router.post("/orders/unpaid-timeout", summary="Minutes before unpaid orders are cancelled")
        def unpaid_timeout(body: UnpaidTimeout) -> dict[str, Any]:
            if not 15 <= body.minutes <= 1440:
                raise Conflict("out_of_range", f"minutes must be 15..1440, got {body.minutes}")
            previous, self.unpaid_timeout = self.unpaid_timeout, body.minutes
            if body.ttl_seconds is not None:
                self._revert_timeout = (self.k.elapsed + body.ttl_seconds, previous)
            return {"minutes": self.unpaid_timeout, "previous": previous}

        @router.post("/payments/reconcile", summary="Re-compare a channel's captures with orders")
        def reconcile(body: Reconcile) -> dict[str, Any]:
            require(body.channel, L.CHANNELS, "channel")
            since = self.k.elapsed - body.since_seconds
            checked = sum(n for t, n in self.captures[body.channel] if t >= since)
            found = [
                m for m in self.mismatches if m["channel"] == body.channel and m["state"] == "open"
            ]
            by_kind = {
                kind: sum(1 for m in found if m["kind"] == kind) for kind in L.MISMATCH_KINDS
            }
            return {
                "checked": checked + len(found),
                "mismatched": len(found),
                "system_errors": by_kind["system"],
                "user_errors": by_kind["user"],
                "channel_errors": by_kind["channel"],
            }

        @router.get("/payments/mismatches", summary="Open mismatches of a kind")
        def mismatches(channel: str, kind: str = "system") -> dict[str, Any]:
            require(channel, L.CUSTOMER_CHANNELS, "channel")
            require(kind, L.MISMATCH_KINDS, "kind")
            open_ = self._of(channel, kind, "open")
            return {"channel": channel, "kind": kind, "open": len(open_)}

        @router.post("/payments/mismatches/correct", summary="Correct open mismatches")
        def correct(body: Correct) -> dict[str, Any]:
            require(body.channel, L.CUSTOMER_CHANNELS, "channel")
            refunded = written_off = 0.0
            todo = self._of(body.channel, body.kind, "open")
            for m in todo:
                diff = round(m["paid_amount"] - m["order_amount"], 2)
                if diff > 0:
                    refunded += diff  # overpaid: back by the original route
                else:
                    written_off -= diff  # underpaid: the customer pays what the order showed
                m["state"] = "corrected"
            self._refresh_open()
            return {
                "corrected": len(todo),
                "refunded_amount": round(refunded, 2),
                "written_off_amount": round(written_off, 2),
                "already_corrected": len(self._of(body.channel, body.kind, "corrected"))
                - len(todo),
            }

        @router.post(
            "/payments/mismatches/offer-amend", summary="Offer pay-the-difference or cancel"
        )
        def offer(body: OfferAmend) -> dict[str, Any]:
            require(body.channel, L.CUSTOMER_CHANNELS, "channel")
            todo = self._of(body.channel, "user", "open")
            for m in todo:
                m["state"] = "offered"
            self._refresh_open()
            return {
                "offered": len(todo),
                "already_offered": len(self._of(body.channel, "user", "offered")) - len(todo),
            }

    def _of(self, channel: str, kind: str, state: str) -> list[dict[str, Any]]:
        return [
            m
            for m in self.mismatches
            if m["channel"] == channel and m["kind"] == kind and m["state"] == state
        ]
