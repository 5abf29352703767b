"""The journal's forms and how the engine thread reads it: the runbook library as an entry,
entries after a watermark, and the ticks (the moments the engine fired due timers).

A journal entry is an input; the engine is a function of its inputs, so these reads are all a
replay needs.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, select

from runbookd.engine.compiler import CompiledRunbook, compile_runbook
from runbookd.engine.lang.loader import load_text
from runbookd.engine.timing import RETENTION
from runbookd.store import tables as t
from runbookd.store.codec import loads
from runbookd.toolchain.fallback import with_notify


def library_payload(
    files: list[tuple[str, str]],
    retention: float = RETENTION.total_seconds(),
    windows: Mapping[str, Any] | None = None,
    fallback_notify: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The journal form of a runbook library: file names and texts, so replay needs no files.

    It also carries the engine's memory retention in seconds (settings ``engine.retention``):
    journaled, so a replay drops resolved incidents from memory exactly when the first run did.
    Libraries journaled before retention existed have none, and replay keeps every incident up
    to them, as the version that wrote them did.

    ``windows``: the config's ``maintenance_windows`` (engine.windows), for the same reason; absent when none are configured, so earlier digests stay the same.
    ``fallback_notify`` (toolchain/fallback.py) likewise: it changes the fallback runbook.
    """
    out: dict[str, Any] = {
        "files": [{"file": f, "text": text} for f, text in sorted(files)],
        "retention_s": retention,
    }
    if windows:
        out["windows"] = dict(windows)
    if fallback_notify is not None:
        out["fallback_notify"] = dict(fallback_notify)
    return out


def compile_payload(payload: dict[str, Any]) -> list[CompiledRunbook]:
    out = []
    for item in payload["files"]:
        loaded, problems = load_text(item["text"], item["file"])
        if loaded is None:  # validated before it was journaled; a failure here is a bug
            raise RuntimeError(f"journaled runbook {item['file']} no longer loads: {problems}")
        out.append(compile_runbook(with_notify(loaded.runbook, payload.get("fallback_notify"))))
    return out


def read_entries(
    conn: Connection, after: int, upto: int | None, limit: int | None = None
) -> Iterator[tuple[int, str, datetime, dict[str, Any]]]:
    if upto is None and limit is not None:  # the engine thread's every batch
        rows = conn.execute(_NEXT_ENTRIES, {"after": after, "limit": limit})
    else:
        query = select(t.journal).where(t.journal.c.seq > after).order_by(t.journal.c.seq)
        if upto is not None:
            query = query.where(t.journal.c.seq <= upto)
        if limit is not None:
            query = query.limit(limit)
        rows = conn.execution_options(yield_per=2000).execute(query)
    for row in rows:
        yield int(row.seq), row.kind, aware(row.at), loads(row.payload)


def read_ticks(
    conn: Connection, after_id: int, applied_seq: int
) -> Iterator[tuple[int, datetime, int]]:
    """Ticks after the tick ``after_id`` that came after entries up to ``applied_seq``, in the
    order they were stored: ``(after_seq, at, id)``."""
    query = (
        select(t.engine_tick.c.after_seq, t.engine_tick.c.at, t.engine_tick.c.id)
        .where(t.engine_tick.c.id > after_id, t.engine_tick.c.after_seq <= applied_seq)
        .order_by(t.engine_tick.c.id)
    )
    for after, at, tick_id in conn.execute(query).all():
        yield int(after), aware(at), int(tick_id)


def entries_of_kind(db: Engine, kind: str) -> list[tuple[datetime, dict[str, Any]]]:
    """Every journal entry of ``kind`` in order, as ``(at, payload)``: for the few kinds of
    people's actions a start folds once (on-call overrides, silences)."""
    with db.connect() as conn:
        rows = conn.execute(
            select(t.journal.c.at, t.journal.c.payload)
            .where(t.journal.c.kind == kind)
            .order_by(t.journal.c.seq)
        ).all()
    return [(aware(row.at), loads(row.payload)) for row in rows]


def aware(moment: datetime) -> datetime:
    # SQLite returns naive datetimes for timezone-aware columns; every stored time is UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


_NEXT_ENTRIES = (
    select(t.journal)
    .where(t.journal.c.seq > bindparam("after"))
    .order_by(t.journal.c.seq)
    .limit(bindparam("limit"))
)
