"""Real servers for connector tests: an Alertmanager process, the PostgreSQL of the machine.

Both run on loopback only. Alertmanager is Debian's ``prometheus-alertmanager`` (tests skip, saying
so, when it is not installed); PostgreSQL is used only when ``RUNBOOKD_TEST_DATABASE_URL`` is set.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from runbookd.connectors.base import CallContext, ConnectorSpec, Result, Runtime, Settings

Caller = Callable[..., Awaitable[Result]]

AM_CONFIG = """\
route:
  receiver: blackhole
receivers:
  - name: blackhole
"""


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=None) as client:
        yield client


@pytest.fixture
def call(http: httpx.AsyncClient) -> Caller:
    async def run(
        spec: ConnectorSpec,
        params: dict[str, Any],
        settings: Settings | None = None,
        *,
        ctx: CallContext | None = None,
    ) -> Result:
        assert spec.run is not None
        validated = spec.params.model_validate(params)
        context = ctx or CallContext(idempotency_key=f"call-{uuid.uuid4().hex[:8]}")
        return await spec.run(validated, context, Runtime(http=http, settings=settings))

    return run


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path, deadline: float) -> None:
    """Poll ``/-/ready`` until it answers 200, the process dies, or the deadline passes."""
    end = time.monotonic() + deadline
    with httpx.Client(timeout=1.0) as client:
        while time.monotonic() < end:
            if process.poll() is not None:
                raise RuntimeError(
                    f"alertmanager exited with {process.returncode}:\n{log.read_text()}"
                )
            try:
                if client.get(f"{url}/-/ready").status_code == 200:
                    return
            except httpx.TransportError:
                pass  # not listening yet
            time.sleep(0.05)  # poll interval, not a wait for an outcome
    raise RuntimeError(f"alertmanager not ready within {deadline}s:\n{log.read_text()}")


@pytest.fixture(scope="module")
def alertmanager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of one Alertmanager with gossip off, on a free loopback port, for this module."""
    binary = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    if binary is None:
        pytest.skip("Alertmanager is not installed (apt-get install -y prometheus-alertmanager)")
    home = tmp_path_factory.mktemp("alertmanager")
    (home / "alertmanager.yml").write_text(AM_CONFIG)
    log = home / "alertmanager.log"
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={home / 'alertmanager.yml'}",
                f"--storage.path={home / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                f"--web.external-url={url}",
                "--cluster.listen-address=",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_ready(url, process, log, deadline=30.0)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def postgres_url() -> str:
    url = os.environ.get("RUNBOOKD_TEST_DATABASE_URL")
    if not url:
        pytest.skip("RUNBOOKD_TEST_DATABASE_URL is not set")
    return url


@pytest.fixture
def schema(postgres_url: str) -> Iterator[str]:
    """A schema of its own in the test PostgreSQL, dropped afterwards."""
    name = f"runbookd_test_{uuid.uuid4().hex[:12]}"
    engine = create_engine(postgres_url)
    try:
        with engine.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {name}"))
        yield name
    finally:
        with engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {name} CASCADE"))
        engine.dispose()
