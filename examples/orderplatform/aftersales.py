"""Plan chapter 9: after-sales response times, recurring cases, and missing case records."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from examples.orderplatform import labels as L
from examples.orderplatform.faults import FaultSpec
from examples.orderplatform.kernel import Conflict, Domain, Kernel, duration, require

#: New cases per order submitted.
CASE_SHARE = 0.03
CONTACT_WEIGHTS = (0.5, 0.2, 0.15, 0.15)
#: Overdue first responses on a normal day, and how fast they grow/shrink per second.
NORMAL_OVERDUE = 2.0
UNDERSTAFFED_GROWTH = 0.05  # +3 a minute
#: Overflow brings the gauge under 5 within 20 minutes from the alert's threshold region.
OVERFLOW_DRAIN = 0.03  # -1.8 a minute: from the alert's 10-30 to under 5 in 20 minutes
RECUR_SHARE = 0.3
RECONCILE_EVERY_S = 1800.0
#: Share of source records a backfill cannot turn into a case (too little data).
UNRESOLVABLE = 0.1
#: Source records (return, refund, complaint call) per order submitted, for 9.3.
RECORD_SHARE = {"return": 0.04, "refund": 0.05, "complaint_call": 0.02}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Contact(Strict):
    contact: str


class Overflow(Strict):
    contact: str
    enabled: bool


class ContactNotice(Strict):
    contact: str
    enabled: bool
    redirect_to: str | None = None


class Review(Strict):
    category: str
    since: str = "24h"


class Kind(Strict):
    kind: str


class Empty(Strict):
    pass


class Aftersales(Domain):
    faults = (
        FaultSpec(
            "aftersales_understaffed",
            "9.1",
            "Half the channel's agents are off: its overdue first responses climb; the overflow "
            "desk brings them back under 5 within 20 minutes.",
            choices={"contact": ("chat", L.CONTACTS)},
        ),
        FaultSpec(
            "aftersales_contact_down",
            "9.1",
            "The channel's intake stops answering (its probe fails).",
            choices={"contact": ("phone", L.CONTACTS)},
        ),
        FaultSpec(
            "aftersales_recurring",
            "9.2",
            "Cases of the category are closed with a standard answer: 30% recur "
            "(AftersalesCaseRecurred).",
            choices={"category": ("damaged", L.CATEGORIES)},
        ),
        FaultSpec(
            "aftersales_records_dropped",
            "9.3",
            "The case writer drops cases of that kind; a backfill recreates them.",
            choices={"kind": ("refund", L.RECORD_KINDS)},
        ),
        FaultSpec(
            "aftersales_reconciliation_stuck",
            "9.3",
            "The reconciliation job hangs: no heartbeat event; a reconcile call still works.",
        ),
    )

    def __init__(self, k: Kernel) -> None:
        super().__init__(k)
        m = k.metrics
        self.opened = m.counter(
            "orders_aftersales_cases_opened",
            "New after-sales cases.",
            contact=L.CONTACTS,
            category=L.CATEGORIES,
        )
        self.overdue_gauge = m.gauge(
            "orders_aftersales_first_response_overdue",
            "Open cases whose first response is later than promised.",
            contact=L.CONTACTS,
        )
        self.contact_up = m.gauge(
            "orders_aftersales_contact_up",
            "1 when the channel's intake answers the probe.",
            contact=L.CONTACTS,
        )
        self.recurred = m.counter(
            "orders_aftersales_cases_recurred",
            "Cases opened again within 30 days.",
            category=L.CATEGORIES,
        )
        self.missing_gauge = m.gauge(
            "orders_aftersales_records_missing",
            "Source records of the last 7 days without an after-sales case.",
            kind=L.RECORD_KINDS,
        )
        self.overdue = dict.fromkeys(L.CONTACTS, NORMAL_OVERDUE)
        self.overflow: str | None = None
        self.notices: dict[str, str] = {}
        self.recurrences: list[dict[str, Any]] = []
        self.dropped: dict[str, int] = dict.fromkeys(L.RECORD_KINDS, 0)
        self.last_reconcile = 0.0
        for contact in L.CONTACTS:
            self.contact_up.labels(contact=contact).set(1)
            self.overdue_gauge.labels(contact=contact).set(NORMAL_OVERDUE)

    # --- traffic ------------------------------------------------------------------------------

    def step(self, dt: float) -> None:
        k = self.k
        for _ in range(k.due("case", k.rate * CASE_SHARE * dt)):
            self._open_case()
        for contact in L.CONTACTS:
            short = k.fault("aftersales_understaffed", contact=contact)
            level = self.overdue[contact]
            if self.overflow == contact:
                level = max(NORMAL_OVERDUE, level - OVERFLOW_DRAIN * dt)
            elif short:
                level += UNDERSTAFFED_GROWTH * dt
            self.overdue[contact] = level
            self.overdue_gauge.labels(contact=contact).set(int(level))
            down = k.fault("aftersales_contact_down", contact=contact) is not None
            self.contact_up.labels(contact=contact).set(0 if down else 1)
        dropping = k.fault("aftersales_records_dropped")
        for kind, share in RECORD_SHARE.items():
            for _ in range(k.due(f"record:{kind}", k.rate * share * dt)):
                if dropping and dropping["kind"] == kind:
                    self.dropped[kind] += 1
        if k.elapsed - self.last_reconcile >= RECONCILE_EVERY_S and not k.fault(
            "aftersales_reconciliation_stuck"
        ):
            self.reconcile()

    def _open_case(self) -> None:
        k = self.k
        contact = k.pick(L.CONTACTS, CONTACT_WEIGHTS)
        category = k.pick(L.CATEGORIES)
        self.opened.labels(contact=contact, category=category).inc()
        if k.fault("aftersales_recurring", category=category) and k.chance(RECUR_SHARE):
            case_id, previous = k.new_id("C"), k.new_id("C")
            self.recurred.labels(category=category).inc()
            self.recurrences.append({"category": category, "at": k.elapsed, "state": "open"})
            k.emit(
                "AftersalesCaseRecurred",
                {"category": category, "contact": contact},
                case_id=case_id,
                previous_case_id=previous,
                order_id=k.new_id("O"),
            )

    def reconcile(self) -> dict[str, Any]:
        """Compare source records with cases; update the gauge and send the heartbeat."""
        k = self.k
        self.last_reconcile = k.elapsed
        for kind in L.RECORD_KINDS:
            self.missing_gauge.labels(kind=kind).set(self.dropped[kind])
        week = min(k.elapsed, 7 * 86_400)
        checked = int(sum(RECORD_SHARE.values()) * k.rate * week)
        missing = sum(self.dropped.values())
        k.emit("AftersalesReconciliationCompleted", {}, checked=checked, missing=missing)
        return {"checked": checked, "missing": missing}

    # --- admin operations ---------------------------------------------------------------------

    def routes(self, router: APIRouter) -> None:
        @router.post("/aftersales/holding-reply", summary="A committed reply to every overdue case")
        def holding(body: Contact) -> dict[str, Any]:
            require(body.contact, L.CONTACTS, "contact")
            sent = int(self.overdue[body.contact])
            # A reply with a case number and a committed time is a first response.
            self.overdue[body.contact] = 0.0
            self.overdue_gauge.labels(contact=body.contact).set(0)
            return {"sent": sent}

        @router.post("/aftersales/overflow", summary="Let the shared desk take a channel's cases")
        def overflow(body: Overflow) -> dict[str, Any]:
            require(body.contact, L.CONTACTS, "contact")
            if body.enabled:
                if self.overflow not in (None, body.contact):
                    raise Conflict(
                        "overflow_busy", f"the shared desk already serves {self.overflow}"
                    )
                self.overflow = body.contact
            elif self.overflow == body.contact:
                self.overflow = None
            return {
                "contact": body.contact,
                "enabled": body.enabled,
                "agents": 8 if body.enabled else 0,
            }

        @router.post("/aftersales/contact-notice", summary="Send customers to another channel")
        def notice(body: ContactNotice) -> dict[str, Any]:
            require(body.contact, L.CONTACTS, "contact")
            if body.enabled:
                target = require(body.redirect_to or "", L.CONTACTS, "contact")
                if self.k.fault("aftersales_contact_down", contact=target):
                    raise Conflict("redirect_down", f"{target} is down too")
                self.notices[body.contact] = target
            else:
                self.notices.pop(body.contact, None)
            return {"contact": body.contact, "enabled": body.enabled}

        @router.post("/aftersales/cases/review", summary="Re-open recurred cases for senior review")
        def review(body: Review) -> dict[str, Any]:
            require(body.category, L.CATEGORIES, "category")
            since = self.k.elapsed - duration(body.since)
            todo = [
                r
                for r in self.recurrences
                if r["category"] == body.category and r["state"] == "open" and r["at"] >= since
            ]
            for r in todo:
                r["state"] = "reviewing"
            return {"reopened": len(todo)}

        @router.post("/aftersales/records/backfill", summary="Create the missing cases of a kind")
        def backfill(body: Kind) -> dict[str, Any]:
            require(body.kind, L.RECORD_KINDS, "kind")
            missing = self.dropped[body.kind]
            unresolved = sum(1 for _ in range(missing) if self.k.chance(UNRESOLVABLE))
            self.dropped[body.kind] = unresolved
            self.missing_gauge.labels(kind=body.kind).set(unresolved)
            if self.k.fault("aftersales_records_dropped", kind=body.kind):
                self.k.faults.switch_off(
                    "aftersales_records_dropped"
                )  # the writer is repaired with it
            return {"created": missing - unresolved, "unresolved": unresolved}

        @router.post("/aftersales/records/reconcile", summary="Run the reconciliation now")
        def reconcile(body: Empty | None = None) -> dict[str, Any]:
            return self.reconcile()
