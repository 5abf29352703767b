"""The scenario file format of ``runbookd test`` (docs/scenarios.md): a timeline and expectations."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from runbookd.engine.lang.durations import Offset

DEFAULT_START = datetime(2026, 1, 1, tzinfo=UTC)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Response(Strict):
    result: dict[str, Any] = Field(default_factory=dict)
    fail: Literal["retryable", "permanent"] | None = None
    message: str = ""


class Script(Strict):
    connector: str
    step: str | None = Field(None, description="Only calls made by this step, level or impact id.")
    responses: list[Response] = Field(min_length=1)


class AlertSpec(Strict):
    """One Alertmanager alert, as in a webhook's alerts[] (startsAt defaults to first firing)."""

    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    status: Literal["firing", "resolved"] = "firing"
    fingerprint: str | None = None


class Person(Strict):
    runbook: str | None = None
    incident: str | None = None
    by: str = "someone"

    @model_validator(mode="after")
    def _names_incident(self) -> Person:
        if (self.runbook is None) == (self.incident is None):
            raise ValueError("name the runbook (its newest incident) or the incident id")
        return self


class Decision(Strict):
    step: str
    by: str = "someone"
    role: Literal["approver", "admin"] = Field(
        "approver", description="The role of the person deciding (checked against the step's)."
    )
    teams: list[str] = Field(
        default_factory=list, description="Their teams (a step's approval.team must be one)."
    )


class Note(Person):
    text: str


ENTRY_KINDS = ("alert", "alertmanager", "event", "ack", "approve", "deny", "resolve", "note")


class Entry(Strict):
    at: Offset
    alert: AlertSpec | None = None
    alertmanager: dict[str, Any] | None = Field(None, description="A whole webhook payload.")
    event: dict[str, Any] | list[dict[str, Any]] | None = None
    ack: Person | None = None
    approve: Decision | None = None
    deny: Decision | None = None
    resolve: Person | None = None
    note: Note | None = None

    @model_validator(mode="after")
    def _one(self) -> Entry:
        used = [k for k in ENTRY_KINDS if getattr(self, k) is not None]
        if len(used) != 1:
            raise ValueError(f"a timeline entry needs exactly one of {', '.join(ENTRY_KINDS)}")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in ENTRY_KINDS if getattr(self, k) is not None)


class Timing(Strict):
    at: Offset | None = None
    by: Offset | None = None
    after: Offset | None = None

    @model_validator(mode="after")
    def _one_timing(self) -> Timing:
        if sum(t is not None for t in (self.at, self.by, self.after)) > 1:
            raise ValueError("use one of at, by, after")
        return self


class IncidentExpect(Strict):
    runbook: str
    at: Offset
    status: Literal["open", "acknowledged", "resolved"] | None = None
    severity: Literal["low", "medium", "high", "critical"] | None = None
    scope: Literal["local", "global"] | None = None
    complexity: Literal["simple", "complex"] | None = None
    labels: dict[str, str] = Field(default_factory=dict)


class StepExpect(Timing):
    id: str
    runbook: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    outcome: Literal["ok", "skipped", "failed", "denied", "expired"] | None = None
    attempt: int | None = None
    dry_run: bool | None = None


class NotifiedExpect(Timing):
    level: str
    runbook: str | None = None
    who: str | None = Field(
        None, description="Whom: the level's who, or the on-call person's name (schedule levels)."
    )


class ResolvedExpect(Timing):
    runbook: str


class RunbookRef(Strict):
    runbook: str
    before: Offset | None = Field(
        None, description="Only incidents opened before this offset count (inhibition tests)."
    )


class StepRef(Strict):
    id: str


class LevelRef(Strict):
    level: str


class PostmortemExpect(Strict):
    runbook: str
    impact: dict[str, Any] = Field(default_factory=dict)
    contains: list[str] = Field(default_factory=list)


EXPECT_KINDS = (
    "incident",
    "step",
    "notified",
    "resolved",
    "no_incident",
    "no_step",
    "no_notify",
    "postmortem",
)


class Expect(Strict):
    incident: IncidentExpect | None = None
    step: StepExpect | None = None
    notified: NotifiedExpect | None = None
    resolved: ResolvedExpect | None = None
    no_incident: RunbookRef | None = None
    no_step: StepRef | None = None
    no_notify: LevelRef | None = None
    postmortem: PostmortemExpect | None = None

    @model_validator(mode="after")
    def _one(self) -> Expect:
        used = [k for k in EXPECT_KINDS if getattr(self, k) is not None]
        if len(used) != 1:
            raise ValueError(f"an expectation needs exactly one of {', '.join(EXPECT_KINDS)}")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in EXPECT_KINDS if getattr(self, k) is not None)


class Scenario(Strict):
    scenario: str = Field(min_length=1, description="What this scenario shows.")
    runbooks: list[str] = Field(min_length=1, description="Runbook files or folders, relative.")
    schedules: list[str] = Field(
        default_factory=list, description="On-call schedule files or folders, relative."
    )
    start: datetime = DEFAULT_START
    dry_run: bool = False
    connectors: list[Script] = Field(default_factory=list)
    timeline: list[Entry] = Field(min_length=1)
    run_for: Offset | None = None
    expect: list[Expect] = Field(min_length=1)

    @model_validator(mode="after")
    def _aware(self) -> Scenario:
        if self.start.tzinfo is None:
            raise ValueError("start needs a time zone, e.g. 2026-03-01T10:00:00Z")
        return self
