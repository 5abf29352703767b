"""Plan chapter 4: cancellations, the stock release after them, and the refund."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from examples.orderplatform import labels as L
from examples.orderplatform.faults import FaultSpec
from examples.orderplatform.kernel import Conflict, Domain, Kernel, require

#: Cancellation requests per order submitted.
CANCEL_SHARE = 0.1
#: Of cancelled orders, those already paid (and so refunded).
PAID_SHARE = 0.6
ROUTE_WEIGHTS = (0.7, 0.2, 0.1)
#: Healthy outcomes: a few customers try to cancel shipped orders or mistype the order id.
BASE_NOT_ALLOWED = 0.03
BASE_NOT_FOUND = 0.01
#: A reservation still held this long after its cancellation is overdue (the contract's 5 min).
RELEASE_OVERDUE_S = 300.0
ERRORS = ("timeout", "database")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Retry(Strict):
    since_seconds: int = Field(900, ge=1)
    reason: str | None = None


class Rerun(Strict):
    warehouse: str
    older_than_seconds: int = Field(300, ge=0)


class Verify(Strict):
    route: str
    since_seconds: int = Field(86_400, ge=1)


class CorrectAmounts(Strict):
    route: str
    reason: str | None = None


class Reroute(Strict):
    source: str = Field(alias="from")
    target: str = Field(alias="to")


class NotifyDelayed(Strict):
    route: str
    message: str = Field(min_length=1, max_length=500)


class Cancellations(Domain):
    faults = (
        FaultSpec(
            "cancel_errors",
            "4.1",
            "That share of cancellations fails with result=error; after the fault is removed, "
            "cancellations/retry completes the backlog.",
            numbers={"ratio": (0.2, 0.0, 1.0)},
        ),
        FaultSpec(
            "cancel_not_allowed",
            "4.1",
            "Customers try to cancel shipped orders (a near-miss).",
            numbers={"ratio": (0.3, 0.0, 1.0)},
        ),
        FaultSpec(
            "stock_release_stuck",
            "4.2",
            "Releases after cancellation stop in the warehouse; transient: release/rerun releases "
            "them; persistent: release/rerun fails for each.",
            choices={
                "warehouse": ("east", L.STOCK_WAREHOUSES),
                "mode": ("transient", ("transient", "persistent")),
            },
        ),
        FaultSpec(
            "refund_failures",
            "4.3",
            "That share of the route's refunds fails; reroute to original pays them.",
            choices={"route": ("balance", L.REFUND_ROUTES)},
            numbers={"ratio": (0.5, 0.0, 1.0)},
        ),
        FaultSpec(
            "refund_amount_wrong",
            "4.3",
            "Refunds with a wrong amount on the route, a RefundAmountMismatch event each.",
            choices={"route": ("original", L.REFUND_ROUTES)},
            numbers={"per_minute": (1.0, 0.0, 600.0)},
        ),
    )

    def __init__(self, k: Kernel) -> None:
        super().__init__(k)
        m = k.metrics
        self.cancels = m.counter("orders_cancel", "Cancellation requests.", result=L.CANCEL_RESULTS)
        self.cancel_pending = m.gauge(
            "orders_cancel_failed_pending", "Failed cancellations neither retried nor withdrawn."
        )
        self.released = m.counter(
            "orders_stock_released",
            "Reservations released after a cancellation.",
            warehouse=L.STOCK_WAREHOUSES,
        )
        self.overdue = m.gauge(
            "orders_stock_release_overdue",
            "Cancelled orders whose reservation is held 5 minutes after the cancellation.",
            warehouse=L.STOCK_WAREHOUSES,
        )
        self.overdue_units = m.gauge(
            "orders_stock_release_overdue_units",
            "Units those reservations hold back from sale.",
            warehouse=L.STOCK_WAREHOUSES,
        )
        self.refunds = m.counter(
            "orders_refund", "Refund attempts.", route=L.REFUND_ROUTES, result=("ok", "failed")
        )
        self.refund_overdue = m.gauge(
            "orders_refund_overdue",
            "Refunds not paid within the route's SLA.",
            route=L.REFUND_ROUTES,
        )
        self.refund_mismatch = m.counter(
            "orders_refund_amount_mismatch",
            "Refunds whose amount differs from what the customer paid.",
            route=L.REFUND_ROUTES,
        )
        #: failed cancellation requests: {at, error, state: pending|retried}
        self.failed_log: list[dict[str, Any]] = []
        #: reservations still held: {order_id, warehouse, units, at}
        self.stuck: list[dict[str, Any]] = []
        #: refunds: {id, order_id, route, paid, amount, state: paid|failed|wrong, at, notified}
        self.refund_log: list[dict[str, Any]] = []
        self.unpaid: list[dict[str, Any]] = []

    # --- traffic ------------------------------------------------------------------------------

    def step(self, dt: float) -> None:
        k = self.k
        for _ in range(k.due("cancel", k.rate * CANCEL_SHARE * dt)):
            self._cancel()
        wrong = k.fault("refund_amount_wrong")
        if wrong:
            for _ in range(k.due("refund_amount_wrong", wrong["per_minute"] / 60 * dt)):
                self._refund(k.new_id("O"), wrong["route"], wrong_amount=True)
        self._refresh()

    def _cancel(self) -> None:
        k = self.k
        errors, refused = k.fault("cancel_errors"), k.fault("cancel_not_allowed")
        if errors and k.chance(errors["ratio"]):
            self.cancels.labels(result="error").inc()
            self.failed_log.append(
                {"at": k.elapsed, "error": k.pick(ERRORS, (0.7, 0.3)), "state": "pending"}
            )
            return
        if (refused and k.chance(refused["ratio"])) or k.chance(BASE_NOT_ALLOWED):
            self.cancels.labels(result="not_allowed").inc()
            return
        if k.chance(BASE_NOT_FOUND):
            self.cancels.labels(result="not_found").inc()
            return
        self.cancels.labels(result="ok").inc()
        self._after_cancel(k.new_id("O"))

    def _after_cancel(self, order_id: str) -> None:
        """A cancelled order gives back its stock and, if it was paid, its money."""
        k = self.k
        warehouse = k.pick(L.STOCK_WAREHOUSES)
        if k.fault("stock_release_stuck", warehouse=warehouse):
            self.stuck.append(
                {
                    "order_id": order_id,
                    "warehouse": warehouse,
                    "units": k.rng.randint(1, 3),
                    "at": k.elapsed,
                }
            )
        else:
            self.released.labels(warehouse=warehouse).inc()
        if k.chance(PAID_SHARE):
            self._refund(order_id, k.pick(L.REFUND_ROUTES, ROUTE_WEIGHTS))

    def _refund(
        self, order_id: str, route: str, wrong_amount: bool = False, refund_id: str | None = None
    ) -> bool:
        k = self.k
        paid = round(k.rng.uniform(20, 500), 2)
        failing = k.fault("refund_failures", route=route)
        ok = not (failing and k.chance(failing["ratio"]))
        self.refunds.labels(route=route, result="ok" if ok else "failed").inc()
        entry: dict[str, Any] = {
            "id": refund_id or k.new_id("R"),
            "order_id": order_id,
            "route": route,
            "paid": paid,
            "amount": paid,
            "state": "paid" if ok else "failed",
            "at": k.elapsed,
            "notified": False,
        }
        if ok and wrong_amount:
            entry["amount"] = round(paid * k.pick((0.5, 1.1, 2.0)), 2)
            entry["state"] = "wrong"
            self.refund_mismatch.labels(route=route).inc()
            k.emit(
                "RefundAmountMismatch",
                {"route": route},
                order_id=order_id,
                refund_id=entry["id"],
                paid_amount=paid,
                refund_amount=entry["amount"],
            )
        self.refund_log.append(entry)
        if not ok:
            self.unpaid.append(entry)
        if len(self.refund_log) > 200_000:
            cutoff = self.k.elapsed - 86_400  # the longest verify window anyone asks for
            self.refund_log = [
                r for r in self.refund_log if r["at"] >= cutoff or r["state"] != "paid"
            ]
        return ok

    def _refresh(self) -> None:
        k = self.k
        self.cancel_pending.set(sum(1 for f in self.failed_log if f["state"] == "pending"))
        for warehouse in L.STOCK_WAREHOUSES:
            late = [
                s
                for s in self.stuck
                if s["warehouse"] == warehouse and k.elapsed - s["at"] >= RELEASE_OVERDUE_S
            ]
            self.overdue.labels(warehouse=warehouse).set(len(late))
            self.overdue_units.labels(warehouse=warehouse).set(sum(s["units"] for s in late))
        for route in L.REFUND_ROUTES:
            self.refund_overdue.labels(route=route).set(len(self._overdue(route)))

    def _overdue(self, route: str) -> list[dict[str, Any]]:
        sla = L.REFUND_SLA[route]
        # Only failed refunds can be overdue; the full log is far longer than this list.
        self.unpaid = [r for r in self.unpaid if r["state"] == "failed"]
        return [r for r in self.unpaid if r["route"] == route and self.k.elapsed - r["at"] >= sla]

    # --- admin operations ---------------------------------------------------------------------

    def routes(self, router: APIRouter) -> None:
        @router.get("/orders/cancellations/failed", summary="Failed cancellations in a window")
        def failed(since_seconds: int = 900) -> dict[str, Any]:
            found = self._failed_since(since_seconds)
            by_error: dict[str, int] = {}
            for f in found:
                by_error[f["error"]] = by_error.get(f["error"], 0) + 1
            return {"failed": len(found), "by_error": by_error}

        @router.post("/orders/cancellations/retry", summary="Re-run failed cancellations once")
        def retry(body: Retry) -> dict[str, Any]:
            k = self.k
            result = {"retried": 0, "cancelled": 0, "not_allowed": 0, "still_failing": 0}
            for f in self._failed_since(body.since_seconds):
                f["state"] = "retried"
                result["retried"] += 1
                errors = k.fault("cancel_errors")
                if errors and k.chance(errors["ratio"]):
                    result["still_failing"] += 1
                elif k.chance(0.05):  # shipped while it waited: the customer is told why
                    result["not_allowed"] += 1
                else:
                    result["cancelled"] += 1
                    self._after_cancel(k.new_id("O"))
            self._refresh()
            return result

        @router.post("/stock/release/rerun", summary="Run the stock release again")
        def rerun(body: Rerun) -> dict[str, Any]:
            require(body.warehouse, L.STOCK_WAREHOUSES, "warehouse")
            k = self.k
            persistent = k.fault("stock_release_stuck", warehouse=body.warehouse, mode="persistent")
            todo = [
                s
                for s in self.stuck
                if s["warehouse"] == body.warehouse
                and k.elapsed - s["at"] >= body.older_than_seconds
            ]
            if not persistent:
                for s in todo:
                    self.stuck.remove(s)
                    self.released.labels(warehouse=body.warehouse).inc()
            self._refresh()
            done = 0 if persistent else len(todo)
            return {"rerun": len(todo), "released": done, "failed": len(todo) - done}

        @router.post("/refunds/verify", summary="Re-check a route's refunds against payments")
        def verify(body: Verify) -> dict[str, Any]:
            require(body.route, L.REFUND_ROUTES, "route")
            since = self.k.elapsed - body.since_seconds
            mine = [r for r in self.refund_log if r["route"] == body.route and r["at"] >= since]
            return {
                "checked": len(mine),
                "amount_wrong": sum(1 for r in mine if r["state"] == "wrong"),
                "wrong_route": 0,
                "failed": sum(1 for r in mine if r["state"] == "failed"),
                "overdue": sum(1 for r in self._overdue(body.route) if r["at"] >= since),
            }

        @router.post("/refunds/correct-amounts", summary="Re-issue refunds with a wrong amount")
        def correct(body: CorrectAmounts) -> dict[str, Any]:
            require(body.route, L.REFUND_ROUTES, "route")
            result = {"corrected": 0, "flagged": 0, "already_correct": 0}
            for r in self.refund_log:
                if r["route"] != body.route:
                    continue
                if r["state"] == "wrong":
                    # Too high and already paid out: customer service recovers it, not a re-issue.
                    key = "flagged" if r["amount"] > r["paid"] else "corrected"
                    r["state"] = key
                    result[key] += 1
                elif r["state"] == "corrected":
                    result["already_correct"] += 1
            return result

        @router.post("/refunds/reroute", summary="Issue failed refunds again through another route")
        def reroute(body: Reroute) -> dict[str, Any]:
            return self.reroute(body.source, body.target)

        @router.post("/refunds/notify-delayed", summary="Tell customers with overdue refunds")
        def notify(body: NotifyDelayed) -> dict[str, Any]:
            require(body.route, L.REFUND_ROUTES, "route")
            late = self._overdue(body.route)
            fresh = [r for r in late if not r["notified"]]
            for r in fresh:
                r["notified"] = True
            return {"notified": len(fresh), "already_notified": len(late) - len(fresh)}

    def reroute(self, source: str, target: str) -> dict[str, Any]:
        """Failed refunds of ``source`` are issued again through ``target``."""
        require(source, L.REFUND_ROUTES, "route")
        require(target, L.REFUND_ROUTES, "route")
        if source == target:
            raise Conflict("same_route", f"cannot reroute {source!r} to itself")
        moved = 0
        for r in [r for r in self.refund_log if r["route"] == source and r["state"] == "failed"]:
            r["state"] = "rerouted"
            self._refund(r["order_id"], target)
            moved += 1
        self._refresh()
        return {"rerouted": moved}

    def _failed_since(self, seconds: int) -> list[dict[str, Any]]:
        since = self.k.elapsed - seconds
        return [f for f in self.failed_log if f["state"] == "pending" and f["at"] >= since]
