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
- Text no store holds (U+0000, lone surrogates) is escaped here, once, and the alert records
  which of its fields were (``Event.escaped``); see ``alerts.storable``.
- One unusable alert costs only itself (``partial=True``, the webhook): Alertmanager does not
  retry a 4xx, so refusing the body would lose the group's good alerts with it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from runbookd.alerts.errors import PayloadError, short_repr
from runbookd.alerts.outcome import AllRejected, Rejected
from runbookd.alerts.shape import load_json, opt_str, opt_str_map, parse_status, str_map
from runbookd.alerts.storable import escape_tree
from runbookd.alerts.timeparse import parse_rfc3339
from runbookd.engine.events import Event, Status

#: The webhook payload version this parser reads; Alertmanager sends it as a string.
VERSION = "4"
#: Go's zero ``time.Time``: what Alertmanager writes as ``endsAt`` of an alert that has not ended.
GO_ZERO_TIME = "0001-01-01T00:00:00Z"
SOURCE = "alertmanager"


#: Longest fingerprint kept: the store's ``alert_state.fingerprint`` column. Alertmanager's are 16
#: hex digits; a longer one would fail the write on PostgreSQL (a 5xx for the whole batch).
MAX_FINGERPRINT = 128
#: The fields of an alert, and of the notification, that are read (and so reported when escaped).
_ALERT_TEXT = frozenset(("labels", "annotations", "generatorURL", "fingerprint"))
_TOP_TEXT = frozenset(("receiver", "groupKey", "externalURL", "groupLabels", "commonLabels"))


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
    #: alerts refused while the others were kept (``partial=True`` only)
    rejected: list[Rejected] = field(default_factory=list)
    #: every field stored in escaped form (``alerts[0].labels.instance``, ``groupLabels.job``)
    escaped: list[str] = field(default_factory=list)


#: Extra ``Event.fields`` a look-alike format reads from one alert (the alert, its field prefix).
AlertFields = Callable[[dict[str, Any], str], dict[str, str | int | float | bool]]


@dataclass(frozen=True, slots=True)
class Dialect:
    """A webhook body in Alertmanager's shape: which ``version`` it carries, the ``source`` its
    events get, and what it adds to each alert (Grafana: ``alerts.grafana``)."""

    version: str = VERSION
    source: str = SOURCE
    name: str = "Alertmanager webhook v4"
    alert_fields: AlertFields | None = None
    #: the text fields ``alert_fields`` reads, reported (and recorded) when stored escaped
    alert_text: frozenset[str] = frozenset()


ALERTMANAGER = Dialect()


