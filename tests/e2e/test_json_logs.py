"""`log.format: json` on a served process: every line runbookd and uvicorn write is one JSON object."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from tests.e2e.harness import Server


def _records(server: Server) -> list[dict[str, Any]]:
    lines = [line for line in server.log().splitlines() if line.strip()]
    records = []
    for line in lines:
        try:
            records.append(json.loads(line))
        except ValueError:
            raise AssertionError(f"not a JSON log line: {line!r}") from None
    return records


def test_json_format_covers_runbookd_and_uvicorn(make_server: Callable[..., Server]) -> None:
    server = make_server(
        env={"RUNBOOKD_LOG__FORMAT": "json", "RUNBOOKD_SERVER__ACCESS_LOG": "true"}
    )
    assert server.get("/api/v1/incidents").status_code == 200
    server.stop()  # the shutdown lines too, and every buffer flushed

    records = _records(server)
    for record in records:
        assert {"time", "level", "logger", "message"} <= record.keys(), record
        assert record["time"].endswith("+00:00"), record
    loggers = {r["logger"] for r in records}
    assert any(name.startswith("runbookd") for name in loggers), loggers
    messages = [r["message"] for r in records if r["logger"].startswith("uvicorn")]
    assert any("Application startup complete" in m for m in messages), messages
    access = [r["message"] for r in records if r["logger"] == "uvicorn.access"]
    assert any("GET /api/v1/incidents" in m for m in access), access


def test_text_format_stays_the_default(make_server: Callable[..., Server]) -> None:
    server = make_server()
    server.stop()
    assert "Application startup complete" in server.log()
    assert not server.log().lstrip().startswith("{")
