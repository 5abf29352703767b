"""connectors.clients: one client per tls_config, found again by the next call and the next
reload of the same settings, and closed with the shared client."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
import trustme

from runbookd.connectors.base import PermanentError
from runbookd.connectors.clients import client_for
from runbookd.connectors.tlsconfig import TlsConfig
from runbookd.service.outbound import outbound_client


def test_each_tls_config_gets_one_client(tmp_path: Path) -> None:
    ca_file = tmp_path / "ca.pem"
    trustme.CA().cert_pem.write_to_path(str(ca_file))

    async def scenario() -> None:
        shared = outbound_client(workers=3)
        private = TlsConfig(ca_file=str(ca_file))
        assert client_for(shared, None) is shared
        first = client_for(shared, private)
        assert first is not shared
        assert client_for(shared, private) is first  # the next call reuses its connections
        assert client_for(shared, TlsConfig(insecure_skip_verify=True)) is not first
        # A reload builds the config again (a rotated certificate is read anew): a new client;
        # the old one may still serve calls in flight, so it stays open until the shared one
        # closes.
        reloaded = client_for(shared, TlsConfig(ca_file=str(ca_file)))
        assert reloaded is not first
        assert not first.is_closed
        assert client_for(shared, TlsConfig(ca_file=str(ca_file))) is not reloaded
        await shared.aclose()
        assert first.is_closed and reloaded.is_closed and shared.is_closed

    asyncio.run(scenario())


def test_a_plain_client_cannot_carry_a_tls_config() -> None:
    # Calling with other certificate checks than the config asks for would be worse than failing.
    async def scenario() -> None:
        async with httpx.AsyncClient() as plain:
            with pytest.raises(PermanentError, match="tls_config needs the service's client"):
                client_for(plain, TlsConfig(insecure_skip_verify=True))

    asyncio.run(scenario())
