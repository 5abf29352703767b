"""Handling: run an incident's steps in order -- conditions, approvals, safety rails, retries
with backoff, verification, rollback and the on_failure policy -- as a deterministic state
machine. Connector calls leave as ``run_step`` commands; their results come back through
``call_finished`` and chain the next decision.
"""

from __future__ import annotations

import zlib
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from engine.commands import Command, CommandKind
from engine.evaluate import holds
from engine.events import Event
from engine.incident import Incident, StepState, dig
from engine.lang.durations import format_duration
from engine.lang.model import Impact, Step
from engine.templating import TemplateError, render_text

if TYPE_CHECKING:
    from engine.clock import Clock
    from engine.compiler import CompiledRunbook
    from engine.limits import Rails
    from engine.timers import TimerQueue


class Handling:
    """Mixed into ``Engine``; uses its clock, timers, rails and command plumbing."""

    if TYPE_CHECKING:
        clock: Clock
        timers: TimerQueue
        rails: Rails
        incidents: dict[str, Incident]
        runbooks: dict[str, CompiledRunbook]
        _calls: dict[str, dict[str, Any]]
        _approvals: dict[str, tuple[str, str]]
        _out: list[Command]

        def _emit(
            self,
            kind: CommandKind,
            incident: Incident | None,
            compiled: CompiledRunbook | None = None,
            **data: Any,
        ) -> Command: ...
        def _call(
            self,
            incident: Incident,
            call_id: str,
            connector: str,
            params: dict[str, Any],
            context: dict[str, Any],
            **data: Any,
        ) -> bool: ...
        def _timer(
            self, owner: Incident | None, name: str, due: datetime, **payload: Any
        ) -> None: ...
        def _cancel(self, incident: Incident | None, name: str) -> None: ...
        def _emit_stored(
            self, incident_id: str, runbook: str | None, kind: CommandKind, **data: Any
        ) -> Command: ...
        def _flush(self) -> list[Command]: ...
        def _get(self, incident_id: str) -> Incident: ...
        def escalate(self, incident: Incident, reason: str) -> bool: ...
        def _notification_failed(
            self, incident: Incident, call_id: str, info: dict[str, Any], retryable: bool
        ) -> None: ...

    # --- inputs ---------------------------------------------------------------------------

    def decide(self, approval_id: str, approved: bool, by: str) -> list[Command]:
        """A person approves or denies a step that waits for approval."""
        self._out = []
        if approval_id not in self._approvals:
            from engine.runtime import EngineError

            raise EngineError(f"no approval {approval_id!r} is waiting")
        incident_id, step_id = self._approvals.pop(approval_id)
        incident = self.incidents[incident_id]
        step = self._step(incident, step_id)
        self._cancel(incident, f"{incident.id}:approval:{step_id}")
        self._emit(
            "decide_approval",
            incident,
            approval=approval_id,
            step=step_id,
            decision="approved" if approved else "denied",
            by=by,
        )
        if approved:
            self._dispatch(incident, step)
        else:
            self._finish_step(incident, step, "denied", error=f"denied by {by}")
        return self._flush()

    def waiting_approvals(self) -> dict[str, tuple[str, str]]:
        return dict(self._approvals)

    def call_finished(
        self,
        call_id: str,
        *,
        result: dict[str, Any] | None = None,
        error: str | None = None,
        retryable: bool = False,
        seconds: float | None = None,
    ) -> list[Command]:
        """The executor's report for a ``notify`` or ``run_step`` command."""
        self._out = []
        info = self._calls.pop(call_id, None)
        if info is None:
            return []  # a duplicate report: the first one was already acted on
        role = info["role"]
        # Every attempt leaves its own record, whatever the step machine makes of it.
        done: dict[str, Any] = {
            "call_id": call_id,
            "role": role,
            "connector": info.get("connector"),
            "step": info.get("step") or info.get("level"),
            "target": info.get("target"),
            "attempt": info.get("attempt"),
            "outcome": "ok" if error is None else ("retryable" if retryable else "failed"),
            "error": error,
            "seconds": seconds,
        }
        incident = self.incidents.get(info["incident"])
        if incident is None:
            return self._late_result(info, done, result)
        self._emit("call_done", incident, **done)
        if role == "step":  # the call is over, whatever became of the incident meanwhile
            self.rails.finished(("step", incident.runbook, info["step"]))
        if role == "notify":
            if error is not None:
                self._emit("note", incident, text=f"notification {call_id} failed: {error}")
                self._notification_failed(incident, call_id, info, retryable)
        elif role == "impact":
            self._impact_result(incident, info, result, error)
        elif incident.is_open:
            step = self._step(incident, info["step"])
            if role == "step":
                self._step_result(incident, step, result, error, retryable)
            elif role == "check":
                self._check_result(incident, step, result, error)
            elif role == "rollback":
                outcome = "rolled back" if error is None else f"rollback failed: {error}"
                self._emit("note", incident, text=f"step {step.id}: {outcome}")
                self._step_failed(incident, step, "verification failed", retryable=False)
        return self._flush()

    def _late_result(
        self, info: dict[str, Any], done: dict[str, Any], result: dict[str, Any] | None
    ) -> list[Command]:
        """A result for an incident resolved long ago and no longer in memory: record it (the
        store's timeline still shows the incident) and release the step's rail; it can change
        nothing else, as nothing acts on a resolved incident."""
        runbook = info.get("runbook")
        incident_id = info["incident"]
        self._emit_stored(incident_id, runbook, "call_done", **done)
        if info["role"] == "step" and runbook is not None:
            self.rails.finished(("step", runbook, info["step"]))
        if info["role"] == "notify" and done["error"] is not None:
            text = f"notification {done['call_id']} failed: {done['error']}"
            self._emit_stored(incident_id, runbook, "note", text=text)
        compiled = self.runbooks.get(runbook) if runbook is not None else None
        if info["role"] == "impact" and compiled is not None:
            # The post-mortem reads impact figures from the timeline: record this one there.
            error = done["error"]
            for impact in compiled.runbook.postmortem.impact:
                if impact.id == info["step"]:
                    value = None if error is not None else dig(result or {}, impact.field)
                    data = _impact_data(impact, value, error)
                    self._emit_stored(incident_id, runbook, "impact", **data)
        return self._flush()

    def call_failed_to_render(
        self, call_id: str, incident: Incident, error: str, data: dict[str, Any]
    ) -> None:
        if data.get("role") == "step":
            self.rails.finished(("step", incident.runbook, data["step"]))
            self._step_failed(incident, self._step(incident, data["step"]), error, retryable=False)

    # --- the step machine -----------------------------------------------------------------

    def _start_handling(self, incident: Incident) -> None:
        handling = incident.compiled.runbook.handling
        if not handling.steps:
            incident.handling = "done"
            return
        now = self.clock.now()
        blocked = self.rails.blocked(
            ("runbook", incident.runbook), handling.limits, incident.key, now
        )
        if blocked is not None:
            incident.handling = "stopped"
            self._emit("note", incident, text=f"handling not started: {blocked}")
            self.escalate(incident, f"handling blocked: {blocked}")
            return
        self.rails.started(("runbook", incident.runbook), incident.key, now)
        incident.holds_slot = True
        incident.handling = "running"
        incident.step_index = 0
        self._run_current(incident)

    def _run_current(self, incident: Incident) -> None:
        steps = incident.compiled.runbook.handling.steps
        while incident.step_index is not None and incident.step_index < len(steps):
            step = steps[incident.step_index]
            incident.steps.setdefault(step.id, StepState())
            now = self.clock.now()
            if step.when is not None and not holds(step.when, incident.lookup(now)):
                self._record_outcome(incident, step, "skipped", error="condition not met")
                incident.step_index += 1
                continue
            if self._needs_approval(incident, step):
                blocked = self._blocked_now(incident, step)
                if blocked is not None:
                    # Do not ask a person to approve what the rails would refuse anyway.
                    self._step_failed(incident, step, blocked, retryable=False)
                    return
                approval_id = f"{incident.id}:{step.id}"
                assert step.approval is not None
                deadline = now + step.approval.timeout
                self._approvals[approval_id] = (incident.id, step.id)
                incident.handling = "waiting"
                self._emit(
                    "request_approval",
                    incident,
                    approval=approval_id,
                    step=step.id,
                    title=step.title,
                    deadline=deadline.isoformat(),
                )
                self._timer(
                    incident,
                    f"{incident.id}:approval:{step.id}",
                    deadline,
                    kind="approval",
                    incident=incident.id,
                    step=step.id,
                )
                return
            self._dispatch(incident, step)
            return
        self._handling_done(incident)

    def _blocked_now(self, incident: Incident, step: Step) -> str | None:
        """Why the step's safety limits would refuse a first run right now, if they would."""
        if step.limits is None:
            return None
        context = incident.template_context(self.clock.now())
        try:
            target = render_text(step.target, context) if step.target else incident.key
        except TemplateError as exc:
            return f"target: {exc}"
        key = ("step", incident.runbook, step.id)
        blocked = self.rails.blocked(key, step.limits, target, self.clock.now())
        return None if blocked is None else f"blocked by safety limit: {blocked}"

    def _needs_approval(self, incident: Incident, step: Step) -> bool:
        approval = step.approval
        if approval is None:
            return False
        if approval.required:
            return True
        return approval.min_severity is not None and incident.severity.at_least(
            approval.min_severity
        )

    def _dispatch(self, incident: Incident, step: Step) -> None:
        now = self.clock.now()
        state = incident.steps.setdefault(step.id, StepState())
        context = incident.template_context(now)
        try:
            target = render_text(step.target, context) if step.target else incident.key
        except TemplateError as exc:
            self._step_failed(incident, step, f"target: {exc}", retryable=False)
            return
        limits = step.limits
        # A retry continues the same run: the step's own cooldown and rate apply to new runs.
        first = state.attempts == 0
        blocked = (
            self.rails.blocked(("step", incident.runbook, step.id), limits, target, now)
            if first
            else None
        )
        if blocked is not None:
            self._step_failed(
                incident, step, f"blocked by safety limit: {blocked}", retryable=False
            )
            return
        state.attempts += 1
        incident.handling = "running"
        context["step"] = {"id": step.id, "target": target}
        self.rails.started(("step", incident.runbook, step.id), target, now, new_run=first)
        call_id = f"{incident.id}:{step.id}:{state.attempts}"
        self._call(
            incident,
            call_id,
            step.connector,
            step.params,
            context,
            role="step",
            step=step.id,
            attempt=state.attempts,
            target=target,
            timeout=format_duration(step.timeout),
        )

    def _step_result(
        self,
        incident: Incident,
        step: Step,
        result: dict[str, Any] | None,
        error: str | None,
        retryable: bool,
    ) -> None:
        state = incident.steps[step.id]
        if error is not None:
            self._step_failed(incident, step, error, retryable=retryable)
            return
        state.result = dict(result or {})
        verify = step.verify
        if verify is None:
            self._finish_step(incident, step, "ok")
            return
        incident.handling = "verifying"
        self._timer(
            incident,
            f"{incident.id}:verify:{step.id}",
            self.clock.now() + verify.within,
            kind="verify",
            incident=incident.id,
            step=step.id,
        )

    def _verify_event(self, incident: Incident, event: Event) -> None:
        """An event for the incident's key may be what a verifying step waits for."""
        if incident.handling != "verifying" or incident.step_index is None:
            return
        step = incident.compiled.runbook.handling.steps[incident.step_index]
        if step.verify is None or step.verify.event is None:
            return
        if holds(step.verify.event, event.get):
            self._cancel(incident, f"{incident.id}:verify:{step.id}")
            self._emit(
                "note",
                incident,
                text=f"step {step.id}: verified by {event.name!r} ({event.status})",
            )
            self._finish_step(incident, step, "ok")

    def _check_result(
        self, incident: Incident, step: Step, result: dict[str, Any] | None, error: str | None
    ) -> None:
        verify = step.verify
        assert verify is not None and verify.expect is not None
        now = self.clock.now()
        base = incident.lookup(now)
        data = result or {}

        def read(path: str) -> Any:
            if path.startswith("result."):
                return dig(data, path.removeprefix("result."))
            return base(path)

        if error is None and holds(verify.expect, read):
            self._emit("note", incident, text=f"step {step.id}: verification check passed")
            self._finish_step(incident, step, "ok")
        else:
            reason = error or "expectation not met"
            self._emit(
                "note", incident, text=f"step {step.id}: verification check failed: {reason}"
            )
            self._verify_failed(incident, step)

    def _verify_failed(self, incident: Incident, step: Step) -> None:
        if step.rollback is not None:
            state = incident.steps[step.id]
            call_id = f"{incident.id}:{step.id}:rollback:{state.attempts}"
            context = incident.template_context(
                self.clock.now(), step={"id": step.id, "target": incident.key}
            )
            if self._call(
                incident,
                call_id,
                step.rollback.connector,
                step.rollback.params,
                context,
                role="rollback",
                step=step.id,
                attempt=state.attempts,
            ):
                return
        self._step_failed(incident, step, "verification failed", retryable=False)

    def _step_failed(self, incident: Incident, step: Step, error: str, *, retryable: bool) -> None:
        state = incident.steps[step.id]
        state.error = error
        policy = step.on_failure
        if retryable and state.attempts <= policy.retries:
            delay = _with_jitter(
                policy.backoff * (2 ** (state.attempts - 1)),
                f"{incident.id}:{step.id}:{state.attempts}",
            )
            self._emit(
                "note",
                incident,
                text=f"step {step.id} attempt {state.attempts} failed "
                f"({error}); retrying in {format_duration(delay)}",
            )
            self._timer(
                incident,
                f"{incident.id}:retry:{step.id}",
                self.clock.now() + delay,
                kind="retry",
                incident=incident.id,
                step=step.id,
            )
            return
        self._finish_step(incident, step, "failed", error=error)

    def _finish_step(
        self, incident: Incident, step: Step, outcome: str, error: str | None = None
    ) -> None:
        self._record_outcome(incident, step, outcome, error)
        if outcome == "failed":
            then = step.on_failure.then
            if then == "escalate":
                incident.handling = "stopped"
                self.escalate(incident, f"step {step.id} failed")
                return
            if then == "abort":
                incident.handling = "stopped"
                self._emit("note", incident, text=f"handling aborted: step {step.id} failed")
                return
        assert incident.step_index is not None
        incident.step_index += 1
        self._run_current(incident)

    def _record_outcome(
        self, incident: Incident, step: Step, outcome: str, error: str | None
    ) -> None:
        state = incident.steps.setdefault(step.id, StepState())
        state.outcome = outcome
        self._emit(
            "step_outcome",
            incident,
            step=step.id,
            outcome=outcome,
            attempts=state.attempts,
            error=error,
            result=state.result if outcome == "ok" else None,
        )

    def _handling_done(self, incident: Incident) -> None:
        incident.handling = "done"
        incident.step_index = None
        if (
            any(s.outcome == "ok" for s in incident.steps.values())
            and incident.mitigated_at is None
        ):
            incident.mitigated_at = self.clock.now()
        self._emit("note", incident, text="handling complete")

    def on_handling_timer(self, incident: Incident, kind: str, payload: dict[str, Any]) -> None:
        step = self._step(incident, payload["step"])
        if kind == "retry":
            self._dispatch(incident, step)
        elif kind == "verify":
            verify = step.verify
            assert verify is not None
            if verify.check is None:
                self._emit(
                    "note",
                    incident,
                    text=f"step {step.id}: no recovery within {format_duration(verify.within)}",
                )
                self._verify_failed(incident, step)
            else:
                state = incident.steps[step.id]
                call_id = f"{incident.id}:{step.id}:check:{state.attempts}"
                context = incident.template_context(
                    self.clock.now(), step={"id": step.id, "target": incident.key}
                )
                if not self._call(
                    incident,
                    call_id,
                    verify.check.connector,
                    verify.check.params,
                    context,
                    role="check",
                    step=step.id,
                    attempt=state.attempts,
                ):
                    self._verify_failed(incident, step)
        elif kind == "approval":
            approval = step.approval
            assert approval is not None
            self._approvals.pop(f"{incident.id}:{step.id}", None)
            self._emit(
                "note",
                incident,
                text=f"approval for step {step.id} expired "
                f"after {format_duration(approval.timeout)}",
            )
            self._record_outcome(incident, step, "expired", error="approval expired")
            if approval.on_timeout == "skip":
                assert incident.step_index is not None
                incident.step_index += 1
                self._run_current(incident)
            else:
                incident.handling = "stopped"
                if approval.on_timeout == "escalate":
                    self.escalate(incident, f"approval for step {step.id} expired")

    # --- impact figures -------------------------------------------------------------------

    def _measure_impact(self, incident: Incident) -> None:
        now = self.clock.now()
        for impact in incident.compiled.runbook.postmortem.impact:
            context = incident.template_context(now, window=incident.window(now))
            self._call(
                incident,
                # A reopened incident resolves again: its queries need ids of their own.
                f"{incident.id}:impact:{impact.id}"
                + (f":{incident.reopened}" if incident.reopened else ""),
                impact.connector,
                impact.params,
                context,
                role="impact",
                step=impact.id,
                attempt=1,
            )

    def _impact_result(
        self,
        incident: Incident,
        info: dict[str, Any],
        result: dict[str, Any] | None,
        error: str | None,
    ) -> None:
        impact = next(
            i for i in incident.compiled.runbook.postmortem.impact if i.id == info["step"]
        )
        value = None if error is not None else dig(result or {}, impact.field)
        incident.impacts[impact.id] = value
        self._emit("impact", incident, **_impact_data(impact, value, error))

    def _step(self, incident: Incident, step_id: str) -> Step:
        return next(s for s in incident.compiled.runbook.handling.steps if s.id == step_id)


def _impact_data(impact: Impact, value: Any, error: str | None) -> dict[str, Any]:
    return {
        "id": impact.id,
        "title": impact.title,
        "value": value,
        "unit": impact.unit,
        "error": error,
    }


def _with_jitter(delay: timedelta, seed: str) -> timedelta:
    """Up to +20% on a retry delay, so many incidents retrying one target do not fire together.

    Derived from the call's identity, not a random generator: the engine must make the same
    decision when the journal is replayed after a restart.
    """
    fraction = (zlib.crc32(seed.encode()) % 1000) / 1000
    return delay + delay * (0.2 * fraction)
