"""Builders for realistic Alertmanager webhook bodies, for runbookd's tests and runbook authors'.

The shape is Alertmanager's webhook payload version 4 as its ``notify/webhook`` sends it:
``version`` is the string "4", a firing alert's ``endsAt`` is Go's zero time, and the
fingerprint is computed the way Prometheus' ``model.LabelSet.Fingerprint`` does (64-bit FNV-1a
over the sorted label pairs with a 0xff separator, printed as 16 hex digits).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

GO_ZERO = "0001-01-01T00:00:00Z"
_FNV_OFFSET = 14695981039346656037
_FNV_PRIME = 1099511628211
_SEP = 0xFF


def fingerprint(labels: Mapping[str, str]) -> str:
    """Prometheus' label-set fingerprint (what Alertmanager puts in ``fingerprint``)."""
    h = _FNV_OFFSET
    for name in sorted(labels):
        for byte in name.encode() + bytes([_SEP]) + labels[name].encode() + bytes([_SEP]):
            h ^= byte
            h = (h * _FNV_PRIME) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def am_alert(
    labels: Mapping[str, str],
    *,
    status: str = "firing",
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
    annotations: Mapping[str, str] | None = None,
    generator_url: str = "http://127.0.0.1:9090/graph?g0.expr=up",
) -> dict[str, Any]:
    starts = starts_at or datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    end = rfc3339(ends_at or starts) if status == "resolved" else GO_ZERO
    return {
        "status": status,
        "labels": dict(labels),
        "annotations": dict(annotations or {}),
        "startsAt": rfc3339(starts),
        "endsAt": end,
        "generatorURL": generator_url,
        "fingerprint": fingerprint(labels),
    }


def am_notification(
    alerts: Sequence[Mapping[str, Any]],
    *,
    receiver: str = "runbookd",
    group_labels: Mapping[str, str] | None = None,
    external_url: str = "http://127.0.0.1:9093",
    truncated: int = 0,
) -> dict[str, Any]:
    """One webhook call carrying ``alerts`` (one aggregation group)."""
    group = dict(group_labels or {"alertname": str(alerts[0]["labels"].get("alertname", ""))})
    common = {
        k: v for k, v in alerts[0]["labels"].items() if all(a["labels"].get(k) == v for a in alerts)
    }
    group_key = "{}:{" + ", ".join(f'{k}="{v}"' for k, v in sorted(group.items())) + "}"
    return {
        "receiver": receiver,
        "status": "firing" if any(a["status"] == "firing" for a in alerts) else "resolved",
        "alerts": [dict(a) for a in alerts],
        "groupLabels": group,
        "commonLabels": common,
        "commonAnnotations": {},
        "externalURL": external_url,
        "version": "4",
        "groupKey": group_key,
        "truncatedAlerts": truncated,
    }
