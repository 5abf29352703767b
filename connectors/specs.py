"""Parameter contracts of the built-in connectors, checked by ``runbookd check``.

The executors that act on them arrive with the step executor; the contracts come first because
runbooks are written against them. Values may be Jinja2 templates, so types stay simple.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from connectors.base import ConnectorSpec, Params


class HttpParams(Params):
    url: str = Field(description="Absolute URL; templated.")
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    headers: dict[str, str] = Field(default_factory=dict)
    json_: Any = Field(None, alias="json", description="JSON body.")
    body: str | None = Field(None, description="Raw body (instead of json).")
    expect_status: list[int] | None = Field(None, description="Statuses that count as success.")


class SlackParams(Params):
    text: str
    channel: str | None = Field(None, description="Channel for chat.postMessage.")
    webhook: str | None = Field(None, description="Incoming-webhook URL, e.g. ${env:SLACK_URL}.")


class PagerDutyParams(Params):
    routing_key: str = Field(description="Integration key, e.g. ${env:PD_ROUTING_KEY}.")
    action: Literal["trigger", "acknowledge", "resolve"] = "trigger"
    dedup_key: str | None = None
    summary: str | None = None
    severity: Literal["critical", "error", "warning", "info"] = "error"
    source: str | None = None


class EmailParams(Params):
    to: list[str] = Field(min_length=1)
    subject: str
    body: str
    cc: list[str] = Field(default_factory=list)


class Matcher(Params):
    name: str
    value: str
    is_regex: bool = False
    is_equal: bool = True


class SilenceParams(Params):
    action: Literal["create", "expire"] = "create"
    matchers: list[Matcher] = Field(default_factory=list)
    duration: str = "1h"
    comment: str = "silenced by runbookd"
    created_by: str = "runbookd"
    silence_id: str | None = None


class PrometheusParams(Params):
    query: str = Field(description="PromQL instant query; the result's first value is `value`.")


class SqlParams(Params):
    query: str
    database: str = "default"
    params: dict[str, Any] = Field(default_factory=dict)
    read_only: bool = True


class ShellParams(Params):
    command: list[str] = Field(min_length=1, description="Argument list; never run by a shell.")
    cwd: str | None = None
    env: dict[str, str] = Field(default_factory=dict)


class LogParams(Params):
    message: str
    level: Literal["info", "warning", "error"] = "info"


BUILTINS: tuple[ConnectorSpec, ...] = (
    ConnectorSpec("http", HttpParams, "Call an HTTP endpoint.", ("status_code", "body", "json")),
    ConnectorSpec("slack", SlackParams, "Post a Slack message.", ("ok", "ts")),
    ConnectorSpec(
        "pagerduty", PagerDutyParams, "PagerDuty Events API v2.", ("dedup_key", "status")
    ),
    ConnectorSpec("email", EmailParams, "Send email over SMTP.", ("message_id",)),
    ConnectorSpec(
        "alertmanager_silence", SilenceParams, "Create or expire a silence.", ("silence_id",)
    ),
    ConnectorSpec(
        "prometheus", PrometheusParams, "Instant PromQL query.", ("value", "series"), True
    ),
    ConnectorSpec(
        "sql", SqlParams, "SQL query, read-only by default.", ("rows", "value", "rowcount"), True
    ),
    ConnectorSpec(
        "shell", ShellParams, "Run an allow-listed command.", ("exit_code", "stdout", "stderr")
    ),
    ConnectorSpec("log", LogParams, "Write a note to the incident timeline.", ()),
)
