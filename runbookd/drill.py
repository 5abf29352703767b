"""Drills (plan 12.1.2): run a runbook end to end on a virtual clock and score it.

For every trigger (and up to a few alternative signals of it) a fresh engine receives synthetic
events derived from the runbook's own detection, with every connector call a fake dry run. Nobody
acknowledges, so escalation runs its course; every approval is granted at once by ``drill``, so
every step is reached; the incident is resolved by hand at the end and its post-mortem drafted.

The score is the share of checks that passed:
- ``detect <trigger>#n``: the incident opened no later than the trigger's own window allows;
- ``escalate <level>``: each level reachable by acknowledgement deadlines was notified (the call
  succeeded) by its deadline, in every drill that opened an incident;
- ``step <id>``: the step ended ``ok`` in at least one drill and ``failed`` in none; a step
  skipped everywhere passes only if its ``when`` waits on another step's outcome (a contingency
  the all-successful drill does not take);
- ``postmortem``: every drilled incident resolved with a draft and every impact figure measured.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.fake import FakeConnectors, Response
from engine.compiler import CompiledRunbook
from engine.events import Event
from engine.incident import Incident
from engine.lang.durations import format_duration
from engine.lang.model import Runbook
from engine.postmortem import draft_markdown
from engine.simulator import Simulator
from runbookd.drill_signals import Plan, SignalBuilder

DRILL_START = datetime(2026, 1, 1, tzinfo=UTC)
DRILLER = "drill"
#: Virtual time allowed after the last deadline, for verification windows, retries and rails.
MARGIN = timedelta(hours=1)


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


class _DrillConnectors(FakeConnectors):
    """Fakes that answer dry runs with the drill's synthetic results.

    Nothing leaves the process either way; the engine still marks every call as a dry run (the
    timeline shows it), but a write answered only ``{"dry_run": true}`` would make every
    verification after it fail, and the drill could not go past the first remedy.
    """

    def call(
        self,
        connector: str,
        params: dict[str, Any],
        *,
        step: str | None = None,
        idempotency_key: str = "",
        dry_run: bool = False,
    ) -> dict[str, Any]:
        result = super().call(
            connector, params, step=step, idempotency_key=idempotency_key, dry_run=False
        )
        return {**result, "dry_run": True} if dry_run else result


def _event(doc: dict[str, Any], at: datetime) -> Event:
    def section(prefix: str) -> dict[str, Any]:
        return {k[len(prefix) :]: v for k, v in doc.items() if k.startswith(prefix)}

    kind = doc.get("kind", "event")
    return Event(
        name=str(doc.get("name", "DrillSignal")),
        at=at,
        kind=kind,
        status=doc.get("status", "firing"),
        labels={k: str(v) for k, v in section("labels.").items()},
        annotations={k: str(v) for k, v in section("annotations.").items()},
        value=doc.get("value"),
        source=str(doc.get("source", "alertmanager" if kind == "alert" else "runbookd-drill")),
        fingerprint=doc.get("fingerprint"),
        starts_at=at if kind == "alert" else None,
        fields=section("fields."),
    )


def _horizon(runbook: Runbook, plan: Plan) -> timedelta:
    span = plan.detect_by + (plan.events[-1][0] if plan.events else timedelta(0))
    if runbook.escalation is not None:
        acks = sum((lv.ack_within or timedelta(0) for lv in runbook.escalation.levels), timedelta())
        span += acks * (runbook.escalation.repeat + 1)
    for step in runbook.handling.steps:
        span += step.timeout + (step.verify.within if step.verify else timedelta(0))
        backoff = step.on_failure.backoff
        span += sum((backoff * 2**n for n in range(step.on_failure.retries)), timedelta())
    return span + MARGIN


@dataclass
class _Seen:
    """How far the driller has read a drill's timeline (each step call answered once)."""

    upto: int = 0


@dataclass
class _Run:
    plan: Plan
    sim: Simulator | None = None
    incident: Incident | None = None
    error: str | None = None


