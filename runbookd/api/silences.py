"""Silences: create, list, show, expire -- ``/api/v1/silences``, Alertmanager's shape.

A silence mutes the alerts its matchers match from ``startsAt`` to ``endsAt``: they are recorded
with the outcome ``silenced`` and open no incident, and an open incident whose firing alerts are
all muted stops paging until it ends (``engine.muting``). Creating and expiring are journal
entries (kind ``silence``) and need the ``admin`` role; the route waits until the engine
applied the entry, so an alert sent after the answer is judged with the silence in force.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query
from fastapi.params import Depends
from pydantic import BaseModel, ConfigDict, Field

from runbookd.api.applying import submit_applied
from runbookd.api.principals import require_role
from runbookd.api.problems import errors
from runbookd.auth.audit import AuditRecord
from runbookd.auth.roles import Principal, Role
from runbookd.engine.matchers import Matcher, Op
from runbookd.engine.silences import KIND, SilenceError
from runbookd.service.audit import journaled, record
from runbookd.service.core import Service

Admin = Annotated[Principal, Depends(require_role(Role.ADMIN))]


class MatcherObject(BaseModel):
    """Alertmanager API v2's matcher form; a string in amtool's syntax is accepted too."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    value: str = Field(max_length=2000)
    isRegex: bool = False
    isEqual: bool = True

    def text(self) -> str:
        op: Op = (
            ("=~" if self.isRegex else "=") if self.isEqual else ("!~" if self.isRegex else "!=")
        )
        return str(Matcher(self.name, op, self.value))


class SilenceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    matchers: list[str | MatcherObject] = Field(
        description='amtool-style strings (`instance=~"db.*"`) or Alertmanager matcher objects',
        max_length=50,
    )
    startsAt: datetime | None = Field(None, description="Default: now.")
    endsAt: datetime
    createdBy: str | None = Field(
        None, max_length=200, description="Who; a named user's own name wins."
    )
    comment: str = Field(min_length=1, max_length=2000, description="Why.")


class SilenceList(BaseModel):
    silences: list[dict[str, Any]]


def silences_router(service: Service, dependencies: list[Depends]) -> APIRouter:
    router = APIRouter(prefix="/api/v1/silences", tags=["silences"], dependencies=dependencies)

    @router.get("", response_model=SilenceList, summary="Silences, newest first")
    def listing(
        state: Annotated[Literal["active", "pending", "expired"] | None, Query()] = None,
    ) -> SilenceList:
        return SilenceList(silences=service.silences.listing(datetime.now(UTC), state))

    @router.get("/{silence_id}", summary="One silence", responses=errors(404))
    def show(silence_id: str) -> dict[str, Any]:
        found = service.silences.get(silence_id, datetime.now(UTC))
        if found is None:
            raise HTTPException(404, f"no silence {silence_id!r}")
        return found

    @router.post("", status_code=201, summary="Create a silence", responses=errors(400, 409))
    async def create(body: SilenceCreate, who: Admin) -> dict[str, Any]:
        return await create_silence(service, body, who)

    @router.delete("/{silence_id}", summary="Expire a silence now", responses=errors(404, 409))
    async def expire(silence_id: str, who: Admin) -> dict[str, Any]:
        return await expire_silence(service, silence_id, who)

    return router


async def create_silence(service: Service, body: SilenceCreate, who: Principal) -> dict[str, Any]:
    """Journal a new silence (the API and the page share it): 400 naming the bad field."""
    matchers = [m if isinstance(m, str) else m.text() for m in body.matchers]
    author = who.claiming(body.createdBy)
    # The comment reaches timelines and post-mortems: no configured secret may go with it.
    comment = service.redactor.clean(body.comment)
    now = datetime.now(UTC)
    try:
        payload = service.silences.add_payload(
            matchers, body.startsAt, body.endsAt, author.name, comment, now
        )
    except SilenceError as exc:
        raise HTTPException(400, f"body.{exc.field}: {exc.message}") from None
    except OverflowError:
        raise HTTPException(400, "body.endsAt: outside the supported range") from None
    detail = f"{' '.join(matchers)} until {payload['endsAt']}: {comment}"
    audit = AuditRecord.of(who, "silence", "silence", payload["id"], by=author.name, detail=detail)
    await _journal(service, {**payload, "principal": author.to_json()}, audit)
    return service.silences.get(payload["id"], datetime.now(UTC)) or payload


async def expire_silence(service: Service, silence_id: str, who: Principal) -> dict[str, Any]:
    now = datetime.now(UTC)
    audit = AuditRecord.of(who, "unsilence", "silence", silence_id)
    try:
        payload = service.silences.expire_payload(silence_id, who.name, now)
    except SilenceError as exc:
        status = 404 if exc.message.startswith("no silence") else 409
        await record(service, audit.settled("refused", exc.message))
        raise HTTPException(status, exc.message) from None
    await _journal(service, {**payload, "principal": who.to_json()}, audit)
    return service.silences.get(silence_id, datetime.now(UTC)) or payload


async def _journal(service: Service, payload: dict[str, Any], audit: AuditRecord) -> None:
    at = datetime.now(UTC)
    applied = await submit_applied(service, journaled(KIND, payload, audit, at))
    if applied.error is not None:
        raise HTTPException(409, applied.error)
    # The engine thread applied it to the book too; a replica without an engine answers reads
    # as well, so apply it here (idempotent).
    service.silences.apply(payload, at)
