"""Plan chapter 8: return requests, inspections of returned items, and return refunds."""

from __future__ import annotations

from collections import deque
from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from examples.orderplatform import labels as L
from examples.orderplatform.faults import FaultSpec
from examples.orderplatform.kernel import Conflict, Domain, Kernel, duration, require
from examples.orderplatform.payments import Payments

#: Return requests per order submitted.
RETURN_SHARE = 0.05
#: Rejections the policy really makes (late, not returnable, reason, form) on a normal day.
BASE_REJECT = {
    "window_expired": 0.04,
    "not_returnable": 0.02,
    "reason_not_accepted": 0.02,
    "invalid_form": 0.01,
}
BUG_SHARE = 0.3
SWAP_SHARE = 0.12
BASE_MISMATCH = 0.01
BASE_DAMAGED = 0.02
ROUTE_WEIGHTS = (0.7, 0.2, 0.1)
BASE_REFUND_FAIL = 0.005
#: Refunds are promised within 3 days of the return's arrival.
REFUND_PROMISE_S = 3 * 86_400.0
#: From the courier's collection to the warehouse's inspection.
TRANSIT_S = 300.0
LOG_LIMIT = 200_000


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReasonSince(Strict):
    reason: str
    since: str = "1h"


class FastRefund(Strict):
    warehouse: str
    enabled: bool


class InspectionMode(Strict):
    warehouse: str
    mode: Literal["standard", "photo_at_pickup"]


class Warehouse(Strict):
    warehouse: str


class RouteSince(Strict):
    route: str
    since: str = "24h"


class Route(Strict):
    route: str


class Reroute(Strict):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    source: str = Field(alias="from")
    target: Literal["original"] = Field("original", alias="to")


class Cases(Strict):
    kind: Literal["return_refund"]
    route: str
    incident: str


