"""Silences and maintenance windows: what mutes an alert, and until when -- ``Mutes``.

A **silence** is made by a person (API, CLI, page) for a while: Alertmanager-style label
matchers, ``starts_at``, ``ends_at``, who and why. It is a journal entry of kind ``silence``
(``op: add`` or ``op: expire``), so every replica and every replay of the journal agree on it.
A **maintenance window** comes from config: named recurring ``time_intervals`` (Alertmanager's
syntax, ``engine.timeintervals``) and the matchers and runbooks it mutes; the windows travel
with the runbook library's journal entry for the same reason.

Both answer one question, ``Mutes.find(labels, now, runbook)``: is something muting an alert
with these labels, for this runbook, at this instant of the engine's clock -- and until when.
The labels include ``alertname`` (the event's name), as Alertmanager's do.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

from runbookd.engine.matchers import Matcher, MatcherError, matches_all, parse_matchers
from runbookd.engine.timeintervals import Interval

State = Literal["pending", "active", "expired"]
#: The journal entry kind of silence operations.
KIND = "silence"


class SilenceError(ValueError):
    """A silence operation that cannot be applied; ``field`` names the field at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Silence:
    id: str
    matchers: tuple[Matcher, ...]
    starts_at: datetime
    ends_at: datetime
    created_by: str
    comment: str
    created_at: datetime
    #: who made it, as the API recorded them (``Principal.to_json``), for the audit trail
    principal: Mapping[str, Any] | None = None
    expired_at: datetime | None = None
    expired_by: str | None = None

    @property
    def end(self) -> datetime:
        """When it stops muting: its ``ends_at``, or earlier when it was expired by hand."""
        if self.expired_at is not None and self.expired_at < self.ends_at:
            return self.expired_at
        return self.ends_at

    def state(self, now: datetime) -> State:
        if now >= self.end:
            return "expired"
        return "pending" if now < self.starts_at else "active"

    def to_dict(self, now: datetime) -> dict[str, Any]:
        """The API's and the page's form, Alertmanager's field names."""
        return {
            "id": self.id,
            "matchers": [str(m) for m in self.matchers],
            "startsAt": self.starts_at.isoformat(),
            "endsAt": self.end.isoformat(),
            "createdBy": self.created_by,
            "comment": self.comment,
            "createdAt": self.created_at.isoformat(),
            "status": {"state": self.state(now)},
            **({"expiredBy": self.expired_by} if self.expired_by else {}),
        }


@dataclass(frozen=True)
class Window:
    """A maintenance window from config: muted while any of its intervals holds."""

    name: str
    intervals: tuple[Interval, ...]
    matchers: tuple[Matcher, ...] = ()
    #: the runbooks it mutes; empty: every runbook
    runbooks: tuple[str, ...] = ()
    comment: str = ""

    def applies(self, runbook: str | None) -> bool:
        """``runbook`` None asks for the windows that mute alerts whatever runbook takes them."""
        return (
            not self.runbooks if runbook is None else not self.runbooks or runbook in self.runbooks
        )


@dataclass(frozen=True)
class Mute:
    """What muted something and until when (the engine looks again then)."""

    kind: Literal["silence", "window"]
    name: str
    until: datetime
    comment: str = ""

    def describe(self) -> str:
        what = (
            f"silence {self.name}" if self.kind == "silence" else f"maintenance window {self.name}"
        )
        return f"{what} ({self.comment})" if self.comment else what

    def to_dict(self) -> dict[str, Any]:
        return {self.kind: self.name, "until": self.until.isoformat(), "comment": self.comment}


def alert_labels(name: str, labels: Mapping[str, str]) -> dict[str, str]:
    """The labels silences match: the alert's own, with ``alertname`` its name if it has none."""
    return {"alertname": name, **labels}


