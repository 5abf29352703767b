"""Database engines and schema migrations (Alembic, applied at start and by `runbookd db upgrade`)."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

MIGRATIONS = Path(__file__).parent / "migrations"


def make_engine(
    url: str, *, session: Mapping[str, str] | None = None, pool_size: int = 10
) -> Engine:
    """An engine with the settings each backend needs for a durable, concurrent store.

    ``session``: PostgreSQL settings set on every new connection (replicas set lock_timeout and
    idle_in_transaction_session_timeout, see ``runbookd.service.cluster``); with them, TCP
    keepalives are on, so a connection to a peer that vanished is noticed in seconds, not hours.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # How long a writer waits for the file lock before failing (-> 503); ``?timeout=`` sets it.
        timeout = float(str(parsed.query.get("timeout", "30")))
        parsed = parsed.difference_update_query(["timeout"])
        engine = create_engine(
            parsed, connect_args={"check_same_thread": False, "timeout": timeout}
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if not session:
        return create_engine(url, pool_pre_ping=True, pool_size=pool_size, max_overflow=10)
    engine = create_engine(
        url,
        pool_pre_ping=True,
        pool_size=pool_size,
        max_overflow=10,
        connect_args=dict(_KEEPALIVES),
    )
    statements = [f"SET {name} = '{value}'" for name, value in session.items()]

    def _session(dbapi_conn: Any, _record: Any) -> None:
        with dbapi_conn.cursor() as cur:
            for statement in statements:
                cur.execute(statement)
        dbapi_conn.commit()  # psycopg opened a transaction for the SETs; end it

    event.listen(engine, "connect", _session)
    return engine


#: libpq's TCP keepalive and user-timeout parameters: a dead peer shows within ~5 s.
_KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": 2,
    "keepalives_interval": 1,
    "keepalives_count": 3,
    "tcp_user_timeout": 5000,
}


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    # WAL lets the API read while the writer commits. FULL costs almost nothing once commits are
    # batched (shared notes: ingest-performance) and survives power loss, which NORMAL does not.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.close()


def _config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest revision (idempotent)."""
    command.upgrade(_config(engine), "head")


def head_revision() -> str | None:
    return ScriptDirectory.from_config(_config(create_engine("sqlite://"))).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def is_current(engine: Engine) -> bool:
    return current_revision(engine) == head_revision()


def can_write(engine: Engine, wait: float = 1.0) -> bool:
    """Whether a write could start within ``wait`` seconds.

    Only SQLite needs asking: in WAL mode reads go on while another process holds the write lock
    or the file turned read-only, so a read says nothing about whether alerts can be stored. The
    probe takes the write lock and gives it back at once. On PostgreSQL a reachable server takes
    writes, and reaching it is what the read already showed.
    """
    if engine.dialect.name != "sqlite":
        return True
    with engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        assert raw is not None
        # The pool's connections wait up to the configured timeout (30 s by default); a probe
        # must answer sooner than that, and leave the connection as it found it.
        (before,) = raw.execute("PRAGMA busy_timeout").fetchone()
        raw.execute(f"PRAGMA busy_timeout = {int(wait * 1000)}")
        try:
            raw.execute("BEGIN IMMEDIATE")
            # The lock alone is granted on a read-only file; a write that changes nothing is not.
            raw.execute("UPDATE alembic_version SET version_num = version_num")
        except sqlite3.Error:
            return False
        finally:
            if raw.in_transaction:
                raw.execute("ROLLBACK")
            raw.execute(f"PRAGMA busy_timeout = {int(before)}")
    return True
