"""Run-time on-call overrides: journaled, applied in journal order, read by the engine's lookup.

An override (``runbookd oncall override``, ``POST /api/v1/oncall/{schedule}/overrides``) is a
journal entry of kind ``oncall``, so it is as durable as an alert and every replica's engine
thread sees it in the same order. It counts from the entry's time (``Cover.made``) and a
removal from its own entry's time, so a page resolved during a replay gets the person it got
live. A start reads every ``oncall`` entry once (a snapshot restore skips the early journal);
new ones arrive through the worker's hook. Entries are few (people's actions), so the scan at
start is cheap next to the replay itself.
"""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine

from runbookd.engine.commands import Command
from runbookd.engine.lang.diagnostics import did_you_mean
from runbookd.oncall.loader import ScheduleLibrary
from runbookd.oncall.lookup import Directory
from runbookd.oncall.resolve import Cover
from runbookd.service.journal import entries_of_kind
from runbookd.service.worker import Worker

KIND = "oncall"


class OverrideError(ValueError):
    """A bad override request; ``field`` names the field that is wrong."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class Overrides:
    """The schedules the service runs and the overrides journaled for them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._covers: dict[str, tuple[str, Cover]] = {}  # id -> (schedule, cover), in order
        self.directory = Directory(ScheduleLibrary())

    def find(self, schedule_id: str, moment: datetime) -> dict[str, Any] | None:
        """The engine's ``OnCallLookup``: always the current directory, swapped on reload."""
        return self.directory.find(schedule_id, moment)

    def set_library(self, library: ScheduleLibrary) -> None:
        with self._lock:
            self.directory = Directory(library, self._covers.values())

    def load(self, db: Engine) -> int:
        """Every ``oncall`` journal entry, in order; returns how many."""
        entries = entries_of_kind(db, KIND)
        for at, payload in entries:
            self.apply(payload, at, refresh=False)
        self._refresh()
        return len(entries)

    def apply(self, payload: dict[str, Any], at: datetime, *, refresh: bool = True) -> None:
        """One journal entry (idempotent: the start's scan and the worker may both pass it)."""
        op, oid = payload.get("op"), str(payload.get("id"))
        with self._lock:
            if op == "add" and oid not in self._covers:
                cover = Cover(
                    person=str(payload["person"]),
                    start=datetime.fromisoformat(payload["start"]),
                    end=datetime.fromisoformat(payload["end"]),
                    reason=payload.get("reason"),
                    made=at,
                    id=oid,
                )
                self._covers[oid] = (str(payload["schedule"]), cover)
            elif op == "remove" and oid in self._covers:
                schedule, cover = self._covers[oid]
                if cover.removed is None:
                    self._covers[oid] = (schedule, _removed(cover, at))
        if refresh:
            self._refresh()

    def _refresh(self) -> None:
        with self._lock:
            self.directory.set_covers(list(self._covers.values()))

    def covers(self, schedule: str) -> list[Cover]:
        with self._lock:
            return [c for s, c in self._covers.values() if s == schedule]

    # --- requests -> journal payloads ---------------------------------------------------

    def add_payload(
        self,
        schedule: str,
        person: str,
        start: datetime,
        end: datetime,
        reason: str | None,
        by: str | None,
    ) -> dict[str, Any]:
        """The entry for a new override, or OverrideError naming the bad field."""
        library = self.directory.library
        if schedule not in library.schedules:
            hint = did_you_mean(schedule, library.schedules)
            raise OverrideError("schedule", f"no schedule {schedule!r}{hint}")
        if person not in library.people:
            raise OverrideError(
                "person", f"unknown person {person!r}{did_you_mean(person, library.people)}"
            )
        if start.tzinfo is None or end.tzinfo is None:
            tz = library.schedules[schedule].zone
            start = start if start.tzinfo else start.replace(tzinfo=tz)
            end = end if end.tzinfo else end.replace(tzinfo=tz)
        if end <= start:
            raise OverrideError("end", "must be after start")
        return {
            "op": "add",
            "id": uuid.uuid4().hex[:12],
            "schedule": schedule,
            "person": person,
            "start": start.astimezone(UTC).isoformat(),
            "end": end.astimezone(UTC).isoformat(),
            "reason": reason,
            "by": by,
        }

    def remove_payload(self, schedule: str, override_id: str, by: str | None) -> dict[str, Any]:
        with self._lock:
            found = self._covers.get(override_id)
        if found is None or found[0] != schedule or found[1].removed is not None:
            raise OverrideError("id", f"no override {override_id!r} in schedule {schedule!r}")
        return {"op": "remove", "id": override_id, "schedule": schedule, "by": by}


def _removed(cover: Cover, at: datetime) -> Cover:
    return Cover(cover.person, cover.start, cover.end, cover.reason, cover.made, at, cover.id)


class OnCallWorker(Worker):
    """The engine thread with on-call schedules: the lookup on every engine it builds or
    restores (the lookup is configuration, so snapshots leave it out), and ``oncall`` journal
    entries applied to ``overrides`` in journal order, on the leader and on every follower."""

    def __init__(self, db: Engine, *, overrides: Overrides, **options: Any) -> None:
        self._overrides = overrides  # before Worker.__init__, which builds the first engine
        super().__init__(db, **options)

    def _new_engine(self) -> None:
        super()._new_engine()
        self.engine.oncall = self._overrides.find

    def recover(self) -> int:
        replayed = super().recover()
        self.engine.oncall = self._overrides.find  # a restored snapshot's engine has none
        return replayed

    def _apply(
        self, seq: int, kind: str, at: datetime, payload: dict[str, Any]
    ) -> tuple[list[Command], str | None]:
        if kind == KIND:
            self._overrides.apply(payload, at)
            return [], None
        return super()._apply(seq, kind, at, payload)
