"""Who is on a page and what they may do there: the login every page asks for when users or a
shared credential are configured, and the gates on the pages' forms.

A form that needs a role the principal lacks is shown with a disabled button and a line naming
the role (``Gates`` in the templates); a POST sent anyway gets the 403 page naming the role and
is audited as denied, exactly as the API's ``require_role`` does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import HTTPException, Request

from runbookd.api.approvals import approval_denied
from runbookd.api.auditing import refused
from runbookd.api.principals import OPEN_NAME, access_of, denied, principal_of
from runbookd.auth.roles import Principal, Role

#: What a browser needs to ask for a user name and password (a bare ``Bearer`` challenge, or one
#: listing both, is not answered with a login dialog by every browser).
BASIC_CHALLENGE = 'Basic realm="runbookd"'
LOGIN_HINT = (
    "log in with your user name and token (HTTP basic auth), or through the configured SSO proxy"
)


async def page_login(request: Request) -> Principal:
    """The dependency of every page when access is required: the principal, or a 401 asking
    the browser for basic auth. A bearer token or a trusted proxy's header works too."""
    try:
        return await principal_of(request)
    except HTTPException as exc:
        if exc.status_code != 401:
            raise
        raise HTTPException(
            401, LOGIN_HINT, headers={"WWW-Authenticate": BASIC_CHALLENGE}
        ) from None


def current(request: Request) -> Principal:
    """Who is on the page: the logged-in principal, or -- nothing configured, no login asked --
    the unnamed open principal (an admin, as on the API), who says their name in the forms."""
    known = getattr(request.state, "principal", None)
    if isinstance(known, Principal):
        return known
    address = access_of(request).client_address(request)
    return Principal(OPEN_NAME, Role.ADMIN, "web", address, named=False, kind="anonymous")


def csrf_user(principal: Principal) -> str:
    """What a page's CSRF token is bound to: a user's name, or the kind of unnamed principal."""
    return principal.name if principal.named else principal.kind


@dataclass(frozen=True)
class Gates:
    """The templates' view of what the principal may do (``gates.may("responder")``)."""

    principal: Principal

    @property
    def named(self) -> bool:
        """True for a known user: their name is used, no "Your name" field is shown."""
        return self.principal.named

    def may(self, role: str) -> bool:
        return self.principal.may(Role.parse(role))

    def may_decide(self, approval: Mapping[str, Any]) -> bool:
        return approval_denied(approval, self.principal) is None

    def decide_needs(self, approval: Mapping[str, Any]) -> str:
        """The short line shown instead of working buttons, e.g. "needs role approver in team
        payments"."""
        role, team = approval.get("role") or "approver", approval.get("team")
        return f"needs role {role}" + (f" in team {team}" if team else "")


async def require(request: Request, principal: Principal, role: Role) -> None:
    """403 (audited as denied) unless ``principal`` has ``role``."""
    if not principal.may(role):
        await deny(request, principal, denied(principal, role))


async def require_decider(
    request: Request, principal: Principal, approval: Mapping[str, Any] | None
) -> None:
    """403 (audited as denied) unless ``principal`` may decide ``approval`` (its role and
    team); an approval that is not waiting is left to ``decide_approval`` (404)."""
    if approval is None:
        await require(request, principal, Role.APPROVER)
        return
    reason = approval_denied(approval, principal)
    if reason is not None:
        await deny(request, principal, reason)


async def deny(request: Request, principal: Principal, reason: str) -> None:
    await refused(request, principal, reason)
    raise HTTPException(403, reason)