@dataclass
class Mutes:
    """The silences (by id, in the order made) and the configured windows."""

    silences: dict[str, Silence] = field(default_factory=dict)
    windows: tuple[Window, ...] = ()

    def find(self, labels: Mapping[str, str], now: datetime, runbook: str | None) -> Mute | None:
        """The first silence, then window, muting ``labels`` for ``runbook`` at ``now``."""
        for silence in self.silences.values():
            if silence.state(now) == "active" and matches_all(list(silence.matchers), labels):
                return Mute("silence", silence.id, silence.end, silence.comment)
        for window in self.windows:
            if not window.applies(runbook) or not matches_all(list(window.matchers), labels):
                continue
            inside = [i for i in window.intervals if i.contains(now)]
            if inside:
                until = max(i.run_end(now) for i in inside)
                return Mute("window", window.name, until, window.comment)
        return None

    def active(self, now: datetime) -> int:
        return sum(1 for s in self.silences.values() if s.state(now) == "active")

    def listing(self, now: datetime, state: State | None = None) -> list[dict[str, Any]]:
        """Newest first, as ``amtool silence query`` shows them."""
        found = [s for s in self.silences.values() if state is None or s.state(now) == state]
        return [s.to_dict(now) for s in sorted(found, key=lambda s: s.created_at, reverse=True)]

    def apply(self, payload: Mapping[str, Any], at: datetime) -> Silence:
        """One journal entry: ``add`` a silence or ``expire`` one; SilenceError when it cannot.

        Idempotent: an ``add`` whose id is known changes nothing (the service's listing may see
        an entry both from its start-up scan and from the engine thread).
        """
        op, sid = payload.get("op"), str(payload.get("id") or "")
        if op == "add":
            known = self.silences.get(sid)
            if known is not None:
                return known
            silence = silence_from_payload(payload, at)
            self.silences[sid] = silence
            return silence
        if op == "expire":
            found = self.silences.get(sid)
            if found is None:
                raise SilenceError("id", f"no silence {sid!r}")
            if found.state(at) == "expired":
                if found.expired_at is not None and payload.get("by") == found.expired_by:
                    return found  # the same expiry seen twice
                raise SilenceError("id", f"silence {sid} has already expired")
            expired = replace(found, expired_at=at, expired_by=payload.get("by"))
            self.silences[sid] = expired
            return expired
        raise SilenceError("op", f"unknown silence operation {op!r}")


def silence_from_payload(payload: Mapping[str, Any], at: datetime) -> Silence:
    """A silence from its journal entry (the API validated it with ``validate`` before)."""
    matchers = validate_matchers(payload.get("matchers"))
    return Silence(
        id=str(payload["id"]),
        matchers=matchers,
        starts_at=datetime.fromisoformat(str(payload["startsAt"])),
        ends_at=datetime.fromisoformat(str(payload["endsAt"])),
        created_by=str(payload.get("createdBy") or ""),
        comment=str(payload.get("comment") or ""),
        created_at=at,
        principal=payload.get("principal"),
    )


def validate_matchers(raw: object, where: str = "matchers") -> tuple[Matcher, ...]:
    """Matchers given as strings (``alertname="HostDown"``, ``instance=~"db.*"``); a
    SilenceError naming ``matchers[i]`` for a bad one, or when they would match every alert."""
    if not isinstance(raw, Sequence) or isinstance(raw, str) or not raw:
        raise SilenceError(where, "at least one matcher is needed")
    out: list[Matcher] = []
    for i, item in enumerate(raw):
        if not isinstance(item, str):
            raise SilenceError(f"{where}[{i}]", 'must be a string such as alertname="HostDown"')
        try:
            parsed = parse_matchers(item)
        except MatcherError as exc:
            raise SilenceError(f"{where}[{i}]", str(exc)) from None
        if not parsed:
            raise SilenceError(f"{where}[{i}]", "is empty")
        out.extend(parsed)
    # As Alertmanager: a silence must not mute everything, so one matcher at least must fail
    # to match the empty label set (alertname="" or job=~".*" alone would silence all alerts).
    if all(m.matches({}) for m in out):
        raise SilenceError(
            where, "every matcher matches the empty string: it would mute all alerts"
        )
    return tuple(out)
