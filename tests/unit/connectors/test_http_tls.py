"""``connectors.http.tls_config`` against a real TLS server on 127.0.0.1 with a CA made for the test
(trustme), through the service's own outbound client (stock httpx, one client per tls_config): a
private CA, a client certificate for a server that demands one, a server name other than the URL's
host, no verification at all, the same checks through a proxy from the environment, and settings
that cannot work refused at load time with the key named."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme
from pytest_httpserver import HTTPServer

from runbookd.connectors.base import PermanentError, RetryableError
from runbookd.connectors.http import SPEC, HttpSettings
from runbookd.connectors.registry import SettingsError, load_settings, load_specs
from runbookd.service.outbound import outbound_client
from tests.unit.connectors.conftest import Caller

pytestmark = pytest.mark.anyio


class Pki:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.ca = trustme.CA()
        self.ca_file = folder / "ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_file))
        client = self.ca.issue_cert("runbookd-client")
        self.client_cert = folder / "client.pem"
        self.client_key = folder / "client.key"
        client.cert_chain_pems[0].write_to_path(str(self.client_cert))
        client.private_key_pem.write_to_path(str(self.client_key))

    def server(self, *names: str, require_client_cert: bool = False) -> HTTPServer:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ca.issue_cert(*names).configure_cert(context)
        if require_client_cert:
            context.verify_mode = ssl.CERT_REQUIRED
            self.ca.configure_trust(context)
        server = HTTPServer(host="127.0.0.1", port=0, ssl_context=context)
        server.expect_request("/hook").respond_with_data("ok")
        server.start()
        return server


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return Pki(tmp_path)


@pytest.fixture
def server(pki: Pki) -> Iterator[HTTPServer]:
    server = pki.server("127.0.0.1")
    yield server
    server.stop()


@pytest.fixture
async def client() -> Any:
    async with outbound_client(4) as http:
        yield http


def _settings(**tls: Any) -> HttpSettings:
    return load_settings(load_specs(), {"http": {"tls_config": tls}})["http"]  # type: ignore[return-value]


async def test_a_private_ca_is_trusted_only_when_configured(
    pki: Pki, server: HTTPServer, call: Caller, client: httpx.AsyncClient
) -> None:
    url = server.url_for("/hook")
    with pytest.raises(PermanentError, match="TLS certificate not trusted"):
        await call(SPEC, {"url": url}, HttpSettings(), client=client)
    trusted = _settings(ca_file=str(pki.ca_file))
    assert (await call(SPEC, {"url": url}, trusted, client=client))["body"] == "ok"
    # The pool keeps the two apart: the connection verified with the private CA is not
    # handed to a call that did not ask for it.
    with pytest.raises(PermanentError, match="TLS certificate not trusted"):
        await call(SPEC, {"url": url}, HttpSettings(), client=client)


async def test_a_client_certificate_for_a_server_that_demands_one(
    pki: Pki, call: Caller, client: httpx.AsyncClient
) -> None:
    server = pki.server("127.0.0.1", require_client_cert=True)
    try:
        url = server.url_for("/hook")
        anonymous = _settings(ca_file=str(pki.ca_file))
        # The server's refusal reaches the client as a TLS alert or as a reset, whichever the
        # timing gives (TLS 1.3 checks the client after the handshake): no answer either way,
        # and the request never reached the endpoint.
        with pytest.raises(RetryableError, match="no answer"):
            await call(SPEC, {"url": url}, anonymous, client=client)
        assert server.log == []
        mutual = _settings(
            ca_file=str(pki.ca_file), cert_file=str(pki.client_cert), key_file=str(pki.client_key)
        )
        assert (await call(SPEC, {"url": url}, mutual, client=client))["status_code"] == 200
        assert len(server.log) == 1
    finally:
        server.stop()


async def test_server_name_is_checked_instead_of_the_host(
    pki: Pki, call: Caller, client: httpx.AsyncClient
) -> None:
    server = pki.server("hooks.internal")
    try:
        url = server.url_for("/hook")
        with pytest.raises(PermanentError, match="TLS certificate not trusted"):
            await call(SPEC, {"url": url}, _settings(ca_file=str(pki.ca_file)), client=client)
        named = _settings(ca_file=str(pki.ca_file), server_name="hooks.internal")
        assert (await call(SPEC, {"url": url}, named, client=client))["body"] == "ok"
        wrong = _settings(ca_file=str(pki.ca_file), server_name="other.internal")
        with pytest.raises(PermanentError, match="TLS certificate not trusted"):
            await call(SPEC, {"url": url}, wrong, client=client)
    finally:
        server.stop()


async def test_insecure_skip_verify_accepts_any_certificate(
    server: HTTPServer, call: Caller, client: httpx.AsyncClient
) -> None:
    insecure = _settings(insecure_skip_verify=True)
    assert (await call(SPEC, {"url": server.url_for("/hook")}, insecure, client=client))[
        "body"
    ] == "ok"


@contextlib.asynccontextmanager
async def connect_proxy() -> AsyncIterator[tuple[str, list[bytes]]]:
    """An HTTP proxy on 127.0.0.1 that tunnels CONNECT requests: (its URL, the request lines)."""
    seen: list[bytes] = []

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def tunnel(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        seen.append(head.split(b"\r\n", 1)[0])
        host, port = head.split()[1].decode().rsplit(":", 1)
        up_reader, up_writer = await asyncio.open_connection(host, int(port))
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await writer.drain()
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    server = await asyncio.start_server(tunnel, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", seen
    finally:
        server.close()


async def test_through_a_proxy_from_the_environment_tls_config_still_decides(
    pki: Pki, call: Caller, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = pki.server("hooks.internal", require_client_cert=True)
    try:
        url = server.url_for("/hook")
        async with connect_proxy() as (proxy, seen):
            monkeypatch.setenv("HTTPS_PROXY", proxy)
            for name in ("NO_PROXY", "no_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
                monkeypatch.delenv(name, raising=False)
            async with outbound_client(4) as proxied:
                with pytest.raises(PermanentError, match="TLS certificate not trusted"):
                    await call(SPEC, {"url": url}, HttpSettings(), client=proxied)
                mutual = _settings(
                    ca_file=str(pki.ca_file),
                    cert_file=str(pki.client_cert),
                    key_file=str(pki.client_key),
                    server_name="hooks.internal",
                )
                assert (await call(SPEC, {"url": url}, mutual, client=proxied))["body"] == "ok"
        port = url.split(":")[2].split("/")[0]
        assert seen == [f"CONNECT 127.0.0.1:{port} HTTP/1.1".encode()] * 2
        assert len(server.log) == 1
    finally:
        server.stop()


def test_settings_that_cannot_work_are_refused_with_the_key(pki: Pki, tmp_path: Path) -> None:
    other = trustme.CA().issue_cert("x")
    wrong_key = tmp_path / "wrong.key"
    other.private_key_pem.write_to_path(str(wrong_key))
    cases = {
        "ca_file": {"ca_file": str(tmp_path / "missing.pem")},
        "pair": {"cert_file": str(pki.client_cert)},
        "mismatch": {"cert_file": str(pki.client_cert), "key_file": str(wrong_key)},
        "unknown": {"ca": str(pki.ca_file)},
    }
    problems = {}
    for name, tls in cases.items():
        with pytest.raises(SettingsError) as info:
            load_settings(load_specs(), {"http": {"tls_config": tls}})
        [problems[name]] = info.value.problems
    missing = tmp_path / "missing.pem"
    assert problems["ca_file"].startswith(
        f"connectors.http.tls_config: ca_file '{missing}': cannot load: No such file"
    ), problems
    assert problems["pair"].startswith(
        "connectors.http.tls_config: cert_file is set but key_file is not"
    ), problems
    assert problems["mismatch"].startswith(
        f"connectors.http.tls_config: cert_file '{pki.client_cert}' and key_file '{wrong_key}': "
        "cannot load: KEY_VALUES_MISMATCH"
    ), problems
    assert problems["unknown"].startswith("connectors.http.tls_config.ca:"), problems
