"""A fresh database per test: a SQLite file, or a PostgreSQL schema created and dropped after.

One place for the suite's PostgreSQL runs (``RUNBOOKD_TEST_DATABASE_URL``): each test gets its own
schema through ``search_path``, so tests never see each other's rows and need no cleanup order.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url


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
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
