"""Metric polling turns a Prometheus query answer into events, and survives a bad answer."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import httpx

from runbookd.alerts.inbox import Accepted, Receipt
from runbookd.alerts.polling import Poll, run_poll, vector_events
from runbookd.engine.events import Event

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
POLL = Poll(
    "orders_backlog",
    "sum by (queue) (orders_pending)",
    30,
    "http://127.0.0.1:9",
    {"team": "orders"},
)
# The shape Prometheus' /api/v1/query returns for a vector result.
ANSWER = {
    "status": "success",
    "data": {
        "resultType": "vector",
        "result": [
            {"metric": {"queue": "checkout"}, "value": [1795600000.0, "1532"]},
            {"metric": {"queue": "refunds"}, "value": [1795600000.0, "NaN"]},
        ],
    },
}


class ListInbox:
    def __init__(self) -> None:
        self.events: list[Event] = []

    async def put(self, events: list[Event], receipt: Receipt) -> Accepted:
        self.events += events
        return Accepted(len(events), 0)


def test_each_series_becomes_an_event_with_labels_and_value() -> None:
    events = vector_events(POLL, ANSWER, NOW)
    assert [(e.name, dict(e.labels), e.value) for e in events] == [
        ("orders_backlog", {"queue": "checkout", "team": "orders"}, 1532.0),
        ("orders_backlog", {"queue": "refunds", "team": "orders"}, None),  # NaN is no value
    ]
    assert events[0].source == "poll:orders_backlog"


def test_a_poll_stores_events_and_a_failed_query_stores_nothing() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if len(seen) == 1:
            return httpx.Response(200, json=ANSWER)
        return httpx.Response(400, json={"status": "error", "error": "parse error"})

    async def run() -> tuple[int, int]:
        inbox = ListInbox()
        async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
            first = await run_poll(POLL, client, inbox, NOW)
            second = await run_poll(POLL, client, inbox, NOW)
        return first, second

    assert asyncio.run(run()) == (2, 0)
    assert seen[0].url.params["query"] == POLL.query
