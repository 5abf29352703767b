"""Scoring a drill: what each check demands of the drilled runs, and why one failed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from runbookd.drills.signals import Plan
from runbookd.engine.incident import Incident
from runbookd.engine.lang.durations import format_duration
from runbookd.engine.lang.model import Runbook
from runbookd.engine.postmortem import draft_markdown
from runbookd.engine.simulator import Simulator


@dataclass
class DrillCheck:
    name: str
    passed: bool
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "passed": self.passed, "detail": self.detail}


@dataclass
class DrillResult:
    runbook_id: str
    runbook_version: int
    section: str
    started_at: datetime
    finished_at: datetime
    checks: list[DrillCheck] = field(default_factory=list)
    drills: list[dict[str, Any]] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(c.passed for c in self.checks)

    @property
    def score(self) -> float:
        return sum(c.passed for c in self.checks) / len(self.checks) if self.checks else 0.0

    def failures(self) -> list[DrillCheck]:
        return [c for c in self.checks if not c.passed]

    def to_dict(self) -> dict[str, Any]:
        return {
            "runbook_id": self.runbook_id,
            "runbook_version": self.runbook_version,
            "section": self.section,
            "passed": self.passed,
            "score": round(self.score, 4),
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat(),
            "checks": [c.to_dict() for c in self.checks],
            "drills": self.drills,
        }


@dataclass
class Trial:
    """One drilled plan: the simulator it ran in, its incident, or why it could not run."""

    plan: Plan
    sim: Simulator | None = None
    incident: Incident | None = None
    error: str | None = None

    def commands(self, kind: str) -> list[Any]:
        if self.sim is None:
            return []
        return [c for c in self.sim.timeline if c.kind == kind]


def span(value: timedelta) -> str:
    return format_duration(value) if value > timedelta(0) else "0s"


class Scorer:
    """The checks of one runbook's drills; times are read relative to the drills' start."""

    def __init__(self, runbook: Runbook, start: datetime) -> None:
        self.runbook = runbook
        self.start = start

    def _offset(self, at: datetime) -> str:
        return span(at - self.start)

    def detected(self, run: Trial) -> DrillCheck:
        plan = run.plan
        name = f"detect {plan.label}"
        if plan.problem is not None:
            return DrillCheck(name, False, plan.problem)
        if run.error is not None:
            return DrillCheck(name, False, f"the drill stopped: {run.error}")
        opened = run.commands("open_incident")
        wanted = self._offset(self.start + plan.detect_by)
        if not opened:
            return DrillCheck(name, False, f"no incident opened (expected by {wanted})")
        at = opened[0].at
        ok = at <= self.start + plan.detect_by
        return DrillCheck(name, ok, f"opened at {self._offset(at)}, expected by {wanted}")

    def escalation(self, runs: Sequence[Trial]) -> list[DrillCheck]:
        escalation = self.runbook.escalation
        if escalation is None:
            return [DrillCheck("escalate", False, "no escalation levels: nobody would be told")]
        opened = [r for r in runs if r.commands("open_incident")]
        checks = []
        deadline: timedelta | None = timedelta(0)
        for level in escalation.levels:
            if deadline is None:
                break  # beyond a level without ack_within: only steps escalate, not the clock
            late = []
            worst = timedelta(0)
            for run in opened:
                t0 = run.commands("open_incident")[0].at
                sent = [
                    c.at
                    for c in run.commands("call_done")
                    if c.data.get("role") == "notify"
                    and c.data.get("step") == level.id
                    and c.data.get("outcome") == "ok"
                ]
                if not sent or min(sent) > t0 + deadline:
                    seen = f"+{span(min(sent) - t0)}" if sent else "never"
                    late.append(f"{run.plan.label}: notified {seen}")
                else:
                    worst = max(worst, min(sent) - t0)
            detail = f"due by +{span(deadline)} after opening"
            if not late:
                detail += f", notified by +{span(worst)} in every drill"
            if not opened:
                checks.append(DrillCheck(f"escalate {level.id}", False, "no drill opened one"))
            else:
                checks.append(
                    DrillCheck(
                        f"escalate {level.id}",
                        not late,
                        detail + ("; " + "; ".join(late) if late else ""),
                    )
                )
            deadline = None if level.ack_within is None else deadline + level.ack_within
        return checks

    def steps(self, runs: Sequence[Trial], problems: list[str]) -> list[DrillCheck]:
        checks = []
        for step in self.runbook.handling.steps:
            outcomes: list[str] = []
            for run in runs:
                for c in run.commands("step_outcome"):
                    if c.data.get("step") == step.id:
                        err = c.data.get("error")
                        outcomes.append(
                            f"{run.plan.label}: {c.data.get('outcome')}"
                            + (f" ({err})" if err else "")
                        )
            ended = [o.split(": ", 1)[1].split(" ", 1)[0] for o in outcomes]
            own = [p for p in problems if p.startswith(f"step {step.id}:")]
            if own:
                checks.append(DrillCheck(f"step {step.id}", False, "; ".join(own)))
            elif "failed" in ended or "expired" in ended or "denied" in ended:
                bad = [o for o in outcomes if not o.split(": ", 1)[1].startswith(("ok", "skip"))]
                checks.append(DrillCheck(f"step {step.id}", False, "; ".join(bad)))
            elif "ok" in ended:
                runs_ok = ended.count("ok")
                checks.append(
                    DrillCheck(f"step {step.id}", True, f"ok in {runs_ok} of {len(runs)} drills")
                )
            elif ended and _waits_on_outcome(step.when):
                checks.append(
                    DrillCheck(
                        f"step {step.id}",
                        True,
                        "correctly skipped: it waits on another step's outcome",
                    )
                )
            elif ended:
                checks.append(
                    DrillCheck(
                        f"step {step.id}", False, "skipped in every drill: its when never held"
                    )
                )
            else:
                checks.append(
                    DrillCheck(
                        f"step {step.id}",
                        False,
                        "never reached: the handling stopped before it in every drill",
                    )
                )
        return checks

    def postmortem(self, runs: Sequence[Trial]) -> DrillCheck:
        problems = []
        drafted = 0
        for run in runs:
            if run.incident is None:
                continue
            if run.incident.is_open:
                problems.append(f"{run.plan.label}: the incident did not resolve")
                continue
            text = draft_markdown(run.incident)
            if f"Plan section {self.runbook.section}" not in text:
                problems.append(f"{run.plan.label}: the draft is incomplete")
            missing = [
                i.id
                for i in self.runbook.postmortem.impact
                if run.incident.impacts.get(i.id) is None
            ]
            if missing:
                problems.append(f"{run.plan.label}: impact not measured: {', '.join(missing)}")
            drafted += 1
        if not drafted and not problems:
            problems.append("no drill produced an incident")
        return DrillCheck("postmortem", not problems, "; ".join(problems) or f"{drafted} drafts")

    def summary(self, run: Trial) -> dict[str, Any]:
        opened = run.commands("open_incident")
        return {
            "trigger": run.plan.trigger,
            "variant": run.plan.variant + 1,
            "events": [{"at": span(off), "event": payload(doc)} for off, doc in run.plan.events],
            "detected_at": self._offset(opened[0].at) if opened else None,
            "problem": run.plan.problem or run.error,
        }


def payload(doc: dict[str, Any]) -> dict[str, Any]:
    """A synthetic event in the shape of POST /api/v1/events, to read or to send by hand."""
    out: dict[str, Any] = {}
    for path, value in doc.items():
        head, dot, rest = path.partition(".")
        if dot and head in ("labels", "annotations"):
            out.setdefault(head, {})[rest] = value
        elif dot and head == "fields":
            out[rest] = value
        else:
            out[path] = value
    return out


def _waits_on_outcome(when: Any) -> bool:
    return when is not None and ".outcome" in when.model_dump_json(by_alias=True)
