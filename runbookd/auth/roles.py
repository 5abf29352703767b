"""``Role`` (ordered: viewer < responder < approver < admin) and ``Principal``, who did something.

A principal is what the journal records with every human or external action, so it is plain
data with a stable JSON form (``to_json`` / ``from_json``); journal entries written before users
existed carry none and decode to ``None``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal, get_args

#: Through what an action came. ``cli`` is what the runbookd CLI says it is (its User-Agent):
#: informational, like the address, never a credential.
Via = Literal["web", "api", "cli", "slack", "pagerduty", "alertmanager"]
VIAS: tuple[str, ...] = get_args(Via)
#: What kind of principal: a configured person, a service account, the shared credential, or
#: nobody (no auth configured). The audit log records it beside the name.
PrincipalKind = Literal["user", "service", "token", "anonymous"]
KINDS: tuple[str, ...] = get_args(PrincipalKind)


class Role(enum.IntEnum):
    """What a principal may do; each role may do everything the roles below it may."""

    VIEWER = 1  # read incidents, timelines, approvals, schedules, the audit log
    RESPONDER = 2  # ack, note, resolve, close, reopen
    APPROVER = 3  # also decide approval gates
    ADMIN = 4  # also reload, on-call overrides, silences

    def __str__(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Role:
        """``"approver"`` -> ``Role.APPROVER``; ValueError naming the known roles."""
        try:
            return cls[text.upper()]
        except KeyError:
            known = ", ".join(str(r) for r in cls)
            raise ValueError(f"unknown role {text!r}; known roles: {known}") from None


ROLE_NAMES: tuple[str, ...] = tuple(str(r) for r in Role)


@dataclass(frozen=True)
class Principal:
    """Who acts, with which role, through what, from which address.

    ``named`` is False for the shared credentials (the single ``auth.bearer_token``, or no auth
    at all): then the server does not know the person, and the name a request claims (``by``)
    is the best it has -- ``claiming`` puts it in, marked as claimed.
    """

    name: str
    role: Role
    via: Via
    address: str | None = None
    teams: tuple[str, ...] = field(default=())
    named: bool = True
    kind: PrincipalKind = "user"

    def may(self, role: Role) -> bool:
        return self.role >= role

    def in_team(self, team: str) -> bool:
        return team in self.teams

    def claiming(self, by: str | None) -> Principal:
        """The principal to record for an action whose body says ``by``: a known user stays
        who they are (the server's identity wins); a shared credential takes the claim."""
        if self.named or not by:
            return self
        return replace(self, name=by)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "role": str(self.role), "via": self.via}
        if self.address:
            out["address"] = self.address
        if self.teams:
            out["teams"] = list(self.teams)
        if not self.named:
            out["claimed"] = True
        if self.kind != "user":
            out["kind"] = self.kind
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Principal | None:
        """The principal a journal entry carries, or None for entries older than users."""
        if not data:
            return None
        via = str(data.get("via", "api"))
        kind = str(data.get("kind", "user"))
        return cls(
            name=str(data["name"]),
            role=Role.parse(str(data.get("role", "admin"))),
            via=via if via in VIAS else "api",  # type: ignore[arg-type]  # checked just above
            address=data.get("address"),
            teams=tuple(data.get("teams", ())),
            named=not data.get("claimed", False),
            kind=kind if kind in KINDS else "user",  # type: ignore[arg-type]  # checked
        )


def decision_refused(principal: Principal, role: str | None, team: str | None) -> str | None:
    """Why ``principal`` may not decide an approval gate that needs ``role`` (default approver)
    and, when given, membership of ``team`` -- or None when they may. Admins always may (the
    shared credential acts as one)."""
    needed = Role.parse(role or "approver")
    if principal.may(Role.ADMIN) or (
        principal.may(needed) and (team is None or principal.in_team(team))
    ):
        return None
    needs = f"this needs role {needed}" + (f" in team {team}" if team else "")
    teams = ", ".join(principal.teams) or "no team"
    return f"{needs}; {principal.name} is {principal.role}" + (f" in {teams}" if team else "")
