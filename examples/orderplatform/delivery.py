"""Plan chapter 7: deliveries that are late, go to the wrong door, or arrive damaged."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from examples.orderplatform import labels as L
from examples.orderplatform.faults import FaultSpec
from examples.orderplatform.kernel import Conflict, Domain, Kernel, require
from examples.orderplatform.shipping import CARRIER_WEIGHTS

#: Delivery attempts per order submitted.
DELIVERY_SHARE = 0.8
BASE_LATE = 0.05
BASE_FAILED_ATTEMPT = 0.03
FAULT_LATE = 0.5
#: Parcels per courier on a normal shift (the contract: 30-45).
NORMAL_LOAD = 38.0
FRAGILE_SHARE = 0.2
BASE_DAMAGE = 0.003
FAULT_DAMAGE = 0.08
MISDELIVERY = 0.05
SYNC_DAMAGE = 0.05
#: Parcels not yet out for delivery, per carrier and region, a reassign can move.
QUEUE = 200


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CarrierRegion(Strict):
    carrier: str
    region: str


class Reassign(Strict):
    region: str
    from_carrier: str
    to_carrier: str
    max_parcels: int = Field(ge=1)


class PodCode(CarrierRegion):
    enabled: bool


class Carrier(Strict):
    carrier: str


class Policy(Strict):
    carrier: str
    packaging: str
    allowed: bool = False


class CarrierPackaging(Strict):
    carrier: str
    packaging: str


class Delivery(Domain):
    faults = (
        FaultSpec(
            "delivery_congestion",
            "7.1",
            "Traffic or weather: every carrier in the region runs late; couriers' load is normal.",
            choices={"region": ("east", L.REGIONS)},
        ),
        FaultSpec(
            "courier_shortage",
            "7.1",
            "Half the carrier's couriers in the region are off: load doubles, deliveries run "
            "late; rebalancing does not help, reassigning to another carrier does.",
            choices={"carrier": ("zto", L.CARRIERS), "region": ("east", L.REGIONS)},
        ),
        FaultSpec(
            "misdelivery",
            "7.2",
            "Couriers drop parcels at the wrong door: POD mismatches and not-received claims; "
            "enabling the POD code stops new ones.",
            choices={"carrier": ("zto", L.CARRIERS), "region": ("east", L.REGIONS)},
        ),
        FaultSpec(
            "carrier_address_sync",
            "7.2",
            "The carrier's copy of our addresses is damaged: sync mismatches and POD mismatches "
            "in every region; an address resync repairs the copy.",
            choices={"carrier": ("zto", L.CARRIERS)},
        ),
        FaultSpec(
            "transit_damage",
            "7.3",
            "8% of the carrier's parcels with that packaging arrive damaged.",
            choices={"carrier": ("yto", L.CARRIERS), "packaging": ("fragile", L.PACKAGING)},
        ),
    )

    def __init__(self, k: Kernel) -> None:
        super().__init__(k)
        m = k.metrics
        self.deliveries = m.counter(
            "orders_deliveries",
            "Delivery attempts.",
            carrier=L.CARRIERS,
            region=L.REGIONS,
            outcome=("on_time", "late", "failed_attempt"),
        )
        self.load = m.gauge(
            "orders_courier_parcels_per_courier",
            "Parcels out for delivery per courier on shift.",
            carrier=L.CARRIERS,
            region=L.REGIONS,
        )
        self.pod_mismatch = m.counter(
            "orders_delivery_pod_mismatch",
            "Deliveries whose proof of delivery is more than 300 m from the address.",
            carrier=L.CARRIERS,
            region=L.REGIONS,
        )
        self.claims = m.counter(
            "orders_delivery_not_received_claims",
            "Customers reporting 'marked delivered, not received'.",
            carrier=L.CARRIERS,
            region=L.REGIONS,
        )
        self.sync_mismatch = m.counter(
            "orders_carrier_address_sync_mismatch",
            "Parcels whose address in the carrier's tracking differs from ours.",
            carrier=L.CARRIERS,
        )
        self.damaged = m.counter(
            "orders_delivery_damaged",
            "Parcels delivered damaged.",
            carrier=L.CARRIERS,
            packaging=L.PACKAGING,
        )
        self.by_packaging = m.counter(
            "orders_deliveries_by_packaging",
            "Parcels delivered, by packaging.",
            carrier=L.CARRIERS,
            packaging=L.PACKAGING,
        )
        #: (carrier, region) pairs a reassign relieved of their backlog
        self.relieved: set[tuple[str, str]] = set()
        self.pod_code: set[tuple[str, str]] = set()
        self.disallowed: set[tuple[str, str]] = set()
        self.late: dict[tuple[str, str], int] = {}
        self.bad_drops: list[dict[str, Any]] = []
        self.sync_open: dict[str, int] = dict.fromkeys(L.CARRIERS, 0)
        self.damage_claims: list[dict[str, Any]] = []
        for carrier in L.CARRIERS:
            for region in L.REGIONS:
                self.load.labels(carrier=carrier, region=region).set(NORMAL_LOAD)

    # --- traffic ------------------------------------------------------------------------------

    def step(self, dt: float) -> None:
        k = self.k
        for _ in range(k.due("deliver", k.rate * DELIVERY_SHARE * dt)):
            packaging = "fragile" if k.chance(FRAGILE_SHARE) else "standard"
            carrier = self._carrier_for(k.pick(L.CARRIERS, CARRIER_WEIGHTS), packaging)
            self._deliver(carrier, k.pick(L.REGIONS), packaging)

    def fault_changed(self, name: str) -> None:
        if name == "courier_shortage":
            self._show_load()

    def _show_load(self) -> None:
        for carrier in L.CARRIERS:
            for region in L.REGIONS:
                self.load.labels(carrier=carrier, region=region).set(
                    NORMAL_LOAD * (2 if self._short(carrier, region) else 1)
                )

    def _short(self, carrier: str, region: str) -> bool:
        fault = self.k.fault("courier_shortage", carrier=carrier, region=region)
        return fault is not None and (carrier, region) not in self.relieved

    def _carrier_for(self, carrier: str, packaging: str) -> str:
        """The carrier policy: a disallowed packaging goes to the next allowed carrier."""
        if (carrier, packaging) not in self.disallowed:
            return carrier
        return next((c for c in L.CARRIERS if (c, packaging) not in self.disallowed), carrier)

    def _deliver(self, carrier: str, region: str, packaging: str) -> None:
        k = self.k
        late = BASE_LATE
        if k.fault("delivery_congestion", region=region) or self._short(carrier, region):
            late = FAULT_LATE
        roll = k.rng.random()
        outcome = (
            "late"
            if roll < late
            else "failed_attempt"
            if roll < late + BASE_FAILED_ATTEMPT
            else "on_time"
        )
        self.deliveries.labels(carrier=carrier, region=region, outcome=outcome).inc()
        if outcome == "late":
            self.late[(carrier, region)] = self.late.get((carrier, region), 0) + 1
        if outcome == "failed_attempt":
            return
        self.by_packaging.labels(carrier=carrier, packaging=packaging).inc()
        damage = (
            FAULT_DAMAGE
            if k.fault("transit_damage", carrier=carrier, packaging=packaging)
            else BASE_DAMAGE
        )
        if k.chance(damage):
            self.damaged.labels(carrier=carrier, packaging=packaging).inc()
            self.damage_claims.append({"carrier": carrier, "packaging": packaging, "state": "open"})
        wrong_door = (
            k.fault("misdelivery", carrier=carrier, region=region)
            and (carrier, region) not in self.pod_code
        )
        if wrong_door and k.chance(MISDELIVERY):
            self.pod_mismatch.labels(carrier=carrier, region=region).inc()
            self.claims.labels(carrier=carrier, region=region).inc()
            self.bad_drops.append({"carrier": carrier, "region": region, "at": k.elapsed})
        if k.fault("carrier_address_sync", carrier=carrier) and k.chance(SYNC_DAMAGE):
            self.sync_mismatch.labels(carrier=carrier).inc()
            self.sync_open[carrier] += 1
            self.pod_mismatch.labels(carrier=carrier, region=region).inc()
            self.bad_drops.append({"carrier": carrier, "region": region, "at": k.elapsed})

    # --- admin operations ---------------------------------------------------------------------

    def routes(self, router: APIRouter) -> None:
        @router.post(
            "/deliveries/rebalance", summary="Even out parcels between a carrier's couriers"
        )
        def rebalance(body: CarrierRegion) -> dict[str, Any]:
            self._check(body.carrier, body.region)
            # Moving parcels between couriers does not add couriers: a shortage stays.
            load = NORMAL_LOAD * (2 if self._short(body.carrier, body.region) else 1)
            moved = self.k.rng.randint(5, 30)
            return {"moved": moved, "max_per_courier": round(load * 1.2, 1)}

        @router.post("/deliveries/reassign", summary="Hand parcels to another carrier")
        def reassign(body: Reassign) -> dict[str, Any]:
            self._check(body.from_carrier, body.region)
            self._check(body.to_carrier, body.region)
            if body.from_carrier == body.to_carrier:
                raise Conflict("same_carrier", "from_carrier and to_carrier are the same")
            if self._short(body.to_carrier, body.region) or self.k.fault(
                "delivery_congestion", region=body.region
            ):
                raise Conflict(
                    "no_capacity", f"{body.to_carrier} has no spare capacity in {body.region}"
                )
            moved = min(body.max_parcels, QUEUE)
            if moved >= QUEUE // 2:
                self.relieved.add((body.from_carrier, body.region))
                self._show_load()
            return {"reassigned": moved}

        @router.post("/deliveries/notify-delay", summary="Send late parcels' customers a new date")
        def notify(body: CarrierRegion) -> dict[str, Any]:
            self._check(body.carrier, body.region)
            return {"notified": self.late.pop((body.carrier, body.region), 0)}

        @router.post("/deliveries/recover", summary="Retrieval tasks for wrong-door deliveries")
        def recover(body: CarrierRegion) -> dict[str, Any]:
            self._check(body.carrier, body.region)
            since = self.k.elapsed - 86_400
            mine = [
                d
                for d in self.bad_drops
                if d["carrier"] == body.carrier and d["region"] == body.region and d["at"] >= since
            ]
            for d in mine:
                self.bad_drops.remove(d)
            return {"tasks": len(mine)}

        @router.post("/deliveries/pod-code", summary="Require the recipient's code to deliver")
        def pod_code(body: PodCode) -> dict[str, Any]:
            self._check(body.carrier, body.region)
            key = (body.carrier, body.region)
            if body.enabled:
                self.pod_code.add(key)
            else:
                self.pod_code.discard(key)
            return {"carrier": body.carrier, "region": body.region, "enabled": body.enabled}

        @router.post("/deliveries/address-resync", summary="Send the carrier our addresses again")
        def resync(body: Carrier) -> dict[str, Any]:
            require(body.carrier, L.CARRIERS, "carrier")
            resynced, self.sync_open[body.carrier] = self.sync_open[body.carrier], 0
            if self.k.fault("carrier_address_sync", carrier=body.carrier):
                self.k.faults.switch_off("carrier_address_sync")  # its copy is ours again
            return {"resynced": resynced}

        @router.post("/shipments/carrier-policy", summary="Stop giving a packaging to a carrier")
        def policy(body: Policy) -> dict[str, Any]:
            require(body.carrier, L.CARRIERS, "carrier")
            require(body.packaging, L.PACKAGING, "packaging")
            key = (body.carrier, body.packaging)
            if body.allowed:
                self.disallowed.discard(key)
            else:
                others = [
                    c
                    for c in L.CARRIERS
                    if c != body.carrier and (c, body.packaging) not in self.disallowed
                ]
                if not others:
                    raise Conflict(
                        "no_other_carrier", f"no other carrier takes {body.packaging} parcels"
                    )
                self.disallowed.add(key)
            return {"carrier": body.carrier, "packaging": body.packaging, "allowed": body.allowed}

        @router.delete("/shipments/carrier-policy/{carrier}/{packaging}", summary="Allow it again")
        def allow(carrier: str, packaging: str) -> dict[str, Any]:
            require(carrier, L.CARRIERS, "carrier")
            require(packaging, L.PACKAGING, "packaging")
            self.disallowed.discard((carrier, packaging))
            return {"carrier": carrier, "packaging": packaging, "allowed": True}

        @router.post("/deliveries/damage-fast-track", summary="Settle open damage claims now")
        def fast_track(body: CarrierPackaging) -> dict[str, Any]:
            require(body.carrier, L.CARRIERS, "carrier")
            require(body.packaging, L.PACKAGING, "packaging")
            open_ = [
                c
                for c in self.damage_claims
                if c["carrier"] == body.carrier
                and c["packaging"] == body.packaging
                and c["state"] == "open"
            ]
            for claim in open_:
                claim["state"] = "settled"
            return {"settled": len(open_)}

    @staticmethod
    def _check(carrier: str, region: str) -> None:
        require(carrier, L.CARRIERS, "carrier")
        require(region, L.REGIONS, "region")
