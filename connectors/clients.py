"""The service's outbound HTTP clients: stock httpx, one shared client, one more per ``tls_config``.

Connector calls, polls and Alertmanager fetches share one ``httpx.AsyncClient`` (its pool sized to
the executor's workers). A connector whose settings carry a ``tls_config`` gets a client of its
own with the same limits and that config's SSL context as ``verify=``: TLS settings belong to a
client in httpx, not to a request, and connections made with one config are never handed to a
call made with another. Proxies come from the environment (``HTTP_PROXY``, ``HTTPS_PROXY``,
``ALL_PROXY``, ``NO_PROXY``) as httpx reads them (``trust_env``), for every client alike.
"""

from __future__ import annotations

import ssl

import httpx

from runbookd.connectors.base import PermanentError
from runbookd.connectors.tlsconfig import TlsConfig

#: A tls_config as written: a reload that rebuilds the same config replaces its client (the new
#: context may hold a rotated certificate) instead of adding one beside it.
_Key = tuple[str | None, str | None, str | None, bool, str | None]


def _key(tls: TlsConfig) -> _Key:
    return (tls.ca_file, tls.cert_file, tls.key_file, tls.insecure_skip_verify, tls.server_name)


class SharedClient(httpx.AsyncClient):
    """The shared client; :meth:`for_tls` gives the one for a ``tls_config``, made on first use.

    Closing it closes those too. A reload that rebuilds a ``tls_config`` (a rotated certificate)
    gets a new client; the one it replaces may still be serving calls, so it is closed with the
    shared client, not at once.
    """

    def __init__(self, limits: httpx.Limits, verify: ssl.SSLContext | bool = True) -> None:
        # No timeout of its own: the executor bounds each call (httpx's default is 5 s).
        super().__init__(timeout=None, limits=limits, verify=verify, trust_env=True)
        self._limits = limits
        self._by_tls: dict[_Key, tuple[ssl.SSLContext, httpx.AsyncClient]] = {}
        self._replaced: list[httpx.AsyncClient] = []

    def for_tls(self, tls: TlsConfig) -> httpx.AsyncClient:
        """The client whose connections are made with ``tls``'s certificates and checks."""
        known = self._by_tls.get(_key(tls))
        if known is not None and known[0] is tls.context:
            return known[1]
        if known is not None:
            self._replaced.append(known[1])
        made = httpx.AsyncClient(
            timeout=None, limits=self._limits, verify=tls.context, trust_env=True
        )
        self._by_tls[_key(tls)] = (tls.context, made)
        return made

    async def aclose(self) -> None:
        others = [client for _, client in self._by_tls.values()] + self._replaced
        self._by_tls.clear()
        self._replaced.clear()
        try:
            for client in others:
                await client.aclose()
        finally:
            await super().aclose()


def client_for(http: httpx.AsyncClient, tls: TlsConfig | None) -> httpx.AsyncClient:
    """The client a call with ``tls`` goes through: ``http`` itself when there is no config."""
    if tls is None:
        return http
    if isinstance(http, SharedClient):
        return http.for_tls(tls)
    # A plain client (a test's, an embedding's) cannot make one with the config's certificates
    # and its own limits and proxies: refuse rather than call with other checks than asked for.
    raise PermanentError("tls_config needs the service's client (connectors.clients.SharedClient)")
