"""Fixtures for calling real connectors against real servers on 127.0.0.1."""

from __future__ import annotations

import socket
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import httpx
import pytest

from runbookd.connectors.base import CallContext, ConnectorSpec, Result, Runtime, Settings

#: ``await call(spec, params, settings, ctx=...)``: validate params like the executor, then run.
Caller = Callable[..., Awaitable[Result]]

CTX = CallContext(idempotency_key="call-0001")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def httpserver_listen_address() -> tuple[str, int]:
    """pytest-httpserver on loopback only, on a free port."""
    return ("127.0.0.1", 0)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    """The shared outbound client, as the service configures it: no timeout of its own."""
    async with httpx.AsyncClient(timeout=None) as client:
        yield client


@pytest.fixture
def call(http: httpx.AsyncClient) -> Caller:
    async def run(
        spec: ConnectorSpec,
        params: dict[str, Any],
        settings: Settings | None = None,
        *,
        ctx: CallContext = CTX,
        client: httpx.AsyncClient | None = None,
    ) -> Result:
        assert spec.run is not None
        validated = spec.params.model_validate(params)
        return await spec.run(validated, ctx, Runtime(http=client or http, settings=settings))

    return run


@pytest.fixture
def refused_url() -> Iterator[str]:
    """A loopback URL whose port is bound but not listening: connecting is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


@pytest.fixture
def release() -> Iterator[threading.Event]:
    """Set at teardown: server handlers that stall until the test is over wait on it."""
    event = threading.Event()
    yield event
    event.set()
