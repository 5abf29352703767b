"""What the ingest routes need from the service: somewhere durable to put events.

Defined here, implemented in ``runbookd`` (the journal writer), so that ``alerts`` does not
import the service and the one-way import rule holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from runbookd.engine.events import Event


class Unavailable(Exception):
    """Storage could not take the events; nothing was stored (the sender should retry)."""


@dataclass(frozen=True)
class Receipt:
    """Where a batch of events came from."""

    source: str
    received_at: datetime
    receiver: str = ""
    group_key: str = ""
    external_url: str = ""
    truncated_alerts: int = 0


@dataclass(frozen=True)
class Accepted:
    accepted: int
    duplicates: int
    stale: int = 0


class Inbox(Protocol):
    async def put(self, events: list[Event], receipt: Receipt) -> Accepted:
        """Store durably, deduplicated; raise ``Unavailable`` when that is not possible."""
        ...
