"""Pages sent through the slack connector carry Acknowledge and Resolve (values: the incident
id, nothing secret); other slack calls go as written. The call is real, to a loopback Web API.
And ``chatops.slack.signing_secret`` reads like every other secret (``_file``), never shown."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from runbookd.api.chatops_slack import SlackChatops
from runbookd.api.slack_blocks import approval_blocks, decided
from runbookd.api.slack_buttons import with_buttons
from runbookd.config.settings import SettingsError, load_settings
from runbookd.connectors import slack
from runbookd.connectors.base import CallContext, Runtime
from runbookd.server.access import build_access
from runbookd.server.slack import slack_specs, slack_tasks
from tests.unit.runbookd.slack_rig import BOT_TOKEN, SlackSide


def _send(call_id: str, **params: Any) -> dict[str, Any]:
    side = SlackSide()
    try:
        spec = with_buttons(slack.SPEC)
        assert spec.run is not None
        settings = slack.SlackSettings(bot_token=SecretStr(BOT_TOKEN), api_url=side.url)

        async def go() -> None:
            async with httpx.AsyncClient() as http:
                message = slack.SlackParams(channel="#payments", **params)
                assert spec.run is not None
                await spec.run(message, CallContext(call_id), Runtime(http, settings))

        asyncio.run(go())
        return side.to("/chat.postMessage")[0]
    finally:
        side.close()


def test_a_page_carries_acknowledge_and_resolve() -> None:
    sent = _send("INC-7:notify:payments-lead:0:2", text="INC-7 not acknowledged")
    section, actions = sent["blocks"]
    assert section["text"]["text"] == "INC-7 not acknowledged"
    assert [(e["text"]["text"], e["action_id"], e["value"]) for e in actions["elements"]] == [
        ("Acknowledge", "runbookd_ack", "INC-7"),
        ("Resolve", "runbookd_resolve", "INC-7"),
    ]
    assert sent["text"] == "INC-7 not acknowledged"  # still the notification's text


def test_a_retried_page_and_an_authors_blocks_keep_the_buttons() -> None:
    own = [{"type": "header", "text": {"type": "plain_text", "text": "Payments down"}}]
    sent = _send("INC-7:notify:lead:0:1:attempt2", text="x", blocks=own)
    assert sent["blocks"][0] == own[0]
    assert sent["blocks"][1]["elements"][0]["value"] == "INC-7"


def test_a_handling_steps_message_goes_as_written() -> None:
    sent = _send("INC-7:run:tell_team:1", text="switched to backup")
    assert "blocks" not in sent


def test_the_signing_secret_comes_from_a_file_and_is_never_shown(tmp_path: Path) -> None:
    (tmp_path / "slack.secret").write_text("0123456789abcdef-signing\n")
    config = tmp_path / "config.yaml"
    config.write_text("chatops:\n  slack:\n    signing_secret_file: slack.secret\n")
    settings = load_settings(config, environ={})
    secret = settings.chatops.slack.signing_secret
    assert secret is not None and secret.get_secret_value() == "0123456789abcdef-signing"
    assert "0123456789abcdef" not in repr(settings)
    access, _ = build_access(settings)
    assert access.redactor.clean("note: 0123456789abcdef-signing") == "note: [redacted]"
    config.write_text("chatops:\n  slack:\n    signing_secret_file: missing.secret\n    x: 1\n")
    with pytest.raises(SettingsError) as refused:
        load_settings(config, environ={})
    assert "chatops.slack.signing_secret_file" in str(refused.value)


def test_without_a_signing_secret_pages_carry_no_buttons_and_nothing_is_posted() -> None:
    assert slack_specs({"slack": slack.SPEC}, None)["slack"] is slack.SPEC

    async def go() -> int:
        before = len(asyncio.all_tasks())
        stop = slack_tasks(None, SlackChatops("secret-without-channel"))  # type: ignore[arg-type]
        started = len(asyncio.all_tasks()) - before
        await stop()
        return started

    assert asyncio.run(go()) == 0  # no approvals_channel: no poster


def test_a_decision_replaces_the_buttons_with_who_answered() -> None:
    asked = approval_blocks("INC-3:failover", "INC-3: step `failover` waits for approval")
    denied = decided(asked, "deny", "ana", "INC-3:failover")
    assert denied[0] == asked[0]
    assert denied[1:] == [
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "Denied by ana"}]}
    ]
