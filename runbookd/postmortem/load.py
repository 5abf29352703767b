"""Read what a summary is computed from -- incident, timeline, follow-ups, lessons, runbook --
and compute it: ``load_summary(source, incident_id)``.

Chosen: computed on every read, not stored. A summary is a pure function of rows that are
already stored (impact figures included: the engine records each connector result as an
``impact`` timeline row when the incident resolves, so nothing is re-queried here). Computing
costs a few milliseconds for a few hundred timeline rows (``tests/unit/postmortem``), and a
stored copy would have to be invalidated by every engine commit, note, follow-up and lesson.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from threading import Lock
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, select

from runbookd.engine.lang.loader import load_text
from runbookd.engine.lang.model import Runbook
from runbookd.postmortem.compute import Entry, aware, compute
from runbookd.postmortem.model import Summary
from runbookd.postmortem.suppressions import load_suppressions
from runbookd.store import tables as t
from runbookd.store.codec import loads


class NotFound(LookupError):
    """No incident has this id."""


class HasDb(Protocol):
    db: Engine


@dataclass(frozen=True)
class RunbookSource:
    """The runbook an incident ran under, and the file it was loaded from (for its template)."""

    runbook: Runbook
    file: str


class _LibraryCache:
    """Parsed journaled libraries by (database, journal seq): parsing one costs far more than a
    read, and a journal row never changes once written."""

    def __init__(self, size: int = 8) -> None:
        self._items: OrderedDict[tuple[str, int], dict[str, RunbookSource]] = OrderedDict()
        self._size = size
        self._lock = Lock()

    def get(self, seq: tuple[str, int], payload: str | None) -> dict[str, RunbookSource] | None:
        with self._lock:
            if seq in self._items:
                self._items.move_to_end(seq)
                return self._items[seq]
        if payload is None:
            return None
        parsed: dict[str, RunbookSource] = {}
        for item in loads(payload).get("files", []):
            loaded, _ = load_text(item["text"], item["file"])
            if loaded is not None:
                parsed[loaded.runbook.id] = RunbookSource(loaded.runbook, item["file"])
        with self._lock:
            self._items[seq] = parsed
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return parsed


_LIBRARIES = _LibraryCache()


def load_summary(
    source: Engine | HasDb, incident_id: str, *, now: datetime | None = None
) -> Summary:
    """The summary of ``incident_id`` (raises ``NotFound``); ``source`` is a Service or an Engine.

    Used by the API (``runbookd.api.postmortem``) and the web page ``/postmortems/{id}``.
    """
    db = source if isinstance(source, Engine) else source.db
    with db.connect() as conn:
        summary, _ = _load(conn, incident_id, now or datetime.now(UTC))
    return summary


def load_summary_and_runbook(
    db: Engine, incident_id: str, *, now: datetime | None = None
) -> tuple[Summary, RunbookSource | None]:
    """As ``load_summary``, plus the runbook (the renderer needs its template file)."""
    with db.connect() as conn:
        return _load(conn, incident_id, now or datetime.now(UTC))


def _load(
    conn: Connection, incident_id: str, now: datetime
) -> tuple[Summary, RunbookSource | None]:
    row = conn.execute(select(t.incident).where(t.incident.c.id == incident_id)).first()
    if row is None:
        raise NotFound(f"no incident {incident_id!r}")
    incident = dict(row._mapping)
    timeline = [
        (Entry(aware(r.at), r.kind, loads(r.data)), r.journal_seq)
        for r in conn.execute(
            select(t.timeline.c.at, t.timeline.c.kind, t.timeline.c.data, t.timeline.c.journal_seq)
            .where(t.timeline.c.incident_id == incident_id)
            .order_by(t.timeline.c.id)
        )
    ]
    follow_ups = [
        dict(r._mapping)
        for r in conn.execute(
            select(t.follow_up)
            .where(t.follow_up.c.incident_id == incident_id)
            .order_by(t.follow_up.c.id)
        )
    ]
    lessons_row = conn.execute(
        select(t.lessons).where(t.lessons.c.incident_id == incident_id)
    ).first()
    opened_seq = next((seq for e, seq in timeline if e.kind == "open_incident"), None)
    warnings: list[str] = []
    runbook = _runbook(conn, str(incident["runbook"]), opened_seq)
    if runbook is None:
        warnings.append(
            "the runbook this incident ran under was not found in the journal; "
            "default sections shown"
        )
    elif runbook.runbook.version != incident["runbook_version"]:
        warnings.append(
            f"runbook {runbook.runbook.id} is at version {runbook.runbook.version} in the "
            f"journaled library, the incident ran version {incident['runbook_version']}"
        )
    summary = compute(
        incident,
        [e for e, _ in timeline],
        runbook=runbook.runbook if runbook else None,
        follow_ups=follow_ups,
        lessons=dict(lessons_row._mapping) if lessons_row is not None else None,
        now=now,
        warnings=warnings,
    )
    end = incident.get("resolved_at") or incident.get("closed_at") or now
    found, more = load_suppressions(
        conn, {**incident, "opened_at": aware(row.opened_at)}, aware(end)
    )
    summary.suppressions, summary.suppressions_more = found, more
    return summary, runbook


def _runbook(conn: Connection, runbook_id: str, opened_seq: int | None) -> RunbookSource | None:
    """The runbook as journaled in the library that was running when the incident opened."""
    query = select(t.journal.c.seq).where(t.journal.c.kind == "runbooks")
    if opened_seq is not None:
        query = query.where(t.journal.c.seq <= opened_seq)
    seq = conn.execute(query.order_by(t.journal.c.seq.desc()).limit(1)).scalar()
    if seq is None:
        return None
    key = (conn.engine.url.render_as_string(hide_password=True), int(seq))
    library = _LIBRARIES.get(key, None)
    if library is None:
        payload: Any = conn.execute(
            select(t.journal.c.payload).where(t.journal.c.seq == seq)
        ).scalar()
        library = _LIBRARIES.get(key, payload)
    return library.get(runbook_id) if library else None
