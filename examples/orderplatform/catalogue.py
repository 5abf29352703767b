"""The failure modes the simulator can inject, one per plan section it serves."""

from __future__ import annotations

from examples.orderplatform.faults import FaultSpec
from examples.orderplatform.labels import CHANNELS

_SPECS = (
    FaultSpec(
        "payment-channel-outage",
        "3.3",
        "A payment channel stops answering: its payments and its probe fail until the fault is "
        "removed or its payments are routed to another channel.",
        choices={"channel": ("alipay", CHANNELS)},
    ),
    FaultSpec(
        "payment-failures",
        "3.1",
        "A share of payments fails with a system error on every channel.",
        numbers={"ratio": (0.3, 0.0, 1.0)},
    ),
)

CATALOGUE = {spec.name: spec for spec in _SPECS}
