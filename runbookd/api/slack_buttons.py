"""Buttons on what runbookd posts to Slack: pages get Acknowledge and Resolve (the slack
connector's spec, wrapped), and steps waiting for approval are posted with Approve and Deny
(``ApprovalPoster``) when ``chatops.slack.approvals_channel`` is set.

A page is a ``notify`` call: its call id starts with ``<incident>:notify:`` (retries too,
runbookd.engine.escalation), which is how the wrapper knows the incident; every other slack
call (a handling step's message) is sent as written.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import replace

from runbookd.api.slack_blocks import approval_blocks, approval_text, page_blocks
from runbookd.connectors import slack
from runbookd.connectors.base import (
    CallContext,
    ConnectorError,
    ConnectorSpec,
    Params,
    Result,
    RetryableError,
    Runtime,
)
from runbookd.service.core import Service

log = logging.getLogger(__name__)

_PAGE = re.compile(r"^(?P<incident>[^:]+):notify:")
#: How often the poster looks for new approval requests.
APPROVALS_EVERY_S = 1.0
#: How long one post may take (the shared client has no timeout of its own).
POST_TIMEOUT_S = 10.0


def with_buttons(spec: ConnectorSpec) -> ConnectorSpec:
    """The slack connector, adding Acknowledge and Resolve to every page it sends."""
    inner = spec.run
    if inner is None:
        return spec

    async def run(params: Params, ctx: CallContext, runtime: Runtime) -> Result:
        page = _PAGE.match(ctx.idempotency_key)
        if page is not None and isinstance(params, slack.SlackParams):
            blocks = page_blocks(page["incident"], params.text, params.blocks)
            params = params.model_copy(update={"blocks": blocks})
        return await inner(params, ctx, runtime)

    return replace(spec, run=run)


class ApprovalPoster:
    """Posts each step that waits for approval once (per process) to the approvals channel.

    The memory is the process's: after a restart the steps still waiting are posted again,
    which is better than a request nobody sees. Only the engine leader posts (replicas).
    """

    def __init__(self, service: Service, channel: str) -> None:
        self._service = service
        self._channel = channel
        self._posted: set[str] = set()

    async def run(self) -> None:
        while True:
            await asyncio.sleep(APPROVALS_EVERY_S)
            try:
                await self.post_new()
            except Exception:  # a bug here must not stop later requests from being posted
                log.exception("slack: posting approval requests failed")

    async def post_new(self) -> None:
        service = self._service
        if service.http is None or not service.leads():
            return
        waiting = list(service.worker.approvals)
        self._posted &= {a["id"] for a in waiting}  # decided ones are forgotten
        for approval in waiting:
            if approval["id"] in self._posted:
                continue
            self._posted.add(approval["id"])
            text = approval_text(
                approval["id"], approval["step"], approval["incident"], approval.get("deadline")
            )
            params = slack.SlackParams(
                channel=self._channel, text=text, blocks=approval_blocks(approval["id"], text)
            )
            runtime = Runtime(http=service.http, settings=service.connector_settings.get("slack"))
            ctx = CallContext(idempotency_key=f"{approval['id']}:slack")
            try:
                await asyncio.wait_for(slack.run(params, ctx, runtime), POST_TIMEOUT_S)
            except (TimeoutError, RetryableError) as exc:  # may pass: try again next round
                self._posted.discard(approval["id"])
                log.warning("slack: approval request %s not posted yet: %s", approval["id"], exc)
            except ConnectorError as exc:  # the connector's messages carry no secret
                log.warning("slack: approval request %s not posted: %s", approval["id"], exc)