class Returns(Domain):
    faults = (
        FaultSpec(
            "return_window_bug",
            "8.1",
            "The 7-day window is counted from the order date: window_expired rejections that the "
            "policy would accept.",
        ),
        FaultSpec(
            "return_form_broken",
            "8.1",
            "The return form drops the order line: invalid_form rejections, all within policy.",
        ),
        FaultSpec("return_service_errors", "8.1", "Return requests fail with outcome=error."),
        FaultSpec(
            "return_swap_in_transit",
            "8.2",
            "12% of returns to the warehouse arrive with another item.",
            choices={"warehouse": ("east", L.WAREHOUSES)},
        ),
        FaultSpec(
            "return_refund_failures",
            "8.3",
            "Return refunds on the route fail; rerouting them to original pays them.",
            choices={"route": ("balance", L.REFUND_ROUTES)},
        ),
        FaultSpec(
            "return_refund_bank_delay",
            "8.3",
            "Bank transfers stay pending. backlog: transfers already past the promised 3 days "
            "when the fault starts (the bank's delay began days ago).",
            numbers={"backlog": (25.0, 0.0, 10_000.0)},
        ),
        FaultSpec(
            "return_refund_amount_wrong",
            "8.3",
            "Return refunds on the route pay the order total instead of the returned lines' "
            "amount: a ReturnRefundAmountMismatch event each.",
            choices={"route": ("original", L.REFUND_ROUTES)},
        ),
    )

    def __init__(self, k: Kernel, payments: Payments) -> None:
        super().__init__(k)
        self.payments = payments
        m = k.metrics
        self.requests = m.counter(
            "orders_return_requests",
            "Return requests.",
            outcome=("accepted", "rejected", "error"),
            reason=L.RETURN_REASONS,
        )
        self.inspections = m.counter(
            "orders_return_inspections",
            "Returned parcels inspected against the order line.",
            warehouse=L.WAREHOUSES,
            result=("match", "mismatch", "damaged"),
        )
        self.refunds = m.counter(
            "orders_return_refunds",
            "Refund attempts for returns.",
            route=L.REFUND_ROUTES,
            result=("ok", "failed"),
        )
        self.overdue = m.gauge(
            "orders_return_refunds_overdue",
            "Return refunds not paid 3 days after the returned item arrived.",
            route=L.REFUND_ROUTES,
        )
        #: rejections: {reason, at, within_policy, state: rejected|accepted|explained}
        self.rejections: list[dict[str, Any]] = []
        self.inspection_mode = dict.fromkeys(L.WAREHOUSES, "standard")
        self.fast_refund = dict.fromkeys(L.WAREHOUSES, True)
        self.in_transit: deque[dict[str, Any]] = deque()
        self.mismatched: list[dict[str, Any]] = []
        self.held_routes: set[str] = set()
        #: refunds: {id, order_id, route, state: paid|failed|pending|held, at, expected, refunded}
        self.refund_log: list[dict[str, Any]] = []
        self.unsettled: list[dict[str, Any]] = []
        self.source_records: list[tuple[str, float]] = []  # (kind, elapsed) for chapter 9.3

    # --- traffic ------------------------------------------------------------------------------

    def step(self, dt: float) -> None:
        k = self.k
        for _ in range(k.due("return", k.rate * RETURN_SHARE * dt)):
            self._request()
        self._arrivals()
        self._refresh()

    def fault_changed(self, name: str) -> None:
        fault = self.k.fault("return_refund_bank_delay")
        if name == "return_refund_bank_delay" and fault:
            for _ in range(int(fault["backlog"])):
                late = self._refund_entry(
                    "bank_transfer", "pending", self.k.elapsed - REFUND_PROMISE_S
                )
                self._log(late)
        self._refresh()

    def _request(self) -> None:
        k = self.k
        if k.fault("return_service_errors"):
            self.requests.labels(outcome="error", reason="none").inc()
            return
        reason, within = None, False
        if k.fault("return_window_bug") and k.chance(BUG_SHARE):
            reason, within = "window_expired", True
        elif k.fault("return_form_broken") and k.chance(BUG_SHARE):
            reason, within = "invalid_form", True
        else:
            roll = k.rng.random()
            for why, share in BASE_REJECT.items():
                if roll < share:
                    reason = why
                    break
                roll -= share
        if reason is not None:
            self.requests.labels(outcome="rejected", reason=reason).inc()
            self.rejections.append(
                {"reason": reason, "at": k.elapsed, "within_policy": within, "state": "rejected"}
            )
            return
        self.requests.labels(outcome="accepted", reason="none").inc()
        self.source_records.append(("return", k.elapsed))
        self._collect(k.pick(L.WAREHOUSES))

    def _collect(self, warehouse: str) -> None:
        """The courier collects an accepted return; it reaches the warehouse after a while."""
        k = self.k
        parcel = {"warehouse": warehouse, "due": k.elapsed + TRANSIT_S, "refunded": False}
        if self.fast_refund[warehouse]:
            # Customers in good standing are refunded at collection, before any inspection.
            parcel["refunded"] = True
            self._refund(k.pick(L.REFUND_ROUTES, ROUTE_WEIGHTS))
        self.in_transit.append(parcel)

    def _arrivals(self) -> None:
        k = self.k
        while self.in_transit and self.in_transit[0]["due"] <= k.elapsed:
            parcel = self.in_transit.popleft()
            self._inspect(parcel["warehouse"], parcel["refunded"])

    def _inspect(self, warehouse: str, refunded: bool) -> None:
        k = self.k
        swap = k.fault("return_swap_in_transit", warehouse=warehouse) and k.chance(SWAP_SHARE)
        roll = k.rng.random()
        if swap or roll < BASE_MISMATCH:
            result = "mismatch"
        elif roll < BASE_MISMATCH + BASE_DAMAGED:
            result = "damaged"
        else:
            result = "match"
        self.inspections.labels(warehouse=warehouse, result=result).inc()
        if result == "mismatch":
            # With a photo taken at pickup, a swap in transit is told from a customer's error.
            in_transit = bool(swap) and self.inspection_mode[warehouse] == "photo_at_pickup"
            self.mismatched.append(
                {"warehouse": warehouse, "state": "open", "asked": False, "swap_proven": in_transit}
            )
            if not refunded:
                return  # an after-sales agent decides before any money moves
        if not refunded:
            self._refund(k.pick(L.REFUND_ROUTES, ROUTE_WEIGHTS))

    def _refund_entry(self, route: str, state: str, at: float) -> dict[str, Any]:
        k = self.k
        expected = round(k.rng.uniform(20, 400), 2)
        return {
            "id": k.new_id("RR"),
            "order_id": k.new_id("O"),
            "route": route,
            "state": state,
            "at": at,
            "expected": expected,
            "refunded": expected if state == "paid" else 0.0,
        }

    def _refund(self, route: str) -> None:
        k = self.k
        self.source_records.append(("refund", k.elapsed))
        if route in self.held_routes:
            self._log(self._refund_entry(route, "held", k.elapsed))
            return
        if route == "bank_transfer" and k.fault("return_refund_bank_delay"):
            self.refunds.labels(route=route, result="ok").inc()  # sent; the bank sits on it
            self._log(self._refund_entry(route, "pending", k.elapsed))
            return
        failed = bool(k.fault("return_refund_failures", route=route)) or k.chance(BASE_REFUND_FAIL)
        entry = self._refund_entry(route, "failed" if failed else "paid", k.elapsed)
        self.refunds.labels(route=route, result="failed" if failed else "ok").inc()
        if not failed and k.fault("return_refund_amount_wrong", route=route):
            entry["refunded"] = round(entry["expected"] * k.pick((1.5, 2.0, 3.0)), 2)
            k.emit(
                "ReturnRefundAmountMismatch",
                {"route": route},
                return_id=k.new_id("RT"),
                order_id=entry["order_id"],
                refund_id=entry["id"],
                expected_amount=entry["expected"],
                refund_amount=entry["refunded"],
            )
        self._log(entry)

    def _log(self, entry: dict[str, Any]) -> None:
        self.refund_log.append(entry)
        if entry["state"] in ("pending", "failed"):
            self.unsettled.append(entry)
        if len(self.refund_log) > LOG_LIMIT:
            # Settled refunds older than the longest audit window are of no use any more.
            cutoff = self.k.elapsed - 7 * 86_400
            self.refund_log = [
                r for r in self.refund_log if r["at"] >= cutoff or r["state"] != "paid"
            ]

    def _late(self, route: str) -> list[dict[str, Any]]:
        cutoff = self.k.elapsed - REFUND_PROMISE_S
        # Only unsettled refunds can be late; the full log is far longer than this list.
        self.unsettled = [r for r in self.unsettled if r["state"] in ("pending", "failed")]
        return [r for r in self.unsettled if r["route"] == route and r["at"] <= cutoff]

    def _refresh(self) -> None:
        for route in L.REFUND_ROUTES:
            self.overdue.labels(route=route).set(len(self._late(route)))

    # --- admin operations ---------------------------------------------------------------------

    def routes(self, router: APIRouter) -> None:
        @router.get("/returns/rejections", summary="Rejections re-evaluated against the policy")
        def rejections(reason: str, since: str = "1h") -> dict[str, Any]:
            found = self._rejected(reason, since)
            return {
                "reason": reason,
                "count": len(found),
                "within_policy": sum(r["within_policy"] for r in found),
            }

        @router.post("/returns/reprocess", summary="Accept the rejections the policy allows")
        def reprocess(body: ReasonSince) -> dict[str, Any]:
            found = self._rejected(body.reason, body.since)
            accepted = [r for r in found if r["within_policy"]]
            for r in accepted:
                r["state"] = "accepted"
                self._collect(self.k.pick(L.WAREHOUSES))
            return {"accepted": len(accepted), "still_rejected": len(found) - len(accepted)}

        @router.post("/returns/explain-policy", summary="Send the applicable policy clause")
        def explain(body: ReasonSince) -> dict[str, Any]:
            found = [r for r in self._rejected(body.reason, body.since) if not r["within_policy"]]
            for r in found:
                r["state"] = "explained"
            return {"sent": len(found)}

        @router.post("/returns/fast-refund", summary="Refund at collection, or after inspection")
        def fast_refund(body: FastRefund) -> dict[str, Any]:
            require(body.warehouse, L.WAREHOUSES, "warehouse")
            self.fast_refund[body.warehouse] = body.enabled
            waiting = sum(
                1 for p in self.in_transit if p["warehouse"] == body.warehouse and not p["refunded"]
            )
            return {
                "warehouse": body.warehouse,
                "enabled": body.enabled,
                "waiting_inspection": waiting,
            }

        @router.post("/returns/inspection-mode", summary="Photograph returns at pickup")
        def inspection(body: InspectionMode) -> dict[str, Any]:
            require(body.warehouse, L.WAREHOUSES, "warehouse")
            self.inspection_mode[body.warehouse] = body.mode
            return {"warehouse": body.warehouse, "mode": body.mode}

        @router.post("/returns/request-details", summary="Ask for model, serial number, photos")
        def details(body: Warehouse) -> dict[str, Any]:
            require(body.warehouse, L.WAREHOUSES, "warehouse")
            todo = [
                m for m in self.mismatched if m["warehouse"] == body.warehouse and not m["asked"]
            ]
            for m in todo:
                m["asked"] = True
            return {"sent": len(todo)}

        @router.post("/returns/refunds/audit", summary="Recompute the expected return refunds")
        def audit(body: RouteSince) -> dict[str, Any]:
            require(body.route, L.REFUND_ROUTES, "route")
            since = self.k.elapsed - duration(body.since)
            paid = [
                r
                for r in self.refund_log
                if r["route"] == body.route and r["state"] == "paid" and r["at"] >= since
            ]
            wrong = [r for r in paid if r["refunded"] != r["expected"]]
            diff = round(sum(r["refunded"] - r["expected"] for r in wrong), 2)
            return {"checked": len(paid), "mismatched": len(wrong), "difference": diff}

        @router.post(
            "/returns/refunds/hold", summary="New return refunds on a route wait for an agent"
        )
        def hold_route(body: Route) -> dict[str, Any]:
            require(body.route, L.REFUND_ROUTES, "route")
            self.held_routes.add(body.route)
            waiting = sum(
                1 for r in self.refund_log if r["route"] == body.route and r["state"] == "held"
            )
            return {"route": body.route, "held": True, "waiting": waiting}

        @router.delete(
            "/returns/refunds/hold/{route}", summary="Return refunds on a route are paid again"
        )
        def release_route(route: str) -> dict[str, Any]:
            require(route, L.REFUND_ROUTES, "route")
            self.held_routes.discard(route)
            return {"route": route, "held": False}

        @router.post(
            "/returns/refunds/reroute", summary="Pay failed return refunds the original way"
        )
        def reroute(body: Reroute) -> dict[str, Any]:
            return self.reroute(body.source, body.target)

        @router.post("/aftersales/cases", summary="A customer-service case per affected customer")
        def cases(body: Cases) -> dict[str, Any]:
            require(body.route, L.REFUND_ROUTES, "route")
            late = {id(r) for r in self._late(body.route)}
            bad = [
                r
                for r in self.refund_log
                if r["route"] == body.route
                and (r["state"] == "failed" or id(r) in late or r["refunded"] > r["expected"])
                and not r.get("case")
            ]
            for r in bad:
                r["case"] = body.incident
            return {"cases": len(bad)}

    def reroute(self, source: str, target: str) -> dict[str, Any]:
        """Failed and overdue return refunds on ``source`` are paid through the original payment."""
        require(source, L.REFUND_ROUTES, "route")
        if source == target:
            raise Conflict("same_route", f"return refunds on {source!r} already go that way")
        if self.payments.routes_to:
            raise Conflict(
                "channel_unavailable", "the original payment channel is routed away (3.3)"
            )
        todo = [r for r in self.refund_log if r["route"] == source and r["state"] == "failed"]
        todo += [r for r in self._late(source) if r["state"] == "pending"]
        for r in todo:
            r["state"] = "rerouted"
            self.refunds.labels(route=target, result="ok").inc()
        self._refresh()
        return {"rerouted": len(todo)}

    def _rejected(self, reason: str, since: str) -> list[dict[str, Any]]:
        require(reason, L.RETURN_REASONS, "reason")
        cutoff = self.k.elapsed - duration(since)
        return [
            r
            for r in self.rejections
            if r["reason"] == reason and r["state"] == "rejected" and r["at"] >= cutoff
        ]
