"""Plan chapter 2: order creation, the post-create audit, duplicate orders."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from examples.orderplatform import labels as L
from examples.orderplatform.faults import FaultSpec
from examples.orderplatform.kernel import Conflict, Domain, Kernel, require
from examples.orderplatform.payments import Payments

CLIENT_WEIGHTS = (0.5, 0.35, 0.15)
#: Submissions that fail on a healthy platform: typos in the form, the last item just sold.
BASE_INVALID = 0.01
BASE_OUT_OF_STOCK = 0.005
INSTANCES = ("orders-1", "orders-2", "orders-3", "orders-4")
#: Of the extra orders a duplicate creates: how many were paid, and how many already shipped.
DUPLICATE_PAID = 0.3
DUPLICATE_SHIPPED = 0.1


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Recycle(Strict):
    unhealthy_only: bool = True


class StorefrontNotice(Strict):
    client: str
    message: str = Field(min_length=1, max_length=500)
    ttl_seconds: int = Field(1800, ge=1, le=7 * 86_400)


class OutOfStockMode(Strict):
    client: str
    mode: Literal["suggest_alternatives", "plain"]


class Resync(Strict):
    fields: list[str] = Field(min_length=1)


class CorrectMismatches(Strict):
    field: str
    notify_customers: bool = True
    reason: str | None = None


class Validation(Strict):
    field: str
    mode: Literal["strict", "lenient"]


class CancelDuplicates(Strict):
    client: str
    reason: str | None = None


class SubmitGuard(Strict):
    client: str
    mode: Literal["strict", "normal"]


def _client(default: str = "app") -> dict[str, tuple[str, tuple[str, ...]]]:
    return {"client": (default, L.ORDER_CLIENTS)}


class Orders(Domain):
    faults = (
        FaultSpec(
            "order_system_errors",
            "2.1",
            "That share of the client's submissions fails with system_error and one order-service "
            "instance is unhealthy; recycling the unhealthy instances clears it.",
            choices=_client(),
            numbers={"ratio": (0.3, 0.0, 1.0)},
        ),
        FaultSpec(
            "order_out_of_stock",
            "2.1",
            "That share of the client's submissions fails with out_of_stock.",
            choices=_client("web"),
            numbers={"ratio": (0.2, 0.0, 1.0)},
        ),
        FaultSpec(
            "order_invalid_input",
            "2.1",
            "That share of the client's submissions fails with invalid_input (a near-miss).",
            choices=_client("web"),
            numbers={"ratio": (0.3, 0.0, 1.0)},
        ),
        FaultSpec(
            "order_data_mismatch",
            "2.2",
            "The audit flags that many orders per minute for the field (OrderDataMismatch each); "
            "a catalogue resync (catalogue fields) or strict validation (address, invoice) ends it.",
            choices={"field": ("price", L.ORDER_FIELDS)},
            numbers={"per_minute": (2.0, 0.0, 600.0)},
        ),
        FaultSpec(
            "duplicate_orders",
            "2.3",
            "That many extra orders per minute (DuplicateOrderDetected each); a strict submit guard "
            "for the client ends it.",
            choices=_client(),
            numbers={"per_minute": (3.0, 0.0, 600.0)},
        ),
    )

    def __init__(self, k: Kernel, payments: Payments) -> None:
        super().__init__(k)
        self.payments = payments
        m = k.metrics
        self.created = m.counter("orders_created", "Orders created.", client=L.ORDER_CLIENTS)
        self.failed = m.counter(
            "orders_failed",
            "Order submissions that did not become an order.",
            client=L.ORDER_CLIENTS,
            reason=L.ORDER_FAILURE_REASONS,
        )
        self.data_mismatch = m.counter(
            "orders_data_mismatch",
            "Orders found wrong by the post-create audit.",
            field=L.ORDER_FIELDS,
        )
        self.duplicates = m.counter(
            "orders_duplicate",
            "Extra orders created for a repeated submission.",
            client=L.ORDER_CLIENTS,
        )
        self.duplicates_pending = m.gauge(
            "orders_duplicate_pending",
            "Extra orders flagged, not yet cancelled.",
            client=L.ORDER_CLIENTS,
        )
        self.healthy = dict.fromkeys(INSTANCES, True)
        self.notices: dict[tuple[str, str], tuple[str, float]] = {}
        self.out_of_stock_mode = dict.fromkeys(L.ORDER_CLIENTS, "plain")
        self.validation = dict.fromkeys(L.VALIDATED_FIELDS, "lenient")
        self.submit_guard = dict.fromkeys(L.ORDER_CLIENTS, "normal")
        self.mismatches: dict[str, list[dict[str, Any]]] = {f: [] for f in L.ORDER_FIELDS}
        self.extra: list[dict[str, Any]] = []

    # --- traffic ------------------------------------------------------------------------------

    def place(self) -> None:
        """One submission from a storefront."""
        k = self.k
        client = k.pick(L.ORDER_CLIENTS, CLIENT_WEIGHTS)
        reason = None
        for fault, why in (
            ("order_system_errors", "system_error"),
            ("order_out_of_stock", "out_of_stock"),
            ("order_invalid_input", "invalid_input"),
        ):
            params = k.fault(fault, client=client)
            if params and k.chance(params["ratio"]):
                reason = why
                break
        if reason is None:
            strict = self._strict_refusals()
            if k.chance(BASE_INVALID + strict):
                reason = "invalid_input"
            elif k.chance(BASE_OUT_OF_STOCK):
                reason = "out_of_stock"
            elif self.payments.pay(self.payments.choose())[1] is not None:
                reason = "payment_failed"
        if reason is None:
            self.created.labels(client=client).inc()
        else:
            self.failed.labels(client=client, reason=reason).inc()

    def _strict_refusals(self) -> float:
        """Strict validation refuses, at submit, what the audit would have flagged later."""
        fault = self.k.fault("order_data_mismatch")
        if fault and self.validation.get(fault["field"]) == "strict":
            return min(float(fault["per_minute"]) / 60 / max(self.k.rate, 1e-9), 1.0)
        return 0.0

    def step(self, dt: float) -> None:
        k = self.k
        fault = k.fault("order_data_mismatch")
        if fault and self.validation.get(fault["field"], "lenient") == "lenient":
            for _ in range(k.due("order_data_mismatch", fault["per_minute"] / 60 * dt)):
                self._flag_mismatch(fault["field"])
        dup = k.fault("duplicate_orders")
        if dup and self.submit_guard[dup["client"]] == "normal":
            for _ in range(k.due("duplicate_orders", dup["per_minute"] / 60 * dt)):
                self._duplicate(dup["client"])
        self.healthy[INSTANCES[-1]] = k.fault("order_system_errors") is None

    def fault_changed(self, name: str) -> None:
        if name == "order_system_errors":
            self.healthy[INSTANCES[-1]] = self.k.fault(name) is None

    def _flag_mismatch(self, field: str) -> None:
        k = self.k
        order_id = k.new_id("O")
        expected, actual = _values(k, field)
        self.mismatches[field].append(
            {"order_id": order_id, "expected": expected, "actual": actual}
        )
        self.data_mismatch.labels(field=field).inc()
        client = k.pick(L.ORDER_CLIENTS, CLIENT_WEIGHTS)
        k.emit(
            "OrderDataMismatch",
            {"field": field, "client": client},
            order_id=order_id,
            expected=expected,
            actual=actual,
        )

    def _duplicate(self, client: str) -> None:
        k = self.k
        first, extra = k.new_id("O"), k.new_id("O")
        shipped = k.chance(DUPLICATE_SHIPPED)
        paid = shipped or k.chance(DUPLICATE_PAID)
        self.extra.append(
            {
                "order_id": extra,
                "client": client,
                "paid": paid,
                "shipped": shipped,
                "state": "flagged",
            }
        )
        self.duplicates.labels(client=client).inc()
        self._refresh_pending()
        k.emit("DuplicateOrderDetected", {"client": client}, order_id=extra, duplicate_of=first)

    def _refresh_pending(self) -> None:
        for client in L.ORDER_CLIENTS:
            pending = sum(
                1 for e in self.extra if e["client"] == client and e["state"] == "flagged"
            )
            self.duplicates_pending.labels(client=client).set(pending)

    # --- admin operations ---------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        instances = [{"id": i, "healthy": ok} for i, ok in self.healthy.items()]
        gateway = self.k.fault("payment_gateway_errors") and self.payments.active_pool == "primary"
        return {
            "instances": instances,
            "healthy": sum(self.healthy.values()),
            "unhealthy": len(self.healthy) - sum(self.healthy.values()),
            "database": "ok",
            "stock_service": "degraded" if self.k.fault("order_out_of_stock") else "ok",
            "payment_service": "degraded" if gateway else "ok",
        }

    def routes(self, router: APIRouter) -> None:
        @router.get("/orders/health", summary="The order service's view of itself")
        def health() -> dict[str, Any]:
            return self.health()

        @router.post("/orders/instances/recycle", summary="Restart order-service instances")
        def recycle(body: Recycle) -> dict[str, Any]:
            targets = [i for i, ok in self.healthy.items() if not ok or not body.unhealthy_only]
            if not body.unhealthy_only and sum(self.healthy.values()) <= 1:
                # One at a time: while the only healthy instance restarts, nothing would serve.
                raise Conflict(
                    "no_healthy_instance", "recycling would leave no healthy instance serving"
                )
            if any(not self.healthy[i] for i in targets):
                # A restart clears what made the instance fail: the fault ends with it.
                self.k.faults.switch_off("order_system_errors")
            for instance in targets:
                self.healthy[instance] = True
            return {"recycled": len(targets), "healthy": sum(self.healthy.values())}

        @router.post("/orders/storefront/notice", summary="A message on a client's checkout page")
        def notice(body: StorefrontNotice) -> dict[str, Any]:
            require(body.client, L.ORDER_CLIENTS, "client")
            key = (body.client, body.message)
            notice_id = self.notices.get(key, (self.k.new_id("n"), 0.0))[0]
            self.notices[key] = (notice_id, self.k.elapsed + body.ttl_seconds)
            return {"notice_id": notice_id, "expires_at": self.k.iso(body.ttl_seconds)}

        @router.post(
            "/orders/storefront/out-of-stock-mode", summary="What a sold-out refusal shows"
        )
        def out_of_stock_mode(body: OutOfStockMode) -> dict[str, Any]:
            require(body.client, L.ORDER_CLIENTS, "client")
            previous, self.out_of_stock_mode[body.client] = (
                self.out_of_stock_mode[body.client],
                body.mode,
            )
            return {"client": body.client, "mode": body.mode, "previous": previous}

        @router.get("/orders/mismatches", summary="Open audit findings for a field")
        def mismatches(field: str) -> dict[str, Any]:
            require(field, L.ORDER_FIELDS, "field")
            found = self.mismatches[field]
            return {
                "field": field,
                "open": len(found),
                "orders": [m["order_id"] for m in found[:100]],
            }

        @router.post("/orders/catalogue/resync", summary="Reload the product cache from the master")
        def resync(body: Resync) -> dict[str, Any]:
            for field in body.fields:
                require(field, L.ORDER_FIELDS, "field")
            fault = self.k.fault("order_data_mismatch")
            catalogue = {"product_name", "price", "quantity"}
            if fault and fault["field"] in catalogue and fault["field"] in body.fields:
                self.k.faults.switch_off("order_data_mismatch")  # the stale cache was the cause
            return {
                "products_updated": sum(
                    len(self.mismatches[f]) for f in body.fields if f in catalogue
                )
            }

        @router.post("/orders/mismatches/correct", summary="Correct open findings of a field")
        def correct(body: CorrectMismatches) -> dict[str, Any]:
            require(body.field, L.ORDER_FIELDS, "field")
            found, self.mismatches[body.field] = self.mismatches[body.field], []
            held = sum(1 for _ in found if self.k.chance(0.2))  # paid orders whose amount changes
            return {"corrected": len(found) - held, "held_for_review": held, "already_correct": 0}

        @router.post("/orders/validation", summary="Refuse a field's bad values at submit time")
        def validation(body: Validation) -> dict[str, Any]:
            require(body.field, L.ORDER_FIELDS, "field")
            if body.field not in self.validation:
                raise Conflict(
                    "no_validator", f"{body.field!r} comes from the catalogue and has no validator"
                )
            previous, self.validation[body.field] = self.validation[body.field], body.mode
            return {"field": body.field, "mode": body.mode, "previous": previous}

        @router.post("/orders/duplicates/cancel", summary="Cancel a client's flagged extra orders")
        def cancel_duplicates(body: CancelDuplicates) -> dict[str, Any]:
            require(body.client, L.ORDER_CLIENTS, "client")
            mine = [e for e in self.extra if e["client"] == body.client]
            result = {"cancelled": 0, "refunded": 0, "already_cancelled": 0, "skipped_shipped": 0}
            for extra in mine:
                if extra["state"] == "cancelled":
                    result["already_cancelled"] += 1
                elif extra["shipped"]:
                    if extra["state"] == "flagged":
                        result["skipped_shipped"] += 1
                        extra["state"] = "customer_service"
                elif extra["state"] == "flagged":
                    extra["state"] = "cancelled"
                    result["cancelled"] += 1
                    result["refunded"] += 1 if extra["paid"] else 0
            self._refresh_pending()
            return result

        @router.post("/orders/submit-guard", summary="Answer repeated submissions with the order")
        def submit_guard(body: SubmitGuard) -> dict[str, Any]:
            require(body.client, L.ORDER_CLIENTS, "client")
            previous, self.submit_guard[body.client] = self.submit_guard[body.client], body.mode
            return {"client": body.client, "mode": body.mode, "previous": previous}


def _values(k: Kernel, field: str) -> tuple[str, str]:
    """A plausible (expected, actual) pair for a wrong field."""
    if field == "price":
        price = round(k.rng.uniform(10, 300), 2)
        return f"{price:.2f}", f"{price * k.pick((0.5, 1.2, 10.0)):.2f}"
    if field == "quantity":
        n = k.rng.randint(1, 4)
        return str(n), str(n + k.rng.randint(1, 3))
    if field == "product_name":
        return "Thermos 500ml blue", "Thermos 350ml blue"
    if field == "shipping_address":
        return "88 Jiefang Rd, Xuhui, Shanghai 200030", "88 Jiefang Rd, Xuhui, Shanghai"
    return "invoice title: Example Trading Co.", "invoice title: (empty)"
