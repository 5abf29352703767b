"""The json log formatter: one object per line, the exception's text inside it."""

from __future__ import annotations

import json
import logging
import sys

from runbookd.server.logformat import JsonFormatter


def _record(exc: bool) -> logging.LogRecord:
    info = None
    if exc:
        try:
            raise RuntimeError("disk full")
        except RuntimeError:
            info = sys.exc_info()
    return logging.LogRecord("runbookd.store", logging.ERROR, __file__, 1, "save %s", ("x",), info)


def test_exception_text_stays_on_the_one_line() -> None:
    line = JsonFormatter().format(_record(exc=True))
    assert "\n" not in line
    record = json.loads(line)
    assert record["level"] == "error"
    assert record["logger"] == "runbookd.store"
    assert record["message"] == "save x"
    assert "RuntimeError: disk full" in record["exception"]
    assert "Traceback" in record["exception"]


def test_no_exception_key_without_one() -> None:
    assert "exception" not in json.loads(JsonFormatter().format(_record(exc=False)))
