"""What the engine decides, as records: the service persists and executes them; the toolchain
runs them against a virtual clock and fake connectors. The list of them is the timeline.

Kinds that ask for work (``notify``, ``run_step``, ``request_approval``, timers) carry a
``call_id`` that is also the idempotency key: (incident, step or level, attempt).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from runbookd.engine.outcomes import describe

CommandKind = Literal[
    "rule_fired",  # a compiled rule fired (trigger, raise, recovery)
    "open_incident",
    "attach",  # an event joined an open incident
    "raise",  # severity/scope/complexity went up
    "notify",  # escalation level or status update: a connector call
    "acknowledge",
    "request_approval",
    "decide_approval",
    "run_step",  # a connector call for a step, a rollback, a verify check or an impact figure
    "call_done",  # one connector call (notify or run_step) finished: outcome, error, duration
    "step_outcome",
    "escalate",
    "start_timer",
    "cancel_timer",
    "resolve",
    "close",  # a person closed a resolved incident (post-mortem done)
    "reopen",
    "impact",
    "note",
    "suppress",  # an open incident inhibited another runbook's firing (engine.inhibition)
    "alert_outcome",  # what became of one ingested event (engine.outcomes); never on a timeline
]

#: Kinds the executor must act on.
WORK_KINDS = frozenset({"notify", "run_step"})


@dataclass(frozen=True)
class Command:
    kind: CommandKind
    at: datetime
    incident: str | None = None
    runbook: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"at": self.at.isoformat(), "kind": self.kind}
        if self.incident:
            out["incident"] = self.incident
        if self.runbook:
            out["runbook"] = self.runbook
        out.update(self.data)
        return out

    def summary(self) -> str:
        """One readable line for timelines and diffs."""
        who = f" [{self.incident}]" if self.incident else ""
        return f"{self.at.isoformat()} {self.kind}{who} {self.detail()}"

    def detail(self) -> str:
        """What happened, without the time and kind (for tables that show those already)."""
        d = self.data
        return {
            "rule_fired": lambda: f"{d.get('role')} {d.get('rule')} on {d.get('event')!r}",
            "open_incident": lambda: (
                f"{d.get('title')!r} severity={d.get('severity')} key={d.get('key')!r}"
            ),
            "attach": lambda: f"{d.get('event')!r} ({d.get('status')})",
            "raise": lambda: f"{d.get('changes')} ({d.get('reason') or 'raise rule'})",
            "notify": lambda: (
                f"level={d.get('level')} via {d.get('connector')} ({d.get('reason')})"
            ),
            "acknowledge": lambda: f"by {who(d)}",
            "request_approval": lambda: f"step={d.get('step')} until {d.get('deadline')}",
            "decide_approval": lambda: f"step={d.get('step')} {d.get('decision')} by {who(d)}",
            "run_step": lambda: (
                f"{d.get('role')} {d.get('step')} via {d.get('connector')} attempt {d.get('attempt')}"
            ),
            "call_done": lambda: (
                f"{d.get('role')} {d.get('step')} via {d.get('connector')}"
                # notifications have no attempts of their own: no "attempt None" on them
                + (f" attempt {d['attempt']}" if d.get("attempt") is not None else "")
                + f": {d.get('outcome')}"
                + (f" in {d['seconds']:.3f}s" if d.get("seconds") is not None else "")
                + (f" ({d['error']})" if d.get("error") else "")
            ),
            "step_outcome": lambda: (
                f"{d.get('step')} -> {d.get('outcome')}"
                + (f": {d['error']}" if d.get("error") else "")
            ),
            "escalate": lambda: f"to level={d.get('level')} ({d.get('reason')})",
            "start_timer": lambda: f"{d.get('name')} due {d.get('due')}",
            "cancel_timer": lambda: f"{d.get('name')}",
            "resolve": lambda: f"{d.get('reason')}" + (f" by {who(d)}" if d.get("by") else ""),
            "close": lambda: f"by {who(d)}",
            "reopen": lambda: f"by {who(d)}: {d.get('reason')}",
            "impact": lambda: f"{d.get('id')} = {d.get('value')!r}",
            "note": lambda: f"{d.get('text')}" + (f" ({who(d)})" if d.get("actor") else ""),
            "suppress": lambda: (
                f"suppressed {d.get('suppressed_runbook')}'s {d.get('event')!r}"
                f" ({d.get('trigger')}, key {d.get('key')!r})"
            ),
            "alert_outcome": lambda: f"{d.get('event')!r} ({d.get('status')}): {describe(dict(d))}",
        }[self.kind]()


def who(data: Mapping[str, Any]) -> str:
    """Who did a person's act: ``ana (responder) via slack from 10.0.0.5`` when the service
    recorded the actor (``runbookd.service.actions``), else the name alone."""
    actor = data.get("actor")
    if not isinstance(actor, Mapping) or not actor.get("name"):
        return str(data.get("by"))
    out = str(actor["name"])
    if actor.get("role"):
        out += f" ({actor['role']})"
    if actor.get("via"):
        out += f" via {actor['via']}"
    if actor.get("address"):
        out += f" from {actor['address']}"
    return out
