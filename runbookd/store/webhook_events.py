"""Taking an inbound webhook event once: ``claim`` it before acting, ``finish`` after.

A vendor that retries (PagerDuty v3 redelivers an event until it gets a 2xx) can deliver the same
event twice, to two replicas at once, or again after a restart. The ``webhook_event`` row keyed
(source, event id) is the one place that decides who acts: the INSERT that wins the primary key.

A claim whose holder died before it finished (a crash between the claim and the journaled action)
would block the event for good; after ``STALE_AFTER`` another delivery may take it over. The
actions taken this way (acknowledge, resolve) change nothing the second time, so a takeover after
a crash that came just after the action repeats nothing a user would see.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import Engine, delete, insert, update
from sqlalchemy.exc import IntegrityError

from runbookd.store import tables as t

#: Longer than a request may take to journal its action and see it applied (a 503 after 10 s).
STALE_AFTER = timedelta(seconds=60)
#: How long an event id is remembered: far beyond any vendor's redelivery (PagerDuty's are
#: minutes to hours), short enough that the table stays small.
KEEP = timedelta(days=7)

Claim = Literal["new", "duplicate"]


def claim(
    db: Engine,
    source: str,
    event_id: str,
    event_type: str,
    incident_id: str | None,
    now: datetime,
) -> Claim:
    """``new`` when this caller is the one to act on the event, ``duplicate`` otherwise
    (blocking: call it in a thread)."""
    row = {
        "source": source,
        "event_id": event_id[:200],
        "received_at": now,
        "event_type": event_type[:64],
        "incident_id": incident_id,
        "status": "claimed",
    }
    try:
        with db.begin() as conn:
            conn.execute(insert(t.webhook_event).values(**row))
        return "new"
    except IntegrityError:
        pass
    # Taken before: only a claim left behind by a holder that never finished is taken over,
    # and the UPDATE's condition makes that race safe too (one updater sees rowcount 1).
    c = t.webhook_event.c
    with db.begin() as conn:
        taken = conn.execute(
            update(t.webhook_event)
            .where(
                c.source == source,
                c.event_id == row["event_id"],
                c.status == "claimed",
                c.received_at < now - STALE_AFTER,
            )
            .values(received_at=now)
        )
    return "new" if taken.rowcount == 1 else "duplicate"


def finish(db: Engine, source: str, event_id: str, now: datetime) -> None:
    """Mark the event acted on, and forget the ones older than ``KEEP`` (blocking)."""
    c = t.webhook_event.c
    with db.begin() as conn:
        conn.execute(
            update(t.webhook_event)
            .where(c.source == source, c.event_id == event_id[:200])
            .values(status="done")
        )
        conn.execute(delete(t.webhook_event).where(c.received_at < now - KEEP))


def release(db: Engine, source: str, event_id: str) -> None:
    """Give a claim back (the action could not be stored): the vendor's retry may act (blocking)."""
    c = t.webhook_event.c
    with db.begin() as conn:
        conn.execute(
            delete(t.webhook_event).where(c.source == source, c.event_id == event_id[:200])
        )
