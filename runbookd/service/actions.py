"""A person's action (a journal entry of kind ``action``) applied to the engine, and who did it
put on the timeline.

The API journals the principal with the action (``runbookd.auth.roles.Principal.to_json``). The
engine only knows the name (``by``); the commands it answers with for the person's own act get
the actor -- name, role, through what, from where -- so the timeline reads "acknowledged by ana
(responder) via slack from 10.0.0.5" and the post-mortem can name who acknowledged and approved.
The engine's state is untouched, so replay and snapshots are as before.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from runbookd.engine.commands import Command
from runbookd.engine.errors import EngineError
from runbookd.engine.runtime import Engine
from runbookd.service.pagerduty_sync import mirror_calls

#: The commands that are the person's act itself (the rest follow from it: a step that runs
#: after an approval is the engine's doing).
PERSONAL = frozenset({"acknowledge", "resolve", "close", "reopen", "note", "decide_approval"})
_ACTOR_KEYS = ("name", "role", "kind", "via", "address")


def apply_action(engine: Engine, p: dict[str, Any]) -> list[Command]:
    """Apply the action ``p``; EngineError when the engine refuses it."""
    commands = _dispatch(engine, p)
    commands += mirror_calls(engine, p, commands)  # to PagerDuty (runbookd.service.pagerduty_sync)
    principal = p.get("principal")
    if not isinstance(principal, dict) or not principal.get("name"):
        return commands  # journaled before principals existed
    actor = {k: principal[k] for k in _ACTOR_KEYS if principal.get(k)}
    return [
        replace(c, data={**c.data, "actor": actor}) if c.kind in PERSONAL else c for c in commands
    ]


def _dispatch(engine: Engine, p: dict[str, Any]) -> list[Command]:
    action = p["action"]
    if action == "ack":
        return engine.acknowledge(p["incident"], p["by"])
    if action == "resolve":
        return engine.resolve(p["incident"], p["by"], p.get("reason") or "resolved by a person")
    # "stored": the incident row as the API read it, for one that has left the engine's
    # memory (Engine.retention). Journaled with the action, so replay revives it alike.
    stored = p.get("stored")
    if action == "note":
        return engine.add_note(p["incident"], p["text"], p["by"], stored)
    if action == "close":
        return engine.close(p["incident"], p["by"], stored)
    if action == "reopen":
        reason = p.get("reason") or "reopened"
        return engine.reopen(p["incident"], p["by"], reason, stored)
    if action == "decide":
        return engine.decide(p["approval"], bool(p["approved"]), p["by"])
    raise EngineError(f"unknown action {action!r}")
