"""The sql connector on PostgreSQL (RUNBOOKD_TEST_DATABASE_URL), each test in its own schema."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection

from runbookd.connectors.base import PermanentError, Result, RetryableError
from runbookd.connectors.sql import SPEC, SqlSettings

pytestmark = pytest.mark.anyio
Caller = Callable[..., Awaitable[Result]]


@pytest.fixture
def admin(postgres_url: str, schema: str) -> Iterator[Connection]:
    """A connection of the test's own, with an orders table in the test's schema."""
    engine = create_engine(postgres_url)
    with engine.connect() as conn:
        conn.execute(
            text(
                f"CREATE TABLE {schema}.orders (id uuid PRIMARY KEY, status text, "
                "total numeric(10, 2), created timestamptz)"
            )
        )
        conn.execute(
            text(
                f"INSERT INTO {schema}.orders VALUES "
                "('00000000-0000-0000-0000-000000000001', 'stuck', 10.50, '2026-01-02T03:04:05Z'),"
                "('00000000-0000-0000-0000-000000000002', 'paid', 5.00, '2026-01-02T03:04:06Z')"
            )
        )
        conn.commit()
        yield conn
    engine.dispose()


def settings(url: str) -> SqlSettings:
    return SqlSettings.model_validate({"databases": {"main": url}})


def stuck(conn: Connection, schema: str) -> int:
    found = conn.execute(text(f"SELECT count(*) FROM {schema}.orders WHERE status = 'stuck'"))
    conn.rollback()
    return int(found.scalar_one())


async def test_values_come_back_as_plain_data(
    call: Caller, postgres_url: str, schema: str, admin: Connection
) -> None:
    result = await call(
        SPEC,
        {
            "database": "main",
            "query": f"SELECT id, total, created FROM {schema}.orders WHERE status = :s",
            "params": {"s": "stuck"},
        },
        settings(postgres_url),
    )

    assert result["rows"] == [
        {
            "id": "00000000-0000-0000-0000-000000000001",
            "total": 10.5,
            "created": "2026-01-02T03:04:05+00:00",
        }
    ]
    assert result["rowcount"] == 1


async def test_read_only_refuses_a_write(
    call: Caller, postgres_url: str, schema: str, admin: Connection
) -> None:
    with pytest.raises(PermanentError) as info:
        await call(
            SPEC,
            {"database": "main", "query": f"DELETE FROM {schema}.orders"},
            settings(postgres_url),
        )

    assert "cannot execute DELETE in a read-only transaction (SQLSTATE 25006)" in str(info.value)
    assert stuck(admin, schema) == 1


async def test_a_write_commits(
    call: Caller, postgres_url: str, schema: str, admin: Connection
) -> None:
    result = await call(
        SPEC,
        {
            "database": "main",
            "query": f"UPDATE {schema}.orders SET status = 'retried' WHERE status = :s",
            "params": {"s": "stuck"},
            "read_only": False,
        },
        settings(postgres_url),
    )

    assert result == {"rows": [], "value": None, "rowcount": 1}
    assert stuck(admin, schema) == 0


async def test_bad_sql_is_permanent(call: Caller, postgres_url: str, schema: str) -> None:
    with pytest.raises(PermanentError, match=r"SQLSTATE 42P01"):
        await call(
            SPEC,
            {"database": "main", "query": f"SELECT * FROM {schema}.nothing"},
            settings(postgres_url),
        )


async def test_a_lock_timeout_is_retryable(
    call: Caller, postgres_url: str, schema: str, admin: Connection
) -> None:
    # The connector's own connection gives up waiting for a lock after 100 ms.
    impatient = postgres_url + ("&" if "?" in postgres_url else "?")
    impatient += "options=-c%20lock_timeout%3D100"
    admin.execute(text(f"LOCK TABLE {schema}.orders IN ACCESS EXCLUSIVE MODE"))
    try:
        with pytest.raises(RetryableError, match=r"lock timeout.*SQLSTATE 55P03"):
            await call(
                SPEC,
                {"database": "main", "query": f"SELECT count(*) FROM {schema}.orders"},
                settings(impatient),
            )
    finally:
        admin.rollback()
