"""Silences in the running service: the journal entries, the listing the API reads, the windows.

A silence is a journal entry of kind ``silence`` (``engine.silences``). The engine thread applies
it to the engine's own ``Mutes`` (that copy decides; it is in snapshots and replays). The API and
the pages read ``SilenceBook``, a second fold of the same entries kept for other threads: the
start scans every ``silence`` entry once (a snapshot restore skips the early journal), then the
engine thread's hook and the API's own write keep it current (``apply`` is idempotent). Entries
are people's actions, so the scan is cheap next to the replay itself.

Maintenance windows travel in the runbook library's journal entry (``windows``, the config
section as written), so a replay runs under the windows the first run had.
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from datetime import UTC, datetime
from typing import Any

from prometheus_client import Gauge
from sqlalchemy import Engine

from runbookd.engine.commands import Command
from runbookd.engine.errors import EngineError
from runbookd.engine.silences import KIND, Mutes, SilenceError, State, validate_matchers
from runbookd.engine.windows import windows_from_config
from runbookd.service.journal import entries_of_kind
from runbookd.service.oncall import OnCallWorker


class SilenceBook:
    """The silences as of the last entry this process saw, for the API's threads."""

    def __init__(self, gauge: Gauge | None = None) -> None:
        self._lock = threading.Lock()
        self._mutes = Mutes()
        if gauge is not None:  # runbookd_silences_active, read at scrape time
            gauge.set_function(self.active)

    def load(self, db: Engine) -> int:
        """Every ``silence`` journal entry, in order; returns how many."""
        entries = entries_of_kind(db, KIND)
        for at, payload in entries:
            self.apply(payload, at)
        return len(entries)

    def apply(self, payload: dict[str, Any], at: datetime) -> None:
        # An entry the engine refused too (its request answered 409) has nothing to show.
        with self._lock, contextlib.suppress(SilenceError):
            self._mutes.apply(payload, at)

    def listing(self, now: datetime, state: State | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return self._mutes.listing(now, state)

    def get(self, silence_id: str, now: datetime) -> dict[str, Any] | None:
        with self._lock:
            found = self._mutes.silences.get(silence_id)
            return found.to_dict(now) if found is not None else None

    def active(self, now: datetime | None = None) -> int:
        with self._lock:
            return self._mutes.active(now or datetime.now(UTC))

    # --- requests -> journal payloads ---------------------------------------------------

    def add_payload(
        self,
        matchers: list[str],
        starts_at: datetime | None,
        ends_at: datetime,
        created_by: str,
        comment: str,
        now: datetime,
    ) -> dict[str, Any]:
        """The entry for a new silence, or SilenceError naming the bad field."""
        validate_matchers(matchers)
        start = _utc(starts_at) if starts_at is not None else now
        end = _utc(ends_at)
        if end <= start:
            raise SilenceError("endsAt", "must be after startsAt")
        if end <= now:
            raise SilenceError("endsAt", "is in the past: the silence would mute nothing")
        return {
            "op": "add",
            "id": uuid.uuid4().hex[:12],
            "matchers": matchers,
            "startsAt": start.isoformat(),
            "endsAt": end.isoformat(),
            "createdBy": created_by,
            "comment": comment,
        }

    def expire_payload(self, silence_id: str, by: str, now: datetime) -> dict[str, Any]:
        found = self.get(silence_id, now)
        if found is None:
            raise SilenceError("id", f"no silence {silence_id!r}")
        if found["status"]["state"] == "expired":
            raise SilenceError("id", f"silence {silence_id} has already expired")
        return {"op": "expire", "id": silence_id, "by": by}


def _utc(moment: datetime) -> datetime:
    # A time without an offset is UTC, as everywhere in the API.
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


class SilenceWorker(OnCallWorker):
    """The engine thread with silences: ``silence`` entries go to the engine and to the book;
    a library entry's ``windows`` to the engine after its runbooks."""

    def __init__(self, db: Engine, *, silences: SilenceBook, **options: Any) -> None:
        self._silences = silences
        super().__init__(db, **options)

    def _apply(
        self, seq: int, kind: str, at: datetime, payload: dict[str, Any]
    ) -> tuple[list[Command], str | None]:
        if kind == KIND:
            self.clock.set(max(at, self.clock.now()))
            try:
                commands = self.engine.silence(payload)
            except EngineError as exc:
                return [], str(exc)
            self._silences.apply(payload, at)
            return commands, None
        out = super()._apply(seq, kind, at, payload)
        if kind == "runbooks":
            # Validated by check-config before it was journaled; a failure here is a bug.
            self.engine.set_windows(windows_from_config(payload.get("windows") or {}))
        return out
