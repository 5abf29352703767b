"""The json log formatter: one object per line, the exception's text inside it."""

from __future__ import annotations

import json
import logging
import sys
import warnings

import pytest

from runbookd.server.logformat import JsonFormatter
from runbookd.server.serve import configure_logging


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


def test_warnings_become_json_lines_too(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    root.handlers = []  # basicConfig configures only a root logger without handlers
    try:
        configure_logging("info", "json")
        warnings.warn("a library is deprecated", DeprecationWarning, stacklevel=1)
    finally:
        logging.captureWarnings(False)
        root.handlers, root.level = saved
    [line] = capsys.readouterr().err.splitlines()
    record = json.loads(line)
    assert record["logger"] == "py.warnings"
    assert "a library is deprecated" in record["message"]
