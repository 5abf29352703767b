"""httpcore's network layer on a plain asyncio protocol, for the connectors' HTTP/1.1 calls.

httpcore's default backend goes through anyio, whose per-operation bookkeeping (cancel scopes,
typed attributes, a checkpoint per write) was about a quarter of a connector call's CPU here,
and it hands each write to the socket at once: the request head and its body left in two
segments (two syscalls, two wake-ups of the other side). This backend keeps what httpcore writes
until it reads the answer, then sends it in one write, and reads from a protocol's buffer.

Timeouts are httpcore's (``timeout`` per operation); errors are httpcore's exception types, so
``bench.reference_pool.transport`` maps them to httpx's as before. TLS uses ``loop.start_tls``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import typing
from collections.abc import AsyncIterator, Iterable

import httpcore

#: Writes are held until a read (the usual case: a request, then its answer) or this many bytes.
FLUSH_AT = 64 * 1024


@contextlib.asynccontextmanager
async def _within(
    timeout: float | None, late: type[Exception], broken: type[Exception]
) -> AsyncIterator[None]:
    try:
        if timeout is None:
            yield
        else:
            async with asyncio.timeout(timeout):
                yield
    except TimeoutError:
        raise late(f"no progress within {timeout:g} s") from None
    except (OSError, ssl.SSLError) as exc:
        raise broken(str(exc) or type(exc).__name__) from exc


class _Protocol(asyncio.Protocol):
    """Buffers what arrives and wakes the one reader; tracks the transport's write pressure."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.eof = False
        self.error: BaseException | None = None
        self._reader: asyncio.Future[None] | None = None
        self._paused = False
        self._drain: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = typing.cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        self._wake_reader()

    def eof_received(self) -> bool:
        self.eof = True
        self._wake_reader()
        return False  # close our side too: an HTTP/1.1 connection is done when the peer is

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = True
        self.error = exc
        self._wake_reader()
        self._wake_writer()

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        self._wake_writer()

    async def readable(self) -> None:
        while not self.buffer and not self.eof:
            self._reader = asyncio.get_running_loop().create_future()
            await self._reader

    async def drained(self) -> None:
        while self._paused and not self.eof:
            self._drain = asyncio.get_running_loop().create_future()
            await self._drain

    def _wake_reader(self) -> None:
        if self._reader is not None and not self._reader.done():
            self._reader.set_result(None)

    def _wake_writer(self) -> None:
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)


class Stream(httpcore.AsyncNetworkStream):
    def __init__(self, protocol: _Protocol) -> None:
        self._p = protocol
        self._out: list[bytes] = []
        self._out_size = 0

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        if self._out:
            await self._flush(timeout)
        p = self._p
        async with _within(timeout, httpcore.ReadTimeout, httpcore.ReadError):
            await p.readable()
        if not p.buffer:
            if p.error is not None:
                raise httpcore.ReadError(str(p.error) or type(p.error).__name__)
            return b""  # the peer closed: httpcore reads this as "disconnected"
        data = bytes(p.buffer[:max_bytes])
        del p.buffer[:max_bytes]
        return data

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        self._out.append(buffer)
        self._out_size += len(buffer)
        if self._out_size >= FLUSH_AT:
            await self._flush(timeout)

    async def _flush(self, timeout: float | None) -> None:
        data = b"".join(self._out)
        self._out.clear()
        self._out_size = 0
        transport = self._p.transport
        if transport is None or transport.is_closing():
            raise httpcore.WriteError("the connection is closed")
        async with _within(timeout, httpcore.WriteTimeout, httpcore.WriteError):
            transport.write(data)
            await self._p.drained()

    async def aclose(self) -> None:
        self._out.clear()
        if self._p.transport is not None:
            self._p.transport.close()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        if self._out:
            await self._flush(timeout)
        transport = self._p.transport
        if transport is None:
            raise httpcore.ConnectError("the connection is closed")
        loop = asyncio.get_running_loop()
        async with _within(timeout, httpcore.ConnectTimeout, httpcore.ConnectError):
            secured = await loop.start_tls(
                transport, self._p, ssl_context, server_hostname=server_hostname
            )
        if secured is None:
            raise httpcore.ConnectError("the TLS handshake did not complete")
        self._p.transport = secured
        return self

    def get_extra_info(self, info: str) -> typing.Any:
        transport = self._p.transport
        if info == "is_readable":
            # httpcore asks this of an idle connection: anything to read (a late "408", or
            # the end of the stream) means the server is done with it.
            return bool(self._p.buffer) or self._p.eof
        if transport is None:
            return None
        names = {
            "ssl_object": "ssl_object",
            "client_addr": "sockname",
            "server_addr": "peername",
            "socket": "socket",
        }
        return transport.get_extra_info(names[info]) if info in names else None


class Backend(httpcore.AsyncNetworkBackend):
    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        local = (local_address, 0) if local_address else None
        async with _within(timeout, httpcore.ConnectTimeout, httpcore.ConnectError):
            transport, protocol = await loop.create_connection(
                _Protocol, host, port, local_addr=local
            )
        sock = transport.get_extra_info("socket")
        for option in socket_options or ():
            sock.setsockopt(*option)
        return Stream(protocol)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
