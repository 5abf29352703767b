"""Fixtures for end-to-end tests: a fresh database per test and real `runbookd serve` processes."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.e2e.harness import PG_URL, REPO, Database, Server


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    if PG_URL is None:
        yield Database(f"sqlite:///{tmp_path / 'runbookd.db'}")
        return
    schema = f"rb_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield Database(url.render_as_string(hide_password=False), schema)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def make_server(database: Database, tmp_path: Path) -> Iterator[Callable[..., Server]]:
    servers: list[Server] = []

    def make(
        runbooks: list[Path] | None = None,
        env: dict[str, str] | None = None,
        port: int | None = None,
    ) -> Server:
        server = Server(database, runbooks or [REPO / "runbooks"], tmp_path, env=env or {})
        if port is not None:
            server.port = port
        servers.append(server)
        server.start()
        return server

    yield make
    for server in servers:
        server.stop()
