"""Plan chapter 5: order modifications, data they store wrongly, and stock that drifts."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from examples.orderplatform import labels as L
from examples.orderplatform.faults import FaultSpec
from examples.orderplatform.kernel import Conflict, Domain, Kernel, NotFound, require

#: Modification requests per order submitted.
MODIFY_SHARE = 0.1
SOURCE_WEIGHTS = (0.7, 0.2, 0.1)
BASE_NOT_ALLOWED = 0.02
BASE_FORBIDDEN = 0.005
#: Stock updates of each kind per order submitted (reserve at order, release at cancel, adjust).
STOCK_UPDATES = {"reserve": 1.0, "release": 0.1, "adjust": 0.05}
SKUS_PER_WAREHOUSE = 400


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Retry(Strict):
    since_seconds: int = Field(900, ge=1)
    reason: str | None = None


class Audit(Strict):
    source: str
    since_seconds: int = Field(3600, ge=1)


class CorrectSource(Audit):
    reason: str | None = None


class PartnerSync(Strict):
    enabled: bool
    reason: str | None = None


class Reconcile(Strict):
    warehouse: str
    apply: bool = False


class Undo(Strict):
    reconcile_id: str


class Modifications(Domain):
    faults = (
        FaultSpec(
            "modify_errors",
            "5.1",
            "That share of modifications fails with result=error.",
            numbers={"ratio": (0.2, 0.0, 1.0)},
        ),
        FaultSpec(
            "modify_forbidden",
            "5.1",
            "Operators lose the permission to modify (a near-miss: result=forbidden).",
            numbers={"ratio": (0.3, 0.0, 1.0)},
        ),
        FaultSpec(
            "modify_wrong_data",
            "5.2",
            "Modifications from the source are stored wrongly, an OrderModificationMismatch event "
            "each; disabling partner sync stops new ones from partner_api.",
            choices={
                "source": ("partner_api", L.MODIFY_SOURCES),
                "field": ("shipping_address", L.MODIFY_FIELDS),
            },
            numbers={"per_minute": (2.0, 0.0, 600.0)},
        ),
        FaultSpec(
            "stock_drift",
            "5.3",
            "The warehouse's stock drifts by that many units (with failing_adjusts its adjust "
            "updates fail too); an applied stock reconcile clears it.",
            choices={"warehouse": ("east", L.STOCK_WAREHOUSES)},
            numbers={"units": (17.0, 1.0, 100_000.0)},
            flags={"failing_adjusts": True},
        ),
    )

    def __init__(self, k: Kernel) -> None:
        super().__init__(k)
        m = k.metrics
        self.modifies = m.counter(
            "orders_modify", "Modification requests.", result=L.MODIFY_RESULTS
        )
        self.mismatch = m.counter(
            "orders_modify_mismatch",
            "Modifications whose stored result differs from the requested change.",
            field=L.MODIFY_FIELDS,
            source=L.MODIFY_SOURCES,
        )
        self.update_failed = m.counter(
            "orders_stock_update_failed",
            "Stock updates that failed or were rolled back.",
            warehouse=L.STOCK_WAREHOUSES,
            operation=L.STOCK_OPERATIONS,
        )
        self.drift = m.gauge(
            "orders_stock_drift_units",
            "Units of stock on hand that disagree with the ledgers.",
            warehouse=L.STOCK_WAREHOUSES,
        )
        self.partner_sync = True
        self.errors: list[dict[str, Any]] = []
        self.wrong: list[dict[str, Any]] = []
        self.log: list[tuple[float, str]] = []  # (elapsed, source) of every stored modification
        self.drift_units = dict.fromkeys(L.STOCK_WAREHOUSES, 0)
        self.reconciles: dict[str, dict[str, Any]] = {}
        self._last_reserve: dict[str, float] = dict.fromkeys(L.STOCK_WAREHOUSES, 0.0)

    # --- traffic ------------------------------------------------------------------------------

    def step(self, dt: float) -> None:
        k = self.k
        for _ in range(k.due("modify", k.rate * MODIFY_SHARE * dt)):
            self._modify()
        wrong = k.fault("modify_wrong_data")
        if wrong and (wrong["source"] != "partner_api" or self.partner_sync):
            for _ in range(k.due("modify_wrong_data", wrong["per_minute"] / 60 * dt)):
                self._store_wrong(wrong["source"], wrong["field"])
        drift = k.fault("stock_drift")
        for warehouse in L.STOCK_WAREHOUSES:
            if drift and drift["warehouse"] == warehouse:
                self.drift_units[warehouse] = int(drift["units"])
            self.drift.labels(warehouse=warehouse).set(self.drift_units[warehouse])
        for operation, share in STOCK_UPDATES.items():
            for _ in range(k.due(f"stock:{operation}", k.rate * share * dt)):
                warehouse = k.pick(L.STOCK_WAREHOUSES)
                self._last_reserve[warehouse] = k.elapsed
                failing = drift and drift["warehouse"] == warehouse and drift["failing_adjusts"]
                if operation == "adjust" and failing:
                    self.update_failed.labels(warehouse=warehouse, operation=operation).inc()

    def _modify(self) -> None:
        k = self.k
        errors, forbidden = k.fault("modify_errors"), k.fault("modify_forbidden")
        source = k.pick(L.MODIFY_SOURCES, SOURCE_WEIGHTS)
        if source == "partner_api" and not self.partner_sync:
            return  # partners get 503 and retry later: no request reaches the order service
        if errors and k.chance(errors["ratio"]):
            self.modifies.labels(result="error").inc()
            cause = k.pick(("database", "timeout"), (0.8, 0.2))
            self.errors.append({"at": k.elapsed, "cause": cause, "state": "pending"})
        elif (forbidden and k.chance(forbidden["ratio"])) or k.chance(BASE_FORBIDDEN):
            self.modifies.labels(result="forbidden").inc()
        elif k.chance(BASE_NOT_ALLOWED):
            self.modifies.labels(result="not_allowed").inc()
        else:
            self.modifies.labels(result="ok").inc()
            self.log.append((k.elapsed, source))

    def _store_wrong(self, source: str, field: str) -> None:
        k = self.k
        order_id, modification_id = k.new_id("O"), k.new_id("M")
        self.log.append((k.elapsed, source))
        self.wrong.append(
            {
                "order_id": order_id,
                "source": source,
                "field": field,
                "at": k.elapsed,
                "state": "open",
                "shipped": k.chance(0.1),
            }
        )
        self.mismatch.labels(field=field, source=source).inc()
        k.emit(
            "OrderModificationMismatch",
            {"field": field, "source": source},
            order_id=order_id,
            modification_id=modification_id,
        )

    # --- admin operations ---------------------------------------------------------------------

    def routes(self, router: APIRouter) -> None:
        @router.get("/orders/modifications/errors", summary="Failed modifications in a window")
        def errors(since_seconds: int = 900) -> dict[str, Any]:
            found = self._errors_since(since_seconds)
            by_cause: dict[str, int] = {}
            for e in found:
                by_cause[e["cause"]] = by_cause.get(e["cause"], 0) + 1
            return {"errors": len(found), "by_cause": by_cause}

        @router.post("/orders/modifications/retry", summary="Apply failed modifications again")
        def retry(body: Retry) -> dict[str, Any]:
            k = self.k
            result = {"retried": 0, "applied": 0, "not_allowed": 0, "still_failing": 0}
            for e in self._errors_since(body.since_seconds):
                e["state"] = "retried"
                result["retried"] += 1
                failing = k.fault("modify_errors")
                if failing and k.chance(failing["ratio"]):
                    result["still_failing"] += 1
                elif k.chance(0.04):
                    result["not_allowed"] += 1  # the order moved on (shipped) meanwhile
                else:
                    result["applied"] += 1
            return result

        @router.post(
            "/orders/modifications/audit", summary="Compare a source's changes with orders"
        )
        def audit(body: Audit) -> dict[str, Any]:
            require(body.source, L.MODIFY_SOURCES, "source")
            since = self.k.elapsed - body.since_seconds
            checked = sum(1 for t, s in self.log if s == body.source and t >= since)
            wrong = [w for w in self.wrong if w["source"] == body.source and w["at"] >= since]
            open_ = [w for w in wrong if w["state"] == "open"]
            return {"checked": checked, "wrong": len(wrong), "open": len(open_)}

        @router.post("/orders/modifications/correct", summary="Re-apply requested changes")
        def correct(body: CorrectSource) -> dict[str, Any]:
            require(body.source, L.MODIFY_SOURCES, "source")
            since = self.k.elapsed - body.since_seconds
            result = {"corrected": 0, "needs_customer_service": 0, "already_correct": 0}
            for w in self.wrong:
                if w["source"] != body.source or w["at"] < since:
                    continue
                if w["state"] != "open":
                    result["already_correct"] += 1
                elif w["shipped"]:
                    w["state"] = "customer_service"
                    result["needs_customer_service"] += 1
                else:
                    w["state"] = "corrected"
                    result["corrected"] += 1
            return result

        @router.get("/orders/modifications/mismatches", summary="Wrong modifications not corrected")
        def mismatches(source: str) -> dict[str, Any]:
            require(source, L.MODIFY_SOURCES, "source")
            open_ = [w for w in self.wrong if w["source"] == source and w["state"] == "open"]
            return {"source": source, "open": len(open_)}

        @router.post("/orders/partners/sync", summary="Accept order changes from partners or not")
        def partner_sync(body: PartnerSync) -> dict[str, Any]:
            previous, self.partner_sync = self.partner_sync, body.enabled
            return {"enabled": body.enabled, "previous": previous}

        @router.post("/stock/reconcile", summary="Recount a warehouse's stock from the ledgers")
        def reconcile(body: Reconcile) -> dict[str, Any]:
            require(body.warehouse, L.STOCK_WAREHOUSES, "warehouse")
            units = self.drift_units[body.warehouse]
            drifted = min(units, max(1, units // 3)) if units else 0
            over = (units * 4 + 4) // 5 if units else 0
            reconcile_id = self.k.new_id("r")
            if body.apply and units:
                self.reconciles[reconcile_id] = {
                    "warehouse": body.warehouse,
                    "units": units,
                    "at": self.k.elapsed,
                    "undone": False,
                }
                self.drift_units[body.warehouse] = 0
                if self.k.fault("stock_drift", warehouse=body.warehouse):
                    self.k.faults.switch_off("stock_drift")  # stock on hand is the ledger's again
                self.drift.labels(warehouse=body.warehouse).set(0)
            return {
                "reconcile_id": reconcile_id,
                "skus_checked": SKUS_PER_WAREHOUSE,
                "skus_drifted": drifted,
                "units_over": over,
                "units_short": units - over,
                "applied": body.apply,
            }

        @router.post("/stock/reconcile/undo", summary="Put back the levels a reconcile replaced")
        def undo(body: Undo) -> dict[str, Any]:
            done = self.reconciles.get(body.reconcile_id)
            if done is None:
                raise NotFound(f"no applied reconcile {body.reconcile_id!r}")
            if done["undone"]:
                return {"reconcile_id": body.reconcile_id, "undone": True}
            if self._last_reserve[done["warehouse"]] > done["at"]:
                raise Conflict(
                    "stock_moved",
                    "orders were placed against the reconciled levels since; undo would lose them",
                )
            done["undone"] = True
            self.drift_units[done["warehouse"]] = done["units"]
            self.drift.labels(warehouse=done["warehouse"]).set(done["units"])
            return {"reconcile_id": body.reconcile_id, "undone": True}

    def _errors_since(self, seconds: int) -> list[dict[str, Any]]:
        since = self.k.elapsed - seconds
        return [e for e in self.errors if e["state"] == "pending" and e["at"] >= since]
