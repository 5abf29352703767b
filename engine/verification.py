"""Handling, second half: what comes back after a call -- ``Verification``.

``call_finished`` takes every connector result to what made the call (a notification, an impact
query, a step, its check or rollback), also for an incident that has left memory. A step's
effect is verified by an event or a check call within ``verify.within``, else rolled back; the
impact figures queried at resolution go to the post-mortem. The handling timers -- retry, verify,
approval expiry -- come here too.

It extends ``Steps`` instead of meeting it through hooks in ``EngineCore``: nearly every method
here drives the step machine (dispatch, finish, fail, record), a dependency that goes one way
and would otherwise need seven more hooks.
"""

from __future__ import annotations

from typing import Any

from runbookd.engine.commands import Command
from runbookd.engine.evaluate import holds
from runbookd.engine.events import Event
from runbookd.engine.incident import Incident, dig
from runbookd.engine.lang.durations import format_duration
from runbookd.engine.lang.model import Impact, Step
from runbookd.engine.steps import Steps


class Verification(Steps):
    """Mixed into ``Engine``: call results, verification, rollback and impact figures."""

    # --- inputs ---------------------------------------------------------------------------

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

    # --- verification ---------------------------------------------------------------------

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


def _impact_data(impact: Impact, value: Any, error: str | None) -> dict[str, Any]:
    return {
        "id": impact.id,
        "title": impact.title,
        "value": value,
        "unit": impact.unit,
        "error": error,
    }
