"""The service's logging keeps connector URLs out of the log, at any level.

Found by tests/e2e/test_secrets.py: httpx logs every request's full URL at INFO, and a connector
URL can be a secret (a Slack webhook's path, an endpoint with ``?token=``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import httpx
import pytest
from pytest_httpserver import HTTPServer

from runbookd.server.serve import QUIET_LOGGERS, configure_logging

SECRET_PATH = "/services/T0/B0/hook-SECRET-91c2"


@pytest.fixture(scope="session")
def httpserver_listen_address() -> tuple[str, int]:
    return ("127.0.0.1", 0)


@pytest.fixture
def restore_levels() -> Iterator[None]:
    names = ["", *QUIET_LOGGERS, "runbookd.test"]
    levels = {name: logging.getLogger(name).level for name in names}
    yield
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


@pytest.mark.usefixtures("restore_levels")
def test_outbound_requests_are_not_logged_even_at_debug(
    httpserver: HTTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    httpserver.expect_request(SECRET_PATH).respond_with_data("ok")
    caplog.set_level(logging.DEBUG)  # the root logger at debug, as `log.level: debug` sets it
    configure_logging("debug")
    with httpx.Client() as client:
        assert client.post(httpserver.url_for(SECRET_PATH)).text == "ok"
    logging.getLogger("runbookd.test").debug("the service's own debug lines still show")
    service_records = [r for r in caplog.records if not r.name.startswith("werkzeug")]
    assert "the service's own debug lines still show" in [r.getMessage() for r in service_records]
    assert not [r.getMessage() for r in service_records if "SECRET" in r.getMessage()]
