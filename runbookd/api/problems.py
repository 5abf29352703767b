"""The error answers the API documents, so OpenAPI clients (and the fuzzer) know every status.

FastAPI documents a route's success and its 422 by itself; the rest are declared here once and
picked per route, so the published schema names exactly the answers a route can give.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import SQLModel


class Problem(SQLModel):
    detail: str


_WHY = {
    400: "a field is invalid; the message names it (a silence's matchers or times)",
    401: "auth is configured and the credentials are missing or wrong",
    404: "no such incident, approval, follow-up item, schedule, override or silence",
    409: "the incident's or step's state does not allow this (e.g. already resolved)",
    503: "the store is unavailable, or the engine has not applied the change yet: retry",
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route that may answer these statuses (401 and 503 always apply)."""
    wanted = sorted({401, 503, *codes})
    return {code: {"model": Problem, "description": _WHY[code]} for code in wanted}
