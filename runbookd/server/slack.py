"""Wiring of the Slack side (``chatops.slack``) into the app: the settings, the slack
connector with buttons, and the approvals poster's task."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING

from runbookd.api.chatops_slack import SlackChatops
from runbookd.api.slack_buttons import ApprovalPoster, with_buttons
from runbookd.connectors.base import ConnectorSpec
from runbookd.service.core import Service

if TYPE_CHECKING:
    from runbookd.config.settings import Settings


def slack_chatops(settings: Settings) -> SlackChatops | None:
    """``chatops.slack`` as the app uses it; None without a signing secret (Slack off)."""
    section = settings.chatops.slack
    if section.signing_secret is None:
        return None
    return SlackChatops(
        signing_secret=section.signing_secret.get_secret_value(),
        approvals_channel=section.approvals_channel,
    )


def slack_specs(
    specs: Mapping[str, ConnectorSpec], slack: SlackChatops | None
) -> Mapping[str, ConnectorSpec]:
    """The connectors, the slack one adding buttons to pages when Slack can answer them."""
    if slack is None or "slack" not in specs:
        return specs
    return {**specs, "slack": with_buttons(specs["slack"])}


def slack_tasks(service: Service, slack: SlackChatops | None) -> Callable[[], Awaitable[None]]:
    """Start the approvals poster (when a channel is set); returns what stops it."""
    task = None
    if slack is not None and slack.approvals_channel:
        task = asyncio.create_task(ApprovalPoster(service, slack.approvals_channel).run())

    async def stop() -> None:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    return stop
