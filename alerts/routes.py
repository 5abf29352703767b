"""The ingest endpoints: Alertmanager's and Grafana's webhooks, generic events and CloudEvents.

A good webhook receiver answers fast, and 2xx only when the data is safe: the body is parsed and
checked here, handed to the ``Inbox`` (which commits before it returns), and only then answered
202. A body that is no notification (not JSON, wrong types, missing required fields) gets 400
naming the field; a body over the limit 413; storage down 503, which makes Alertmanager retry the
same notification.

One unusable alert costs only itself: the others are stored and answered 202, and the answer
lists it under ``rejected`` (index, fingerprint, field, reason) -- Alertmanager does not retry a
4xx, so refusing the group would lose its good alerts for good. Only a body whose every alert is
unusable is answered 400, naming the first one's field and listing them all. Fields stored in
escaped form (``alerts.storable``) are listed under ``escaped``. Both keys appear only when they
have something to say, so an ordinary answer stays ``{"accepted": n, "duplicates": m}``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.params import Depends
from fastapi.responses import JSONResponse

from runbookd.alerts import cloudevents, grafana
from runbookd.alerts.alertmanager import SOURCE, Notification, parse_notification
from runbookd.alerts.errors import PayloadError
from runbookd.alerts.generic import parse_event_batch
from runbookd.alerts.inbox import Accepted, Inbox, Receipt, Unavailable
from runbookd.alerts.outcome import AllRejected, Rejected
from runbookd.engine.events import Event

log = logging.getLogger(__name__)

#: Called with (source, outcome, count) for metrics. Outcomes: ``accepted``, ``duplicate``,
#: ``stale``, ``rejected`` (alerts); ``rejected:<reason>`` (a whole request refused);
#: ``rejected_alert:<field>`` (one alert refused, the others kept); ``escaped`` (values stored
#: in escaped form, ``alerts.storable``).
Counter = Callable[[str, str, int], None]
#: Called after a truncated notification was stored, to fetch what was cut (runs in background).
OnTruncated = Callable[[Notification], Awaitable[None]]


class BodyTooLarge(Exception):
    pass


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refusing more than ``limit`` bytes without reading them all."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit():
        if int(declared) > limit:
            raise BodyTooLarge
        return await request.body()  # the server enforces the declared length
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def ingest_router(
    inbox: Inbox,
    *,
    max_body_bytes: int,
    count: Counter,
    on_truncated: OnTruncated | None = None,
    dependencies: Sequence[Depends] = (),
) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["ingest"], dependencies=list(dependencies))

    def problem(status: int, source: str, reason: str, detail: str, **extra: Any) -> JSONResponse:
        count(source, f"rejected:{reason}", 1)
        return JSONResponse({"detail": detail, **extra}, status_code=status)

    def refused(source: str, exc: PayloadError) -> JSONResponse:
        if isinstance(exc, AllRejected):
            _report(source, exc.rejected, count)
            return problem(
                400,
                source,
                "malformed",
                f"no usable {_item(source)}: {exc}",
                field=exc.field,
                rejected=[r.to_answer() for r in exc.rejected],
            )
        return problem(400, source, "malformed", str(exc), field=exc.field)

    async def store(
        source: str,
        events: list[Event],
        receipt: Receipt,
        rejected: list[Rejected],
        escaped: list[str],
    ) -> JSONResponse:
        try:
            result: Accepted = await inbox.put(events, receipt)
        except Unavailable as exc:
            return problem(503, source, "unavailable", str(exc) or "storage unavailable")
        count(source, "accepted", result.accepted)
        count(source, "duplicate", result.duplicates)
        count(source, "stale", result.stale)
        answer: dict[str, Any] = {
            "accepted": result.accepted,
            "duplicates": result.duplicates + result.stale,
        }
        # Only when there is something to say: an ordinary answer stays {accepted, duplicates}.
        if rejected:
            _report(source, rejected, count)
            answer["rejected"] = [r.to_answer() for r in rejected]
        if escaped:
            count(source, "escaped", len(escaped))
            answer["escaped"] = escaped
        return JSONResponse(answer, status_code=202)

    @router.post(
        "/alerts/alertmanager",
        status_code=202,
        summary="Alertmanager webhook (payload version 4)",
        responses={400: {}, 401: {}, 413: {}, 503: {}},
    )
    async def alertmanager(request: Request) -> JSONResponse:
        received_at = datetime.now(UTC)
        try:
            body = await read_body(request, max_body_bytes)
            note = parse_notification(body, received_at=received_at, partial=True)
        except BodyTooLarge:
            return problem(413, SOURCE, "too_large", f"body larger than {max_body_bytes} bytes")
        except PayloadError as exc:
            return refused(SOURCE, exc)
        receipt = Receipt(
            source=SOURCE,
            received_at=received_at,
            receiver=note.receiver,
            group_key=note.group_key,
            external_url=note.external_url,
            truncated_alerts=note.truncated_alerts,
        )
        response = await store(SOURCE, note.alerts, receipt, note.rejected, note.escaped)
        if response.status_code == 202 and note.truncated_alerts and on_truncated is not None:
            await on_truncated(note)
        return response

    @router.post(
        "/alerts/grafana",
        status_code=202,
        summary="Grafana Alerting webhook contact point (payload version 1)",
        responses={400: {}, 401: {}, 413: {}, 503: {}},
    )
    async def grafana_webhook(request: Request) -> JSONResponse:
        received_at = datetime.now(UTC)
        source = grafana.SOURCE
        try:
            body = await read_body(request, max_body_bytes)
            note = grafana.parse_grafana(body, received_at=received_at, partial=True)
        except BodyTooLarge:
            return problem(413, source, "too_large", f"body larger than {max_body_bytes} bytes")
        except PayloadError as exc:
            return refused(source, exc)
        receipt = Receipt(
            source=source,
            received_at=received_at,
            receiver=note.receiver,
            group_key=note.group_key,
            external_url=note.external_url,
            truncated_alerts=note.truncated_alerts,
        )
        # truncatedAlerts stays on the receipt and is not fetched: the fetch reads an
        # Alertmanager API (alertmanager.api_url), and the alerts were Grafana's.
        return await store(source, note.alerts, receipt, note.rejected, note.escaped)

    @router.post(
        "/events/cloudevents",
        status_code=202,
        summary="CloudEvents 1.0, structured mode: one event or a batch",
        responses={400: {}, 401: {}, 413: {}, 415: {}, 503: {}},
    )
    async def cloud_events(request: Request) -> JSONResponse:
        received_at = datetime.now(UTC)
        source = cloudevents.SOURCE
        kind = request.headers.get("content-type", "").partition(";")[0].strip().lower()
        if kind not in (cloudevents.STRUCTURED, cloudevents.BATCH):
            return problem(
                415,
                source,
                "malformed",
                f"content-type: expected {cloudevents.STRUCTURED} or {cloudevents.BATCH} "
                f"(the structured mode; ce-* headers are not read), got {kind or 'none'!r}",
                field="content-type",
            )
        try:
            body = await read_body(request, max_body_bytes)
            batch = cloudevents.parse_cloudevents(
                body, received_at=received_at, batch=kind == cloudevents.BATCH
            )
        except BodyTooLarge:
            return problem(413, source, "too_large", f"body larger than {max_body_bytes} bytes")
        except PayloadError as exc:
            return refused(source, exc)
        receipt = Receipt(source=source, received_at=received_at)
        return await store(source, batch.events, receipt, batch.rejected, batch.escaped)

    @router.post(
        "/events",
        status_code=202,
        summary="Generic events: one object or a list",
        responses={400: {}, 401: {}, 413: {}, 503: {}},
    )
    async def events(request: Request) -> JSONResponse:
        received_at = datetime.now(UTC)
        try:
            body = await read_body(request, max_body_bytes)
            batch = parse_event_batch(body, received_at=received_at)
        except BodyTooLarge:
            return problem(413, "generic", "too_large", f"body larger than {max_body_bytes} bytes")
        except PayloadError as exc:
            return refused("generic", exc)
        receipt = Receipt(source="generic", received_at=received_at)
        return await store("generic", batch.events, receipt, batch.rejected, batch.escaped)

    return router


def _report(source: str, rejected: list[Rejected], count: Counter) -> None:
    """One log line and one count per refused alert; hostile text only as ``repr``."""
    count(source, "rejected", len(rejected))
    for item in rejected:
        count(source, f"rejected_alert:{item.reason}", 1)
        log.warning(
            "%s: %s %d of the body refused, the others kept: %r (fingerprint %r): %s",
            source,
            _item(source),
            item.index,
            item.field,
            item.fingerprint,
            ascii(item.message)[1:-1],
        )


def _item(source: str) -> str:
    return "alert" if source in (SOURCE, grafana.SOURCE) else "event"
