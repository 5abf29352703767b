"""Storing audit records (``runbookd.auth.audit``): with a journal entry, alone, and settled.

Three ways a record reaches the ``audit`` table, all through the one journal writer:

* ``journaled(...)`` -- an action that is a journal entry (ack, approve, override, reload): the
  record rides on the entry and is written in its transaction, with its ``seq``, as ``pending``;
  the engine thread settles it (``applied`` or ``refused`` and why) in the commit of the batch
  that applied the entry (``settle``), so after a crash at any instant it is as the engine left it.
* ``record(service, ...)`` -- something that is not a journal entry: a refused attempt (403), a
  follow-up edit, a reload that failed validation, a silence. Other features call this one.
* a store that is down: ``record`` raises ``StoreUnavailable`` like any write (a 503).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import Connection, bindparam, update

from runbookd.auth.audit import AuditRecord
from runbookd.service.waiters import Applied
from runbookd.store import tables as t
from runbookd.store.writer import AuditJob, EntryJob, Writer


class HasWriter(Protocol):
    """The ``Service`` (runbookd.service.core), as far as recording needs it."""

    @property
    def writer(self) -> Writer: ...


#: Journal entry kinds that can carry an audit record: the engine settles them when applied.
AUDITED_KINDS = frozenset({"action", "oncall", "runbooks", "silence"})


def journaled(
    kind: str, payload: dict[str, Any], audit: AuditRecord, at: datetime | None = None
) -> EntryJob:
    """The journal entry of an audited action: entry and record are one write."""
    return EntryJob(kind=kind, payload=payload, at=at or datetime.now(UTC), audit=audit)


async def record(service: HasWriter, *records: AuditRecord, at: datetime | None = None) -> None:
    """Store ``records`` now (durably: this returns after the commit).

    For actions that are not journal entries. Raises ``StoreUnavailable`` when the store is down.
    """
    if not records:
        return
    job = AuditJob(tuple(records), at or datetime.now(UTC))
    await asyncio.wrap_future(service.writer.submit(job))


def settle(conn: Connection, outcomes: Iterable[Applied]) -> None:
    """Mark the pending records of applied entries ``applied``, or ``refused`` with the
    engine's reason, in ``conn``'s transaction (the engine batch's commit)."""
    rows = [
        {
            "b_seq": o.seq,
            "b_outcome": "applied" if o.error is None else "refused",
            "b_reason": o.error and o.error[:500],
        }
        for o in outcomes
    ]
    if rows:
        conn.execute(_SETTLE, rows)


_SETTLE = (
    update(t.audit)
    .where(t.audit.c.journal_seq == bindparam("b_seq"), t.audit.c.outcome == "pending")
    .values(outcome=bindparam("b_outcome"), reason=bindparam("b_reason"))
)
