"""Slack's requests: button clicks (``/api/v1/chatops/slack/interactions``) and the
``/runbookd`` slash command (``/api/v1/chatops/slack/commands``).

The signature is checked on the raw body before anything is parsed (401 and nothing changed
otherwise, runbookd.api.chatops_verify). Slack wants an answer within 3 s: the action is
started, awaited for ``ANSWER_WITHIN_S``, and if the engine has not applied it by then the
answer says so and the result follows through the request's ``response_url``. A click's result
replaces the original message's buttons (``replace_original``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import parse_qs

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import SQLAlchemyError

from runbookd.api.chatops_verify import Refused, Replays, verify_slack
from runbookd.api.principals import access_of
from runbookd.api.problems import errors
from runbookd.api.slack_actions import Reply, identify, perform
from runbookd.api.slack_blocks import ACTIONS, decided
from runbookd.api.slack_commands import help_text, parse_command
from runbookd.auth.users import Users
from runbookd.connectors.web import origin
from runbookd.service.core import Service
from runbookd.store.webhook_events import claim, finish

log = logging.getLogger(__name__)


async def first_delivery(service: Service, signature: str, now: float) -> bool:
    """Whether no replica took this signed request before (``webhook_event``, source slack);
    a store that does not answer is a 503, which Slack retries."""
    at = datetime.fromtimestamp(now, UTC)

    def take() -> bool:
        if claim(service.db, "slack", signature, "request", None, at) != "new":
            return False
        finish(service.db, "slack", signature, at)  # nothing to take over after a crash
        return True

    try:
        return await asyncio.to_thread(take)
    except SQLAlchemyError as exc:
        raise HTTPException(503, f"store unavailable: {type(exc).__name__}") from None


#: How long a request waits for the engine before answering "working on it" (Slack: 3 s).
ANSWER_WITHIN_S = 2.5
#: Slack's requests are a few kilobytes; anything far larger is not from Slack.
MAX_BODY = 64 * 1024
#: How long a post to a ``response_url`` may take.
RESPONSE_URL_TIMEOUT_S = 10.0
WORKING = "Working on it: runbookd will post the result here."

T = TypeVar("T")


@dataclass
class SlackChatops:
    """The Slack side's configuration (``chatops.slack``) and its replay memory."""

    signing_secret: str = field(repr=False)
    approvals_channel: str | None = None
    replays: Replays = field(default_factory=Replays)
    clock: Callable[[], float] = time.time
    #: how long a request waits for the engine (tests of the late path set 0)
    answer_within: float = ANSWER_WITHIN_S


#: What the Slack routes may answer besides 200 (the OpenAPI document lists them).
_SLACK_ERRORS: dict[int | str, dict[str, Any]] = {
    **errors(400),
    404: {"description": "Slack is not configured (chatops.slack.signing_secret is unset)"},
    413: {"description": "the body is too large, or has no length"},
}


def slack_router(service: Service, chatops: SlackChatops | None) -> APIRouter:
    router = APIRouter(prefix="/api/v1/chatops/slack", tags=["chatops"])
    # Follow-ups still running after their request was answered (kept from the collector).
    tasks: set[asyncio.Future[Any]] = set()

    async def verified(request: Request) -> bytes:
        if chatops is None:
            raise HTTPException(404, "Slack is not configured (chatops.slack.signing_secret)")
        declared = request.headers.get("content-length") or "0"
        if not declared.isdigit() or int(declared) > MAX_BODY:
            raise HTTPException(413, f"body: larger than {MAX_BODY} bytes")
        body = await request.body()
        if len(body) > MAX_BODY:  # a chunked body says no length up front
            raise HTTPException(413, f"body: larger than {MAX_BODY} bytes")
        try:
            verify_slack(
                chatops.signing_secret.encode(),
                request.headers.get("x-slack-request-timestamp"),
                request.headers.get("x-slack-signature"),
                body,
                chatops.clock(),
                chatops.replays,
            )
        except Refused as exc:
            peer = request.client.host if request.client else "?"
            log.warning("slack: refused a request from %s: %s", peer, exc)
            raise HTTPException(401, str(exc)) from None
        # The process's memory above spares the store most replays; the store's row is what
        # catches one sent to another replica, or again after a restart, inside the window.
        signature = request.headers.get("x-slack-signature") or ""
        if not await first_delivery(service, signature, chatops.clock()):
            peer = request.client.host if request.client else "?"
            log.warning("slack: refused a request from %s: a replay seen by another process", peer)
            raise HTTPException(401, "this request was already received (replay)")
        return body

    def spawn(work: Awaitable[T]) -> asyncio.Future[T]:
        task = asyncio.ensure_future(work)
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        return task

    async def started(
        request: Request, slack_id: str, action: str, target: str
    ) -> tuple[asyncio.Future[Reply], bool]:
        """The action, started; True when it finished within ``answer_within``. It goes on
        when the request is answered first (or Slack hangs up): it is journaled all the same."""
        assert chatops is not None  # verified() answered 404 otherwise
        users = access_of(request).users
        task = spawn(_act(service, users, slack_id, action, target))
        done, _ = await asyncio.wait({task}, timeout=chatops.answer_within)
        return task, bool(done)

    @router.post(
        "/interactions",
        summary="Slack button clicks (Interactivity request URL)",
        responses=_SLACK_ERRORS,
    )
    async def interactions(request: Request) -> Response:
        data = _interaction(await verified(request))
        if data is None:  # not a button click (a shortcut, a modal): nothing to do
            return Response(status_code=200)
        slack_id, action, target, response_url, message = data
        task, in_time = await started(request, slack_id, action, target)
        spawn(_deliver_click(service, task, response_url, message, late=not in_time))
        return Response(status_code=200)

    @router.post(
        "/commands",
        summary="The /runbookd slash command (its request URL)",
        responses=_SLACK_ERRORS,
    )
    async def commands(request: Request) -> Response:
        form = _form(await verified(request))
        command = parse_command(form.get("text", ""))
        name = form.get("command") or "/runbookd"
        if command.action == "help":
            return _ephemeral(help_text(name, command.problem))
        task, in_time = await started(
            request, form.get("user_id", ""), command.action, command.target
        )
        if in_time:
            return _command_answer(await _result(task))
        spawn(_deliver_command(service, task, form.get("response_url")))
        return _ephemeral(WORKING)

    return router


