"""The ingest routes' answers for partly usable bodies, with an in-memory inbox (no server)."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from typing import Any

import httpx
from fastapi import FastAPI

from runbookd.alerts.inbox import Accepted, Receipt, Unavailable
from runbookd.alerts.routes import ingest_router
from runbookd.engine.events import Event
from runbookd.toolchain.testing import am_alert, am_notification


class Inbox:
    def __init__(self) -> None:
        self.stored: list[Event] = []
        self.down = False

    async def put(self, events: list[Event], receipt: Receipt) -> Accepted:
        if self.down:
            raise Unavailable("the database is unavailable; retry later")
        self.stored += events
        return Accepted(accepted=len(events), duplicates=0)


class Http:
    """Requests straight into the app (ASGI), no socket and no server thread."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def post(self, path: str, **kw: Any) -> httpx.Response:
        async def send() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
                return await http.post(path, **kw)

        return asyncio.run(send())


def client() -> tuple[Http, Inbox, Counter[tuple[str, str]]]:
    inbox, counts = Inbox(), Counter[tuple[str, str]]()

    def count(source: str, outcome: str, n: int) -> None:
        counts[(source, outcome)] += n

    app = FastAPI()
    app.include_router(ingest_router(inbox, max_body_bytes=1_000_000, count=count))
    return Http(app), inbox, counts


def mixed_body() -> bytes:
    good = am_alert({"alertname": "PaymentFailures", "service": "payments"})
    odd = am_alert({"alertname": "PaymentFailures", "service": "pay\x00ments"})
    bad = am_alert({"alertname": "PaymentFailures", "service": "x"})
    doc = am_notification([good, odd, bad])
    doc["alerts"][2]["labels"] = None
    return json.dumps(doc).encode()


def test_partly_usable_notification_is_202_with_what_was_left_out() -> None:
    http, inbox, counts = client()
    response = http.post("/api/v1/alerts/alertmanager", content=mixed_body())
    assert response.status_code == 202
    body: dict[str, Any] = response.json()
    assert body["accepted"] == 2 and body["duplicates"] == 0
    assert body["escaped"] == ["alerts[1].labels.service"]
    [rejected] = body["rejected"]
    assert rejected["index"] == 2 and rejected["field"] == "alerts[2].labels"
    assert rejected["reason"].startswith("missing (or null)")
    assert [e.labels["service"] for e in inbox.stored] == ["payments", "pay\\u0000ments"]
    assert counts[("alertmanager", "rejected")] == 1
    assert counts[("alertmanager", "rejected_alert:labels")] == 1
    assert counts[("alertmanager", "escaped")] == 1


def test_an_ordinary_answer_keeps_its_two_keys() -> None:
    http, _, _ = client()
    body = am_notification([am_alert({"alertname": "PaymentFailures"})])
    assert http.post("/api/v1/alerts/alertmanager", json=body).json() == {
        "accepted": 1,
        "duplicates": 0,
    }


def test_storage_down_is_still_503_and_counts_no_refused_alert() -> None:
    http, inbox, counts = client()
    inbox.down = True
    response = http.post("/api/v1/alerts/alertmanager", content=mixed_body())
    assert response.status_code == 503
    assert counts[("alertmanager", "rejected:unavailable")] == 1
    assert counts[("alertmanager", "rejected_alert:labels")] == 0  # counted once, when answered


def test_no_usable_alert_is_400_naming_the_field_and_listing_them() -> None:
    http, inbox, counts = client()
    doc = am_notification([am_alert({"alertname": "A"}), am_alert({"alertname": "B"})])
    doc["alerts"][0]["startsAt"] = "noon"
    doc["alerts"][1] = []
    response = http.post("/api/v1/alerts/alertmanager", json=doc)
    assert response.status_code == 400
    assert response.json()["field"] == "alerts[0].startsAt"
    assert [r["field"] for r in response.json()["rejected"]] == ["alerts[0].startsAt", "alerts[1]"]
    assert inbox.stored == []
    assert counts[("alertmanager", "rejected:malformed")] == 1
    assert counts[("alertmanager", "rejected_alert:startsAt")] == 1
    assert counts[("alertmanager", "rejected_alert:not_an_object")] == 1


def test_the_log_quotes_hostile_text_instead_of_writing_it(caplog: Any) -> None:
    http, _, _ = client()
    doc = am_notification([am_alert({"alertname": "A"}), am_alert({"alertname": "B"})])
    doc["alerts"][1]["labels"]["evil\u202e\nkey"] = 1
    with caplog.at_level("WARNING", logger="runbookd.alerts.routes"):
        assert http.post("/api/v1/alerts/alertmanager", json=doc).status_code == 202
    [line] = [r.getMessage() for r in caplog.records]
    assert "\n" not in line and "\u202e" not in line
    assert "alerts[1].labels.evil\\u202e\\nkey" in line


def test_events_array_follows_the_same_rule() -> None:
    http, _, counts = client()
    response = http.post(
        "/api/v1/events",
        content=b'[{"name": "ok", "labels": {"a": "\\ud800"}}, {"name": 1}]',
    )
    assert response.status_code == 202
    assert response.json()["escaped"] == ["[0].labels.a"]
    assert response.json()["rejected"][0]["field"] == "[1].name"
    assert counts[("generic", "rejected_alert:name")] == 1
    refused = http.post("/api/v1/events", content=b'[{"name": 1}]')
    assert refused.status_code == 400 and refused.json()["field"] == "[0].name"
