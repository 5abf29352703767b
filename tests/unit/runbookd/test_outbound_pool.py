"""The service's outbound client (stock httpx, runbookd.service.outbound) against a real loopback
server: what its pool promises the executor (docs/configuration.md, ``workers``) and the proxies it
takes from the environment."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import httpx
import pytest

from runbookd.service.outbound import SPARE_CONNECTIONS, outbound_client

OK = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"
CLOSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"


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
    answer: Callable[[bytes], Awaitable[bytes | None]],
) -> AsyncIterator[Server]:
    server = Server(answer)
    listener = await asyncio.start_server(server.handle, "127.0.0.1", 0)
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


@pytest.fixture(autouse=True)
def no_proxy_from_the_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    """The client reads proxies from the environment; these tests talk to loopback directly."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


def client(workers: int = 4) -> httpx.AsyncClient:
    return outbound_client(workers)


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


def test_no_more_requests_in_flight_than_the_workers_and_the_spare_connections() -> None:
    release = asyncio.Event()

    async def held(head: bytes) -> bytes:
        await release.wait()
        return OK

    async def scenario() -> tuple[Server, list[int]]:
        async with serving(held) as server, client(workers=3) as http:
            url = f"http://127.0.0.1:{server.port}/x"
            calls = [asyncio.create_task(http.get(url)) for _ in range(12)]
            await until(lambda: server.busy == LIMIT)  # 3 workers' calls + the spare ones
            for _ in range(50):  # and no more get through while those are held
                await asyncio.sleep(0)
            assert server.busy == LIMIT
            release.set()
            codes = [r.status_code for r in await asyncio.gather(*calls)]
        return server, codes

    LIMIT = 3 + SPARE_CONNECTIONS
    server, codes = asyncio.run(scenario())
    assert codes == [200] * 12
    assert server.most_busy == LIMIT


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


def test_the_service_client_honours_a_proxy_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The request must reach the proxy, in absolute form, not the target.
    async def scenario() -> Server:
        async with serving(ok) as proxy:
            monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.port}")
            async with outbound_client(workers=2) as http:
                r = await http.get("http://127.0.0.1:9/behind-the-proxy")
                assert r.status_code == 200
        return proxy

    proxy = asyncio.run(scenario())
    assert proxy.requests == [b"GET http://127.0.0.1:9/behind-the-proxy HTTP/1.1"]


def test_all_proxy_is_honoured_and_no_proxy_makes_exceptions(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def scenario() -> tuple[Server, Server]:
        async with serving(ok) as proxy, serving(ok) as direct:
            monkeypatch.setenv("ALL_PROXY", f"http://127.0.0.1:{proxy.port}")
            monkeypatch.setenv("NO_PROXY", "localhost")
            async with outbound_client(workers=2) as http:
                assert (await http.get("http://127.0.0.1:9/through")).status_code == 200
                assert (await http.get(f"http://localhost:{direct.port}/direct")).text == "ok"
        return proxy, direct

    proxy, direct = asyncio.run(scenario())
    assert proxy.requests == [b"GET http://127.0.0.1:9/through HTTP/1.1"]
    assert direct.requests == [b"GET /direct HTTP/1.1"]


def test_without_a_proxy_the_service_client_pools_its_connections() -> None:
    async def scenario() -> Server:
        async with serving(ok) as server, outbound_client(workers=2) as http:
            for _ in range(5):
                assert (await http.get(f"http://127.0.0.1:{server.port}/x")).text == "ok"
        return server

    assert asyncio.run(scenario()).connections == 1


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
