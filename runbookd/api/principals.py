"""Who a request is: ``Access`` (the users, the shared credential, the trusted proxies) turns a
request into a ``Principal``, and ``require_role(Role.X)`` is the FastAPI dependency that
answers 401 without credentials and 403 naming the role needed.

Ways in, first match wins:

* ``X-Forwarded-User: NAME`` -- only from a peer inside ``auth.trusted_proxies`` (an SSO proxy);
  from any other peer the header is ignored, as if absent.
* ``Authorization: Bearer TOKEN`` -- a user's token, else the shared ``auth.bearer_token``.
* ``Authorization: Basic NAME:TOKEN`` -- a user and their token (the pages), else the shared
  ``auth.basic_username``/``basic_password``.

The shared credential acts as an admin named ``token``, and with nothing configured at all every
request is an admin named ``anonymous`` (the embedded default listens on loopback): both are
unnamed principals, so the ``by`` a request claims is recorded as the name, marked as claimed.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import ipaddress
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from fastapi import HTTPException, Request

from runbookd.api.auditing import refused
from runbookd.api.auth import Credentials
from runbookd.auth.audit import Redactor
from runbookd.auth.roles import Principal, Role, Via
from runbookd.auth.users import Users

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
#: The name the shared credential acts under (compatibility with the single-token setup).
SHARED_NAME = "token"
OPEN_NAME = "anonymous"
#: The CLI's User-Agent starts so; it makes ``via`` read ``cli`` (informational only).
CLI_AGENT = "runbookd-cli/"


@dataclass(frozen=True)
class Access:
    users: Users = field(default_factory=Users)
    shared: Credentials = field(default_factory=Credentials)
    trusted_proxies: Sequence[Network] = ()
    #: every other configured secret (connectors, file references): kept out of the audit log
    secrets: tuple[str, ...] = ()
    #: ``web.csrf_secret``: the key the pages' forms are signed with (runbookd.web.csrf)
    csrf_secret: str | None = None

    @property
    def redactor(self) -> Redactor:
        """Takes the configured secrets, the shared credential's included, out of free text."""
        shared = (self.shared.bearer_token, self.shared.basic_password)
        return Redactor([*self.secrets, *(s for s in shared if s)])

    @property
    def required(self) -> bool:
        """True when a request must say who it is (users or a shared credential configured)."""
        return bool(self.users) or self.shared.required

    def trusts(self, peer: str | None) -> bool:
        if peer is None or not self.trusted_proxies:
            return False
        try:
            address = ipaddress.ip_address(peer)
        except ValueError:
            return False
        return any(address in net for net in self.trusted_proxies)

    def client_address(self, request: Request) -> str | None:
        """The address a request came from, as the audit log records it: the peer, or -- when
        the peer is a trusted proxy -- the nearest hop of ``X-Forwarded-For`` that is not one
        (the hops a client wrote itself are further left, and not believed)."""
        peer = request.client.host if request.client else None
        if not self.trusts(peer):
            return peer
        hops = [h.strip() for h in request.headers.get("x-forwarded-for", "").split(",")]
        for hop in reversed([h for h in hops if h]):
            if not self.trusts(hop):
                return hop
        return peer

    def authenticate(self, request: Request) -> Principal | None:
        """The request's principal, or None: no or wrong credentials (blocking: scrypt)."""
        peer = request.client.host if request.client else None
        via = via_of(request)
        address = self.client_address(request)
        if not self.required:
            return Principal(OPEN_NAME, Role.ADMIN, via, address, named=False, kind="anonymous")
        forwarded = request.headers.get("x-forwarded-user")
        if forwarded is not None and self.trusts(peer):
            account = self.users.by_name(forwarded.strip())
            return account.principal(via, address) if account is not None else None
        header = request.headers.get("authorization")
        # The shared credential first: a constant-time compare, while a token no user has costs
        # one scrypt per user (and the webhooks send it on every request).
        if self.shared.required and header and self.shared.allows(header):
            return Principal(SHARED_NAME, Role.ADMIN, via, address, named=False, kind="token")
        scheme, _, value = (header or "").partition(" ")
        scheme, value = scheme.lower(), value.strip()
        if scheme == "bearer":
            account = self.users.by_token(value)
            if account is not None:
                return account.principal(via, address)
        elif scheme == "basic":
            name, token = _basic(value)
            account = self.users.by_basic(name, token) if name else None
            if account is not None:
                return account.principal(via, address)
        return None

    def challenge(self) -> str:
        schemes = ["Bearer"] if self.users or self.shared.bearer_token else []
        if self.users or self.shared.basic_username:
            schemes.append('Basic realm="runbookd"')
        return ", ".join(schemes)


def via_of(request: Request) -> Via:
    if request.headers.get("user-agent", "").startswith(CLI_AGENT):
        return "cli"
    path = request.url.path
    return "api" if path.startswith(("/api/", "/-/")) else "web"


def _basic(value: str) -> tuple[str, str]:
    try:
        decoded = base64.b64decode(value, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return "", ""
    name, _, token = decoded.partition(":")
    return name, token


def access_of(request: Request) -> Access:
    """The app's ``Access`` (``app.state.access``); an app built without one is open."""
    access = getattr(request.app.state, "access", None)
    return access if isinstance(access, Access) else _OPEN


_OPEN = Access()


async def principal_of(request: Request) -> Principal:
    """Who sent ``request`` (once per request: the result is kept on ``request.state``); 401
    without good credentials."""
    known = getattr(request.state, "principal", None)
    if isinstance(known, Principal):
        return known
    access = access_of(request)
    principal = await asyncio.to_thread(access.authenticate, request)
    if principal is None:
        raise HTTPException(
            status_code=401,
            detail="missing or wrong credentials",
            headers={"WWW-Authenticate": access.challenge()},
        )
    request.state.principal = principal
    return principal


def denied(principal: Principal, role: Role | None = None, team: str | None = None) -> str:
    """The 403 message: what was needed, and what the principal has."""
    if team is not None:
        return f"this needs a member of team {team!r}; {principal.name} is not"
    return f"this needs the {role} role; {principal.name} is {principal.role}"


def require_role(role: Role) -> Callable[[Request], Awaitable[Principal]]:
    """A dependency returning the request's principal when its role is ``role`` or higher:
    401 without credentials, 403 naming ``role`` otherwise."""

    async def dependency(request: Request) -> Principal:
        principal = await principal_of(request)
        if not principal.may(role):
            reason = denied(principal, role)
            await refused(request, principal, reason)  # a 403 is an audit event too
            raise HTTPException(403, reason)
        return principal

    dependency.__name__ = f"require_{role}"
    return dependency