class Driller:
    """Drills one compiled runbook; ``run()`` returns its scored result."""

    def __init__(self, compiled: CompiledRunbook, *, start: datetime = DRILL_START) -> None:
        self.compiled = compiled
        self.runbook = compiled.runbook
        self.start = start
        self.signals = SignalBuilder(self.runbook)

    def run(self) -> DrillResult:
        began = datetime.now(UTC)
        answers, answer_problems = self.signals.answers()
        runs = [self._drill(plan, answers) for plan in self.signals.plans()]
        result = DrillResult(
            self.runbook.id, self.runbook.version, self.runbook.section, began, began
        )
        result.checks += [self._detected(r) for r in runs]
        result.checks += self._escalation(runs)
        result.checks += self._steps(runs, answer_problems)
        result.checks.append(self._postmortem(runs))
        result.drills = [self._summary(r) for r in runs]
        result.finished_at = datetime.now(UTC)
        return result

    # --- running --------------------------------------------------------------------------

    def _drill(self, plan: Plan, answers: dict[tuple[str, str], dict[str, Any]]) -> _Run:
        run = _Run(plan)
        if plan.problem is not None:
            return run
        fakes = _DrillConnectors()
        for (connector, step), result in answers.items():
            fakes.script(connector, Response(result=result), step=step)
        sim = Simulator([self.compiled], self.start, fakes, dry_run=True)
        run.sim = sim
        seen = _Seen()
        try:
            for offset, doc in plan.events:
                self._advance(sim, self.start + offset, seen)
                sim.ingest([_event(doc, sim.now)])
            self._advance(sim, self.start + _horizon(self.runbook, plan), seen)
            found = sim.incidents(self.runbook.id)
            if found:
                run.incident = found[0]
                if run.incident.is_open:
                    sim.resolve(run.incident.id, DRILLER)
        except Exception as exc:  # the engine refused something: a finding, not a crash
            run.error = f"{type(exc).__name__}: {exc}"
        return run

    def _advance(self, sim: Simulator, until: datetime, seen: _Seen) -> None:
        """Run to ``until``, approving every request and sending awaited recovery events."""
        while True:
            self._respond(sim, seen)
            due = sim.engine.next_due()
            if due is None or due > until:
                break
            sim.run_until(due)
        sim.run_until(until)
        self._respond(sim, seen)

    def _respond(self, sim: Simulator, seen: _Seen) -> None:
        for approval_id in list(sim.engine.waiting_approvals()):
            sim.decide(approval_id, True, DRILLER)
        steps = {s.id: s for s in self.runbook.handling.steps}
        while seen.upto < len(sim.timeline):
            command = sim.timeline[seen.upto]
            seen.upto += 1
            step = steps.get(str(command.data.get("step")))
            waits = step is not None and step.verify is not None and step.verify.event is not None
            if command.kind != "run_step" or command.data.get("role") != "step" or not waits:
                continue
            incident = sim.engine.incidents.get(str(command.incident))
            if incident is None or step is None:
                continue
            key = {p: incident.labels.get(p.removeprefix("labels.")) for p in incident_keys(self)}
            sim.ingest([_event(self.signals.verify_event(step, key), sim.now)])

    # --- scoring --------------------------------------------------------------------------

    def _offset(self, at: datetime) -> str:
        return format_duration(at - self.start) if at > self.start else "0s"

    def _detected(self, run: _Run) -> DrillCheck:
        plan = run.plan
        name = f"detect {plan.label}"
        if plan.problem is not None:
            return DrillCheck(name, False, plan.problem)
        if run.error is not None:
            return DrillCheck(name, False, f"the drill stopped: {run.error}")
        opened = _commands(run, "open_incident")
        wanted = self._offset(self.start + plan.detect_by)
        if not opened:
            return DrillCheck(name, False, f"no incident opened (expected by {wanted})")
        at = opened[0].at
        ok = at <= self.start + plan.detect_by
        return DrillCheck(name, ok, f"opened at {self._offset(at)}, expected by {wanted}")

    def _escalation(self, runs: Sequence[_Run]) -> list[DrillCheck]:
        escalation = self.runbook.escalation
        if escalation is None:
            return [DrillCheck("escalate", False, "no escalation levels: nobody would be told")]
        opened = [r for r in runs if _commands(r, "open_incident")]
        checks = []
        deadline: timedelta | None = timedelta(0)
        for level in escalation.levels:
            if deadline is None:
                break  # beyond a level without ack_within: only steps escalate, not the clock
            late = []
            worst = timedelta(0)
            for run in opened:
                t0 = _commands(run, "open_incident")[0].at
                sent = [
                    c.at
                    for c in _commands(run, "call_done")
                    if c.data.get("role") == "notify"
                    and c.data.get("step") == level.id
                    and c.data.get("outcome") == "ok"
                ]
                if not sent or min(sent) > t0 + deadline:
                    seen = f"+{_span(min(sent) - t0)}" if sent else "never"
                    late.append(f"{run.plan.label}: notified {seen}")
                else:
                    worst = max(worst, min(sent) - t0)
            detail = f"due by +{_span(deadline)} after opening"
            if not late:
                detail += f", notified by +{_span(worst)} in every drill"
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

    def _steps(self, runs: Sequence[_Run], problems: list[str]) -> list[DrillCheck]:
        checks = []
        for step in self.runbook.handling.steps:
            outcomes: list[str] = []
            for run in runs:
                for c in _commands(run, "step_outcome"):
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

    def _postmortem(self, runs: Sequence[_Run]) -> DrillCheck:
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

    def _summary(self, run: _Run) -> dict[str, Any]:
        opened = _commands(run, "open_incident")
        return {
            "trigger": run.plan.trigger,
            "variant": run.plan.variant + 1,
            "events": [{"at": _span(off), "event": _payload(doc)} for off, doc in run.plan.events],
            "detected_at": self._offset(opened[0].at) if opened else None,
            "problem": run.plan.problem or run.error,
        }


def _payload(doc: dict[str, Any]) -> dict[str, Any]:
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


def _span(value: timedelta) -> str:
    return format_duration(value) if value > timedelta(0) else "0s"


def incident_keys(driller: Driller) -> list[str]:
    return [p for p in driller.runbook.detection.group_by if p.startswith("labels.")]


def _commands(run: _Run, kind: str) -> list[Any]:
    if run.sim is None:
        return []
    return [c for c in run.sim.timeline if c.kind == kind]


def _waits_on_outcome(when: Any) -> bool:
    return when is not None and ".outcome" in when.model_dump_json(by_alias=True)


def drill_runbooks(compiled: Sequence[CompiledRunbook]) -> list[DrillResult]:
    return [Driller(c).run() for c in compiled]
