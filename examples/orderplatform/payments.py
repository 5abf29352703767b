"""Payment channels (plan chapter 3): routing between channels, probes, and paying one order."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from examples.orderplatform.faults import Faults
from examples.orderplatform.labels import CHANNELS, CUSTOMER_CHANNELS
from examples.orderplatform.metrics import Metrics

#: How customers spread over the channels (alipay is the busiest, as in the plan's market).
WEIGHTS = (0.45, 0.35, 0.20)
#: Payments that fail with a healthy channel: wrong password, insufficient balance (plan 3.1).
BASE_FAILURE = 0.02


class Conflict(Exception):
    """The platform's state forbids the operation (HTTP 409)."""


@dataclass
class Outcome:
    channel: str
    ok: bool
    reason: str


class Payments:
    """Which channel takes whose payments, and whether each channel answers."""

    def __init__(self, metrics: Metrics, faults: Faults) -> None:
        self.metrics = metrics
        self.faults = faults
        #: customer channel -> channel that processes its payments, when not itself
        self.routes: dict[str, str] = {}

    def choose(self, rng: random.Random) -> str:
        return rng.choices(CUSTOMER_CHANNELS, WEIGHTS)[0]

    def healthy(self, channel: str) -> bool:
        """What a probe of the channel sees: the outage fault makes it fail."""
        return self.faults.on_for("payment-channel-outage", "channel", channel) is None

    def pay(self, chosen: str, rng: random.Random) -> Outcome:
        """Charge one order; the failure is counted on the channel that processed it."""
        channel = self.routes.get(chosen, chosen)
        self.metrics.payment_attempts.labels(channel=channel).inc()
        if not self.healthy(channel):
            outcome = Outcome(channel, False, "channel_unavailable")
        elif (flaky := self.faults.get("payment-failures")) and rng.random() < flaky["ratio"]:
            outcome = Outcome(channel, False, "system_error")
        elif rng.random() < BASE_FAILURE:
            outcome = Outcome(channel, False, "declined")
        else:
            outcome = Outcome(channel, True, "ok")
        if not outcome.ok:
            self.metrics.payment_failed.labels(channel=channel).inc()
        return outcome

    def probe(self) -> None:
        for channel in CHANNELS:
            self.metrics.channel_up.labels(channel=channel).set(1 if self.healthy(channel) else 0)

    def status(self, channel: str) -> dict[str, Any]:
        self._known(channel)
        return {
            "channel": channel,
            "status": "up" if self.healthy(channel) else "down",
            "routed_to": self.routes.get(channel),
            "receives_from": sorted(c for c, to in self.routes.items() if to == channel),
            "attempts": self.metrics.value("orders_payment_attempts_total", channel=channel),
            "failed": self.metrics.value("orders_payment_failed_total", channel=channel),
        }

    def route(self, source: str, target: str) -> dict[str, Any]:
        """Send ``source``'s payments to ``target``; sending them back home undoes a route.

        ``{from: backup, to: alipay}`` while alipay is routed to backup moves alipay's payments
        back to alipay: that is how a runbook's rollback names the undo.
        """
        self._known(source)
        self._known(target)
        if source == target:
            raise Conflict(f"cannot route {source!r} to itself")
        if self.routes.get(target) == source:
            del self.routes[target]
            return {"changed": True, "routes": dict(self.routes)}
        if self.routes.get(source) == target:
            return {"changed": False, "routes": dict(self.routes)}
        if source == "backup":
            raise Conflict("the backup channel only receives re-routed payments")
        if not self.healthy(target):
            raise Conflict(f"target channel {target!r} is down")
        if target in self.routes:
            raise Conflict(f"target channel {target!r} is itself routed to {self.routes[target]!r}")
        self.routes[source] = target
        return {"changed": True, "routes": dict(self.routes)}

    @staticmethod
    def _known(channel: str) -> None:
        if channel not in CHANNELS:
            raise KeyError(f"no channel {channel!r} (known: {', '.join(CHANNELS)})")
