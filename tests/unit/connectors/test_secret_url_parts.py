"""A secret URL stays secret in parts: its path and query are masked where messages quote them.

Found by tests/e2e/test_secrets.py: an error names the request as ``scheme://host/path`` (without
the query), so the path of a secret URL was not masked, and a server echoing the query string
showed the token in it.
"""

from __future__ import annotations

import json

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from runbookd.connectors import http
from runbookd.connectors.base import CallContext, ConnectorError
from runbookd.connectors.calls import Masker, secret_forms
from tests.unit.connectors.conftest import Caller

pytestmark = pytest.mark.anyio
TOKEN = "q-TOKEN-7f3a9"
PATH_SECRET = "p-SECRET-2b8c1"


def test_the_path_query_and_query_values_of_a_secret_url_are_masked() -> None:
    url = f"https://hooks.example:8443/services/T0/{PATH_SECRET}?token={TOKEN}&mode=x"
    masker = Masker([url])
    assert masker.text(f"POST https://hooks.example:8443/services/T0/{PATH_SECRET} failed") == (
        "POST https://hooks.example:8443*** failed"
    )
    assert masker.text(f"echo: token={TOKEN}&mode=x") == "echo: ***"
    assert masker.text(f"the token was {TOKEN}") == "the token was ***"
    assert masker.text(url) == "***"


def test_percent_encoded_paths_are_masked_in_both_spellings() -> None:
    forms = secret_forms("https://hooks.example/a%20b/secret%2Fpart")
    assert {"/a b/secret/part", "/a%20b/secret%2Fpart"} <= forms


def test_short_or_plain_parts_are_not_masked_on_their_own() -> None:
    # "/" and "a=1" say nothing about the secret; masking them would garble every message
    assert secret_forms("https://hooks.example/?a=1") == {"https://hooks.example/?a=1"}
    assert secret_forms("not a url: hunter2") == {"not a url: hunter2"}
    assert Masker(["hunter2"]).text("pw hunter2") == "pw ***"


async def test_an_http_failure_echoing_the_url_shows_none_of_it(
    httpserver: HTTPServer, call: Caller
) -> None:
    def echo(request: Request) -> Response:
        said = {"path": request.path, "query": request.query_string.decode()}
        return Response(json.dumps(said), status=503, content_type="application/json")

    httpserver.expect_request(f"/hook/{PATH_SECRET}").respond_with_handler(echo)
    url = httpserver.url_for(f"/hook/{PATH_SECRET}") + f"?token={TOKEN}"
    ctx = CallContext(idempotency_key="call-1", secrets=frozenset({url}))
    with pytest.raises(ConnectorError) as caught:
        await call(http.SPEC, {"url": url}, ctx=ctx)
    message = str(caught.value)
    assert "answered 503" in message
    assert httpserver.url_for("/").rstrip("/") in message  # still says where it went
    assert PATH_SECRET not in message and TOKEN not in message
