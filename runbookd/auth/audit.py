"""The audit record: who did what to which thing, through what, from where, and how it went.

One record per human or external action (ack, resolve, close, reopen, note, approve, deny,
reload, override, silence, follow-up edit), refused ones included: a 403 is what a security
reviewer looks for first. A record is plain data; ``runbookd.service.audit`` stores it -- with the
journal entry of the action it describes, in the same transaction, so an action never exists
without its record.

Nothing secret may reach a record: ``Redactor`` takes out every configured secret value from
the free text (a note, a reason) before it is stored anywhere, and the detail is kept short.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal, get_args

from runbookd.auth.roles import Principal

#: pending: journaled, the engine has not applied it yet; applied; refused: the engine said no
#: (409, e.g. already resolved); denied: the principal's role or team was too low (403);
#: failed: it could not be done (a reload with invalid runbooks).
Outcome = Literal["pending", "applied", "refused", "denied", "failed"]
OUTCOMES: tuple[str, ...] = get_args(Outcome)
TargetKind = Literal["incident", "approval", "schedule", "silence", "runbooks", "follow_up"]
TARGET_KINDS: tuple[str, ...] = get_args(TargetKind)

#: The longest detail a record keeps: a summary for the log, not a copy of the note.
DETAIL_MAX = 200
REDACTED = "[redacted]"
#: Shorter values are not taken out of text: "on" or "1" as a password would shred every note.
SECRET_MIN = 6


@dataclass(frozen=True)
class AuditRecord:
    action: str
    target_kind: str
    target: str
    actor: str
    kind: str
    via: str
    role: str | None = None
    address: str | None = None
    outcome: Outcome = "pending"
    #: why it was refused, denied or failed
    reason: str | None = None
    detail: str = ""
    #: the incident the action concerns, when there is one (an approval's incident too)
    incident: str | None = None

    @classmethod
    def of(
        cls,
        principal: Principal | None,
        action: str,
        target_kind: TargetKind,
        target: str,
        *,
        by: str | None = None,
        via: str = "web",
        **fields: Any,
    ) -> AuditRecord:
        """The record of ``principal`` doing ``action``; without a principal (an action
        journaled by a caller that knows none) the name it claims, as an anonymous actor."""
        if principal is None:
            return cls(action, target_kind, target, by or "anonymous", "anonymous", via, **fields)
        who = principal.claiming(by)
        return cls(
            action,
            target_kind,
            target,
            who.name,
            who.kind,
            who.via,
            role=str(who.role),
            address=who.address,
            **fields,
        )

    def settled(self, outcome: Outcome, reason: str | None = None) -> AuditRecord:
        return replace(self, outcome=outcome, reason=reason)

    def row(self, at: datetime, journal_seq: int | None = None) -> dict[str, Any]:
        """The record as a row of the ``audit`` table."""
        return {
            "at": at,
            "actor": self.actor[:256],
            "role": self.role,
            "kind": self.kind,
            "via": self.via,
            "address": (self.address or None) and self.address[:64],
            "action": self.action,
            "target_kind": self.target_kind,
            "target": self.target[:256],
            "incident_id": self.incident,
            "outcome": self.outcome,
            "reason": self.reason and self.reason[:500],
            "detail": short(self.detail),
            "journal_seq": journal_seq,
        }


def short(text: str, limit: int = DETAIL_MAX) -> str:
    """One line of at most ``limit`` characters."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


class Redactor:
    """Takes every configured secret out of free text (longest first, so a secret that
    contains another is taken out whole)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        unique = {s for s in secrets if len(s) >= SECRET_MIN}
        self._secrets = sorted(unique, key=len, reverse=True)

    def __bool__(self) -> bool:
        return bool(self._secrets)

    def clean(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text

    def clean_optional(self, text: str | None) -> str | None:
        return None if text is None else self.clean(text)
