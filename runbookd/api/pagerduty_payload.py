"""A PagerDuty v3 webhook body, read into ``PagerDutyEvent`` -- only after its signature passed.

PagerDuty posts one event per request: ``{"event": {"id", "event_type", "resource_type",
"occurred_at", "agent", "client", "data"}}``. For ``incident.*`` events ``data`` is the incident:
its ``id`` (PagerDuty's), ``number``, ``html_url``, ``status`` and ``incident_key`` -- for an
incident opened through the Events API v2, the ``dedup_key`` of the event that opened it.
``agent`` is who did it (a ``user_reference`` with ``id`` and ``summary``, the user's name), or
null when PagerDuty itself did (an auto-resolve).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

#: The event types that act on a runbookd incident; any other is answered 200 and ignored.
ACTIONS = {"incident.acknowledged": "ack", "incident.resolved": "resolve"}


class BadPayload(ValueError):
    """A signed body that is not a v3 webhook event; the message names the field."""


@dataclass(frozen=True)
class Agent:
    id: str | None
    name: str | None
    type: str | None


@dataclass(frozen=True)
class PagerDutyEvent:
    id: str
    event_type: str
    #: PagerDuty's incident id (e.g. Q0RIJJZL24RC6W) and number, for the timeline
    incident: str | None
    number: int | None
    html_url: str | None
    #: the dedup key runbookd sent (``data.incident_key``)
    incident_key: str | None
    agent: Agent | None
    resolve_reason: str | None = None

    @property
    def action(self) -> str | None:
        return ACTIONS.get(self.event_type)


def _text(obj: dict[str, Any], key: str, where: str, required: bool = False) -> str | None:
    value = obj.get(key)
    if value is None:
        if required:
            raise BadPayload(f"{where}.{key}: missing")
        return None
    if not isinstance(value, str) or (required and not value):
        raise BadPayload(f"{where}.{key}: must be a {'non-empty ' if required else ''}string")
    return value


def _object(obj: dict[str, Any], key: str, where: str) -> dict[str, Any] | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise BadPayload(f"{where}.{key}: must be an object")
    return value


def parse(body: bytes) -> PagerDutyEvent:
    """The event of a signed body; ``BadPayload`` naming the field when it is not one."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise BadPayload("body: not JSON") from None
    if not isinstance(document, dict):
        raise BadPayload("body: must be a JSON object")
    event = _object(document, "event", "body")
    if event is None:
        raise BadPayload("event: missing (not a v3 webhook)")
    event_id = _text(event, "id", "event", required=True)
    event_type = _text(event, "event_type", "event", required=True)
    assert event_id is not None and event_type is not None  # required=True
    data = _object(event, "data", "event") or {}
    agent = _object(event, "agent", "event")
    number = data.get("number")
    reason = _object(data, "resolve_reason", "event.data")
    return PagerDutyEvent(
        id=event_id,
        event_type=event_type,
        incident=_text(data, "id", "event.data"),
        number=number if isinstance(number, int) and not isinstance(number, bool) else None,
        html_url=_text(data, "html_url", "event.data"),
        incident_key=_text(data, "incident_key", "event.data"),
        agent=None
        if agent is None
        else Agent(
            _text(agent, "id", "event.agent"),
            _text(agent, "summary", "event.agent"),
            _text(agent, "type", "event.agent"),
        ),
        resolve_reason=_text(reason, "type", "event.data.resolve_reason") if reason else None,
    )
