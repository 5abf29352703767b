"""What became of one event: the ``alert_outcome`` record ``Detection.ingest`` emits for each.

Alertmanager always delivers an alert somewhere (its root route); runbookd must be able to say,
for every alert and event it accepted, what it did with it. During one ``ingest`` the detection
and lifecycle code note each thing that happened to the event (``Fate``); ``outcome_data``
folds them into one record: the decisive outcome, the incident and runbook it concerns, and
every per-runbook result underneath.

The record is a command like the others, so it is produced by the same deterministic code on
replay (where the service discards commands, so nothing is stored twice) and stored in the same
transaction as the batch's other effects (``runbookd.service.outcomes``). It is never part of an
incident's timeline.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from runbookd.engine.events import Event

FateKind = Literal[
    "opened",
    "joined",
    "silenced",
    "suppressed",
    "pending",
    "counted",
    "held",
    "heartbeat",
    "observed",
]
OutcomeKind = Literal[
    "opened",
    "joined",
    "silenced",
    "suppressed",
    "pending",
    "counted",
    "held",
    "heartbeat",
    "observed",
    "unmatched",
]

#: Every outcome, most decisive first: the record's ``outcome`` is the first one that happened.
OUTCOMES: tuple[OutcomeKind, ...] = (
    "opened",  # opened incident X
    "joined",  # attached to the open incident X
    "silenced",  # a silence or maintenance window kept it from opening an incident (see below)
    "suppressed",  # would open runbook R's incident, but the open incident X inhibits R
    "pending",  # waits as one half of a correlation in runbook R, until a time
    "counted",  # counted towards a runbook's count window (n of count)
    "held",  # a `for:` hold started or is running, until a time
    "heartbeat",  # the heartbeat an `absent` trigger expects
    "observed",  # concerned an open incident (verification, a repeat) without changing it
    "unmatched",  # no runbook did anything with it
)


@dataclass(frozen=True)
class Fate:
    """One thing that happened to the current event in one runbook."""

    kind: FateKind
    runbook: str
    incident: str | None = None
    until: datetime | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"outcome": self.kind, "runbook": self.runbook}
        if self.incident is not None:
            out["incident"] = self.incident
        if self.until is not None:
            out["until"] = self.until.isoformat()
        out.update(self.detail)
        return out


def outcome_data(
    event: Event,
    fates: list[Fate],
    fallback: str | None,
    silenced_by: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``alert_outcome`` command's data for ``event``.

    ``fallback``: the fallback runbook that took the event because no other one did; its fates
    are the fallback's, and the outcome stays ``unmatched`` (that is what the event was: the
    fallback is only the safety net, and the unmatched metric counts it) -- unless a silence
    kept the fallback from opening an incident.

    ``silenced_by``: the silence or window muting the event whatever runbook takes it
    (``engine.silences.Mute.to_dict``). Such an event's outcome is ``silenced`` even when it
    did something else too (joined an open incident, counted towards a window): the results
    underneath say what; a person asking "why was nobody paged" reads the silence first.
    """
    results = [f.to_dict() for f in fates]
    if fallback is not None:
        for result in results:
            result["fallback"] = True
    decisive = _decisive(fates)
    outcome: OutcomeKind = (
        "unmatched" if fallback is not None or decisive is None else decisive.kind
    )
    if silenced_by is None and decisive is not None and decisive.kind == "silenced":
        silenced_by = dict(decisive.detail)
    if silenced_by is not None:
        outcome = "silenced"
        if not any(r["outcome"] == "silenced" for r in results):
            # The store keeps the results: the silence is named there too (describe reads it).
            results.insert(0, {"outcome": "silenced", **silenced_by})
    return {
        "event": event.name,
        "event_kind": event.kind,
        "status": event.status,
        "identity": event.identity,
        "fingerprint": event.fingerprint,
        "labels": dict(event.labels),
        "outcome": outcome,
        "incident": decisive.incident if decisive is not None else None,
        "runbook": decisive.runbook if decisive is not None else None,
        "results": results,
        **({"silenced_by": silenced_by} if silenced_by is not None else {}),
    }


def _decisive(fates: list[Fate]) -> Fate | None:
    best: Fate | None = None
    for fate in fates:
        if best is None or OUTCOMES.index(fate.kind) < OUTCOMES.index(best.kind):
            best = fate
    return best


def describe(data: dict[str, Any]) -> str:
    """One line for people: what the event did."""
    outcome = data.get("outcome")
    incident, runbook = data.get("incident"), data.get("runbook")
    # the result that decided the outcome (the fallback's, for an unmatched one)
    results: list[dict[str, Any]] = data.get("results") or []
    first: dict[str, Any] = next((r for r in results if r.get("outcome") == outcome), {})
    if not first and results:
        first = results[0]
    until = first.get("until")
    text = {
        "opened": f"opened {incident} ({runbook})",
        "silenced": f"silenced by {_muted_by(first)}",
        "joined": f"joined {incident} ({runbook})",
        "suppressed": (
            f"{runbook} resolved while suppressed by {incident}"
            if first.get("resolved")
            else f"{runbook} suppressed by {incident} ({first.get('by_runbook')})"
        ),
        "pending": f"waits as half of a correlation in {runbook} until {until}",
        "counted": f"counted towards {runbook} ({first.get('count')} of {first.get('of')})",
        "held": f"held by {runbook}'s for: until {until}",
        "heartbeat": f"heartbeat of {runbook}",
        "observed": f"seen by {incident} ({runbook})",
        "unmatched": "matched no runbook",
    }.get(str(outcome), str(outcome))
    if outcome == "silenced" and incident:
        text += f"; it concerns {incident} ({runbook})"
    if outcome == "unmatched" and incident:
        text += f"; the fallback {runbook} {first.get('outcome')} {incident}"
    return text


def _muted_by(by: dict[str, Any]) -> str:
    if "silence" in by:
        return f"silence {by['silence']}"
    return f"maintenance window {by.get('window')}"
