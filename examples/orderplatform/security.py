"""Plan chapter 11 (11.1, 11.3): personal data leaving the platform, account rings on one card.

Security events carry the identity the response acts on (account, instrument) in their labels,
as the contract's chapter 11 says; metrics keep closed label sets.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from examples.orderplatform.faults import FaultSpec
from examples.orderplatform.kernel import Conflict, Domain, Kernel, NotFound, duration

DATASETS = ("customers", "orders", "addresses", "payment_methods")
EXPORT_CHANNELS = ("admin_console", "api", "report")
ACCOUNT_TYPES = ("staff", "service", "partner")
SYSTEMS = ("admin_console", "api", "sftp", "vpn")
INSTRUMENT_TYPES = ("card", "wallet", "bank_account")
#: Routine traffic per order submitted: back-office exports, instruments linked, disputes.
EXPORT_SHARE = 0.002
LINK_SHARE = 0.05
CHARGEBACK_SHARE = 0.001
RING_EVERY_S = 120.0  # "one every few minutes"
FREEZE_LIMIT = 200
#: A few established staff accounts do the routine exports.
STAFF = ("ops.li", "ops.wang", "finance.zhao", "cs.chen")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Reason(Strict):
    reason: str | None = None


class Expire(Strict):
    account: str
    reason: str | None = None


class Ring(Strict):
    instrument: str
    account_age: Literal["new", "established"]
    reason: str | None = None


class Notify(Strict):
    instrument: str
    account_age: Literal["new", "established"]
    message: Literal["instrument_misuse"] = "instrument_misuse"


class Security(Domain):
    faults = (
        FaultSpec(
            "data_exfiltration",
            "11.1",
            "The account exports that many records of the dataset every minute "
            "(SensitiveDataExported each) until it is revoked.",
            choices={"dataset": ("customers", DATASETS)},
            numbers={"records": (50_000.0, 1.0, 10_000_000.0)},
            texts={"account": "ops.li"},
        ),
        FaultSpec(
            "departed_account_active",
            "11.1",
            "The account is marked departed but the system was not told: its sign-ins (one a "
            "minute) are DepartedAccountAccess with outcome allowed until it is revoked.",
            choices={"system": ("vpn", SYSTEMS)},
            texts={"account": "ops.wang"},
        ),
        FaultSpec(
            "account_ring",
            "11.3",
            "That many new accounts link the instrument, one every two minutes; with chargebacks "
            "a ChargebackReceived follows each of their orders. A blocked instrument ends it.",
            numbers={"accounts": (12.0, 1.0, 10_000.0)},
            flags={"chargebacks": False},
            texts={"instrument": "pi_7f3a9c"},
        ),
    )

    def __init__(self, k: Kernel) -> None:
        super().__init__(k)
        m = k.metrics
        self.exported = m.counter(
            "orders_sensitive_records_exported",
            "Personal-data records exported.",
            dataset=DATASETS,
            export_channel=EXPORT_CHANNELS,
            account_type=ACCOUNT_TYPES,
        )
        self.departed = m.counter(
            "orders_departed_account_access",
            "Sign-ins and API calls by accounts of departed people.",
            system=SYSTEMS,
            outcome=("allowed", "denied"),
        )
        self.linked = m.counter(
            "orders_payment_instruments_linked",
            "Payment instruments added to an account.",
            instrument_type=INSTRUMENT_TYPES,
            account_age=("new", "established"),
        )
        self.chargebacks = m.counter(
            "orders_chargebacks",
            "Payments disputed by the instrument's issuer.",
            instrument_type=INSTRUMENT_TYPES,
            reason=("fraudulent", "not_received", "other"),
        )
        self.accounts: dict[str, dict[str, Any]] = {
            a: {
                "status": "active",
                "account_type": "staff",
                "account_age": "established",
                "sessions": 2,
                "keys": 1,
            }
            for a in STAFF
        }
        self.exports: list[dict[str, Any]] = []
        #: instrument -> {type, blocked, accounts: [account], orders_paid}
        self.instruments: dict[str, dict[str, Any]] = {}
        self.ring_linked = 0

    def _account(
        self, name: str, account_type: str = "staff", age: str = "established"
    ) -> dict[str, Any]:
        return self.accounts.setdefault(
            name,
            {
                "status": "active",
                "account_type": account_type,
                "account_age": age,
                "sessions": 1,
                "keys": 1,
            },
        )

    # --- traffic ------------------------------------------------------------------------------

    def step(self, dt: float) -> None:
        k = self.k
        for _ in range(k.due("export", k.rate * EXPORT_SHARE * dt)):
            self._export(k.pick(STAFF), k.pick(DATASETS), k.rng.randint(20, 800), "admin_console")
        for _ in range(k.due("link", k.rate * LINK_SHARE * dt)):
            self._link(f"pi_{k.rng.getrandbits(32):08x}", k.new_id("u"), "established")
        for _ in range(k.due("chargeback", k.rate * CHARGEBACK_SHARE * dt)):
            self._chargeback(
                f"pi_{k.rng.getrandbits(32):08x}",
                k.pick(INSTRUMENT_TYPES),
                k.pick(("not_received", "other")),
            )
        leak = k.fault("data_exfiltration")
        if leak and self._account(leak["account"])["status"] == "active":
            for _ in range(k.due("data_exfiltration", dt / 60)):
                self._export(leak["account"], leak["dataset"], int(leak["records"]), "api")
        gone = k.fault("departed_account_active")
        if gone:
            for _ in range(k.due("departed_account_active", dt / 60)):
                self._departed_sign_in(gone["account"], gone["system"])
        ring = k.fault("account_ring")
        if ring:
            instrument = self.instruments.setdefault(
                ring["instrument"],
                {"type": "card", "blocked": False, "accounts": [], "orders_paid": 0},
            )
            if not instrument["blocked"] and self.ring_linked < ring["accounts"]:
                for _ in range(k.due("account_ring", dt / RING_EVERY_S)):
                    self.ring_linked += 1
                    account = k.new_id("ring")
                    self._link(ring["instrument"], account, "new", remember=True)
                    self._ring_order(ring["instrument"], account, ring["chargebacks"])

    def fault_changed(self, name: str) -> None:
        if name == "account_ring" and not self.k.fault(name):
            self.ring_linked = 0

    def _export(self, account: str, dataset: str, records: int, channel: str) -> None:
        k = self.k
        holder = self._account(account)
        export_id = k.new_id("exp")
        self.exports.append(
            {
                "export_id": export_id,
                "account": account,
                "dataset": dataset,
                "records": records,
                "at": k.elapsed,
                "expired": False,
            }
        )
        self.exported.labels(
            dataset=dataset, export_channel=channel, account_type=holder["account_type"]
        ).inc(records)
        k.emit(
            "SensitiveDataExported",
            {
                "account": account,
                "dataset": dataset,
                "channel": channel,
                "account_type": holder["account_type"],
            },
            value=records,
            export_id=export_id,
        )

    def _departed_sign_in(self, account: str, system: str) -> None:
        k = self.k
        holder = self._account(account)
        outcome = "denied" if holder["status"] == "revoked" else "allowed"
        if outcome == "allowed":
            holder["sessions"] += 1
        self.departed.labels(system=system, outcome=outcome).inc()
        k.emit(
            "DepartedAccountAccess",
            {"account": account, "system": system, "outcome": outcome},
            departed_on=k.iso(-14 * 86_400)[:10],
            client_ip=f"203.0.113.{k.rng.randint(2, 250)}",
        )

    def _link(self, instrument: str, account: str, age: str, remember: bool = False) -> None:
        """An account adds an instrument. Only ``remember``ed ones (rings) are kept in memory:
        routine links are a steady stream the admin operations never ask about."""
        k = self.k
        entry = self.instruments.get(instrument)
        if entry is None:
            entry = {
                "type": k.pick(INSTRUMENT_TYPES),
                "blocked": False,
                "accounts": [],
                "orders_paid": 0,
            }
            if remember:
                self.instruments[instrument] = entry
        if account in entry["accounts"]:
            return
        if remember:
            entry["accounts"].append(account)
            self._account(account, "partner", age)
        self.linked.labels(instrument_type=entry["type"], account_age=age).inc()
        k.emit(
            "PaymentInstrumentLinked",
            {
                "instrument": instrument,
                "instrument_type": entry["type"],
                "account_age": age,
                "account": account,
            },
        )

    def _ring_order(self, instrument: str, account: str, chargeback: bool) -> None:
        entry = self.instruments[instrument]
        if entry["blocked"] or self.accounts[account]["status"] == "frozen":
            return
        entry["orders_paid"] += 1
        if chargeback:
            self._chargeback(instrument, entry["type"], "fraudulent")

    def _chargeback(self, instrument: str, instrument_type: str, reason: str) -> None:
        k = self.k
        self.chargebacks.labels(instrument_type=instrument_type, reason=reason).inc()
        k.emit(
            "ChargebackReceived",
            {"instrument": instrument, "instrument_type": instrument_type, "reason": reason},
            order_id=k.new_id("O"),
        )

    # --- admin operations ---------------------------------------------------------------------

    def routes(self, router: APIRouter) -> None:
        self._leak_routes(router)
        self._fraud_routes(router)

    def _leak_routes(self, router: APIRouter) -> None:
        @router.get("/exports", summary="An account's exports in a window")
        def exports(account: str, since: str = "24h") -> dict[str, Any]:
            cutoff = self.k.elapsed - duration(since)
            mine = [e for e in self.exports if e["account"] == account and e["at"] >= cutoff]
            return {
                "account": account,
                "records_total": sum(e["records"] for e in mine),
                "exports": [
                    {
                        "export_id": e["export_id"],
                        "dataset": e["dataset"],
                        "records": e["records"],
                        "at": self.k.iso(e["at"] - self.k.elapsed),
                    }
                    for e in mine
                ],
            }

        @router.post("/accounts/{account}/revoke", summary="End an account's access")
        def revoke(account: str, body: Reason) -> dict[str, Any]:
            holder = self._account(account)
            if holder["status"] == "revoked":
                return {
                    "account": account,
                    "status": "revoked",
                    "sessions_ended": 0,
                    "keys_deleted": 0,
                }
            ended, deleted = holder["sessions"], holder["keys"]
            holder.update(status="revoked", sessions=0, keys=0)
            return {
                "account": account,
                "status": "revoked",
                "sessions_ended": ended,
                "keys_deleted": deleted,
            }

        @router.get("/accounts/{account}", summary="An account's state")
        def account(account: str) -> dict[str, Any]:
            holder = self.accounts.get(account)
            if holder is None:
                raise NotFound(f"no account {account!r}")
            return {
                "account": account,
                "status": holder["status"],
                "account_type": holder["account_type"],
                "account_age": holder["account_age"],
            }

        @router.post("/exports/expire", summary="Stop an account's export links working")
        def expire(body: Expire) -> dict[str, Any]:
            live = [e for e in self.exports if e["account"] == body.account and not e["expired"]]
            for e in live:
                e["expired"] = True
            return {"expired": len(live)}

    def _matching(
        self, instrument: str, age: str | None = None, status: str | None = None
    ) -> list[str]:
        entry = self.instruments.get(instrument)
        if entry is None:
            return []
        return [
            a
            for a in entry["accounts"]
            if (age is None or self.accounts[a]["account_age"] == age)
            and (status is None or self.accounts[a]["status"] == status)
        ]

    def _fraud_routes(self, router: APIRouter) -> None:
        @router.get("/accounts", summary="Accounts using an instrument")
        def accounts(
            instrument: str, account_age: str | None = None, status: str | None = None
        ) -> dict[str, Any]:
            found = self._matching(instrument, account_age, status)
            return {
                "instrument": instrument,
                "count": len(found),
                "accounts": [
                    {
                        "account": a,
                        "account_age": self.accounts[a]["account_age"],
                        "status": self.accounts[a]["status"],
                    }
                    for a in found
                ],
            }

        @router.post("/payments/instruments/{instrument}/block", summary="Refuse an instrument")
        def block(instrument: str, body: Reason) -> dict[str, Any]:
            entry = self.instruments.setdefault(
                instrument, {"type": "card", "blocked": False, "accounts": [], "orders_paid": 0}
            )
            entry["blocked"] = True
            return {"instrument": instrument, "blocked": True}

        @router.get("/payments/instruments/{instrument}", summary="An instrument's state")
        def instrument(instrument: str) -> dict[str, Any]:
            entry = self.instruments.get(
                instrument, {"blocked": False, "accounts": [], "orders_paid": 0}
            )
            return {
                "instrument": instrument,
                "blocked": entry["blocked"],
                "accounts": len(entry["accounts"]),
                "orders_paid": entry["orders_paid"],
            }

        @router.post(
            "/accounts/freeze", summary="Freeze the accounts of an age using an instrument"
        )
        def freeze(body: Ring) -> dict[str, Any]:
            found = self._matching(body.instrument, body.account_age)
            if len(found) > FREEZE_LIMIT:
                raise Conflict(
                    "too_many_accounts", f"{len(found)} accounts match: a person decides"
                )
            fresh = [a for a in found if self.accounts[a]["status"] == "active"]
            for a in fresh:
                self.accounts[a]["status"] = "frozen"
            return {"frozen": len(fresh)}

        @router.post("/accounts/unfreeze", summary="Undo a freeze")
        def unfreeze(body: Ring) -> dict[str, Any]:
            frozen = self._matching(body.instrument, body.account_age, "frozen")
            for a in frozen:
                self.accounts[a]["status"] = "active"
            return {"unfrozen": len(frozen)}

        @router.post("/accounts/notify", summary="Warn the accounts using an instrument")
        def notify(body: Notify) -> dict[str, Any]:
            return {"notified": len(self._matching(body.instrument, body.account_age))}
