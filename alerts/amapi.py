"""Fetch the alerts a truncated notification left out, from Alertmanager's API v2.

A webhook receiver with ``max_alerts: N`` gets at most N alerts and ``truncatedAlerts`` saying how
many were cut. The group's labels identify the group, so ``GET /api/v2/alerts`` filtered on them
returns every alert of the group; the ones already received are then dropped by dedup.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import httpx

from runbookd.alerts.alertmanager import SOURCE
from runbookd.alerts.errors import PayloadError
from runbookd.alerts.storable import escape_tree
from runbookd.alerts.timeparse import parse_rfc3339
from runbookd.engine.events import Event


async def fetch_group(
    client: httpx.AsyncClient,
    api_url: str,
    group_labels: Mapping[str, str],
    *,
    received_at: datetime,
    timeout: float = 5.0,
) -> list[Event]:
    """Every alert (active, silenced or inhibited) whose labels include the group's labels."""
    filters = [f'{name}="{_quote(value)}"' for name, value in sorted(group_labels.items())]
    response = await client.get(
        api_url.rstrip("/") + "/api/v2/alerts",
        params=[("filter", f) for f in filters],
        timeout=timeout,
    )
    response.raise_for_status()
    data = response.json()
    if not isinstance(data, list):
        raise PayloadError("alerts", "Alertmanager's API did not return a list")
    return [_event(raw, received_at) for raw in data if isinstance(raw, dict)]


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _event(raw: dict[str, Any], received_at: datetime) -> Event:
    # The same escape as the webhook's (alerts.storable), so a fetched copy dedups against it.
    raw, marks = escape_tree(raw)
    labels = {str(k): str(v) for k, v in (raw.get("labels") or {}).items()}
    annotations = {str(k): str(v) for k, v in (raw.get("annotations") or {}).items()}
    ends_at = parse_rfc3339(raw["endsAt"], "endsAt") if raw.get("endsAt") else None
    # The API lists alerts that are still known; one whose endsAt has passed has resolved.
    resolved = ends_at is not None and ends_at <= received_at
    return Event(
        name=labels.get("alertname", ""),
        at=received_at,
        kind="alert",
        status="resolved" if resolved else "firing",
        labels=labels,
        annotations=annotations,
        source=SOURCE,
        fingerprint=raw.get("fingerprint") or None,
        starts_at=parse_rfc3339(raw["startsAt"], "startsAt") if raw.get("startsAt") else None,
        ends_at=ends_at,
        escaped=tuple(m for m in marks if m.partition(".")[0] in ("labels", "annotations")),
    )
