"""Fixtures for end-to-end tests: a fresh database per test and real `runbookd serve` processes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import PG_URL, REPO, Database, Server
from tests.scratch_db import scratch_database


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    with scratch_database(PG_URL, f"sqlite:///{tmp_path / 'runbookd.db'}", "rb") as (url, schema):
        yield Database(url, schema)


@pytest.fixture
def make_server(database: Database, tmp_path: Path) -> Iterator[Callable[..., Server]]:
    servers: list[Server] = []

    def make(
        runbooks: list[Path] | None = None,
        env: dict[str, str] | None = None,
        port: int | None = None,
        ca_file: Path | None = None,
    ) -> Server:
        server = Server(
            database, runbooks or [REPO / "runbooks"], tmp_path, env=env or {}, ca_file=ca_file
        )
        if port is not None:
            server.port = port
        servers.append(server)
        server.start()
        return server

    yield make
    for server in servers:
        server.stop()
