"""Plan chapter 6: dispatch, the carriers' waybill APIs, addresses, and missing items."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from examples.orderplatform import labels as L
from examples.orderplatform.faults import FaultSpec
from examples.orderplatform.kernel import Conflict, Domain, Kernel, require

#: Dispatch attempts per order submitted.
SHIP_SHARE = 0.8
CARRIER_WEIGHTS = (0.3, 0.25, 0.2, 0.15, 0.1)
CLIENT_WEIGHTS = (0.3, 0.3, 0.3, 0.1)
#: Address verification on a healthy platform: customers' typos make about 2% invalid.
BASE_INVALID = 0.02
BASE_CORRECTED = 0.03
AUTOFILL_BUG = 0.2
#: Order lines per parcel; share of lines picked wrongly on a normal day.
LINES_PER_PARCEL = 2
BASE_PICKING_ERROR = 0.0002  # ~3 lines per warehouse in 30 min at 20 orders/s: under the alert
PICKING_FAULT = 0.05
#: Of the missing lines caused by a procurement delay / shortage, per parcel at W.
SHORTAGE_LINES = 0.1
GARBLED = 0.1
CARRIER_PROBE_S = 10.0
#: Customers asked to complete data finish it at this rate per second (half within ~10 min).
COMPLETION_RATE = 1 / 900


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Warehouse(Strict):
    warehouse: str


class WarehouseReason(Strict):
    warehouse: str
    reason: str


class CarrierRoute(Strict):
    source: str = Field(alias="from")
    target: str = Field(alias="to")


class AddressReview(Strict):
    client: str
    enabled: bool


class Client(Strict):
    client: str


class Hold(Strict):
    warehouse: str
    filter: Literal["address_mismatch"] = "address_mismatch"


class PackVerification(Strict):
    warehouse: str
    mode: Literal["sample", "strict"]


class WarehouseCause(Strict):
    warehouse: str
    cause: str


def _wh() -> dict[str, tuple[str, tuple[str, ...]]]:
    return {"warehouse": ("east", L.WAREHOUSES)}


class Shipping(Domain):
    faults = (
        FaultSpec(
            "shipment_incomplete_data",
            "6.1",
            "New orders at the warehouse lose the recipient's phone: failures incomplete_data.",
            choices=_wh(),
        ),
        FaultSpec(
            "shipment_unpaid",
            "6.1",
            "Orders reach the warehouse's queue before payment settles: failures unpaid.",
            choices=_wh(),
        ),
        FaultSpec(
            "shipping_stock_shortage",
            "6.1",
            "The warehouse's best sellers are at zero: failures out_of_stock and missing lines "
            "with cause out_of_stock; stock/rebalance ends it.",
            choices=_wh(),
        ),
        FaultSpec(
            "carrier_api_down",
            "6.1",
            "The carrier's waybill API answers 5xx: outcome=error and failures carrier_rejected "
            "until a carrier route moves its waybills.",
            choices={"carrier": ("sf", L.CARRIERS)},
        ),
        FaultSpec(
            "address_autofill_bug",
            "6.2",
            "The client's address autofill puts a wrong district into about 20% of addresses.",
            choices={"client": ("ios", L.SHIP_CLIENTS)},
        ),
        FaultSpec(
            "address_garbling",
            "6.2",
            "The order-to-warehouse sync damages non-ASCII characters of some addresses.",
            choices=_wh(),
        ),
        FaultSpec(
            "picking_errors",
            "6.3",
            "Pickers take a wrong or no item for 5% of lines; strict pack verification catches "
            "them before sealing.",
            choices=_wh(),
        ),
        FaultSpec(
            "procurement_delay",
            "6.3",
            "A supplier's delivery to the warehouse is late: missing lines procurement_delay.",
            choices=_wh(),
        ),
    )

    def __init__(self, k: Kernel) -> None:
        super().__init__(k)
        m = k.metrics
        self.created = m.counter(
            "orders_shipments_created",
            "Shipments handed to a carrier.",
            warehouse=L.WAREHOUSES,
            carrier=L.CARRIERS,
        )
        self.failed = m.counter(
            "orders_shipment_failed",
            "Dispatch attempts that failed, by the first reason found.",
            warehouse=L.WAREHOUSES,
            reason=L.SHIPMENT_FAILURES,
        )
        self.carrier_api = m.counter(
            "orders_carrier_api_requests",
            "Calls to the carriers' waybill APIs.",
            carrier=L.CARRIERS,
            outcome=("ok", "error", "timeout"),
        )
        self.verifications = m.counter(
            "orders_address_verifications",
            "Address checks of new orders before dispatch.",
            client=L.SHIP_CLIENTS,
            result=("valid", "corrected", "invalid"),
        )
        self.address_mismatch = m.counter(
            "orders_shipment_address_mismatch",
            "Shipments whose printed address differs from the order's.",
            warehouse=L.WAREHOUSES,
        )
        self.missing = m.counter(
            "orders_shipment_items_missing",
            "Order lines not in the parcel.",
            warehouse=L.WAREHOUSES,
            cause=L.MISSING_CAUSES,
        )
        #: failed shipments waiting: {warehouse, reason, at, state: waiting|asked}
        self.waiting: list[dict[str, Any]] = []
        self.carrier_routes: dict[str, str] = {}
        self.address_review = dict.fromkeys(L.SHIP_CLIENTS, False)
        self.held_review: list[dict[str, Any]] = []
        #: address-mismatch shipments: {warehouse, state: flagged|held|collected|relabelled}
        self.mismatched: list[dict[str, Any]] = []
        self.pack_mode = dict.fromkeys(L.WAREHOUSES, "sample")
        #: missing lines: {warehouse, cause, state: open|reshipped, notified}
        self.missing_lines: list[dict[str, Any]] = []
        self.recent_calls: dict[str, list[bool]] = {c: [] for c in L.CARRIERS}

    # --- traffic ------------------------------------------------------------------------------

    def step(self, dt: float) -> None:
        k = self.k
        for _ in range(k.due("ship", k.rate * SHIP_SHARE * dt)):
            self._dispatch(k.pick(L.WAREHOUSES), k.pick(L.CARRIERS, CARRIER_WEIGHTS))
        # A routed-away carrier still gets a status probe every 10 s, so its error ratio keeps
        # measuring it and the route is handed back only when the carrier really recovered.
        for carrier in list(self.carrier_routes):
            for _ in range(k.due(f"carrier-probe:{carrier}", dt / CARRIER_PROBE_S)):
                self._call(carrier)
        # Customers asked for their details complete them; the order re-enters the queue.
        for w in [w for w in self.waiting if w["state"] == "asked"]:
            if k.chance(COMPLETION_RATE * dt):
                self.waiting.remove(w)

    def carrier_for(self, carrier: str) -> str:
        return self.carrier_routes.get(carrier, carrier)

    def carrier_failing(self, carrier: str) -> bool:
        return self.k.fault("carrier_api_down", carrier=carrier) is not None

    def _dispatch(self, warehouse: str, booked: str) -> None:
        k = self.k
        client = k.pick(L.SHIP_CLIENTS, CLIENT_WEIGHTS)
        self._verify_address(client)
        reason = None
        if k.fault("shipment_incomplete_data", warehouse=warehouse):
            reason = "incomplete_data"
        elif k.fault("shipment_unpaid", warehouse=warehouse):
            reason = "unpaid"
        elif k.fault("shipping_stock_shortage", warehouse=warehouse) and k.chance(0.3):
            reason = "out_of_stock"
        if reason is None:
            ok = self._call(self.carrier_for(booked))
            if not ok:
                reason = "carrier_rejected"
        if reason is not None:
            self.failed.labels(warehouse=warehouse, reason=reason).inc()
            self.waiting.append(
                {
                    "warehouse": warehouse,
                    "reason": reason,
                    "carrier": booked,
                    "at": k.elapsed,
                    "state": "waiting",
                }
            )
            return
        self.created.labels(warehouse=warehouse, carrier=self.carrier_for(booked)).inc()
        self._pack(warehouse)
        if k.fault("address_garbling", warehouse=warehouse) and k.chance(GARBLED):
            self.address_mismatch.labels(warehouse=warehouse).inc()
            self.mismatched.append({"warehouse": warehouse, "state": "flagged"})

    def _call(self, carrier: str) -> bool:
        """One call to the carrier's waybill API; True when it answered."""
        ok = not self.carrier_failing(carrier)
        self.carrier_api.labels(carrier=carrier, outcome="ok" if ok else "error").inc()
        calls = self.recent_calls[carrier]
        calls.append(ok)
        del calls[:-200]
        return ok

    def _verify_address(self, client: str) -> None:
        k = self.k
        bug = k.fault("address_autofill_bug", client=client)
        roll = k.rng.random()
        invalid = BASE_INVALID + (AUTOFILL_BUG if bug else 0.0)
        result = (
            "invalid"
            if roll < invalid
            else "corrected"
            if roll < invalid + BASE_CORRECTED
            else "valid"
        )
        self.verifications.labels(client=client, result=result).inc()
        if result != "valid" and self.address_review[client]:
            self.held_review.append({"client": client, "state": "held"})

    def _pack(self, warehouse: str) -> None:
        k = self.k
        for _ in range(LINES_PER_PARCEL):
            cause = None
            if k.fault("shipping_stock_shortage", warehouse=warehouse) and k.chance(SHORTAGE_LINES):
                cause = "out_of_stock"
            elif k.fault("procurement_delay", warehouse=warehouse) and k.chance(SHORTAGE_LINES):
                cause = "procurement_delay"
            else:
                rate = (
                    PICKING_FAULT
                    if k.fault("picking_errors", warehouse=warehouse)
                    else BASE_PICKING_ERROR
                )
                # Strict verification scans every item before sealing: the picker fixes it.
                if k.chance(rate) and self.pack_mode[warehouse] == "sample":
                    cause = "picking_error"
            if cause is not None:
                self.missing.labels(warehouse=warehouse, cause=cause).inc()
                self.missing_lines.append(
                    {"warehouse": warehouse, "cause": cause, "state": "open", "notified": False}
                )

    # --- admin operations ---------------------------------------------------------------------

    def routes(self, router: APIRouter) -> None:
        self._dispatch_routes(router)
        self._address_routes(router)
        self._missing_routes(router)

    def _of(self, warehouse: str, reason: str, state: str = "waiting") -> list[dict[str, Any]]:
        return [
            w
            for w in self.waiting
            if w["warehouse"] == warehouse and w["reason"] == reason and w["state"] == state
        ]

    def _dispatch_routes(self, router: APIRouter) -> None:
        @router.get("/shipments/failed", summary="Failed shipments waiting at a warehouse")
        def failed(warehouse: str, reason: str) -> dict[str, Any]:
            require(warehouse, L.WAREHOUSES, "warehouse")
            require(reason, L.SHIPMENT_FAILURES, "reason")
            found = self._of(warehouse, reason) + self._of(warehouse, reason, "asked")
            oldest = max((self.k.elapsed - w["at"] for w in found), default=0.0)
            return {
                "warehouse": warehouse,
                "reason": reason,
                "count": len(found),
                "oldest_seconds": round(oldest),
            }

        @router.post("/shipments/request-info", summary="Ask customers to complete recipient data")
        def request_info(body: Warehouse) -> dict[str, Any]:
            require(body.warehouse, L.WAREHOUSES, "warehouse")
            todo = self._of(body.warehouse, "incomplete_data")
            for w in todo:
                w["state"] = "asked"  # asked once: not again within 24 h
            return {"requested": len(todo)}

        @router.post("/shipments/recheck-payment", summary="Re-read the payment of unpaid failures")
        def recheck(body: Warehouse) -> dict[str, Any]:
            require(body.warehouse, L.WAREHOUSES, "warehouse")
            unsettled = self.k.fault("shipment_unpaid", warehouse=body.warehouse) is not None
            requeued = returned = 0
            for w in self._of(body.warehouse, "unpaid"):
                self.waiting.remove(w)
                # While the fault lasts, most were really not paid yet; after it, payment settled.
                if unsettled and self.k.chance(0.7):
                    returned += 1
                else:
                    requeued += 1
                    self._dispatch(body.warehouse, w["carrier"])
            return {"requeued": requeued, "returned_to_payment": returned}

        @router.post("/stock/rebalance", summary="Move stock to a warehouse that is short")
        def rebalance(body: Warehouse) -> dict[str, Any]:
            require(body.warehouse, L.WAREHOUSES, "warehouse")
            short = self.k.fault("shipping_stock_shortage", warehouse=body.warehouse) is not None
            waiting = self._of(body.warehouse, "out_of_stock")
            lines = [
                m
                for m in self.missing_lines
                if m["warehouse"] == body.warehouse
                and m["cause"] == "out_of_stock"
                and m["state"] == "open"
            ]
            if not short and not waiting and not lines:
                return {"moved_units": 0, "requeued": 0, "still_short": 0}
            if short:
                self.k.faults.switch_off("shipping_stock_shortage")
            for w in waiting:
                self.waiting.remove(w)
                self._dispatch(body.warehouse, w["carrier"])
            return {
                "moved_units": 3 * (len(waiting) + len(lines)) + 20,
                "requeued": len(waiting),
                "still_short": 0,
            }

        @router.post("/shipments/retry", summary="Re-queue a warehouse's failed shipments")
        def retry(body: WarehouseReason) -> dict[str, Any]:
            require(body.warehouse, L.WAREHOUSES, "warehouse")
            require(body.reason, L.SHIPMENT_FAILURES, "reason")
            todo = self._of(body.warehouse, body.reason)
            for w in todo:
                self.waiting.remove(w)
                self._dispatch(body.warehouse, w["carrier"])
            return {"requeued": len(todo)}

        @router.get("/shipments/carriers/{carrier}", summary="A carrier's waybill API as we see it")
        def carrier(carrier: str) -> dict[str, Any]:
            require(carrier, L.CARRIERS, "carrier")
            calls = self.recent_calls[carrier]
            ratio = round(calls.count(False) / len(calls), 3) if calls else 0.0
            return {
                "carrier": carrier,
                "api_error_ratio": ratio,
                "routed_to": self.carrier_routes.get(carrier),
            }

        @router.post("/shipments/carrier-route", summary="Issue a carrier's waybills with another")
        def carrier_route(body: CarrierRoute) -> dict[str, Any]:
            require(body.source, L.CARRIERS, "carrier")
            require(body.target, L.CARRIERS, "carrier")
            if body.source == body.target:
                raise Conflict("same_carrier", "from and to are the same carrier")
            if body.target in self.carrier_routes or self.carrier_failing(body.target):
                raise Conflict(
                    "carrier_unavailable", f"carrier {body.target!r} is routed away or failing"
                )
            self.carrier_routes[body.source] = body.target
            todo = [
                w
                for w in self.waiting
                if w["reason"] == "carrier_rejected"
                and w["carrier"] == body.source
                and w["state"] == "waiting"
            ]
            for w in todo:
                self.waiting.remove(w)
                self._dispatch(w["warehouse"], body.source)
            return {"from": body.source, "to": body.target, "requeued": len(todo)}

        @router.delete("/shipments/carrier-route/{source}", summary="End a carrier route")
        def end_route(source: str) -> dict[str, Any]:
            require(source, L.CARRIERS, "carrier")
            self.carrier_routes.pop(source, None)
            return {"from": source, "routed_to": None}

    def _address_routes(self, router: APIRouter) -> None:
        @router.post("/shipments/address-review", summary="Hold unverified addresses for review")
        def review(body: AddressReview) -> dict[str, Any]:
            require(body.client, L.SHIP_CLIENTS, "client")
            self.address_review[body.client] = body.enabled
            if not body.enabled:
                for h in self.held_review:
                    if h["client"] == body.client and h["state"] == "held":
                        h["state"] = "released"
            held = sum(
                1 for h in self.held_review if h["client"] == body.client and h["state"] == "held"
            )
            return {"client": body.client, "enabled": body.enabled, "held": held}

        @router.post("/shipments/address-confirmations", summary="Ask held customers to confirm")
        def confirmations(body: Client) -> dict[str, Any]:
            require(body.client, L.SHIP_CLIENTS, "client")
            held = [
                h for h in self.held_review if h["client"] == body.client and h["state"] == "held"
            ]
            for h in held:
                h["state"] = "asked"
            return {"sent": len(held)}

        @router.post("/shipments/hold", summary="Stop mismatch shipments before collection")
        def hold(body: Hold) -> dict[str, Any]:
            require(body.warehouse, L.WAREHOUSES, "warehouse")
            held = collected = 0
            for m in self.mismatched:
                if m["warehouse"] != body.warehouse or m["state"] != "flagged":
                    continue
                # The carrier collects a few times a day: some parcels have already left.
                m["state"] = "collected" if self.k.chance(0.2) else "held"
                held += m["state"] == "held"
                collected += m["state"] == "collected"
            return {"held": held, "already_collected": collected}

        @router.post("/shipments/relabel", summary="Print new labels for held mismatch shipments")
        def relabel(body: Warehouse) -> dict[str, Any]:
            require(body.warehouse, L.WAREHOUSES, "warehouse")
            held = [
                m
                for m in self.mismatched
                if m["warehouse"] == body.warehouse and m["state"] == "held"
            ]
            if not held:
                raise Conflict("nothing_held", f"no held mismatch shipment at {body.warehouse}")
            for m in held:
                m["state"] = "relabelled"
            return {"relabelled": len(held)}

    def _missing_routes(self, router: APIRouter) -> None:
        @router.post("/shipments/pack-verification", summary="Scan every parcel, or a sample")
        def pack(body: PackVerification) -> dict[str, Any]:
            require(body.warehouse, L.WAREHOUSES, "warehouse")
            self.pack_mode[body.warehouse] = body.mode
            return {"warehouse": body.warehouse, "mode": body.mode}

        @router.post("/shipments/reship-missing", summary="Follow-up shipments for missing lines")
        def reship(body: WarehouseCause) -> dict[str, Any]:
            require(body.warehouse, L.WAREHOUSES, "warehouse")
            require(body.cause, L.MISSING_CAUSES, "cause")
            fault = {
                "out_of_stock": "shipping_stock_shortage",
                "procurement_delay": "procurement_delay",
            }
            name = fault.get(body.cause)
            no_stock = name is not None and self.k.fault(name, warehouse=body.warehouse) is not None
            lines = self._lines(body.warehouse, body.cause)
            if not no_stock:
                for line in lines:
                    line["state"] = "reshipped"
            return {
                "reshipped": 0 if no_stock else len(lines),
                "waiting_stock": len(lines) if no_stock else 0,
            }

        @router.post("/shipments/notify-delay", summary="Tell customers a missing line follows")
        def notify(body: WarehouseCause) -> dict[str, Any]:
            require(body.warehouse, L.WAREHOUSES, "warehouse")
            require(body.cause, L.MISSING_CAUSES, "cause")
            fresh = [
                line for line in self._lines(body.warehouse, body.cause) if not line["notified"]
            ]
            for line in fresh:
                line["notified"] = True
            return {"notified": len(fresh)}

    def _lines(self, warehouse: str, cause: str) -> list[dict[str, Any]]:
        return [
            m
            for m in self.missing_lines
            if m["warehouse"] == warehouse and m["cause"] == cause and m["state"] == "open"
        ]
