"""The admin operations runbooks call (``/admin/...``): idempotent, 409 on a forbidden state."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from examples.orderplatform.payments import Conflict
from examples.orderplatform.platform import Platform


class Route(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    source: str = Field(alias="from", description="the channel whose payments move")
    target: str = Field(alias="to", description="the channel that takes them")


def _call(fn: Any, *args: Any) -> dict[str, Any]:
    """Run an operation, turning the domain's refusals into HTTP answers."""
    try:
        result: dict[str, Any] = fn(*args)
    except KeyError as exc:
        raise HTTPException(404, str(exc.args[0])) from None
    except Conflict as exc:
        raise HTTPException(409, str(exc)) from None
    return result


def admin_router(platform: Platform) -> APIRouter:
    router = APIRouter(prefix="/admin", tags=["admin"])

    @router.get("/payments/channels/{channel}", summary="A payment channel's state")
    def channel(channel: str) -> dict[str, Any]:
        return _call(platform.payments.status, channel)

    @router.post("/payments/route", summary="Route a channel's payments to another channel")
    def route(body: Route) -> dict[str, Any]:
        return _call(platform.payments.route, body.source, body.target)

    return router
