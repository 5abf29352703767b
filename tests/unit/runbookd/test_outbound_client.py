"""The service's one outbound HTTP client, as connector calls use it."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from importlib.abc import MetaPathFinder
from importlib.machinery import ModuleSpec
from types import ModuleType

import httpx
from pytest_httpserver import HTTPServer

from runbookd.connectors.base import CallContext, Runtime
from runbookd.connectors.http import SPEC
from runbookd.service.outbound import outbound_client


class Recorder(MetaPathFinder):
    """Sees every import that is not already in sys.modules (and finds nothing itself)."""

    def __init__(self) -> None:
        self.searched: list[str] = []

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        self.searched.append(fullname)
        return None


def test_connector_calls_do_not_search_for_modules(httpserver: HTTPServer) -> None:
    # A module that is missing is searched for on every `import` of it: httpcore imports
    # sniffio on every pooled request, which cost 6 % of the service's CPU under load when it
    # was not installed.
    httpserver.expect_request("/status").respond_with_json({"ok": True})
    assert SPEC.run is not None
    run = SPEC.run
    params = SPEC.params.model_validate({"url": httpserver.url_for("/status"), "method": "GET"})

    async def calls(n: int, client: httpx.AsyncClient) -> None:
        for i in range(n):
            result = await run(params, CallContext(f"call-{i}"), Runtime(http=client))
            assert result["status_code"] == 200

    async def scenario() -> list[str]:
        async with outbound_client(workers=4) as client:
            await calls(1, client)  # the first call may import what it needs once
            recorder = Recorder()
            sys.meta_path.insert(0, recorder)
            try:
                await calls(5, client)
            finally:
                sys.meta_path.remove(recorder)
            return recorder.searched

    assert asyncio.run(scenario()) == []


def test_the_client_sets_no_deadline_of_its_own() -> None:
    # The executor cuts each call at the step's timeout; a client default (httpx: 5 s) would
    # fail a step that is allowed 30 s after 5.
    client = outbound_client(workers=8)
    try:
        assert client.timeout == httpx.Timeout(None)
    finally:
        asyncio.run(client.aclose())
