"""The runbook language, version 1, as strict pydantic models (unknown keys are errors).

docs/runbook-language.md is the reference for every field; the descriptions here feed the JSON
Schema that editors use (``runbookd schema``). Cross-field checks that need the whole runbook
(references, reachability, templates, connector parameters) live in ``engine.checks``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from runbookd.engine.lang.conditions import Condition
from runbookd.engine.lang.durations import Duration
from runbookd.engine.lang.severity import Complexity, Nature, Scope, Severity, derive_severity

ID_PATTERN = r"^[a-z0-9][a-z0-9_.-]*$"
LANGUAGE_VERSION = 1


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


# --- classification ---------------------------------------------------------------------------


class Classification(Strict):
    """Plan chapter 1: nature, scope and complexity; severity is derived unless overridden."""

    nature: Nature
    scope: Scope
    complexity: Complexity
    severity: Severity | None = Field(
        None, description="Override the severity the matrix derives from the three fields."
    )

    @property
    def effective_severity(self) -> Severity:
        if self.severity is not None:
            return self.severity
        return derive_severity(self.nature, self.scope, self.complexity)


# --- detection --------------------------------------------------------------------------------


class Trigger(Strict):
    """One way the failure is detected. Exactly one of match, correlate, absent."""

    id: str | None = Field(None, pattern=ID_PATTERN, description="Name used in timelines.")
    match: Condition | None = Field(None, description="A single event that matches.")
    count: int | None = Field(
        None, ge=2, description="With match: this many matching events within `within`."
    )
    for_: Duration | None = Field(
        None, alias="for", description="With match: the condition keeps holding this long."
    )
    correlate: list[Condition] | None = Field(
        None,
        min_length=2,
        max_length=2,
        description="Two different signals for the same incident key within `within`.",
    )
    absent: Condition | None = Field(
        None, description="No event matching this arrives within `within` (heartbeats)."
    )
    within: Duration | None = Field(None, description="Window for count, correlate and absent.")

    @model_validator(mode="after")
    def _shape(self) -> Trigger:
        kinds = [k for k in ("match", "correlate", "absent") if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError(
                "a trigger needs exactly one of match, correlate, absent"
                + (f" (found {', '.join(kinds)})" if kinds else "")
            )
        kind = kinds[0]
        if kind != "match" and (self.count is not None or self.for_ is not None):
            raise ValueError("count and for apply only to match triggers")
        if self.count is not None and self.for_ is not None:
            raise ValueError("a trigger takes count or for, not both")
        needs_window = kind in ("correlate", "absent") or self.count is not None
        if needs_window and self.within is None:
            what = "count" if kind == "match" else kind
            raise ValueError(f"{what} needs a window: add within: (e.g. within: 5m)")
        if not needs_window and self.within is not None:
            raise ValueError("within applies to count, correlate and absent triggers only")
        return self

    @property
    def kind(self) -> str:
        if self.correlate is not None:
            return "correlate"
        if self.absent is not None:
            return "absent"
        if self.count is not None:
            return "count"
        if self.for_ is not None:
            return "for"
        return "match"


class Raise(Strict):
    """While an incident is open, an event matching `when` raises its classification."""

    when: Condition
    severity: Severity | None = None
    scope: Scope | None = None
    complexity: Complexity | None = None
    reason: str | None = Field(None, description="Shown in the timeline.")

    @model_validator(mode="after")
    def _changes_something(self) -> Raise:
        if self.severity is None and self.scope is None and self.complexity is None:
            raise ValueError("a raise rule needs at least one of severity, scope, complexity")
        return self


class Inhibition(Strict):
    """While an incident of another runbook is open, this runbook opens nothing (plan 10.x
    failures cause chapter 2-4 ones); like Alertmanager's ``inhibit_rules``."""

    runbook: str = Field(pattern=ID_PATTERN, description="The id of the inhibiting runbook.")
    equal: list[str] = Field(
        default_factory=list,
        description=(
            "labels.* paths whose values must be the same in the alert and the inhibiting"
            " incident (absent on both counts as the same); empty: any open incident inhibits."
        ),
    )


class Detection(Strict):
    group_by: list[str] = Field(
        default_factory=list,
        description="Event fields whose values make two alerts the same incident.",
    )
    triggers: list[Trigger] = Field(min_length=1)
    raise_: list[Raise] = Field(default_factory=list, alias="raise")
    fallback: bool = Field(
        False,
        description=(
            "Only events no other runbook did anything with reach this runbook (Alertmanager's"
            " root route). The service loads it only when config.yaml's fallback_runbook names it."
        ),
    )
    inhibited_by: list[Inhibition] = Field(
        default_factory=list,
        description=(
            "Runbooks whose open incidents suppress this one's: the alerts are recorded as"
            " suppressed and open the incident when the inhibitor resolves, if still firing."
        ),
    )


# --- connectors calls -------------------------------------------------------------------------


class Call(Strict):
    """A connector call with templated parameters."""

    connector: str = Field(description="A connector name: http, slack, pagerduty, ...")
    params: dict[str, Any] = Field(default_factory=dict, description="Jinja2-templated values.")


# --- escalation -------------------------------------------------------------------------------


class Level(Call):
    """One escalation level: who is told, through which connector, and how long they have."""

    id: str = Field(pattern=ID_PATTERN)
    who: str | None = Field(None, description="The person, rota or team, for people to read.")
    schedule: str | None = Field(
        None,
        pattern=ID_PATTERN,
        description="An on-call schedule: whoever is on call when the level is notified is "
        "resolved, and their contact is `oncall` in the params' templates.",
    )
    ack_within: Duration | None = Field(
        None, description="Escalate to the next level if nobody acknowledges in time."
    )


