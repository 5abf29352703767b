"""Run scenario files: a timeline on a virtual clock against fake connectors, then expectations.

Modelled on Alertmanager's acceptance tests and ``promtool test rules``: events at offsets, what
must (and must not) have happened by when. The engine and compiler are the server's own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from runbookd.alerts.alertmanager import parse_notification
from runbookd.alerts.errors import PayloadError
from runbookd.alerts.generic import parse_events
from runbookd.connectors.fake import FakeConnectors, Response
from runbookd.engine.commands import Command
from runbookd.engine.errors import EngineError
from runbookd.engine.events import Event
from runbookd.engine.lang.diagnostics import Diagnostic
from runbookd.engine.lang.durations import format_duration
from runbookd.engine.lang.loader import validation_diagnostics
from runbookd.engine.lang.source import SourceError, load_yaml
from runbookd.engine.postmortem import draft_markdown
from runbookd.engine.simulator import Simulator
from runbookd.oncall.lookup import Directory
from runbookd.toolchain.library import load_library
from runbookd.toolchain.scenario_gates import check_decider
from runbookd.toolchain.scenario_match import same as _same
from runbookd.toolchain.scenario_match import subset as _subset
from runbookd.toolchain.scenario_model import AlertSpec, Entry, Expect, Scenario, Timing
from runbookd.toolchain.schedules import check_references, load_schedules


@dataclass
class Check:
    name: str
    passed: bool
    detail: str = ""


@dataclass
class ScenarioResult:
    file: str
    title: str = ""
    checks: list[Check] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    timeline: list[Command] = field(default_factory=list)
    start: datetime | None = None

    @property
    def passed(self) -> bool:
        return not self.errors and all(c.passed for c in self.checks)


def load_scenario(path: Path) -> tuple[Scenario | None, list[Diagnostic]]:
    file = str(path)
    try:
        data, smap = load_yaml(path.read_text(encoding="utf-8"))
    except SourceError as exc:
        return None, [Diagnostic(file, exc.pos.line, exc.pos.col, exc.message)]
    except OSError as exc:
        return None, [Diagnostic(file, 1, 1, f"cannot read: {exc.strerror}")]
    try:
        return Scenario.model_validate(data), []
    except ValidationError as exc:
        return None, validation_diagnostics(exc, data, smap, file, Scenario)


def run_scenario(path: Path) -> ScenarioResult:
    result = ScenarioResult(str(path))
    scenario, problems = load_scenario(path)
    if scenario is None:
        result.errors = [str(d) for d in problems]
        return result
    result.title = scenario.scenario
    library = load_library([path.parent / p for p in scenario.runbooks], load_rules=False)
    if not library.ok:
        result.errors = [str(d) for d in library.diagnostics]
        return result
    fakes = FakeConnectors()
    for script in scenario.connectors:
        fakes.script(
            script.connector,
            *(Response(result=r.result, fail=r.fail, message=r.message) for r in script.responses),
            step=script.step,
        )
    oncall = None
    if scenario.schedules:
        schedules = load_schedules([path.parent / p for p in scenario.schedules])
        problems = [*schedules.diagnostics, *check_references(library, schedules)]
        if problems:
            result.errors = [str(d) for d in problems]
            return result
        oncall = Directory(schedules).lookup()
    sim = Simulator(
        library.compiled(), scenario.start, fakes, dry_run=scenario.dry_run, oncall=oncall
    )
    result.start = scenario.start
    _Runner(sim, scenario, result).run()
    result.timeline = sim.timeline
    return result


class _Runner:
    def __init__(self, sim: Simulator, scenario: Scenario, result: ScenarioResult) -> None:
        self.sim, self.scenario, self.result = sim, scenario, result
        self.first_fired: dict[tuple[tuple[str, str], ...], datetime] = {}
        self.snapshots: dict[tuple[str, timedelta], dict[str, Any] | None] = {}

    def run(self) -> None:
        scenario = self.scenario
        checkpoints = sorted({e.incident.at for e in scenario.expect if e.incident is not None})
        entries = sorted(scenario.timeline, key=lambda e: e.at)
        last = max([e.at for e in entries] + checkpoints)
        end = scenario.run_for if scenario.run_for is not None else last + timedelta(hours=1)
        steps: list[tuple[timedelta, int, Entry | None]] = [(e.at, 0, e) for e in entries]
        steps += [(c, 1, None) for c in checkpoints]
        for offset, _, entry in sorted(steps, key=lambda s: (s[0], s[1])):
            self.sim.at(offset)
            if entry is None:
                self._snapshot(offset)
                continue
            try:
                self._apply(entry)
            except (EngineError, PayloadError) as exc:
                self.result.errors.append(f"timeline at {format_duration(offset)}: {exc}")
                return
        self.sim.at(max(end, last))
        for expect in scenario.expect:
            self.result.checks.append(self._check(expect))

    # --- timeline -------------------------------------------------------------------------

    def _apply(self, entry: Entry) -> None:
        sim, now = self.sim, self.sim.now
        if entry.alert is not None:
            sim.ingest(self._alert_events(entry.alert, now))
        elif entry.alertmanager is not None:
            sim.ingest(parse_notification(entry.alertmanager, received_at=now).alerts)
        elif entry.event is not None:
            sim.ingest(parse_events(entry.event, received_at=now))
        elif entry.ack is not None:
            sim.acknowledge(self._incident(entry.ack.runbook, entry.ack.incident), entry.ack.by)
        elif entry.resolve is not None:
            sim.resolve(
                self._incident(entry.resolve.runbook, entry.resolve.incident), entry.resolve.by
            )
        elif entry.note is not None:
            sim.add_note(
                self._incident(entry.note.runbook, entry.note.incident),
                entry.note.text,
                entry.note.by,
            )
        elif (decision := entry.approve or entry.deny) is not None:
            approval_id = sim.approval_for(decision.step)
            check_decider(sim, approval_id, decision)
            sim.decide(approval_id, entry.approve is not None, decision.by)

    def _alert_events(self, spec: AlertSpec, now: datetime) -> list[Event]:
        identity = tuple(sorted(spec.labels.items()))
        started = self.first_fired.setdefault(identity, now)
        alert: dict[str, Any] = {
            "status": spec.status,
            "labels": spec.labels,
            "annotations": spec.annotations,
            "startsAt": started.isoformat(),
            "endsAt": now.isoformat() if spec.status == "resolved" else "0001-01-01T00:00:00Z",
        }
        if spec.fingerprint:
            alert["fingerprint"] = spec.fingerprint
        payload = {
            "version": "4",
            "status": spec.status,
            "receiver": "runbookd-test",
            "alerts": [alert],
        }
        if spec.status == "resolved":
            self.first_fired.pop(identity, None)
        return parse_notification(payload, received_at=now).alerts

    def _incident(self, runbook: str | None, incident: str | None) -> str:
        if incident is not None:
            return incident
        assert runbook is not None
        return self.sim.incident_for(runbook).id

    def _snapshot(self, offset: timedelta) -> None:
        for rb in self.sim.engine.runbooks:
            found = self.sim.incidents(rb)
            live = [i for i in found if i.is_open] or found
            inc = live[-1] if live else None
            self.snapshots[(rb, offset)] = (
                None
                if inc is None
                else {
                    "status": inc.status.value,
                    "severity": inc.severity.value,
                    "scope": inc.scope.value,
                    "complexity": inc.complexity.value,
                    "labels": dict(inc.labels),
                    "id": inc.id,
                }
            )

    # --- expectations ---------------------------------------------------------------------

    def _check(self, expect: Expect) -> Check:
        return getattr(self, f"_expect_{expect.kind}")(getattr(expect, expect.kind))  # type: ignore[no-any-return]

    def _when(self, timing: Timing) -> str:
        if timing.at is not None:
            return f" at {format_duration(timing.at)}"
        if timing.by is not None:
            return f" by {format_duration(timing.by)}"
        if timing.after is not None:
            return f" after {format_duration(timing.after)}"
        return ""

    def _in_time(self, command: Command, timing: Timing) -> bool:
        offset = command.at - self.sim.start
        if timing.at is not None:
            return offset == timing.at
        if timing.by is not None:
            return offset <= timing.by
        if timing.after is not None:
            return offset > timing.after
        return True

    def _offset(self, command: Command) -> str:
        return format_duration(command.at - self.sim.start)

    def _expect_incident(self, e: Any) -> Check:
        name = f"incident of {e.runbook} at {format_duration(e.at)}"
        wanted = {
            k: v
            for k, v in (
                ("status", e.status),
                ("severity", e.severity),
                ("scope", e.scope),
                ("complexity", e.complexity),
            )
            if v
        }
        name += "".join(f" {k}={v}" for k, v in wanted.items())
        snap = self.snapshots.get((e.runbook, e.at))
        if snap is None:
            return Check(name, False, f"expected an incident of {e.runbook!r}; there was none")
        diffs = [
            f"{k}: expected {v!r}, actual {snap[k]!r}" for k, v in wanted.items() if snap[k] != v
        ]
        diffs += [
            f"labels.{k}: expected {v!r}, actual {snap['labels'].get(k)!r}"
            for k, v in e.labels.items()
            if snap["labels"].get(k) != v
        ]
        return Check(name, not diffs, "\n".join(diffs))

    def _commands(self, kind: str, runbook: str | None = None) -> list[Command]:
        return [
            c
            for c in self.sim.timeline
            if c.kind == kind and (runbook is None or c.runbook == runbook)
        ]

    def _expect_step(self, e: Any) -> Check:
        name = f"step {e.id} ran" + (f" with {e.params}" if e.params else "") + self._when(e)
        if e.outcome:
            name += f" and ended {e.outcome}"
        runs = [
            c
            for c in self._commands("run_step", e.runbook)
            if c.data.get("role") == "step" and c.data.get("step") == e.id
        ]
        outcomes = [
            c for c in self._commands("step_outcome", e.runbook) if c.data.get("step") == e.id
        ]
        if e.outcome in ("skipped", "denied", "expired"):
            # These outcomes mean the step's call was never made: look for the outcome itself.
            hits = [
                c for c in outcomes if c.data.get("outcome") == e.outcome and self._in_time(c, e)
            ]
            seen = (
                ", ".join(f"{c.data.get('outcome')} at {self._offset(c)}" for c in outcomes)
                or "none"
            )
            return Check(name, bool(hits), "" if hits else f"outcomes of {e.id}: {seen}")
        matching = [
            c
            for c in runs
            if self._in_time(c, e)
            and _subset(e.params, c.data.get("params", {}))
            and (e.attempt is None or c.data.get("attempt") == e.attempt)
            and (e.dry_run is None or c.data.get("dry_run") == e.dry_run)
        ]
        if matching and e.outcome:
            ended = [c.data.get("outcome") for c in outcomes if c.incident == matching[0].incident]
            if e.outcome not in ended:
                return Check(name, False, f"step {e.id} ran but ended {ended or 'never'}")
        if matching:
            return Check(name, True)
        actual = (
            "\n".join(
                f"  at {self._offset(c)} attempt {c.data.get('attempt')}: params {c.data.get('params')}"
                for c in runs
            )
            or "  never ran"
        )
        return Check(
            name, False, f"expected: {e.id} {e.params or ''}{self._when(e)}\nactual:\n{actual}"
        )

    def _expect_notified(self, e: Any) -> Check:
        whom = f" to {e.who}" if e.who is not None else ""
        name = f"level {e.level} notified{whom}{self._when(e)}"
        sent = [c for c in self._commands("notify", e.runbook) if c.data.get("level") == e.level]
        ok = any(
            self._in_time(c, e) and (e.who is None or c.data.get("who") == e.who) for c in sent
        )
        actual = (
            ", ".join(
                f"{self._offset(c)} to {c.data.get('who')} ({c.data.get('reason')})" for c in sent
            )
            or "never"
        )
        return Check(name, ok, "" if ok else f"{e.level} was notified: {actual}")

    def _expect_resolved(self, e: Any) -> Check:
        name = f"incident of {e.runbook} resolved{self._when(e)}"
        done = self._commands("resolve", e.runbook)
        ok = any(self._in_time(c, e) for c in done)
        actual = ", ".join(f"{self._offset(c)} ({c.data.get('reason')})" for c in done) or "never"
        return Check(name, ok, "" if ok else f"resolved: {actual}")

    def _expect_no_incident(self, e: Any) -> Check:
        opened = [
            c
            for c in self._commands("open_incident", e.runbook)
            if e.before is None or c.at - self.sim.start < e.before
        ]
        detail = ", ".join(f"{c.incident} at {self._offset(c)}" for c in opened)
        name = f"no incident of {e.runbook}" + (
            f" before {format_duration(e.before)}" if e.before else ""
        )
        return Check(name, not opened, f"opened: {detail}" if opened else "")

    def _expect_no_step(self, e: Any) -> Check:
        runs = [
            c
            for c in self._commands("run_step")
            if c.data.get("step") == e.id and c.data.get("role") == "step"
        ]
        detail = ", ".join(f"at {self._offset(c)}" for c in runs)
        return Check(f"step {e.id} never ran", not runs, f"ran {detail}" if runs else "")

    def _expect_no_notify(self, e: Any) -> Check:
        sent = [c for c in self._commands("notify") if c.data.get("level") == e.level]
        detail = ", ".join(f"at {self._offset(c)}" for c in sent)
        return Check(
            f"level {e.level} never notified", not sent, f"notified {detail}" if sent else ""
        )

    def _expect_postmortem(self, e: Any) -> Check:
        name = f"post-mortem of {e.runbook}"
        if e.impact:
            name += f" has {e.impact}"
        try:
            incident = self.sim.incident_for(e.runbook)
        except EngineError as exc:
            return Check(name, False, str(exc))
        text = draft_markdown(incident)
        diffs = [
            f"impact {k}: expected {v!r}, actual {incident.impacts.get(k, 'not measured')!r}"
            for k, v in e.impact.items()
            if not _same(incident.impacts.get(k), v)
        ]
        diffs += [f"draft does not contain {s!r}" for s in e.contains if s not in text]
        return Check(
            name, not diffs, "\n".join(diffs) + ("\n--- draft ---\n" + text if diffs else "")
        )
