"""What inhibition keeps back: ``Held`` firings, named by ``held_name`` (engine.inhibition).

Apart from the mixin so that the core (which stores them) and detection (which looks them up)
can name them without importing another concern.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from runbookd.engine.events import Event


@dataclass(frozen=True)
class Held:
    """A firing kept back by an inhibitor: what fires again when the inhibitor resolves."""

    runbook: str
    trigger: int
    key: str
    #: the alert (None for an ``absent`` trigger's deadline)
    event: Event | None
    since: datetime


def held_name(trigger: int, event: Event | None) -> str:
    """What identifies one held firing within its runbook and key."""
    return event.identity if event is not None else f"absent:{trigger}"