class Escalation(Strict):
    levels: list[Level] = Field(min_length=1)
    repeat: int = Field(0, ge=0, le=10, description="Run through all levels again this many times.")
    status_every: Duration | None = Field(
        None, description="Post a status update to the current level this often while open."
    )


# --- handling ---------------------------------------------------------------------------------


class Rate(Strict):
    max: int = Field(ge=1)
    per: Duration


class Limits(Strict):
    """Safety rails (plan 1.2, safety first)."""

    rate: Rate | None = Field(None, description="At most `max` runs per target within `per`.")
    cooldown: Duration | None = Field(None, description="Quiet time after a run, per target.")
    max_concurrent: int | None = Field(None, ge=1, description="Runs in flight at once.")
    max_targets: Rate | None = Field(
        None,
        description="Blast radius: at most `max` distinct targets within `per` (all incidents).",
    )


class Approval(Strict):
    required: bool = Field(False, description="Always wait for a person's approval.")
    min_severity: Severity | None = Field(
        None, description="Wait for approval when the incident is at least this severe."
    )
    timeout: Duration = Field(default="15m", validate_default=True)
    on_timeout: Literal["escalate", "abort", "skip"] = "escalate"
    role: Literal["approver", "admin"] = Field(
        "approver", description="The role a person needs to decide (admins always may)."
    )
    team: str | None = Field(
        None,
        min_length=1,
        description="Only members of this team (users[].teams) may decide; admins bypass it.",
    )

    @model_validator(mode="after")
    def _applies(self) -> Approval:
        if not self.required and self.min_severity is None:
            raise ValueError("approval needs required: true or min_severity")
        return self


class Verify(Strict):
    """After a step: an event that shows recovery, or a check whose result must satisfy expect."""

    within: Duration
    event: Condition | None = Field(None, description="Recovery event to wait for.")
    check: Call | None = Field(None, description="Connector call made when `within` has passed.")
    expect: Condition | None = Field(None, description="Condition on the check's result.")

    @model_validator(mode="after")
    def _shape(self) -> Verify:
        if (self.event is None) == (self.check is None):
            raise ValueError("verify needs exactly one of event, check")
        if self.check is not None and self.expect is None:
            raise ValueError("verify with check needs expect: (a condition on result fields)")
        if self.event is not None and self.expect is not None:
            raise ValueError("expect applies to check, not to event")
        return self


class OnFailure(Strict):
    retries: int = Field(0, ge=0, le=10)
    backoff: Duration = Field(default="30s", validate_default=True)
    then: Literal["escalate", "continue", "abort"] = "abort"


class Step(Call):
    id: str = Field(pattern=ID_PATTERN)
    title: str | None = None
    target: str | None = Field(
        None, description="Templated name of what the step acts on, for limits and timelines."
    )
    when: Condition | None = Field(None, description="Run only if this holds (else skipped).")
    approval: Approval | None = None
    timeout: Duration = Field(default="30s", validate_default=True)
    verify: Verify | None = None
    rollback: Call | None = None
    on_failure: OnFailure = Field(default_factory=OnFailure)
    limits: Limits | None = None


class Handling(Strict):
    dry_run: bool = Field(False, description="Connectors record what they would do; nothing acts.")
    limits: Limits | None = Field(None, description="Rails for the whole runbook.")
    steps: list[Step] = Field(default_factory=list)


# --- resolution and post-mortem ---------------------------------------------------------------


class Resolution(Strict):
    on_alerts_resolved: bool = Field(
        True, description="Resolve when every alert attached to the incident has resolved."
    )
    when: Condition | None = Field(None, description="Resolve when an event matches this.")
    quiet_for: Duration | None = Field(
        None, description="Wait this long after recovery before resolving (flap guard)."
    )


SectionName = Literal["summary", "timings", "timeline", "impact", "follow_ups", "lessons"]


DEFAULT_SECTIONS: tuple[SectionName, ...] = (
    "summary",
    "timings",
    "timeline",
    "impact",
    "follow_ups",
    "lessons",
)


class Impact(Call):
    id: str = Field(pattern=ID_PATTERN)
    title: str
    unit: str | None = None
    field: str = Field("value", description="Path in the connector's result holding the figure.")


class Postmortem(Strict):
    sections: list[SectionName] = Field(default_factory=lambda: list(DEFAULT_SECTIONS))
    impact: list[Impact] = Field(default_factory=list)
    template: str | None = Field(None, description="Jinja2 template file, relative to the runbook.")


# --- the runbook ------------------------------------------------------------------------------


class Runbook(Strict):
    """One chapter of the emergency plan: detection, escalation, handling, post-mortem."""

    runbook: Literal[1] = Field(1, description="Language version.")
    id: str = Field(pattern=ID_PATTERN)
    title: str = Field(min_length=1)
    version: int = Field(1, ge=1, description="Revision; bump it when behaviour changes.")
    team: str = Field(min_length=1)
    section: str = Field(pattern=r"^\d+(\.\d+)*$", description='Plan section, e.g. "3.3".')
    description: str | None = None
    tags: list[str] = Field(default_factory=list)
    classification: Classification
    detection: Detection
    escalation: Escalation | None = None
    handling: Handling = Field(default_factory=Handling)
    resolution: Resolution = Field(default_factory=Resolution)
    postmortem: Postmortem = Field(default_factory=Postmortem)

    def trigger_id(self, index: int) -> str:
        return self.detection.triggers[index].id or f"trigger-{index + 1}"
