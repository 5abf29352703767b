"""Grafana Alerting's webhook contact point (its payload ``version: "1"``) normalised to ``Event``s.

Grafana's unified alerting sends Alertmanager's notification shape (``receiver``, ``status``,
``groupKey``, ``groupLabels``, ``commonLabels``, ``externalURL``, ``truncatedAlerts``, ``alerts[]``
with ``labels``, ``annotations``, ``startsAt``, ``endsAt``, ``generatorURL``, ``fingerprint``) with
``version: "1"`` and a few keys of its own, so ``alerts.alertmanager`` parses it with this
dialect. What Grafana adds and the engine can use goes to each event's ``fields``:

- ``silenceURL``, ``dashboardURL``, ``panelURL``, ``imageURL`` and ``valueString``, when not empty;
- ``values`` (the query and expression results by reference id, ``{"B": 44.2, "C": 1}``) as
  ``value_B``, ``value_C``: numbers only; null means none.

``orgId``, ``title``, ``state`` and ``message`` are rendered text for people and are not read;
events get ``source: grafana``.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Any

from runbookd.alerts.alertmanager import Dialect, Notification, parse_notification
from runbookd.alerts.errors import PayloadError
from runbookd.alerts.shape import opt_str

SOURCE = "grafana"
VERSION = "1"
_TEXT = ("silenceURL", "dashboardURL", "panelURL", "imageURL", "valueString")
#: Grafana's reference ids are letters and digits (A, B, C1, ...); others would make odd keys.
_REF_ID = re.compile(r"^[A-Za-z0-9_]{1,64}$")


def _fields(alert: dict[str, Any], prefix: str) -> dict[str, str | int | float | bool]:
    out: dict[str, str | int | float | bool] = {}
    for key in _TEXT:
        text = opt_str(alert, key, prefix)
        if text:
            out[key] = text
    values = alert.get("values")
    if values is None:
        return out
    if not isinstance(values, dict):
        raise PayloadError.expected(prefix + "values", "an object of numbers by refId", values)
    for ref, number in values.items():
        where = f"{prefix}values.{ref}"
        if not _REF_ID.match(ref):
            raise PayloadError(where, "not a Grafana reference id (letters, digits, _)")
        ok = isinstance(number, int | float) and not isinstance(number, bool)
        if not ok or not math.isfinite(number):
            raise PayloadError.expected(where, "a finite number", number)
        out[f"value_{ref}"] = number
    return out


GRAFANA = Dialect(
    version=VERSION,
    source=SOURCE,
    name="Grafana Alerting webhook",
    alert_fields=_fields,
    alert_text=frozenset(_TEXT),
)


def parse_grafana(
    body: bytes | str | dict[str, Any], *, received_at: datetime, partial: bool = False
) -> Notification:
    """A Grafana webhook body as a ``Notification``; ``PayloadError`` names the bad field, as
    ``alerts.alertmanager.parse_notification`` does."""
    return parse_notification(body, received_at=received_at, partial=partial, dialect=GRAFANA)
