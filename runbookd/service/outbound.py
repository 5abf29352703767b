"""The service's one outbound HTTP client, sized to the executor's workers."""

from __future__ import annotations

import httpx

from runbookd.connectors.clients import SharedClient

#: Connections beyond the executor's workers, for the polls and Alertmanager fetches that share
#: the client: they must not queue behind a pool full of connector calls.
SPARE_CONNECTIONS = 4


def outbound_client(workers: int) -> SharedClient:
    """The one outbound HTTP client: connector calls, polls, Alertmanager fetches.

    Stock httpx (docs/decisions.md, "The connectors' HTTP pool is httpx's"). No timeout of its own
    (httpx's default is 5 s): the executor bounds each call with the step's ``timeout``
    (``engine.default_timeout`` otherwise) and the polls and fetches pass theirs, so a step
    allowed 30 s is not cut at 5 s. The pool keeps a connection per executor worker alive: at
    most that many calls run at once. Proxies come from the environment, as httpx reads them.
    """
    return SharedClient(
        httpx.Limits(max_connections=workers + SPARE_CONNECTIONS, max_keepalive_connections=workers)
    )
