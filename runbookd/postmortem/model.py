"""The post-incident summary as typed data: what the templates, the API and the web page read.

Every figure here is computed from stored records (the incident row, its timeline, follow-ups and
lessons), never parsed back out of text. Times are timezone-aware UTC; durations are seconds.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

#: How an escalation level's acknowledgement deadline turned out.
#: met: acknowledged in time; missed: the deadline passed first; none: the level had no deadline;
#: pending: still running; resolved_first: the incident resolved before anyone had to ack.
DeadlineOutcome = Literal["met", "missed", "none", "pending", "resolved_first"]
FollowUpStatus = Literal["open", "done"]


class Timings(BaseModel):
    detected: datetime
    acknowledged: datetime | None = None
    acknowledged_by: str | None = None
    acknowledged_role: str | None = Field(None, description="The acknowledger's role then.")
    acknowledged_via: str | None = Field(None, description="web, api, cli, slack, pagerduty.")
    acknowledged_as: str | None = Field(
        None, description='Who acknowledged, as the summary says it: "rob (responder) via slack".'
    )
    mitigated: datetime | None = None
    resolved: datetime | None = None
    resolved_by: str | None = None
    time_to_acknowledge: float | None = Field(None, description="Seconds from detection.")
    time_to_mitigate: float | None = Field(None, description="Seconds from detection.")
    time_to_resolve: float | None = Field(None, description="Seconds from detection.")


class LevelReached(BaseModel):
    level: str
    who: str | None = None
    at: datetime
    reason: str
    deadline: datetime | None = None
    outcome: DeadlineOutcome


class AlertCount(BaseModel):
    name: str
    count: int = Field(description="Notifications attached (firing and resolved).")
    alerts: int = Field(description="Distinct alerts (by fingerprint) of this name.")
    resolved: int = Field(description="How many of those alerts were last seen resolved.")
    first: datetime
    last: datetime


class RuleFiring(BaseModel):
    """One rule's firings for the incident, condensed (an alert storm fires a trigger often)."""

    role: str = Field(description="trigger, raise or recover.")
    rule: str
    count: int
    first: datetime
    last: datetime
    events: list[str] = Field(default_factory=list, description="Event names it fired on.")
    changes: dict[str, str] = Field(
        default_factory=dict, description="For raise rules: what went up, to what."
    )


class StepRun(BaseModel):
    id: str
    outcome: str | None = Field(
        None, description="ok, skipped, failed, denied, expired; None: running."
    )
    attempts: int = 0
    started: datetime | None = None
    finished: datetime | None = None
    duration: float | None = Field(None, description="Seconds from the first call to the outcome.")
    call_seconds: float = Field(0.0, description="Seconds spent inside connector calls.")
    error: str | None = None


class Approval(BaseModel):
    step: str
    requested: datetime
    deadline: datetime | None = None
    decision: Literal["approved", "denied", "expired", "waiting", "dropped"]
    by: str | None = None
    role: str | None = Field(None, description="The decider's role then.")
    via: str | None = Field(None, description="web, api, cli, slack, pagerduty.")
    by_as: str | None = Field(
        None, description='Who decided, as the summary says it: "ana (approver) via api".'
    )
    decided: datetime | None = None


class Notification(BaseModel):
    at: datetime
    level: str
    connector: str
    reason: str
    outcome: Literal["ok", "failed", "retryable", "pending"]
    error: str | None = None


class Note(BaseModel):
    at: datetime
    by: str
    text: str


class ImpactFigure(BaseModel):
    id: str
    title: str
    value: float | int | str | None = Field(None, description="None when the query failed.")
    unit: str | None = None
    connector: str | None = None
    query: str | None = Field(None, description="The query as it was sent (templates rendered).")
    measured: datetime | None = None
    error: str | None = None


class FollowUp(BaseModel):
    id: int
    title: str
    owner: str | None = None
    due: date | None = None
    status: FollowUpStatus
    created: datetime
    created_by: str
    updated: datetime
    updated_by: str


class Suppression(BaseModel):
    """An alert kept from paging while the incident was open: inhibited or silenced."""

    at: datetime
    alert: str
    status: str = Field(description="firing or resolved")
    labels: dict[str, str] = Field(default_factory=dict, description="Its labels but alertname.")
    outcome: Literal["suppressed", "silenced"]
    runbook: str | None = Field(None, description="The runbook it was for.")
    by: str = Field(
        description="What kept it: 'INC-3 (database-abnormal)', 'silence 4f2c...' or "
        "'maintenance window W'."
    )


class Lessons(BaseModel):
    text: str
    updated: datetime
    updated_by: str


class Summary(BaseModel):
    """One incident's post-mortem. ``final`` is False while the incident is not resolved: a draft."""

    incident: str
    final: bool
    status: str
    title: str
    runbook: str
    runbook_version: int
    section: str
    team: str | None = None
    nature: str | None = None
    scope: str | None = None
    complexity: str | None = None
    severity: str
    key: str
    labels: dict[str, str] = Field(default_factory=dict)
    what_happened: list[str]
    timings: Timings
    escalation: list[LevelReached] = Field(default_factory=list)
    alerts: list[AlertCount] = Field(default_factory=list)
    rule_firings: list[RuleFiring] = Field(default_factory=list)
    steps: list[StepRun] = Field(default_factory=list)
    approvals: list[Approval] = Field(default_factory=list)
    notifications: list[Notification] = Field(default_factory=list)
    notes: list[Note] = Field(default_factory=list)
    suppressions: list[Suppression] = Field(default_factory=list)
    suppressions_more: int = Field(0, description="Suppressions beyond the ones listed.")
    impact: list[ImpactFigure] = Field(default_factory=list)
    follow_ups: list[FollowUp] = Field(default_factory=list)
    lessons: Lessons | None = None
    sections: list[str] = Field(description="Sections the runbook asks for, in its order.")
    template: str | None = Field(None, description="The runbook's own template, if it has one.")
    generated: datetime
    warnings: list[str] = Field(default_factory=list)
