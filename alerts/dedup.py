"""Is an incoming alert news? Retries, HA copies and stale copies are not.

Alertmanager delivers at least once: a retry after a 5xx is byte-identical, two unclustered
Alertmanagers send the same alerts within milliseconds, a repeat notification re-sends alerts
that are still firing, and a clustered pair can deliver a stale ``firing`` after the
``resolved``. What counts is the alert's identity ``(fingerprint, startsAt, status)`` against
the latest state seen for that fingerprint.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Verdict = Literal["new", "duplicate", "stale"]


@dataclass(frozen=True, slots=True)
class Seen:
    """The latest state recorded for one fingerprint."""

    starts_at: str
    status: str


def judge(seen: Seen | None, starts_at: str, status: str) -> Verdict:
    """``new`` when the alert changes what we know; otherwise why it does not.

    ``starts_at`` values are UTC ISO strings, so they order as times. A later ``startsAt`` is a
    new occurrence of the same alert (it fired again after resolving). An earlier one is a copy
    from before the occurrence we already have. Within one occurrence, ``firing -> resolved`` is
    news and ``resolved -> firing`` is a stale copy: Alertmanager starts a new occurrence with a
    new ``startsAt`` when an alert really fires again.
    """
    if seen is None or starts_at > seen.starts_at:
        return "new"
    if starts_at < seen.starts_at:
        return "stale"
    if status == seen.status:
        return "duplicate"
    return "new" if status == "resolved" else "stale"
