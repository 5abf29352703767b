"""The service's one outbound HTTP client, sized to the executor's workers."""

from __future__ import annotations

import os
from collections.abc import Mapping

import httpx

from runbookd.connectors.tlsconfig import SSL_CONTEXT
from runbookd.connectors.transport import PooledTransport

#: Connections beyond the executor's workers, for the polls and Alertmanager fetches that share
#: the client: they must not queue behind a pool full of connector calls.
SPARE_CONNECTIONS = 4


def outbound_client(workers: int, environ: Mapping[str, str] | None = None) -> httpx.AsyncClient:
    """The one outbound HTTP client: connector calls, polls, Alertmanager fetches.

    No timeout of its own (httpx's default is 5 s): the executor bounds each call with the step's
    ``timeout`` (``engine.default_timeout`` otherwise) and the polls and fetches pass theirs, so
    a step allowed 30 s is not cut at 5 s. The pool holds a connection per executor worker: at
    most that many calls run at once.

    The transport is ``connectors.transport.PooledTransport``, whose work per request does not
    grow with the pool (httpx's own pool checks every pooled connection on every request: about
    two thirds of a connector call's CPU here). It does not do proxies, so when the environment
    names one (``HTTP_PROXY``, ``HTTPS_PROXY``, ``ALL_PROXY``, as httpx reads them) the client
    keeps httpx's own transports, which honour it and ``NO_PROXY``.
    """
    limits = httpx.Limits(
        max_connections=workers + SPARE_CONNECTIONS, max_keepalive_connections=workers
    )
    if _proxies(os.environ if environ is None else environ):
        hooks = {"request": [_refuse_own_tls]}
        return httpx.AsyncClient(timeout=None, limits=limits, event_hooks=hooks)
    transport = PooledTransport(
        max_connections=workers + SPARE_CONNECTIONS, max_keepalive_connections=workers
    )
    return httpx.AsyncClient(timeout=None, transport=transport)


async def _refuse_own_tls(request: httpx.Request) -> None:
    # httpx's transports ignore a call's own SSL context: fail the call rather than send it with
    # other certificate checks than its tls_config asks for.
    if SSL_CONTEXT in request.extensions:
        raise httpx.UnsupportedProtocol(
            "tls_config cannot be applied through a proxy (HTTP(S)_PROXY/ALL_PROXY is set)"
        )


def _proxies(environ: Mapping[str, str]) -> bool:
    names = {"http_proxy", "https_proxy", "all_proxy"}
    return any(k.lower() in names and v.strip() for k, v in environ.items())
