"""The engine-side ports on the store: where ingested events and finished calls go.

``JournalInbox`` is what ``alerts`` puts events into; ``OutboxPort`` is what the executor takes
work from and reports results to. Both end in the journal writer, so a 2xx or a finished call is
only reported once it is on disk.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, select

from runbookd.alerts.inbox import Accepted, Receipt, Unavailable
from runbookd.engine.events import Event
from runbookd.engine.executor import Outcome, Work
from runbookd.service.metrics import Metrics
from runbookd.store import tables as t
from runbookd.store.codec import loads
from runbookd.store.writer import EntryJob, IngestJob, IngestResult, StoreUnavailable, Writer


class JournalInbox:
    """``alerts.inbox.Inbox`` on the journal writer."""

    def __init__(self, writer: Writer) -> None:
        self._writer = writer

    async def put(self, events: list[Event], receipt: Receipt) -> Accepted:
        job = IngestJob(
            events=events,
            source=receipt.source,
            received_at=receipt.received_at,
            receiver=receipt.receiver,
            group_key=receipt.group_key,
            external_url=receipt.external_url,
            truncated_alerts=receipt.truncated_alerts,
        )
        try:
            result: IngestResult = await self._writer.submit_async(job)
        except StoreUnavailable as exc:
            raise Unavailable(str(exc)) from None
        return Accepted(result.accepted, result.duplicates, result.stale)


class OutboxPort:
    """``engine.executor.WorkPort`` on the outbox table and the journal writer."""

    def __init__(self, db_engine: Engine, writer: Writer, metrics: Metrics) -> None:
        self._db = db_engine
        self._writer = writer
        self._metrics = metrics

    def pending(self, limit: int, exclude: frozenset[str]) -> list[Work]:
        query = (
            select(t.outbox.c.call_id, t.outbox.c.kind, t.outbox.c.payload)
            .where(t.outbox.c.status == "pending")
            .order_by(t.outbox.c.created_at)
            .limit(limit)
        )
        if exclude:
            # In SQL, not after loading: the executor asks again after every finished call, and
            # reading and parsing the payloads of every call in flight each time was a fifth of
            # the CPU of the thread that runs this in a burst.
            query = query.where(t.outbox.c.call_id.not_in(exclude))
        with self._db.connect() as conn:
            rows = conn.execute(query).all()
        return [Work(cid, kind, loads(payload)) for cid, kind, payload in rows]

    async def finish(self, work: Work, outcome: Outcome) -> None:
        payload: dict[str, Any] = {"call_id": work.call_id, "seconds": round(outcome.seconds, 4)}
        if outcome.error is None:
            payload["result"] = outcome.result or {}
        else:
            payload["error"] = outcome.error
            payload["retryable"] = outcome.retryable
        job = EntryJob(
            kind="call_result",
            payload=payload,
            at=datetime.now(UTC),
            outbox_call_id=work.call_id,
            outbox_status="done" if outcome.error is None else "failed",
            outbox_error=outcome.error,
            wants_seq=False,
        )
        await self._writer.submit_async(job)
        connector = str(work.data.get("connector"))
        self._metrics.notifications.labels(
            connector, "ok" if outcome.error is None else "failed"
        ).inc()
