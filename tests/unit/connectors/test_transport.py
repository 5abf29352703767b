"""The connectors' keep-alive pool (connectors/transport.py) against a real loopback server."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import httpcore
import httpx
import pytest
import trustme

from runbookd.connectors.transport import PooledTransport
from runbookd.service.outbound import outbound_client

OK = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"
CLOSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
BIG = b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"x" * 100_000


@dataclass
class Server:
    """A loopback HTTP/1.1 server whose answer to each request the test decides."""

    answer: Callable[[bytes], Awaitable[bytes | None]]
    connections: int = 0
    requests: list[bytes] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)
    busy: int = 0
    most_busy: int = 0
    port: int = 0
    hang_up_after_reply: bool = False  # close the socket after answering, without saying so
    then_say: bytes = b""  # written after the answer (with hang_up_after_reply): a late "408"
    ended: int = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                body = await reader.readexactly(length) if length else b""
                self.bodies.append(body)
                self.requests.append(head.split(b"\r\n", 1)[0])
                self.busy += 1
                self.most_busy = max(self.most_busy, self.busy)
                try:
                    reply = await self.answer(head)
                finally:
                    self.busy -= 1
                if reply is None:  # hang up without answering
                    break
                writer.write(reply)
                if self.hang_up_after_reply and self.then_say:
                    writer.write(self.then_say)
                await writer.drain()
                if b"Connection: close" in reply or self.hang_up_after_reply:
                    break
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass  # the client hung up, or the test is over
        finally:
            writer.close()
            self.ended += 1


@contextlib.asynccontextmanager
async def serving(
    answer: Callable[[bytes], Awaitable[bytes | None]], tls: ssl.SSLContext | None = None
) -> AsyncIterator[Server]:
    server = Server(answer)
    listener = await asyncio.start_server(server.handle, "127.0.0.1", 0, ssl=tls)
    server.port = listener.sockets[0].getsockname()[1]
    try:
        yield server
    finally:
        listener.close()


async def ok(head: bytes) -> bytes:
    return OK


async def until(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    """Yield to the event loop until ``condition`` holds; fail after ``seconds``."""
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached before the deadline")
        await asyncio.sleep(0.001)


def client(max_connections: int = 4) -> httpx.AsyncClient:
    transport = PooledTransport(
        max_connections=max_connections, max_keepalive_connections=max_connections
    )
    return httpx.AsyncClient(transport=transport, timeout=None)


def test_sequential_requests_reuse_one_connection() -> None:
    async def scenario() -> Server:
        async with serving(ok) as server, client() as http:
            for i in range(20):
                r = await http.post(f"http://127.0.0.1:{server.port}/p", json={"i": i})
                assert (r.status_code, r.text) == (200, "ok")
        return server

    server = asyncio.run(scenario())
    assert server.connections == 1
    assert len(server.requests) == 20


def test_no_more_requests_in_flight_than_max_connections() -> None:
    release = asyncio.Event()

    async def held(head: bytes) -> bytes:
        await release.wait()
        return OK

    async def scenario() -> tuple[Server, list[int]]:
        async with serving(held) as server, client(max_connections=3) as http:
            url = f"http://127.0.0.1:{server.port}/x"
            calls = [asyncio.create_task(http.get(url)) for _ in range(10)]
            await until(lambda: server.busy == 3)  # the first three reach the server
            for _ in range(50):  # and no fourth gets through while those are held
                await asyncio.sleep(0)
            assert server.busy == 3
            release.set()
            codes = [r.status_code for r in await asyncio.gather(*calls)]
        return server, codes

    server, codes = asyncio.run(scenario())
    assert codes == [200] * 10
    assert server.most_busy == 3
    assert server.connections == 3


def test_each_request_checks_only_the_connection_it_takes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # httpx's own pool asks every idle connection whether it expired (a syscall each) on every
    # request and every response close: 16 idle connections meant 16+ checks per call.
    checks = 0
    original = httpcore.AsyncHTTPConnection.has_expired

    def counted(self: httpcore.AsyncHTTPConnection) -> bool:
        nonlocal checks
        checks += 1
        return original(self)

    monkeypatch.setattr(httpcore.AsyncHTTPConnection, "has_expired", counted)

    async def scenario() -> Server:
        async with serving(ok) as server, client(max_connections=16) as http:
            url = f"http://127.0.0.1:{server.port}/x"
            await asyncio.gather(*(http.get(url) for _ in range(16)))  # 16 connections, idle now
            nonlocal checks
            checks = 0
            for _ in range(10):
                await http.get(url)
        return server

    server = asyncio.run(scenario())
    assert server.connections == 16
    assert checks <= 10


def test_a_connection_the_server_closed_is_not_reused() -> None:
    async def close(head: bytes) -> bytes:
        return CLOSE

    async def scenario() -> Server:
        async with serving(ok) as server, client() as http:
            url = f"http://127.0.0.1:{server.port}/x"
            assert (await http.get(url)).status_code == 200
            server.hang_up_after_reply = True  # answers, then closes without a word
            assert (await http.get(url)).status_code == 200
            await until(lambda: server.ended == 1)
            server.hang_up_after_reply = False
            assert (await http.get(url)).status_code == 200  # on a new connection, no error
            server.answer = close  # says "Connection: close"
            assert (await http.get(url)).status_code == 200
            server.answer = ok
            assert (await http.get(url)).status_code == 200
        return server

    server = asyncio.run(scenario())
    assert server.connections == 3
    assert len(server.requests) == 5


def test_idle_connections_older_than_the_expiry_are_closed() -> None:
    now = [0.0]

    async def scenario() -> tuple[Server, int]:
        transport = PooledTransport(
            max_connections=4,
            max_keepalive_connections=4,
            keepalive_expiry=5.0,
            clock=lambda: now[0],
        )
        async with serving(ok) as server, httpx.AsyncClient(transport=transport) as http:
            url = f"http://127.0.0.1:{server.port}/x"
            await http.get(url)
            idle_before = transport.idle_connections
            now[0] = 10.0  # longer than keepalive_expiry since that connection became idle
            await http.get(url)
        return server, idle_before

    server, idle_before = asyncio.run(scenario())
    assert idle_before == 1
    assert server.connections == 2


def test_a_body_closed_early_does_not_return_its_connection() -> None:
    async def big(head: bytes) -> bytes:
        return BIG

    async def scenario() -> tuple[Server, int, str]:
        transport = PooledTransport(max_connections=1, max_keepalive_connections=1)
        async with serving(big) as server, httpx.AsyncClient(transport=transport) as http:
            url = f"http://127.0.0.1:{server.port}/x"
            async with http.stream("GET", url) as r:
                assert r.status_code == 200  # closed without reading the 100 kB body
            idle = transport.idle_connections
            server.answer = ok
            text = (await http.get(url)).text  # the only slot was given back
        return server, idle, text

    server, idle, text = asyncio.run(scenario())
    assert idle == 0
    assert text == "ok"
    assert server.connections == 2


def test_errors_are_httpx_errors() -> None:
    async def silent(head: bytes) -> bytes | None:
        await asyncio.sleep(3600)
        return None

    async def hang_up(head: bytes) -> bytes | None:
        return None

    async def scenario() -> None:
        async with client() as http:
            with pytest.raises(httpx.ConnectError):
                await http.get("http://127.0.0.1:1/x")  # nothing listens on port 1
            async with serving(silent) as server:
                with pytest.raises(httpx.ReadTimeout):
                    await http.get(f"http://127.0.0.1:{server.port}/x", timeout=0.2)
            async with serving(hang_up) as server:
                with pytest.raises(httpx.RemoteProtocolError):
                    await http.get(f"http://127.0.0.1:{server.port}/x")
            async with serving(ok) as server:  # the failures gave their slots back
                rs = await asyncio.gather(
                    *(http.get(f"http://127.0.0.1:{server.port}/x") for _ in range(4))
                )
                assert [r.status_code for r in rs] == [200] * 4

    asyncio.run(scenario())


def test_a_request_waits_for_a_slot_no_longer_than_its_pool_timeout() -> None:
    release = asyncio.Event()

    async def held(head: bytes) -> bytes:
        await release.wait()
        return OK

    async def scenario() -> None:
        async with serving(held) as server, client(max_connections=1) as http:
            url = f"http://127.0.0.1:{server.port}/x"
            first = asyncio.create_task(http.get(url))
            await until(lambda: server.busy == 1)
            with pytest.raises(httpx.PoolTimeout):
                await http.get(url, timeout=httpx.Timeout(None, pool=0.05))
            release.set()
            assert (await first).status_code == 200

    asyncio.run(scenario())


def test_the_service_client_honours_a_proxy_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The pool does not speak to proxies, so with one configured the service keeps httpx's
    # transports: the request must reach the proxy, in absolute form, not the target.
    async def scenario() -> Server:
        async with serving(ok) as proxy:
            monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.port}")
            monkeypatch.delenv("NO_PROXY", raising=False)
            monkeypatch.delenv("no_proxy", raising=False)
            async with outbound_client(workers=2) as http:
                r = await http.get("http://127.0.0.1:9/behind-the-proxy")
                assert r.status_code == 200
        return proxy

    proxy = asyncio.run(scenario())
    assert proxy.requests == [b"GET http://127.0.0.1:9/behind-the-proxy HTTP/1.1"]


def test_without_a_proxy_the_service_client_pools_its_connections() -> None:
    async def scenario() -> Server:
        async with serving(ok) as server, outbound_client(workers=2, environ={}) as http:
            for _ in range(5):
                assert (await http.get(f"http://127.0.0.1:{server.port}/x")).text == "ok"
        return server

    assert asyncio.run(scenario()).connections == 1


def test_https_with_a_trusted_certificate_and_refused_with_an_unknown_one() -> None:
    authority = trustme.CA()
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(server_tls)
    trusting = ssl.create_default_context()
    authority.configure_trust(trusting)

    async def scenario() -> Server:
        async with serving(ok, tls=server_tls) as server:
            url = f"https://127.0.0.1:{server.port}/secure"
            transport = PooledTransport(
                max_connections=2, max_keepalive_connections=2, ssl_context=trusting
            )
            async with httpx.AsyncClient(transport=transport) as http:
                for _ in range(3):
                    assert (await http.get(url)).text == "ok"
            stranger = PooledTransport(max_connections=2, max_keepalive_connections=2)
            async with httpx.AsyncClient(transport=stranger) as http:
                with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                    await http.get(url)
        return server

    server = asyncio.run(scenario())
    assert len(server.requests) == 3
    assert server.connections == 1  # kept alive for the three calls (the refused one never got in)


def test_a_large_body_arrives_whole() -> None:
    payload = bytes(range(256)) * 1000  # 256 kB: more than one write's worth

    async def scenario() -> Server:
        async with serving(ok) as server, client() as http:
            r = await http.post(f"http://127.0.0.1:{server.port}/upload", content=payload)
            assert r.status_code == 200
        return server

    assert asyncio.run(scenario()).bodies == [payload]


def test_an_idle_connection_that_got_a_late_answer_is_not_reused() -> None:
    # Some servers say "408 Request Timeout" on an idle keep-alive connection, then close it.
    async def scenario() -> Server:
        async with serving(ok) as server, client() as http:
            url = f"http://127.0.0.1:{server.port}/x"
            server.hang_up_after_reply = True
            server.then_say = b"HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n\r\n"
            assert (await http.get(url)).status_code == 200
            await until(lambda: server.ended == 1)
            server.hang_up_after_reply = False
            assert (await http.get(url)).status_code == 200
        return server

    server = asyncio.run(scenario())
    assert server.connections == 2
