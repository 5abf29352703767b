"""The platform's events as runbookd takes them: its own parser, and delivery over HTTP."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import httpx
import pytest
from pytest_httpserver import HTTPServer

from examples.orderplatform.events import Forwarder
from runbookd.alerts.generic import parse_events
from tests.integration.orderplatform.conftest import Sim, on


@pytest.fixture(scope="session")
def httpserver_listen_address() -> tuple[str, int]:
    return ("127.0.0.1", 0)


def noisy_sim() -> Sim:
    """A platform with one event-producing fault of every chapter switched on."""
    sim = Sim(rate=20)
    on(sim, "order_data_mismatch", field="invoice", per_minute=30)
    on(sim, "duplicate_orders", client="web", per_minute=30)
    on(sim, "payment_amount_mismatch", channel="card", cause="fx", per_minute=30)
    on(sim, "refund_amount_wrong", route="balance", per_minute=30)
    on(sim, "modify_wrong_data", source="operator", field="items", per_minute=30)
    on(sim, "return_refund_amount_wrong", route="original")
    on(sim, "aftersales_recurring", category="refund")
    on(sim, "data_exfiltration", account="svc.export", dataset="orders", records=20000)
    on(sim, "departed_account_active", account="ops.zhao", system="api")
    on(sim, "account_ring", instrument="pi_abc", accounts=3, chargebacks=True)
    on(sim, "impersonation_campaign", channel="email", reports_per_hour=600)
    sim.platform.advance(400)
    sim.http.post("/admin/aftersales/records/reconcile", json={})
    return sim


def test_every_event_parses_as_runbookd_parses_it() -> None:
    sim = noisy_sim()
    names = {e["name"] for e in sim.events}
    assert names >= {
        "OrderDataMismatch",
        "DuplicateOrderDetected",
        "PaymentAmountMismatch",
        "RefundAmountMismatch",
        "OrderModificationMismatch",
        "ReturnRefundAmountMismatch",
        "AftersalesCaseRecurred",
        "AftersalesReconciliationCompleted",
        "SensitiveDataExported",
        "DepartedAccountAccess",
        "PaymentInstrumentLinked",
        "ChargebackReceived",
        "ImpersonationReported",
    }
    parsed = parse_events(json.dumps(sim.events), received_at=datetime.now(UTC))
    assert len(parsed) == len(sim.events)
    assert {e.source for e in parsed} == {"orderplatform"}
    assert len({e.fingerprint for e in parsed}) == len(parsed)
    leak = next(
        e
        for e in parsed
        if e.name == "SensitiveDataExported" and e.labels["account"] == "svc.export"
    )
    assert leak.value == 20000
    assert leak.fields["export_id"]
    mismatch = next(e for e in parsed if e.name == "PaymentAmountMismatch")
    assert mismatch.labels == {"channel": "card", "cause": "fx"}
    assert isinstance(mismatch.fields["paid_amount"], float)


def test_the_forwarder_posts_batches_to_runbookd(httpserver: HTTPServer) -> None:
    received: list[list[dict[str, object]]] = []

    def handler(request: object) -> object:
        from werkzeug import Request, Response

        assert isinstance(request, Request)
        assert request.headers["authorization"] == "Bearer t0k3n"
        received.append(json.loads(request.data))
        return Response(
            '{"accepted": 1, "duplicates": 0}', status=202, content_type="application/json"
        )

    httpserver.expect_request("/api/v1/events", method="POST").respond_with_handler(handler)
    forwarder = Forwarder(httpserver.url_for("/"), token="t0k3n")
    sim = Sim(rate=20)
    sim.platform.sink = forwarder.put
    on(sim, "duplicate_orders", client="app", per_minute=60)
    sim.platform.advance(10)
    queued = forwarder.pending
    assert queued >= 10  # the duplicates, and routine events such as instrument links

    async def drain() -> None:
        async with httpx.AsyncClient(timeout=5) as client:
            task = asyncio.create_task(forwarder.run(client))
            deadline = asyncio.get_running_loop().time() + 10
            while forwarder.pending and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.01)  # polling the queue, not waiting for a result
            task.cancel()

    asyncio.run(drain())
    assert forwarder.pending == 0
    assert forwarder.sent == queued
    events = [e for batch in received for e in batch]
    assert len(events) == queued
    duplicates = [e for e in events if e["name"] == "DuplicateOrderDetected"]
    assert len(duplicates) == 10
    assert all(e["labels"] == {"client": "app"} for e in duplicates)


def test_the_forwarder_keeps_events_while_runbookd_answers_5xx(httpserver: HTTPServer) -> None:
    httpserver.expect_ordered_request("/api/v1/events").respond_with_data("down", status=503)
    httpserver.expect_ordered_request("/api/v1/events").respond_with_json(
        {"accepted": 3}, status=202
    )
    forwarder = Forwarder(httpserver.url_for("/"), retry_after=0.01)
    for i in range(3):
        forwarder.put({"name": "Probe", "source": "orderplatform", "n": i})

    async def drain() -> None:
        async with httpx.AsyncClient(timeout=5) as client:
            task = asyncio.create_task(forwarder.run(client))
            deadline = asyncio.get_running_loop().time() + 10
            while forwarder.sent < 3 and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.01)  # polling the counters, not waiting for a result
            task.cancel()

    asyncio.run(drain())
    assert forwarder.failures == 1
    assert forwarder.sent == 3
    assert forwarder.pending == 0
