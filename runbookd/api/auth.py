"""API authentication: the bearer token and basic auth that Alertmanager's ``http_config`` sends.

With neither configured the API is open (the embedded default listens on loopback only).
Comparisons are constant-time; credentials never appear in logs or responses.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import HTTPException, Request


@dataclass(frozen=True)
class Credentials:
    bearer_token: str | None = None
    basic_username: str | None = None
    basic_password: str | None = None

    @property
    def required(self) -> bool:
        return bool(self.bearer_token or self.basic_username)

    def allows(self, header: str | None) -> bool:
        if not self.required:
            return True
        if not header:
            return False
        scheme, _, value = header.partition(" ")
        scheme = scheme.lower()
        if scheme == "bearer" and self.bearer_token:
            return hmac.compare_digest(value.strip().encode(), self.bearer_token.encode())
        if scheme == "basic" and self.basic_username is not None:
            try:
                decoded = base64.b64decode(value.strip(), validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                return False
            user, _, password = decoded.partition(":")
            return hmac.compare_digest(user.encode(), self.basic_username.encode()) & (
                hmac.compare_digest(password.encode(), (self.basic_password or "").encode())
            )
        return False


def require(credentials: Credentials) -> Callable[[Request], Awaitable[None]]:
    """A FastAPI dependency that refuses requests without the configured credentials."""

    async def check(request: Request) -> None:
        if not credentials.allows(request.headers.get("authorization")):
            schemes = []
            if credentials.bearer_token:
                schemes.append("Bearer")
            if credentials.basic_username:
                schemes.append('Basic realm="runbookd"')
            raise HTTPException(
                status_code=401,
                detail="missing or wrong credentials",
                headers={"WWW-Authenticate": ", ".join(schemes)},
            )

    return check
