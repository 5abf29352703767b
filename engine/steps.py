"""Handling, first half: run an incident's steps in order -- ``Steps``.

Conditions, approvals, safety rails, the connector call, retries with backoff and the
on_failure policy, as a deterministic state machine. A step's call leaves as a ``run_step``
command; what comes back -- its result, the verification of its effect, a rollback -- is
``engine.verification``'s, which extends this class.
"""

from __future__ import annotations

import zlib
from datetime import timedelta
from typing import Any

from runbookd.engine.commands import Command
from runbookd.engine.core import EngineCore
from runbookd.engine.errors import EngineError
from runbookd.engine.evaluate import holds
from runbookd.engine.incident import Incident, StepState
from runbookd.engine.lang.durations import format_duration
from runbookd.engine.lang.model import Step
from runbookd.engine.templating import TemplateError, render_text


class Steps(EngineCore):
    """Mixed into ``Engine``: the step machine of an incident's handling."""

    # --- inputs ---------------------------------------------------------------------------

    def decide(self, approval_id: str, approved: bool, by: str) -> list[Command]:
        """A person approves or denies a step that waits for approval."""
        self._out = []
        if approval_id not in self._approvals:
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

    def _step(self, incident: Incident, step_id: str) -> Step:
        return next(s for s in incident.compiled.runbook.handling.steps if s.id == step_id)


def _with_jitter(delay: timedelta, seed: str) -> timedelta:
    """Up to +20% on a retry delay, so many incidents retrying one target do not fire together.

    Derived from the call's identity, not a random generator: the engine must make the same
    decision when the journal is replayed after a restart.
    """
    fraction = (zlib.crc32(seed.encode()) % 1000) / 1000
    return delay + delay * (0.2 * fraction)
