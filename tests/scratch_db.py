"""A fresh database per test: a SQLite file, or a PostgreSQL schema created and dropped after.

One place for the suite's PostgreSQL runs (``RUNBOOKD_TEST_DATABASE_URL``): each test gets its own
schema through ``search_path``, so tests never see each other's rows and need no cleanup order.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError


@contextmanager
def scratch_database(
    pg_url: str | None, sqlite_url: str, prefix: str
) -> Iterator[tuple[str, str | None]]:
    """Yield ``(url, schema)``: ``sqlite_url`` and None without PostgreSQL, else a new schema's URL."""
    if pg_url is None:
        yield sqlite_url, None
        return
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(pg_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(pg_url).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False), schema
    finally:
        try:
            _drop(admin, schema)
        finally:
            admin.dispose()


def _drop(admin: Engine, schema: str) -> None:
    """Drop the schema; a session left holding its locks is ended and reported, never waited on.

    DROP SCHEMA waits for every lock on the schema's tables. A connection that a test or a
    server left 'idle in transaction' would make it wait for ever (it hung CI for an hour), so
    the wait is bounded, the holders are terminated, and the test fails naming them.
    """
    try:
        with admin.begin() as conn:
            conn.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT_S}s'"))
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        return
    except OperationalError:
        pass
    with admin.begin() as conn:
        holders = conn.execute(_HOLDERS, {"schema": schema}).all()
        for pid, *_ in holders:
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    raise AssertionError(
        f"sessions still held locks in schema {schema} after the test (terminated): "
        + "; ".join(f"pid {pid} {state}: {query}" for pid, state, query in holders)
    )


LOCK_TIMEOUT_S = 30
_HOLDERS = text(
    """
    SELECT DISTINCT a.pid, a.state, left(a.query, 200)
    FROM pg_locks l
    JOIN pg_class c ON c.oid = l.relation
    JOIN pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_stat_activity a ON a.pid = l.pid
    WHERE n.nspname = :schema AND l.pid <> pg_backend_pid()
    """
)
