"""The ``pagerduty`` connector: one alert event for the Events API v2."""

from __future__ import annotations

from typing import Any, Literal, Self

from pydantic import Field, field_validator, model_validator

from runbookd.connectors import web
from runbookd.connectors.base import CallContext, ConnectorSpec, Params, Result, Runtime
from runbookd.connectors.base import Settings as BaseSettings
from runbookd.connectors.calls import connector_call, settings_of

#: PagerDuty's limit on dedup_key.
MAX_DEDUP_KEY = 255


class PagerDutyParams(Params):
    """One Events API v2 event: trigger, acknowledge or resolve an alert."""

    routing_key: str = Field(
        description=(
            "Integration (routing) key of the PagerDuty service. It is a secret and comes from "
            "the environment: pass a reference such as ${env:PD_ROUTING_KEY}."
        )
    )
    action: Literal["trigger", "acknowledge", "resolve"] = Field(
        "trigger", description="The event_action to send."
    )
    dedup_key: str | None = Field(
        None,
        description=(
            "Identifies the alert across events (at most 255 characters). Optional for trigger, "
            "where PagerDuty returns one; required to acknowledge or resolve."
        ),
    )
    summary: str | None = Field(
        None,
        description="Alert title shown to responders (at most 1024 characters); needed to trigger.",
    )
    severity: Literal["critical", "error", "warning", "info"] = Field(
        "error", description="Severity of the alert: critical, error, warning or info."
    )
    source: str = Field(
        "runbookd", description="The affected system, preferably a hostname or service name."
    )
    component: str | None = Field(None, description="Part of the source at fault, e.g. mysql.")
    group: str | None = Field(None, description="Logical group of components, e.g. app-stack.")
    class_: str | None = Field(
        None, alias="class", description="Kind of problem, e.g. 'ping failure' or 'cpu load'."
    )
    custom_details: dict[str, Any] = Field(
        default_factory=dict, description="Free-form details shown with the alert."
    )

    @model_validator(mode="after")
    def _needs_for_action(self) -> Self:
        if self.action == "trigger" and not self.summary:
            raise ValueError("'summary' is required when action is 'trigger'")
        if self.action != "trigger" and not self.dedup_key:
            raise ValueError(
                f"'dedup_key' is required when action is {self.action!r}: "
                "it names the alert to update"
            )
        return self


class PagerDutySettings(BaseSettings):
    """``connectors.pagerduty`` in config.yaml; the defaults fit PagerDuty's cloud service."""

    events_url: str = Field(
        "https://events.pagerduty.com/v2/enqueue",
        description="Events API v2 enqueue endpoint (the EU service uses events.eu.pagerduty.com).",
    )

    @field_validator("events_url")
    @classmethod
    def _http(cls, value: str) -> str:
        return web.http_url(value)


def _secret_params(params: PagerDutyParams) -> list[str]:
    return [params.routing_key]


def event(params: PagerDutyParams, idempotency_key: str) -> dict[str, Any]:
    """The Events API v2 body for ``params``.

    A trigger without a dedup_key gets the call's idempotency key, so a retried trigger updates
    the alert the first attempt opened instead of paging twice.
    """
    body: dict[str, Any] = {"routing_key": params.routing_key, "event_action": params.action}
    dedup_key = params.dedup_key or idempotency_key[:MAX_DEDUP_KEY]
    if dedup_key:
        body["dedup_key"] = dedup_key
    if params.action == "trigger":
        payload: dict[str, Any] = {
            "summary": params.summary,
            "source": params.source,
            "severity": params.severity,
        }
        optional = {
            "component": params.component,
            "group": params.group,
            "class": params.class_,
            "custom_details": params.custom_details or None,
        }
        payload.update({k: v for k, v in optional.items() if v is not None})
        body["payload"] = payload
    return body


@connector_call(secrets=_secret_params)
async def run(params: PagerDutyParams, ctx: CallContext, runtime: Runtime) -> Result:
    """Send the event; PagerDuty answers 202 with the alert's dedup_key."""
    settings = settings_of(runtime, PagerDutySettings, "pagerduty")
    body = event(params, ctx.idempotency_key)
    answer = await web.request(runtime.http, "pagerduty", "POST", settings.events_url, json=body)
    data = answer.json()
    if not answer.ok:
        # 400 says why in "message" and "errors"; quote those rather than the raw body.
        detail = None
        if isinstance(data, dict) and data.get("errors"):
            detail = f"{data.get('message', '')} {data['errors']}".strip()
        raise answer.failure("pagerduty", detail)
    if not isinstance(data, dict):
        data = {}
    return {
        "dedup_key": data.get("dedup_key") or body.get("dedup_key"),
        "status": data.get("status", "success"),
    }


SPEC = ConnectorSpec(
    name="pagerduty",
    params=PagerDutyParams,
    description="Trigger, acknowledge or resolve a PagerDuty alert (Events API v2).",
    result_fields=("dedup_key", "status"),
    run=run,
    settings=PagerDutySettings,
)
