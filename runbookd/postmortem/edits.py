"""What people add to a post-mortem: follow-up items and lessons.

These are judgement, not engine inputs, so they are written straight to their tables (not
through the journal), each change in one transaction with a ``timeline`` row saying who changed
what and when -- and, for a follow-up item, its ``audit`` row (outcome ``applied``), so an edit
never exists without its record. The summary is computed on read (``load``), so the next read
shows the change.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select, update

from runbookd.auth.audit import AuditRecord
from runbookd.postmortem.load import NotFound
from runbookd.store import tables as t
from runbookd.store.codec import dumps

#: Follow-up fields a PATCH may change.
EDITABLE = ("title", "owner", "due_date", "status")


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def _exists(conn: Connection, incident_id: str) -> None:
    found = conn.execute(select(t.incident.c.id).where(t.incident.c.id == incident_id)).first()
    if found is None:
        raise NotFound(f"no incident {incident_id!r}")


def _record(
    conn: Connection, incident_id: str, at: datetime, kind: str, summary: str, data: dict[str, Any]
) -> None:
    conn.execute(
        insert(t.timeline).values(
            incident_id=incident_id,
            at=at,
            kind=kind,
            summary=summary,
            data=dumps({k: _plain(v) for k, v in data.items()}),
            journal_seq=None,
        )
    )


def _audited(
    conn: Connection, audit: AuditRecord | None, target: str, detail: str, at: datetime
) -> None:
    """The edit's audit record, in the edit's transaction."""
    if audit is not None:
        done = replace(audit, target=target, detail=detail).settled("applied")
        conn.execute(insert(t.audit).values(**done.row(at)))


def add_follow_up(
    db: Engine,
    incident_id: str,
    *,
    title: str,
    owner: str | None,
    due: date | None,
    status: str,
    by: str,
    now: datetime,
    audit: AuditRecord | None = None,
) -> dict[str, Any]:
    """Store a new follow-up item; returns its row."""
    with db.begin() as conn:
        _exists(conn, incident_id)
        values = {
            "incident_id": incident_id,
            "title": title,
            "owner": owner,
            "due_date": due,
            "status": status,
            "created_at": now,
            "created_by": by,
            "updated_at": now,
            "updated_by": by,
        }
        key = conn.execute(insert(t.follow_up).values(**values)).inserted_primary_key
        assert key is not None  # an INSERT of one row always reports its key
        new_id = key[0]
        _record(
            conn,
            incident_id,
            now,
            "follow_up",
            f"follow-up {new_id} added by {by}: {title}",
            {"action": "added", "id": new_id, "by": by, **{k: values[k] for k in EDITABLE}},
        )
        _audited(conn, audit, f"{incident_id}/{new_id}", title, now)
        row = conn.execute(select(t.follow_up).where(t.follow_up.c.id == new_id)).one()
    return dict(row._mapping)


def update_follow_up(
    db: Engine,
    incident_id: str,
    follow_up_id: int,
    changes: Mapping[str, Any],
    *,
    by: str,
    now: datetime,
    audit: AuditRecord | None = None,
) -> dict[str, Any]:
    """Change some fields of a follow-up item of ``incident_id``; returns the updated row."""
    which = (t.follow_up.c.id == follow_up_id) & (t.follow_up.c.incident_id == incident_id)
    with db.begin() as conn:
        _exists(conn, incident_id)
        before = conn.execute(select(t.follow_up).where(which)).first()
        if before is None:
            raise NotFound(f"incident {incident_id!r} has no follow-up {follow_up_id}")
        changed = {k: v for k, v in changes.items() if k in EDITABLE and getattr(before, k) != v}
        what = ", ".join(f"{k}={_plain(v)!r}" for k, v in changed.items())
        _audited(conn, audit, f"{incident_id}/{follow_up_id}", what or "no change", now)
        if changed:
            conn.execute(
                update(t.follow_up).where(which).values(**changed, updated_at=now, updated_by=by)
            )
            _record(
                conn,
                incident_id,
                now,
                "follow_up",
                f"follow-up {follow_up_id} changed by {by}: {what}",
                {"action": "changed", "id": follow_up_id, "by": by, **changed},
            )
        row = conn.execute(select(t.follow_up).where(which)).one()
    return dict(row._mapping)


def delete_follow_up(
    db: Engine,
    incident_id: str,
    follow_up_id: int,
    *,
    by: str,
    now: datetime,
    audit: AuditRecord | None = None,
) -> None:
    """Remove a follow-up item of ``incident_id`` (the timeline keeps that it existed)."""
    which = (t.follow_up.c.id == follow_up_id) & (t.follow_up.c.incident_id == incident_id)
    with db.begin() as conn:
        _exists(conn, incident_id)
        before = conn.execute(select(t.follow_up).where(which)).first()
        if before is None:
            raise NotFound(f"incident {incident_id!r} has no follow-up {follow_up_id}")
        conn.execute(delete(t.follow_up).where(which))
        _record(
            conn,
            incident_id,
            now,
            "follow_up",
            f"follow-up {follow_up_id} deleted by {by}: {before.title}",
            {"action": "deleted", "id": follow_up_id, "by": by, "title": before.title},
        )
        _audited(conn, audit, f"{incident_id}/{follow_up_id}", before.title, now)


def set_lessons(db: Engine, incident_id: str, *, text: str, by: str, now: datetime) -> None:
    """Replace the lessons text of ``incident_id`` (last writer wins; the timeline keeps each)."""
    with db.begin() as conn:
        _exists(conn, incident_id)
        had = conn.execute(
            select(t.lessons.c.incident_id).where(t.lessons.c.incident_id == incident_id)
        ).first()
        values = {"text": text, "updated_at": now, "updated_by": by}
        if had is None:
            conn.execute(insert(t.lessons).values(incident_id=incident_id, **values))
        else:
            conn.execute(
                update(t.lessons).where(t.lessons.c.incident_id == incident_id).values(**values)
            )
        _record(
            conn,
            incident_id,
            now,
            "lessons",
            f"lessons {'written' if had is None else 'rewritten'} by {by}",
            {"by": by, "chars": len(text)},
        )
