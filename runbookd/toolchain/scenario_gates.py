"""Who may decide an approval in a scenario: the step's ``approval.role`` and ``approval.team``
checked against the decision's ``role`` and ``teams``, as the server checks a logged-in user, so
a scenario that approves a team's step must approve as a member of that team."""

from __future__ import annotations

from runbookd.auth.roles import Principal, Role, decision_refused
from runbookd.engine.errors import EngineError
from runbookd.engine.simulator import Simulator
from runbookd.toolchain.scenario_model import Decision


def check_decider(sim: Simulator, approval_id: str, decision: Decision) -> None:
    """EngineError (the scenario's timeline fails) when ``decision`` may not decide."""
    incident_id, step_id = sim.engine.waiting_approvals()[approval_id]
    incident = sim.engine.incidents[incident_id]
    gate = next(
        (s.approval for s in incident.compiled.runbook.handling.steps if s.id == step_id), None
    )
    if gate is None:
        return
    who = Principal(decision.by, Role.parse(decision.role), "api", teams=tuple(decision.teams))
    refused = decision_refused(who, gate.role, gate.team)
    if refused is not None:
        raise EngineError(f"step {step_id!r}: {refused} (give the decision role: or teams:)")
