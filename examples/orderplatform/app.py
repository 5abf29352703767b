"""The HTTP face of the simulated platform: metrics, admin operations, faults."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
from fastapi import APIRouter, Body, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from examples.orderplatform.events import Forwarder
from examples.orderplatform.faults import FaultError
from examples.orderplatform.kernel import BadRequest, Conflict, NotFound
from examples.orderplatform.platform import Platform


def create_app(
    platform: Platform, *, tick: float | None = None, forwarder: Forwarder | None = None
) -> FastAPI:
    """The app over ``platform``.

    ``tick`` seconds (None = never) is how often a background task advances the traffic by the
    real time elapsed; tests leave it off and call ``platform.advance()`` themselves.
    ``forwarder`` posts the platform's events to runbookd.
    """

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        tasks = []
        client = httpx.AsyncClient(timeout=5)
        if forwarder is not None:
            platform.sink = forwarder.put
            tasks.append(asyncio.create_task(forwarder.run(client)))
        if tick is not None:
            tasks.append(asyncio.create_task(_drive(platform, tick)))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await client.aclose()

    app = FastAPI(title="Simulated order platform", lifespan=lifespan)
    app.state.platform = platform
    admin = APIRouter(prefix="/admin", tags=["admin"])
    platform.routes(admin)
    app.include_router(admin)

    @app.exception_handler(Conflict)
    async def conflict(request: Request, exc: Conflict) -> JSONResponse:
        return JSONResponse({"error": exc.code, "detail": exc.detail}, status_code=409)

    @app.exception_handler(BadRequest)
    async def bad_request(request: Request, exc: BadRequest) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=422)

    @app.exception_handler(NotFound)
    async def not_found(request: Request, exc: NotFound) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(platform.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/healthz")
    def healthz() -> dict[str, Any]:
        health: dict[str, Any] = {"status": "ok", "simulated_seconds": platform.elapsed}
        if forwarder is not None:
            health["events"] = {
                "sent": forwarder.sent,
                "pending": forwarder.pending,
                "failures": forwarder.failures,
            }
        return health

    @app.get("/faults", tags=["faults"], summary="Every fault and whether it is on")
    def faults() -> dict[str, Any]:
        return {"faults": platform.faults.listing()}

    @app.post("/faults/{name}", tags=["faults"], summary="Turn a fault on")
    def fault_on(name: str, body: dict[str, Any] | None = Body(None)) -> dict[str, Any]:  # noqa: B008
        try:
            params = platform.faults.switch_on(name, body or {})
        except FaultError as exc:
            raise HTTPException(404 if exc.field == "name" else 422, str(exc)) from None
        platform.fault_changed(name)
        return {"name": name, "active": True, "params": params}

    @app.delete("/faults/{name}", tags=["faults"], summary="Turn a fault off")
    def fault_off(name: str) -> dict[str, Any]:
        try:
            was_on = platform.faults.switch_off(name)
        except FaultError as exc:
            raise HTTPException(404, str(exc)) from None
        platform.fault_changed(name)
        return {"name": name, "active": False, "was_active": was_on}

    return app


async def _drive(platform: Platform, tick: float) -> None:
    """Advance the traffic by real elapsed time, every ``tick`` seconds."""
    last = time.monotonic()
    while True:
        await asyncio.sleep(tick)  # the load generator's own pace, not a wait for an effect
        now = time.monotonic()
        platform.advance(now - last)
        last = now
