"""The ``alertmanager_silence`` connector: create or expire a silence (Alertmanager API v2)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal, Self
from urllib.parse import quote

from pydantic import Field, model_validator

from runbookd.connectors import web
from runbookd.connectors.base import (
    CallContext,
    ConnectorSpec,
    Params,
    PermanentError,
    Result,
    Runtime,
)
from runbookd.connectors.calls import connector_call, settings_of
from runbookd.connectors.durations import parse_duration


class SilenceMatcher(Params):
    """One label matcher of a silence, as in Alertmanager's API v2."""

    name: str = Field(description="Label name, e.g. alertname.")
    value: str = Field(description="Label value, or a regular expression when is_regex is true.")
    is_regex: bool = Field(False, description="Match value as a regular expression.")
    is_equal: bool = Field(True, description="False inverts the match (!= or !~).")


class SilenceParams(Params):
    """Create a silence for ``duration`` from now, or expire one by id."""

    action: Literal["create", "expire"] = Field("create", description="create or expire.")
    matchers: list[SilenceMatcher] = Field(
        default_factory=list, description="Alerts to silence; at least one to create."
    )
    duration: str = Field("1h", description="How long the silence lasts from now, e.g. 30m or 2h.")
    comment: str = Field(
        "Silenced by runbookd.",
        description="Why, shown in Alertmanager; name the incident, e.g. '{{ incident.id }}: failover'.",
    )
    created_by: str = Field("runbookd", description="Author recorded on the silence.")
    silence_id: str | None = Field(
        None, description="Silence to expire: the silence_id result of the create call."
    )

    @model_validator(mode="after")
    def _needs_for_action(self) -> Self:
        if self.action == "create" and not self.matchers:
            raise ValueError("'matchers' needs at least one matcher to create a silence")
        if self.action == "expire" and not self.silence_id:
            raise ValueError("'silence_id' is required when action is 'expire'")
        return self


class AlertmanagerSettings(web.Endpoint):
    """``connectors.alertmanager_silence`` in config.yaml: the Alertmanager to silence in."""


def silence(params: SilenceParams, now: datetime) -> dict[str, Any]:
    """The API v2 body of a silence lasting ``params.duration`` from ``now``."""
    try:
        length = parse_duration(params.duration)
    except ValueError as exc:
        raise PermanentError(f"alertmanager_silence: duration: {exc}") from None
    return {
        "matchers": [
            {"name": m.name, "value": m.value, "isRegex": m.is_regex, "isEqual": m.is_equal}
            for m in params.matchers
        ],
        "startsAt": now.isoformat(timespec="milliseconds"),
        "endsAt": (now + length).isoformat(timespec="milliseconds"),
        "createdBy": params.created_by,
        "comment": params.comment,
    }


@connector_call()
async def run(params: SilenceParams, ctx: CallContext, runtime: Runtime) -> Result:
    """Create the silence (its id is the result) or expire the one named by ``silence_id``."""
    settings = settings_of(runtime, AlertmanagerSettings, "alertmanager_silence")
    if params.action == "expire":
        assert params.silence_id is not None  # the model demands it to expire
        return await _expire(runtime, settings, params.silence_id)
    # Alertmanager compares against its own wall clock, so this is the real time, not a
    # scenario's virtual one.
    body = silence(params, datetime.now(UTC))
    answer = await web.request(
        runtime.http,
        "alertmanager_silence",
        "POST",
        settings.join("/api/v2/silences"),
        headers=settings.header_values(),
        json=body,
    )
    if not answer.ok:
        raise answer.failure("alertmanager_silence")
    data = answer.json()
    if not isinstance(data, dict) or not data.get("silenceID"):
        raise PermanentError(
            f"alertmanager_silence: POST {answer.shown} answered {answer.status} "
            "without a silenceID"
        )
    return {"silence_id": data["silenceID"]}


async def _expire(runtime: Runtime, settings: AlertmanagerSettings, silence_id: str) -> Result:
    # Expiring an expired silence answers 200, so a retried expire is harmless.
    answer = await web.request(
        runtime.http,
        "alertmanager_silence",
        "DELETE",
        settings.join(f"/api/v2/silence/{quote(silence_id, safe='')}"),
        headers=settings.header_values(),
    )
    if "silence not found" in answer.text:
        # Alertmanager 0.25 answers an unknown id with 500; another attempt will not find it.
        raise PermanentError(
            f"alertmanager_silence: DELETE {answer.shown} answered {answer.status}: "
            f"no silence {silence_id!r}"
        )
    if not answer.ok:
        raise answer.failure("alertmanager_silence")
    return {"silence_id": silence_id}


SPEC = ConnectorSpec(
    name="alertmanager_silence",
    params=SilenceParams,
    description="Create or expire an Alertmanager silence.",
    result_fields=("silence_id",),
    run=run,
    settings=AlertmanagerSettings,
)
