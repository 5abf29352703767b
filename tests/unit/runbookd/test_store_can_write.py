"""``db.can_write``: a SQLite file whose write lock another process holds is not ready, though
reads still work there (WAL); the probe answers within its own wait and leaves the pool's
connection as it was."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from sqlalchemy import text

from runbookd.store import db


def test_a_held_write_lock_is_reported_and_its_release_too(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    engine = db.make_engine(f"sqlite:///{path}?timeout=3600")
    db.upgrade(engine)
    try:
        assert db.can_write(engine)
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            # Answered after its own wait, not the pool's lock timeout (an hour here, so a probe
            # that waited for it would still be waiting at this deadline).
            answer: list[bool] = []
            probe = threading.Thread(target=lambda: answer.append(db.can_write(engine, wait=0.2)))
            probe.start()
            probe.join(timeout=120)
            assert answer == [False]
            assert db.is_current(engine)  # reads alone would have called this store ready
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert db.can_write(engine)
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 3600000
    finally:
        engine.dispose()


def test_a_read_only_file_is_not_writable(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    db.upgrade(db.make_engine(f"sqlite:///{path}"))
    engine = db.make_engine(f"sqlite:///file:{path}?mode=ro&uri=true")
    try:
        assert not db.can_write(engine)
    finally:
        engine.dispose()
