"""Drills (plan 12.1.2): run a runbook end to end on a virtual clock and score it.

For every trigger (and up to a few alternative signals of it) a fresh engine receives synthetic
events derived from the runbook's own detection, with every connector call a fake dry run. Nobody
acknowledges, so escalation runs its course; every approval is granted at once by ``drill``, so
every step is reached; the incident is resolved by hand at the end and its post-mortem drafted.

The score is the share of checks that passed (``drill_score``):
- ``detect <trigger>#n``: the incident opened no later than the trigger's own window allows;
- ``escalate <level>``: each level reachable by acknowledgement deadlines was notified (the call
  succeeded) by its deadline, in every drill that opened an incident;
- ``step <id>``: the step ended ``ok`` in at least one drill and ``failed``, ``expired`` or
  ``denied`` in none; a step
  skipped everywhere passes only if its ``when`` waits on another step's outcome (a contingency
  the all-successful drill does not take);
- ``postmortem``: every drilled incident resolved with a draft and every impact figure measured.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from runbookd.connectors.fake import FakeConnectors, Response
from runbookd.drills.score import DrillCheck, DrillResult, Scorer, Trial
from runbookd.drills.signals import Plan, SignalBuilder
from runbookd.engine.compiler import CompiledRunbook
from runbookd.engine.events import Event
from runbookd.engine.lang.model import Runbook
from runbookd.engine.simulator import Simulator

__all__ = ["DrillCheck", "DrillResult", "Driller", "drill_runbooks"]

DRILL_START = datetime(2026, 1, 1, tzinfo=UTC)
DRILLER = "drill"
#: Virtual time allowed after the last deadline, for verification windows, retries and rails.
MARGIN = timedelta(hours=1)


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
    #: The incident key the plan's events carry: the recovery event must carry it too.
    key: dict[str, Any] = field(default_factory=dict)


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
        scorer = Scorer(self.runbook, self.start)
        result.checks += [scorer.detected(r) for r in runs]
        result.checks += scorer.escalation(runs)
        result.checks += scorer.steps(runs, answer_problems)
        result.checks.append(scorer.postmortem(runs))
        result.drills = [scorer.summary(r) for r in runs]
        result.finished_at = datetime.now(UTC)
        return result

    # --- running --------------------------------------------------------------------------

    def _drill(self, plan: Plan, answers: dict[tuple[str, str], dict[str, Any]]) -> Trial:
        run = Trial(plan)
        if plan.problem is not None:
            return run
        fakes = _DrillConnectors()
        for (connector, step), result in answers.items():
            fakes.script(connector, Response(result=result), step=step)
        sim = Simulator([self.compiled], self.start, fakes, dry_run=True)
        run.sim = sim
        seen = _Seen(key=self.signals.key_of(plan.events[-1][1]) if plan.events else {})
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
            if step is None:
                continue
            sim.ingest([_event(self.signals.verify_event(step, seen.key), sim.now)])


def drill_runbooks(compiled: Sequence[CompiledRunbook]) -> list[DrillResult]:
    return [Driller(c).run() for c in compiled]
