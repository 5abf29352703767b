"""CSRF protection for the pages' forms: a signed double-submit cookie, SameSite=Strict.

A page sets the cookie ``runbookd_csrf`` (random nonce + HMAC over the nonce and the signed-in
user) and puts the same value in every form. A POST passes only when the form's value equals the
cookie and the signature holds for the current user. A cross-site page can neither read the
cookie nor make the browser send it (SameSite=Strict), so it cannot forge a form; a cookie
planted by a sibling subdomain fails the signature. Forms on a server without auth are protected
the same way: a malicious page must not resolve incidents on a loopback server either.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from starlette.requests import Request
from starlette.responses import Response

from runbookd.api.principals import Access

COOKIE = "runbookd_csrf"
FIELD = "csrf"


def csrf_key(access: Access) -> bytes:
    """The forms' signing key, never guessable when users exist: ``web.csrf_secret`` (or its
    ``_file``) when set, else derived from the shared credential, else from the users' token
    hashes (salted scrypt: secret enough, and the same on every replica of one configuration),
    else random per process (then a restart makes open pages' forms ask for a reload)."""
    if access.csrf_secret:
        return Csrf.key_for(access.csrf_secret)
    shared = access.shared.basic_password or access.shared.bearer_token
    if shared:
        return Csrf.key_for(shared)
    hashes = sorted(str(a.token_hash) for a in access.users.accounts if a.token_hash is not None)
    return Csrf.key_for("\0".join(hashes) if hashes else None)


class Csrf:
    def __init__(self, key: bytes) -> None:
        self._key = key

    @staticmethod
    def key_for(secret: str | None) -> bytes:
        """The signing key: derived from the configured credentials, so replicas agree (a
        token from one is good on another); a random one per process when auth is off."""
        if secret:
            return hashlib.sha256(b"runbookd-csrf\0" + secret.encode()).digest()
        return secrets.token_bytes(32)

    def _sign(self, nonce: str, user: str) -> str:
        mac = hmac.new(self._key, f"{nonce}\0{user}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).decode().rstrip("=")

    def new_token(self, user: str) -> str:
        nonce = secrets.token_urlsafe(18)
        return f"{nonce}.{self._sign(nonce, user)}"

    def valid(self, token: str | None, user: str) -> bool:
        if not token or token.count(".") != 1:
            return False
        nonce, sig = token.split(".")
        return hmac.compare_digest(sig.encode(), self._sign(nonce, user).encode())

    def token_for(self, request: Request, user: str) -> tuple[str, bool]:
        """The token for this page: the cookie's if it is good, else a new one (True: set it)."""
        current = request.cookies.get(COOKIE)
        if current is not None and self.valid(current, user):
            return current, False
        return self.new_token(user), True

    @staticmethod
    def set_cookie(response: Response, request: Request, token: str) -> None:
        response.set_cookie(
            COOKIE,
            token,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path="/",
        )

    def check(self, request: Request, submitted: str | None, user: str) -> bool:
        """True when the form's token equals the cookie and is signed for ``user``."""
        cookie = request.cookies.get(COOKIE)
        if not cookie or not submitted:
            return False
        return hmac.compare_digest(cookie.encode(), submitted.encode()) and self.valid(cookie, user)
