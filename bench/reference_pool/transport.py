"""An HTTP/1.1 keep-alive pool with constant work per request (the benchmark's reference only).

Why not httpx's own pool: httpcore's ``AsyncConnectionPool`` re-examines every pooled connection
on every request and on every response close (``has_expired`` on each: an anyio attribute lookup
and a ``poll()`` syscall), and loops over all queued requests each time. With the executor's 16
workers that cost about 2 ms of CPU per call on these machines, most of it in that scan, and
in a burst of incidents it was the largest item on the event loop (bench/RESULTS.md, "Connector
calls: a pool with constant work per request"). This pool keeps, per origin, a stack of idle
connections: a request takes the most recently used one and checks only that one, and a
finished response puts its connection back. The connections themselves are httpcore's public
``AsyncHTTPConnection``, so HTTP parsing and timeouts are httpcore's, as before; underneath is
``connectors.tcp`` (plain asyncio instead of anyio, one write per request).

What it keeps from httpx's transport: at most ``max_connections`` requests in flight (a request
beyond that waits, bounded by its ``pool`` timeout if it has one), at most
``max_keepalive_connections`` idle connections, idle connections closed after
``keepalive_expiry``, certificate checks with httpx's default context, and httpcore's errors
raised as httpx's, so connectors see the same exceptions. It does not do proxies or HTTP/2.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpcore
import httpx

from bench.reference_pool.tcp import Backend

#: httpcore's exceptions and the httpx ones connectors catch; most specific first.
_ERRORS: tuple[tuple[type[Exception], type[httpx.TransportError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
    (httpcore.ProxyError, httpx.ProxyError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
)

#: scheme, host, port and the SSL context.
Key = tuple[bytes, bytes, int, ssl.SSLContext]


@contextlib.contextmanager
def _as_httpx() -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        for theirs, ours in _ERRORS:
            if isinstance(exc, theirs):
                raise ours(str(exc)) from exc
        raise


class _Body(httpx.AsyncByteStream):
    """A response body that gives its connection back to the pool when it is closed."""

    def __init__(self, inner: Any, release: Callable[[], None]) -> None:
        self._inner = inner
        self._release = release

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _as_httpx():
            async for part in self._inner:
                yield part

    async def aclose(self) -> None:
        try:
            with _as_httpx():
                await self._inner.aclose()
        finally:
            self._release()


class PooledTransport(httpx.AsyncBaseTransport):
    """``httpx.AsyncBaseTransport`` over per-origin stacks of idle HTTP/1.1 connections."""

    def __init__(
        self,
        *,
        max_connections: int,
        max_keepalive_connections: int,
        keepalive_expiry: float = 5.0,
        ssl_context: ssl.SSLContext | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._slots = asyncio.Semaphore(max_connections)
        self._keep = max_keepalive_connections
        self._expiry = keepalive_expiry
        self._ssl = ssl_context if ssl_context is not None else httpx.create_ssl_context()
        self._network = Backend()
        self._clock = clock
        # Per origin, idle connections with the time each became idle, oldest on the left.
        self._idle: dict[Key, deque[tuple[float, httpcore.AsyncHTTPConnection]]] = {}
        self._idle_count = 0
        self._closed = False

    @property
    def idle_connections(self) -> int:
        return self._idle_count

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._closed:
            raise RuntimeError("the transport is closed")
        url = request.url
        scheme = url.raw_scheme
        port = url.port or (443 if scheme == b"https" else 80)
        key: Key = (scheme, url.raw_host, port, self._ssl)
        await self._take_slot(request)
        try:
            conn = await self._checkout(key)
            core = httpcore.Request(
                method=request.method,
                url=httpcore.URL(scheme=scheme, host=url.raw_host, port=port, target=url.raw_path),
                headers=request.headers.raw,
                content=request.stream,
                extensions=request.extensions,
            )
        except BaseException:
            self._slots.release()
            raise
        try:
            with _as_httpx():
                resp = await conn.handle_async_request(core)
        except BaseException:
            self._slots.release()
            await _close_quietly(conn)
            raise
        released = False

        def release() -> None:
            nonlocal released
            if released:
                return
            released = True
            self._slots.release()
            self._checkin(key, conn)

        return httpx.Response(
            status_code=resp.status,
            headers=resp.headers,
            stream=_Body(resp.stream, release),
            extensions=resp.extensions,
        )

    async def aclose(self) -> None:
        self._closed = True
        idle = [conn for stack in self._idle.values() for _, conn in stack]
        self._idle.clear()
        self._idle_count = 0
        for conn in idle:
            await _close_quietly(conn)

    async def _take_slot(self, request: httpx.Request) -> None:
        wait = (request.extensions.get("timeout") or {}).get("pool")
        if wait is None:
            await self._slots.acquire()
            return
        try:
            async with asyncio.timeout(wait):
                await self._slots.acquire()
        except TimeoutError:
            raise httpx.PoolTimeout("no connection became free within the pool timeout") from None

    async def _checkout(self, key: Key) -> httpcore.AsyncHTTPConnection:
        now = self._clock()
        stack = self._idle.get(key)
        while stack:
            since, conn = stack.pop()  # the most recently used: the likeliest to be alive
            self._idle_count -= 1
            # Only this connection is checked: too old, or has the server closed it?
            if now - since <= self._expiry and conn.is_available() and not conn.has_expired():
                return conn
            await _close_quietly(conn)
        origin = httpcore.Origin(scheme=key[0], host=key[1], port=key[2])
        return httpcore.AsyncHTTPConnection(
            origin,
            ssl_context=key[3],
            keepalive_expiry=self._expiry,
            network_backend=self._network,
        )

    def _checkin(self, key: Key, conn: httpcore.AsyncHTTPConnection) -> None:
        now = self._clock()
        self._prune(now)
        if self._closed or not conn.is_idle() or self._idle_count >= self._keep:
            _close_later(conn)
            return
        self._idle.setdefault(key, deque()).append((now, conn))
        self._idle_count += 1

    def _prune(self, now: float) -> None:
        """Close connections idle for longer than ``keepalive_expiry`` (no syscall: by age)."""
        for key, stack in list(self._idle.items()):
            while stack and now - stack[0][0] > self._expiry:
                _, old = stack.popleft()
                self._idle_count -= 1
                _close_later(old)
            if not stack:
                del self._idle[key]


async def _close_quietly(conn: httpcore.AsyncHTTPConnection) -> None:
    with contextlib.suppress(Exception):
        await conn.aclose()


_closing: set[asyncio.Task[None]] = set()


def _close_later(conn: httpcore.AsyncHTTPConnection) -> None:
    # Called from a response's close, which must not wait for another socket's shutdown.
    task = asyncio.get_running_loop().create_task(_close_quietly(conn))
    _closing.add(task)
    task.add_done_callback(_closing.discard)
