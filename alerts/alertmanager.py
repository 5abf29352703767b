"""Alertmanager webhook notifications (payload version 4) normalised to ``Event``s.

The payload is documented with Alertmanager's ``webhook_config``: ``version``, ``groupKey``,
``truncatedAlerts``, ``status``, ``receiver``, ``groupLabels``, ``commonLabels``,
``commonAnnotations``, ``externalURL`` and ``alerts[]`` (``status``, ``labels``, ``annotations``,
``startsAt``, ``endsAt``, ``generatorURL``, ``fingerprint``).

Choices:
- ``version`` must be the string ``"4"``: Alertmanager always sends it so, and a different value
  means a format this parser was not written for.
- Keys this parser does not know, at the top level and in alerts, are ignored: Alertmanager and
  look-alike senders (Grafana adds ``silenceURL``, ``values``, ...) add fields over time, and a
  receiver that rejected them would drop alerts after a sender upgrade. Only fields that are read
  are checked (``commonAnnotations`` is not: each alert carries its own annotations).
- Each alert's own ``status`` counts; a ``firing`` notification may carry resolved alerts.
- Annotation text is kept verbatim. It is data (``VALUE = 42``, rendered ``{{ }}`` leftovers), and
  nothing downstream may treat it as template source.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from alerts.errors import PayloadError, short_repr
from alerts.shape import load_json, opt_str, opt_str_map, parse_status, str_map
from alerts.timeparse import parse_rfc3339
from engine.events import Event, Status

#: The webhook payload version this parser reads; Alertmanager sends it as a string.
VERSION = "4"
#: Go's zero ``time.Time``: what Alertmanager writes as ``endsAt`` of an alert that has not ended.
GO_ZERO_TIME = "0001-01-01T00:00:00Z"
SOURCE = "alertmanager"


@dataclass(frozen=True, slots=True)
class Notification:
    """One webhook call: the alerts of one aggregation group, sent to one receiver."""

    receiver: str
    status: Status
    group_key: str
    truncated_alerts: int
    external_url: str
    group_labels: dict[str, str]
    common_labels: dict[str, str]
    alerts: list[Event]


def parse_notification(
    body: bytes | str | dict[str, Any], *, received_at: datetime
) -> Notification:
    """Validate a webhook body and normalise its alerts; ``PayloadError`` names the bad field.

    ``received_at`` (timezone-aware) becomes every event's ``at``; the alert's own times are in
    ``starts_at``/``ends_at``.
    """
    if received_at.tzinfo is None:
        raise ValueError("received_at must be timezone-aware")
    data = load_json(body) if isinstance(body, bytes | str) else body
    if not isinstance(data, dict):
        raise PayloadError.expected("body", "a JSON object (Alertmanager notification)", data)

    version = data.get("version")
    if version != VERSION:
        if version is None:
            raise PayloadError("version", "missing; expected '4' (Alertmanager webhook v4)")
        raise PayloadError(
            "version", f"unsupported payload version {short_repr(version)}; expected the string '4'"
        )

    raw_status = data.get("status")
    status = None if raw_status is None else parse_status(raw_status, "status")
    truncated = data.get("truncatedAlerts")
    if truncated is None:
        truncated = 0
    elif isinstance(truncated, bool) or not isinstance(truncated, int) or truncated < 0:
        raise PayloadError.expected("truncatedAlerts", "a non-negative integer", truncated)
    raw_alerts = data.get("alerts")
    if not isinstance(raw_alerts, list):
        raise PayloadError.expected("alerts", "an array of alerts", raw_alerts)

    alerts = [_alert(raw, i, received_at) for i, raw in enumerate(raw_alerts)]
    if status is None:  # Alertmanager's own rule: the group fires while any of its alerts does
        status = "firing" if any(a.status == "firing" for a in alerts) else "resolved"

    return Notification(
        receiver=opt_str(data, "receiver", ""),
        status=status,
        group_key=opt_str(data, "groupKey", ""),
        truncated_alerts=truncated,
        external_url=opt_str(data, "externalURL", ""),
        group_labels=opt_str_map(data, "groupLabels", ""),
        common_labels=opt_str_map(data, "commonLabels", ""),
        alerts=alerts,
    )


def _alert(raw: object, index: int, received_at: datetime) -> Event:
    prefix = f"alerts[{index}]."
    if not isinstance(raw, dict):
        raise PayloadError.expected(f"alerts[{index}]", "an alert object", raw)
    labels = str_map(raw.get("labels"), prefix + "labels")
    name = labels.get("alertname")
    if not name:
        raise PayloadError(
            prefix + "labels.alertname",
            f"missing or empty; every alert needs one (labels: {short_repr(labels)})",
        )
    status = parse_status(raw.get("status"), prefix + "status")
    starts_at = parse_rfc3339(raw.get("startsAt"), prefix + "startsAt")
    ends_raw = raw.get("endsAt")
    ends_at = None
    if ends_raw is not None and ends_raw != GO_ZERO_TIME:
        ends_at = parse_rfc3339(ends_raw, prefix + "endsAt")
        if ends_at.year == 1:  # the zero time written with an offset or a fraction
            ends_at = None
    generator_url = opt_str(raw, "generatorURL", prefix)
    return Event(
        name=name,
        at=received_at,
        kind="alert",
        status=status,
        labels=labels,
        annotations=opt_str_map(raw, "annotations", prefix),
        source=SOURCE,
        fingerprint=opt_str(raw, "fingerprint", prefix) or label_fingerprint(labels),
        starts_at=starts_at,
        ends_at=ends_at,
        fields={"generatorURL": generator_url} if generator_url else {},
    )


def label_fingerprint(labels: Mapping[str, str]) -> str:
    """A stable 16-hex-digit identity for a label set: sha256 of the sorted pairs, truncated.

    Used when an alert comes without ``fingerprint``. Alertmanager's own fingerprint is a 64-bit
    hash of the alert's label set, so the label set *is* the alert's identity; older senders and
    hand-written test payloads omit the field. This is a different hash, so one alert sent both
    with and without a fingerprint gets two identities. Byte 0xff never occurs in UTF-8 and
    separates names from values, so distinct label sets cannot hash the same input.
    """
    parts = []
    for key in sorted(labels):
        parts.append(key.encode("utf-8", "surrogatepass"))
        parts.append(labels[key].encode("utf-8", "surrogatepass"))
    return hashlib.sha256(b"\xff".join(parts)).hexdigest()[:16]


def dedup_key(event: Event) -> tuple[str, str, str]:
    """``(fingerprint, startsAt, status)``: what makes HA duplicates and retries the same alert.

    The two Alertmanagers of an HA pair, an unclustered pair, or a retry after a 5xx send the
    same alert state with the same key, whatever else differs (``externalURL``, receive time).
    A repeat notification of a still-firing alert has the same key too; its resolution does not.
    ``startsAt`` is given in UTC so that ``+02:00`` and ``Z`` spellings of one instant agree.
    Generic events without a fingerprint use a hash of their name and labels, and ``at`` when they
    have no ``starts_at``.
    """
    fingerprint = event.fingerprint or label_fingerprint({**event.labels, "__name__": event.name})
    return fingerprint, _utc_iso(event.starts_at or event.at), event.status


def _utc_iso(moment: datetime) -> str:
    try:
        return moment.astimezone(UTC).isoformat()
    except OverflowError:  # year 1 or 9999 with an offset: the original spelling still identifies
        return moment.isoformat()
