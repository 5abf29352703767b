"""Metric polling: a Prometheus instant query on an interval, each result series an event.

For runbooks that detect on metrics directly, without an alerting rule in Prometheus. Each poll
turns every series of the result vector into one event named after the poll, with the series'
labels (plus the poll's own) and its value, so a runbook can say
``{field: name, eq: orders_backlog}`` and ``{field: value, gt: 1000}``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

from runbookd.alerts.errors import PayloadError
from runbookd.alerts.inbox import Inbox, Receipt, Unavailable
from runbookd.alerts.storable import escape_tree
from runbookd.engine.events import Event

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Poll:
    name: str
    query: str
    every_s: float
    url: str
    labels: Mapping[str, str] = field(default_factory=dict)


def vector_events(poll: Poll, data: Any, at: datetime) -> list[Event]:
    """The events of one Prometheus ``/api/v1/query`` answer (vector or scalar result)."""
    if not isinstance(data, dict) or data.get("status") != "success":
        error = data.get("error") if isinstance(data, dict) else None
        raise PayloadError("status", f"query failed: {error or 'no success status'}")
    result = data.get("data", {})
    kind, values = result.get("resultType"), result.get("result")
    if kind == "scalar":
        values = [{"metric": {}, "value": values}]
    elif kind != "vector":
        raise PayloadError("data.resultType", f"expected vector or scalar, got {kind!r}")
    events = []
    for series in values or []:
        number = float(series["value"][1])
        # Label values may be any text; the same escape as the webhook's (alerts.storable).
        metric, marks = escape_tree(series.get("metric", {}), "labels")
        labels = {str(k): str(v) for k, v in metric.items()}
        events.append(
            Event(
                name=poll.name,
                at=at,
                kind="event",
                labels={**labels, **poll.labels},
                value=number if math.isfinite(number) else None,
                source=f"poll:{poll.name}",
                escaped=tuple(marks),
            )
        )
    return events


async def run_poll(poll: Poll, client: httpx.AsyncClient, inbox: Inbox, now: datetime) -> int:
    """One evaluation; returns how many events were stored. Failures are logged, not raised:
    the next interval tries again, and a missed poll must not stop the scheduler."""
    try:
        response = await client.get(
            poll.url.rstrip("/") + "/api/v1/query",
            params={"query": poll.query},
            timeout=min(poll.every_s, 30.0),
        )
        response.raise_for_status()
        events = vector_events(poll, response.json(), now)
        if not events:
            return 0
        accepted = await inbox.put(events, Receipt(source=f"poll:{poll.name}", received_at=now))
        return accepted.accepted
    except (httpx.HTTPError, PayloadError, ValueError, KeyError, Unavailable) as exc:
        log.warning("poll %s failed: %s: %s", poll.name, type(exc).__name__, exc)
        return 0