def parse_notification(
    body: bytes | str | dict[str, Any],
    *,
    received_at: datetime,
    partial: bool = False,
    dialect: Dialect = ALERTMANAGER,
) -> Notification:
    """Validate a webhook body and normalise its alerts; ``PayloadError`` names the bad field.

    ``received_at`` (timezone-aware) becomes every event's ``at``; the alert's own times are in
    ``starts_at``/``ends_at``. Text no store holds is escaped (``alerts.storable``). With
    ``partial`` an unusable alert is listed in ``rejected`` and the others are kept; only a body
    that is no notification, or one whose every alert is unusable (``AllRejected``), raises.
    Without it (scenario files, replays) the first unusable alert raises.
    """
    if received_at.tzinfo is None:
        raise ValueError("received_at must be timezone-aware")
    data, suspect = load_json(body) if isinstance(body, bytes | str) else (body, True)
    if not isinstance(data, dict):
        raise PayloadError.expected("body", "a JSON object (Alertmanager notification)", data)
    escaped: list[str] = []
    if suspect:  # the alerts are escaped one by one, so that a bad one costs only itself
        head, marks = escape_tree({k: v for k, v in data.items() if k != "alerts"})
        escaped += [m for m in marks if _root(m) in _TOP_TEXT]
        data = {**head, "alerts": data.get("alerts")}

    version = data.get("version")
    if version != dialect.version:
        want = dialect.version
        if version is None:
            raise PayloadError("version", f"missing; expected '{want}' ({dialect.name})")
        raise PayloadError(
            "version",
            f"unsupported payload version {short_repr(version)}; expected the string '{want}'",
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
    receiver = opt_str(data, "receiver", "")
    group_key = opt_str(data, "groupKey", "")
    external_url = opt_str(data, "externalURL", "")
    group_labels = opt_str_map(data, "groupLabels", "")
    common_labels = opt_str_map(data, "commonLabels", "")

    alerts: list[Event] = []
    rejected: list[Rejected] = []
    for i, raw in enumerate(raw_alerts):
        try:
            event = _alert(raw, i, received_at, suspect, dialect)
        except PayloadError as exc:
            if not partial:
                raise
            rejected.append(Rejected.of(i, raw, exc))
            continue
        alerts.append(event)
        escaped += [f"alerts[{i}].{m}" for m in event.escaped]
    if rejected and not alerts:
        raise AllRejected(rejected)
    if status is None:  # Alertmanager's own rule: the group fires while any of its alerts does
        status = "firing" if any(a.status == "firing" for a in alerts) else "resolved"

    return Notification(
        receiver=receiver,
        status=status,
        group_key=group_key,
        truncated_alerts=truncated,
        external_url=external_url,
        group_labels=group_labels,
        common_labels=common_labels,
        alerts=alerts,
        rejected=rejected,
        escaped=escaped,
    )


def _root(path: str) -> str:
    return path.partition(".")[0]


def _alert(
    raw: object, index: int, received_at: datetime, suspect: bool, dialect: Dialect
) -> Event:
    prefix = f"alerts[{index}]."
    if not isinstance(raw, dict):
        raise PayloadError.expected(f"alerts[{index}]", "an alert object", raw)
    marks: tuple[str, ...] = ()
    alert: dict[str, Any] = raw
    if suspect:
        alert, found = escape_tree(raw, f"alerts[{index}]")
        cut = len(prefix)
        read = _ALERT_TEXT | dialect.alert_text
        marks = tuple(m[cut:] for m in found if _root(m[cut:]) in read)
    labels = str_map(alert.get("labels"), prefix + "labels")
    name = labels.get("alertname")
    if not name:
        raise PayloadError(
            prefix + "labels.alertname",
            f"missing or empty; every alert needs one (labels: {short_repr(labels)})",
        )
    status = parse_status(alert.get("status"), prefix + "status")
    starts_at = parse_rfc3339(alert.get("startsAt"), prefix + "startsAt")
    ends_raw = alert.get("endsAt")
    ends_at = None
    if ends_raw is not None and ends_raw != GO_ZERO_TIME:
        ends_at = parse_rfc3339(ends_raw, prefix + "endsAt")
        if ends_at.year == 1:  # the zero time written with an offset or a fraction
            ends_at = None
    generator_url = opt_str(alert, "generatorURL", prefix)
    fingerprint = opt_str(alert, "fingerprint", prefix)
    if len(fingerprint) > MAX_FINGERPRINT:
        raise PayloadError(
            prefix + "fingerprint",
            f"longer than {MAX_FINGERPRINT} characters ({len(fingerprint)}): "
            f"{short_repr(fingerprint)}",
        )
    fields: dict[str, str | int | float | bool] = (
        {"generatorURL": generator_url} if generator_url else {}
    )
    if dialect.alert_fields is not None:
        fields.update(dialect.alert_fields(alert, prefix))
    return Event(
        name=name,
        at=received_at,
        kind="alert",
        status=status,
        labels=labels,
        annotations=opt_str_map(alert, "annotations", prefix),
        source=dialect.source,
        fingerprint=fingerprint or label_fingerprint(labels, _label_marks(marks)),
        starts_at=starts_at,
        ends_at=ends_at,
        fields=fields,
        escaped=marks,
    )


def _label_marks(marks: tuple[str, ...]) -> list[str]:
    return [m for m in marks if m.startswith("labels.")]


def label_fingerprint(labels: Mapping[str, str], escaped: Iterable[str] = ()) -> str:
    """A stable 16-hex-digit identity for a label set: sha256 of the sorted pairs, truncated.

    Used when an alert comes without ``fingerprint``. Alertmanager's own fingerprint is a 64-bit
    hash of the alert's label set, so the label set *is* the alert's identity; older senders and
    hand-written test payloads omit the field. This is a different hash, so one alert sent both
    with and without a fingerprint gets two identities. Byte 0xff never occurs in UTF-8 and
    separates names from values, so distinct label sets cannot hash the same input.

    ``escaped`` names the pairs held in escaped form (``labels.instance``, see ``Event.escaped``).
    They are hashed too, after byte 0xfe (never in UTF-8 either): a NUL sent as a label value
    and the six characters ``\\u0000`` sent literally are stored alike, and must stay two alerts.
    Label sets with nothing escaped hash as they always did.
    """
    parts = []
    for key in sorted(labels):
        parts.append(key.encode("utf-8", "surrogatepass"))
        parts.append(labels[key].encode("utf-8", "surrogatepass"))
    marks = sorted(escaped)
    if marks:
        parts.append(b"\xfe" + b"\xff".join(m.encode() for m in marks))
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
    fingerprint = event.fingerprint or label_fingerprint(
        {**event.labels, "__name__": event.name},
        (m for m in event.escaped if m == "name" or m.startswith("labels.")),
    )
    return fingerprint, _utc_iso(event.starts_at or event.at), event.status


def _utc_iso(moment: datetime) -> str:
    try:
        return moment.astimezone(UTC).isoformat()
    except OverflowError:  # year 1 or 9999 with an offset: the original spelling still identifies
        return moment.isoformat()
