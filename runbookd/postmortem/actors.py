"""Who acknowledged and who decided each approval, with role and through what, for the summary.

Read from the timeline: the engine stamps the person's own act (``acknowledge``,
``decide_approval``) with the ``actor`` the API journaled (``runbookd.service.actions``) --
the same principal the audit log records. Incidents acted on before principals existed carry
none, and keep the bare name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from runbookd.postmortem.model import Summary


class TimelineEntry(Protocol):
    @property
    def kind(self) -> str: ...

    @property
    def data(self) -> Mapping[str, Any]: ...


def actor_text(actor: Mapping[str, Any]) -> str:
    """``rob (responder) via slack``: name, then role and channel when they are known."""
    text = str(actor.get("name", ""))
    if actor.get("role"):
        text += f" ({actor['role']})"
    if actor.get("via"):
        text += f" via {actor['via']}"
    return text


def _actor(entry: TimelineEntry) -> Mapping[str, Any] | None:
    actor = entry.data.get("actor")
    return actor if isinstance(actor, Mapping) and actor.get("name") else None


def name_actors(summary: Summary, timeline: Sequence[TimelineEntry]) -> None:
    """Fill in role and via of who acknowledged and of each decided approval's decider.

    The acknowledgement named is the last one by the person the incident says acknowledged
    it (a reopened incident is acknowledged again); an approval's is its step's decision."""
    t = summary.timings
    for e in timeline:
        actor = _actor(e)
        if actor is None:
            continue
        if e.kind == "acknowledge" and t.acknowledged_by in (None, actor["name"]):
            t.acknowledged_role, t.acknowledged_via = actor.get("role"), actor.get("via")
            t.acknowledged_as = actor_text(actor)
        elif e.kind == "decide_approval":
            for approval in summary.approvals:
                if approval.step == str(e.data.get("step")) and approval.by == actor["name"]:
                    approval.role, approval.via = actor.get("role"), actor.get("via")
                    approval.by_as = actor_text(actor)
