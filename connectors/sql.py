"""The ``sql`` connector: one statement with bound parameters on a configured database.

Read-only calls run in a read-only transaction where the backend has one (PostgreSQL and MySQL:
``SET TRANSACTION READ ONLY``; SQLite: ``PRAGMA query_only``) and are always rolled back. That
guards against mistakes, not against a hostile query (PostgreSQL runs ``COMMIT; ...`` sent without
parameters as two statements): give runbookd a database role that may only read where it must not
write. Each call opens and closes its own connection in a worker thread, because calls are rare
and a pool per database would outlive configuration reloads.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import itertools
import uuid
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, Field, SecretStr
from sqlalchemy import Connection, create_engine, exc, make_url, text
from sqlalchemy.pool import NullPool

from runbookd.connectors.base import (
    CallContext,
    ConnectorError,
    ConnectorSpec,
    Params,
    PermanentError,
    Result,
    RetryableError,
    Runtime,
)
from runbookd.connectors.base import Settings as BaseSettings
from runbookd.connectors.calls import connector_call, settings_of

#: PostgreSQL error classes another attempt may cure: connection exception, transaction
#: rollback (serialization failure, deadlock), insufficient resources, operator intervention,
#: lock not available.
_PG_RETRYABLE_CLASSES = ("08", "40", "53", "57")
_PG_RETRYABLE_CODES = frozenset({"55P03"})
_SQLITE_RETRYABLE = frozenset({"SQLITE_BUSY", "SQLITE_LOCKED"})


class SqlParams(Params):
    """One SQL statement with bound parameters, read-only unless asked otherwise."""

    database: str = Field("default", description="Name of a database in the service configuration.")
    query: str = Field(
        description=(
            "SQL with :name placeholders. Bind values through params; never template them "
            "into the query text."
        )
    )
    params: dict[str, Any] = Field(
        default_factory=dict, description="Values bound to the query's :name placeholders."
    )
    read_only: bool = Field(
        True,
        description="Run in a read-only transaction; set false for writes, which dry runs skip.",
    )


def _sqlalchemy_url(url: SecretStr) -> SecretStr:
    try:
        make_url(url.get_secret_value())
    except exc.ArgumentError:
        raise ValueError("not a SQLAlchemy URL; write dialect+driver://user@host/db") from None
    return url


#: A database URL: a secret, as it may hold a password.
SqlUrl = Annotated[SecretStr, AfterValidator(_sqlalchemy_url)]


class SqlSettings(BaseSettings):
    """``connectors.sql`` in config.yaml: the databases runbooks may name."""

    databases: dict[str, SqlUrl] = Field(
        description=(
            "Database name -> SQLAlchemy URL, e.g. main: postgresql+psycopg://user:${env:PW}@db/app "
            "or sqlite:////var/lib/app.db. URLs are secrets (they may hold passwords)."
        )
    )
    max_rows: int = Field(1000, gt=0, description="Rows kept in the rows result; more are counted.")


def plain(value: Any) -> Any:
    """A database value as JSON-friendly data: times as ISO text, decimals as floats."""
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode()
    return value


def _read_only(conn: Connection) -> None:
    dialect = conn.dialect.name
    if dialect in ("postgresql", "mysql", "mariadb"):
        conn.execute(text("SET TRANSACTION READ ONLY"))
    elif dialect == "sqlite":
        conn.execute(text("PRAGMA query_only = ON"))


def _execute(url: str, params: SqlParams, max_rows: int) -> Result:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            if params.read_only:
                _read_only(conn)
            result = conn.execute(text(params.query), params.params)
            rows: list[dict[str, Any]] = []
            if result.returns_rows:
                keys = list(result.keys())
                for row in itertools.islice(result, max_rows):
                    rows.append({k: plain(v) for k, v in zip(keys, row, strict=True)})
                count = len(rows) + sum(1 for _ in result)  # the rest is counted, not kept
            else:
                count = result.rowcount
            if params.read_only:
                conn.rollback()
            else:
                conn.commit()
    finally:
        engine.dispose()
    value = next(iter(rows[0].values()), None) if rows else None
    return {"rows": rows, "value": value, "rowcount": count if count >= 0 else None}


def _failure(error: exc.SQLAlchemyError) -> ConnectorError:
    """Retryable for lost connections, deadlocks and busy databases; permanent otherwise."""
    if not isinstance(error, exc.DBAPIError):  # bad SQL text, a missing bind parameter, a driver
        return PermanentError(str(error).split("\n")[0])
    orig = error.orig
    said = str(orig).strip().split("\n")[0]
    sqlstate = getattr(orig, "sqlstate", None)
    sqlite = getattr(orig, "sqlite_errorname", None)
    if error.connection_invalidated:
        retryable = True
    elif isinstance(sqlstate, str):
        retryable = sqlstate.startswith(_PG_RETRYABLE_CLASSES) or sqlstate in _PG_RETRYABLE_CODES
        said = f"{said} (SQLSTATE {sqlstate})"
    elif isinstance(sqlite, str):
        retryable = sqlite in _SQLITE_RETRYABLE
        said = f"{said} ({sqlite})"
    else:  # no code: a driver's failure to connect is an OperationalError
        retryable = isinstance(error, exc.OperationalError)
    return (RetryableError if retryable else PermanentError)(said)


def _reads(params: SqlParams) -> bool:
    return params.read_only


@connector_call(reads=_reads)
async def run(params: SqlParams, ctx: CallContext, runtime: Runtime) -> Result:
    """Run the statement; ``rows`` (at most max_rows), ``value`` (first column of the first
    row) and ``rowcount`` (rows returned, or rows changed by a write)."""
    settings = settings_of(runtime, SqlSettings, "sql")
    url = settings.databases.get(params.database)
    if url is None:
        known = ", ".join(sorted(settings.databases)) or "none"
        raise PermanentError(
            f"sql: unknown database {params.database!r}; configured in connectors.sql.databases: "
            f"{known}"
        )
    where = f"sql: database {params.database!r} ({make_url(url.get_secret_value()).drivername})"
    try:
        return await asyncio.to_thread(_execute, url.get_secret_value(), params, settings.max_rows)
    except exc.SQLAlchemyError as error:
        failure = _failure(error)
        raise type(failure)(f"{where}: {failure}") from None


SPEC = ConnectorSpec(
    name="sql",
    params=SqlParams,
    description="Run a SQL statement on a configured database; read-only by default.",
    result_fields=("rows", "value", "rowcount"),
    # Dry runs still run reads; a call with read_only: false is a write and is skipped.
    read_only=True,
    run=run,
    settings=SqlSettings,
)
