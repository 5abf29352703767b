"""The ``slack`` connector: a message via an incoming webhook or chat.postMessage."""

from __future__ import annotations

from typing import Any, Self

import httpx
from pydantic import Field, SecretStr, field_validator, model_validator

from runbookd.connectors import web
from runbookd.connectors.base import (
    CallContext,
    ConnectorSpec,
    Params,
    PermanentError,
    Result,
    RetryableError,
    Runtime,
)
from runbookd.connectors.base import Settings as BaseSettings
from runbookd.connectors.calls import connector_call, settings_of

#: chat.postMessage errors (HTTP 200, ``ok: false``) that another attempt may cure.
RETRYABLE_ERRORS = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)


class SlackParams(Params):
    """A Slack message; ``webhook`` and ``channel`` choose how it is sent."""

    text: str = Field(
        description="Message text (Slack mrkdwn); the notification fallback when blocks are given."
    )
    webhook: str | None = Field(
        None,
        description=(
            "Incoming-webhook URL. It is a secret: pass a reference such as "
            "${env:SLACK_WEBHOOK_URL}, never the URL itself."
        ),
    )
    channel: str | None = Field(
        None,
        description="Channel name or ID, e.g. #payments; sent with chat.postMessage and the bot token.",
    )
    blocks: list[dict[str, Any]] | None = Field(
        None, description="Block Kit layout blocks; text is still shown in notifications."
    )
    thread_ts: str | None = Field(
        None, description="Reply in this thread: the ts result of an earlier slack call."
    )

    @model_validator(mode="after")
    def _one_destination(self) -> Self:
        # A webhook is bound to its own channel, so giving both would silently ignore one.
        if (self.webhook is None) == (self.channel is None):
            raise ValueError(
                "give either 'webhook' (incoming webhook) or 'channel' (chat.postMessage), "
                "exactly one of them"
            )
        return self


class SlackSettings(BaseSettings):
    """``connectors.slack`` in config.yaml; only calls with ``channel`` need it."""

    bot_token: SecretStr | None = Field(
        None,
        description="Bot token (xoxb-...) for chat.postMessage, e.g. ${env:SLACK_BOT_TOKEN}.",
    )
    api_url: str = Field("https://slack.com/api", description="Base URL of the Slack Web API.")

    @field_validator("api_url")
    @classmethod
    def _http(cls, value: str) -> str:
        return web.http_url(value).rstrip("/")


def _secret_params(params: SlackParams) -> list[str | None]:
    return [params.webhook]


@connector_call(secrets=_secret_params)
async def run(params: SlackParams, ctx: CallContext, runtime: Runtime) -> Result:
    """Post the message; ``ts`` is the message's id (chat.postMessage only, None for webhooks)."""
    settings = settings_of(runtime, SlackSettings, "slack")
    message: dict[str, Any] = {"text": params.text}
    if params.blocks is not None:
        message["blocks"] = params.blocks
    if params.thread_ts is not None:
        message["thread_ts"] = params.thread_ts
    if params.webhook is not None:
        return await _webhook(runtime.http, params.webhook, message)
    assert params.channel is not None  # the model demands webhook or channel
    return await _post_message(runtime.http, settings, params.channel, message)


async def _webhook(client: httpx.AsyncClient, url: str, message: dict[str, Any]) -> Result:
    try:
        web.http_url(url)
    except ValueError:
        raise PermanentError("slack: webhook is not an absolute http(s) URL") from None
    # The webhook's path is its secret: name only the host.
    shown = f"incoming webhook at {web.origin(url)}"
    answer = await web.request(client, "slack", "POST", url, shown=shown, json=message)
    if not answer.ok:
        raise answer.failure("slack")
    return {"ok": True, "ts": None}


async def _post_message(
    client: httpx.AsyncClient, settings: SlackSettings, channel: str, message: dict[str, Any]
) -> Result:
    if settings.bot_token is None:
        raise PermanentError(
            f"slack: posting to channel {channel!r} needs connectors.slack.bot_token in "
            "config.yaml (or give a webhook instead)"
        )
    url = f"{settings.api_url}/chat.postMessage"
    answer = await web.request(
        client,
        "slack",
        "POST",
        url,
        headers={"Authorization": f"Bearer {settings.bot_token.get_secret_value()}"},
        json={"channel": channel, **message},
    )
    if not answer.ok:
        raise answer.failure("slack")
    data = answer.json()
    if not isinstance(data, dict):
        raise PermanentError(f"slack: POST {web.target(url)} answered {answer.status} without JSON")
    if data.get("ok") is not True:
        error = str(data.get("error", "no error given"))
        failure = RetryableError if error in RETRYABLE_ERRORS else PermanentError
        raise failure(f"slack: chat.postMessage to {channel!r} failed: {error}")
    return {"ok": True, "ts": data.get("ts")}


SPEC = ConnectorSpec(
    name="slack",
    params=SlackParams,
    description="Post a message to Slack through an incoming webhook or the bot token.",
    result_fields=("ok", "ts"),
    run=run,
    settings=SlackSettings,
)
