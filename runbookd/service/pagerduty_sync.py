"""The other way round: an acknowledgement or resolution made in runbookd is sent to PagerDuty.

The API puts the incident's PagerDuty alerts into the action's journal entry (``pagerduty``:
routing key as written, dedup key; ``runbookd.api.pagerduty_links.targets``), so applying the
entry is a pure function of it and replay makes the same calls. When the engine really changed
the incident (it emitted ``acknowledge`` or ``resolve``), one ``notify`` call per alert goes to the
outbox with the Events API action -- through the executor like every connector call, once per
call id.

No loops: an action that came from PagerDuty carries no alert to tell (the API leaves out the
one it came from), so PagerDuty never hears back what it said itself.
"""

from __future__ import annotations

from typing import Any

from runbookd.engine.commands import Command
from runbookd.engine.runtime import Engine

#: The engine's command for each action, and the Events API v2 ``event_action`` that mirrors it.
_MIRRORS = {"ack": ("acknowledge", "acknowledge"), "resolve": ("resolve", "resolve")}
_REASONS = {"acknowledge": "acknowledged in runbookd", "resolve": "resolved in runbookd"}


def mirror_calls(engine: Engine, p: dict[str, Any], commands: list[Command]) -> list[Command]:
    """The PagerDuty calls that mirror the action ``p``, given what the engine made of it."""
    found = _MIRRORS.get(str(p.get("action")))
    alerts = p.get("pagerduty")
    if found is None or not isinstance(alerts, list) or not alerts:
        return []
    kind, event_action = found
    done = next((c for c in commands if c.kind == kind and c.incident == p["incident"]), None)
    if done is None:  # already acknowledged (or resolved): PagerDuty was told then
        return []
    incident = engine.incidents.get(p["incident"])
    reopened = incident.reopened if incident is not None else 0
    calls = []
    for n, alert in enumerate(alerts, 1):
        # Ends in a word, not a number: stored_record numbers escalation calls by the last part.
        call_id = f"{done.incident}:pagerduty:{event_action}:{reopened}:{n}:mirror"
        params = {
            "routing_key": alert["routing_key"],
            "action": event_action,
            "dedup_key": alert["dedup_key"],
        }
        data = {
            "call_id": call_id,
            "connector": "pagerduty",
            "params": params,
            "dry_run": bool(alert.get("dry_run")),
            # "sync": not an escalation level; the post-mortem does not count it as a page
            "role": "sync",
            "level": alert.get("level"),
            "reason": _REASONS[event_action],
        }
        calls.append(Command("notify", done.at, done.incident, done.runbook, data))
    return calls