async def _act(service: Service, users: Users, slack_id: str, action: str, target: str) -> Reply:
    found = await identify(service, users, slack_id, action, target)
    if isinstance(found, Reply):
        return found
    return await perform(service, found, action, target)


def _form(body: bytes) -> dict[str, str]:
    try:
        parsed = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError:
        raise HTTPException(400, "body: not UTF-8 form data") from None
    return {k: v[0] for k, v in parsed.items()}


def _interaction(body: bytes) -> tuple[str, str, str, str | None, dict[str, Any]] | None:
    """Slack's ``payload=`` form field, for a click on one of runbookd's buttons: the Slack
    user id, the action, its target, the response URL and the original message."""
    raw = _form(body).get("payload")
    if raw is None:
        raise HTTPException(400, "payload: missing (Slack sends a payload= form field)")
    try:
        data = json.loads(raw)
    except ValueError:
        raise HTTPException(400, "payload: not JSON") from None
    if not isinstance(data, dict) or data.get("type") != "block_actions":
        return None
    actions = data.get("actions")
    first = actions[0] if isinstance(actions, list) and actions else None
    if not isinstance(first, dict):
        raise HTTPException(400, "payload.actions: a block_actions payload needs an action")
    action = ACTIONS.get(str(first.get("action_id")))
    if action is None:
        raise HTTPException(
            400, f"payload.actions[0].action_id: unknown {first.get('action_id')!r}"
        )
    target = first.get("value")
    if not isinstance(target, str) or not target:
        raise HTTPException(400, "payload.actions[0].value: the incident or approval id is missing")
    user = data.get("user")
    slack_id = str(user.get("id") or "") if isinstance(user, dict) else ""
    url = data.get("response_url")
    message = data.get("message")
    return (
        slack_id,
        action,
        target,
        url if isinstance(url, str) else None,
        message if isinstance(message, dict) else {},
    )


def _ephemeral(text: str) -> JSONResponse:
    return JSONResponse({"response_type": "ephemeral", "text": text})


def _command_answer(reply: Reply) -> JSONResponse:
    # An action done is news for the channel; a refusal or a status is for the asker alone.
    kind = "in_channel" if reply.done else "ephemeral"
    return JSONResponse({"response_type": kind, "text": reply.text})


async def _result(task: asyncio.Future[Reply]) -> Reply:
    try:
        return await task
    except Exception:  # a bug must still answer the person who clicked
        log.exception("slack: an action failed")
        return Reply("runbookd could not do that (an internal error; see its log)")


async def _deliver_click(
    service: Service,
    task: asyncio.Future[Reply],
    url: str | None,
    message: dict[str, Any],
    late: bool,
) -> None:
    if late:
        await _post(
            service, url, {"response_type": "ephemeral", "replace_original": False, "text": WORKING}
        )
    reply = await _result(task)
    if reply.done is None or reply.by is None or reply.target is None:
        body = {"response_type": "ephemeral", "replace_original": False, "text": reply.text}
    else:
        blocks = message.get("blocks")
        original = blocks if isinstance(blocks, list) else []
        body = {
            "replace_original": True,
            "text": str(message.get("text") or reply.text),
            "blocks": decided(original, reply.done, reply.by, reply.target or ""),
        }
    await _post(service, url, body)


async def _deliver_command(service: Service, task: asyncio.Future[Reply], url: str | None) -> None:
    reply = await _result(task)
    kind = "in_channel" if reply.done else "ephemeral"
    await _post(service, url, {"response_type": kind, "text": reply.text})


async def _post(service: Service, url: str | None, body: dict[str, Any]) -> None:
    client = service.http
    if not url or client is None:
        return
    try:
        answer = await asyncio.wait_for(client.post(url, json=body), RESPONSE_URL_TIMEOUT_S)
    except Exception as exc:  # the action is done; only the message to the person is lost
        # The response URL is a capability: name only its host.
        log.warning(
            "slack: posting to the response URL at %s failed: %s", origin(url), type(exc).__name__
        )
        return
    if answer.status_code >= 300:
        log.warning("slack: the response URL at %s answered %s", origin(url), answer.status_code)
