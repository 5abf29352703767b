"""The sql connector on a real SQLite file; PostgreSQL is in tests/integration/connectors."""

from __future__ import annotations

import datetime as dt
import sqlite3
import uuid
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path

import pytest

from runbookd.connectors.base import CallContext, PermanentError, Result, RetryableError
from runbookd.connectors.sql import SPEC, SqlSettings, plain

pytestmark = pytest.mark.anyio
Caller = Callable[..., Awaitable[Result]]


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "orders.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, status TEXT, total REAL)")
        conn.executemany(
            "INSERT INTO orders (status, total) VALUES (?, ?)",
            [("stuck", 10.5), ("stuck", 20.0), ("paid", 5.0), ("stuck", 1.0), ("paid", 2.0)],
        )
    return path


@pytest.fixture
def settings(db: Path) -> SqlSettings:
    return SqlSettings.model_validate({"databases": {"default": f"sqlite:///{db}"}})


def count(db: Path, where: str = "1=1") -> int:
    with sqlite3.connect(db) as conn:
        found: int = conn.execute(f"SELECT count(*) FROM orders WHERE {where}").fetchone()[0]
    return found


async def test_a_query_returns_rows_value_and_rowcount(call: Caller, settings: SqlSettings) -> None:
    result = await call(
        SPEC,
        {
            "query": "SELECT id, total FROM orders WHERE status = :status ORDER BY id",
            "params": {"status": "stuck"},
        },
        settings,
    )

    assert result == {
        "rows": [{"id": 1, "total": 10.5}, {"id": 2, "total": 20.0}, {"id": 4, "total": 1.0}],
        "value": 1,
        "rowcount": 3,
    }


async def test_bound_values_are_data_never_sql(
    call: Caller, settings: SqlSettings, db: Path
) -> None:
    result = await call(
        SPEC,
        {
            "query": "SELECT count(*) AS n FROM orders WHERE status = :status",
            "params": {"status": "x'; DROP TABLE orders; --"},
        },
        settings,
    )

    assert result["value"] == 0
    assert count(db) == 5


async def test_read_only_refuses_a_write(call: Caller, settings: SqlSettings, db: Path) -> None:
    with pytest.raises(PermanentError) as info:
        await call(SPEC, {"query": "DELETE FROM orders WHERE status = 'paid'"}, settings)

    assert str(info.value) == (
        "sql: database 'default' (sqlite): attempt to write a readonly database (SQLITE_READONLY)"
    )
    assert count(db) == 5


async def test_a_write_commits_and_counts_changed_rows(
    call: Caller, settings: SqlSettings, db: Path
) -> None:
    result = await call(
        SPEC,
        {
            "query": "UPDATE orders SET status = 'retried' WHERE status = :s",
            "params": {"s": "stuck"},
            "read_only": False,
        },
        settings,
    )

    assert result == {"rows": [], "value": None, "rowcount": 3}
    assert count(db, "status = 'retried'") == 3


async def test_rows_are_capped_but_all_are_counted(call: Caller, db: Path) -> None:
    settings = SqlSettings.model_validate(
        {"databases": {"default": f"sqlite:///{db}"}, "max_rows": 2}
    )

    result = await call(SPEC, {"query": "SELECT id FROM orders ORDER BY id"}, settings)

    assert result == {"rows": [{"id": 1}, {"id": 2}], "value": 1, "rowcount": 5}


async def test_sql_errors_are_permanent(call: Caller, settings: SqlSettings) -> None:
    with pytest.raises(PermanentError, match=r"no such table: shipments \(SQLITE_ERROR\)"):
        await call(SPEC, {"query": "SELECT * FROM shipments"}, settings)


async def test_a_missing_bind_value_is_permanent(call: Caller, settings: SqlSettings) -> None:
    with pytest.raises(PermanentError, match="bind parameter 'status'"):
        await call(SPEC, {"query": "SELECT id FROM orders WHERE status = :status"}, settings)


async def test_a_busy_database_is_retryable(call: Caller, db: Path) -> None:
    settings = SqlSettings.model_validate(
        {"databases": {"default": f"sqlite:///{db}?timeout=0.05"}}
    )
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # holds the write lock
    try:
        with pytest.raises(RetryableError, match=r"database is locked \(SQLITE_BUSY\)"):
            await call(SPEC, {"query": "DELETE FROM orders", "read_only": False}, settings)
    finally:
        holder.rollback()
        holder.close()


async def test_an_unreachable_server_is_retryable(call: Caller, refused_url: str) -> None:
    port = refused_url.rsplit(":", 1)[1]
    settings = SqlSettings.model_validate(
        {"databases": {"main": f"postgresql+psycopg://postgres:pw@127.0.0.1:{port}/x"}}
    )

    with pytest.raises(RetryableError, match="Connection refused") as info:
        await call(SPEC, {"database": "main", "query": "SELECT 1"}, settings)

    assert str(info.value).startswith("sql: database 'main' (postgresql+psycopg): ")


async def test_an_unknown_database_lists_the_configured_ones(
    call: Caller, settings: SqlSettings
) -> None:
    with pytest.raises(PermanentError) as info:
        await call(SPEC, {"database": "billing", "query": "SELECT 1"}, settings)

    assert str(info.value) == (
        "sql: unknown database 'billing'; configured in connectors.sql.databases: default"
    )


async def test_dry_runs_read_but_do_not_write(
    call: Caller, settings: SqlSettings, db: Path
) -> None:
    dry = CallContext(idempotency_key="d", dry_run=True)

    read = await call(SPEC, {"query": "SELECT count(*) FROM orders"}, settings, ctx=dry)
    write = await call(SPEC, {"query": "DELETE FROM orders", "read_only": False}, settings, ctx=dry)

    assert read["value"] == 5
    assert write == {"dry_run": True}
    assert count(db) == 5


def test_database_values_become_plain_data() -> None:
    when = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    key = uuid.UUID(int=1)

    assert plain(Decimal("12.50")) == 12.5
    assert plain(when) == "2026-01-02T03:04:05+00:00"
    assert plain(dt.date(2026, 1, 2)) == "2026-01-02"
    assert plain(key) == "00000000-0000-0000-0000-000000000001"
    assert plain(b"\x00\xff") == "AP8="
    assert plain(None) is None


def test_urls_are_checked_and_kept_secret() -> None:
    settings = SqlSettings.model_validate(
        {"databases": {"main": "postgresql+psycopg://app:pw-SECRET@db/app"}}
    )
    with pytest.raises(ValueError, match="not a SQLAlchemy URL"):
        SqlSettings.model_validate({"databases": {"main": "db.example.org:5432"}})

    assert "pw-SECRET" not in repr(settings)
    assert "pw-SECRET" not in str(settings)
