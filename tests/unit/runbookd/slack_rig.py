"""Slack as the tests see it: requests built as Slack documents them (form encoding, the
``X-Slack-*`` headers, HMAC-SHA256 over ``v0:<timestamp>:<body>``), and a loopback HTTP server
that stands for a ``response_url`` and the Web API (chat.postMessage), recording every body.

The real app runs under uvicorn on loopback with users that carry Slack ids.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
from pydantic import SecretStr

from runbookd.api.chatops_slack import SlackChatops
from runbookd.api.principals import Access
from runbookd.auth.users import Users
from runbookd.connectors.slack import SlackSettings
from runbookd.server.app import build_app
from runbookd.service.core import Options
from tests.e2e.harness import poll
from tests.unit.postmortem.rig import PAYMENT
from tests.unit.runbookd.audit_app import ACCESS, App
from tests.unit.runbookd.live_app import live

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
#: Slack user ids of the audit rig's users (ana approver, rob responder, vic viewer).
SLACK_IDS = {"ana": "U0ANA", "rob": "U0ROB", "vic": "U0VIC"}
BOT_TOKEN = "xoxb-test-bot-token-1234"


def _with_slack_ids(access: Access) -> Access:
    from dataclasses import replace

    accounts = [replace(a, slack=SLACK_IDS.get(a.name)) for a in access.users.accounts]
    return replace(access, users=Users(accounts))


ACCESS_SLACK = _with_slack_ids(ACCESS)


class SlackSide:
    """A loopback HTTP server recording every POST (path and JSON body); chat.postMessage
    answers ``ok`` with a ``ts``, any other path (a response URL) ``200 ok``."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, dict[str, Any]]] = []
        lock = threading.Lock()
        record = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length") or 0))
                with lock:
                    record.posts.append((self.path, json.loads(raw or b"{}")))
                answer = b'{"ok": true, "ts": "1700000000.000100"}'
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()

    def response_url(self, name: str = "1") -> str:
        return f"{self.url}/actions/T0TEAM/{name}/Zx9"

    def to(self, path: str) -> list[dict[str, Any]]:
        return [body for p, body in list(self.posts) if p == path]

    def first_to(self, path: str, what: str) -> dict[str, Any]:
        return poll(lambda: (self.to(path) or [None])[0], what=what)

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@dataclass
class SlackApp(App):
    side: SlackSide

    def slack(self, path: str, body: bytes, **headers: str) -> httpx.Response:
        """POST ``body`` to ``/api/v1/chatops/slack/<path>``, signed unless headers say else."""
        sent = {**signed(body), **headers}
        with httpx.Client(base_url=self.url, timeout=30) as http:
            return http.post(f"/api/v1/chatops/slack/{path}", content=body, headers=sent)


@contextmanager
def serve_slack(
    url: str, *, answer_within: float = 2.5, runbook: Path = PAYMENT
) -> Iterator[SlackApp]:
    side = SlackSide()
    chatops = SlackChatops(SECRET, approvals_channel="#payments-approvals")
    chatops.answer_within = answer_within
    app = build_app(
        Options(database_url=url, runbooks=[runbook], dry_run=True),
        credentials=ACCESS_SLACK.shared,
        access=ACCESS_SLACK,
        connector_settings={
            "slack": SlackSettings(bot_token=SecretStr(BOT_TOKEN), api_url=side.url)
        },
        slack=chatops,
    )
    try:
        with live(app) as base:
            yield SlackApp(base, side)
    finally:
        side.close()


def signed(body: bytes, at: float | None = None, secret: str = SECRET) -> dict[str, str]:
    """The headers Slack sends with ``body``: its timestamp, and the v0 signature over it."""
    stamp = str(int(time.time() if at is None else at))
    base = b"v0:" + stamp.encode() + b":" + body
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {
        "content-type": "application/x-www-form-urlencoded",
        "x-slack-request-timestamp": stamp,
        "x-slack-signature": f"v0={digest}",
    }


def click(
    user: str, action_id: str, value: str, response_url: str, message: dict[str, Any] | None = None
) -> bytes:
    """The form body of a ``block_actions`` interaction: one button clicked in a message."""
    payload = {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": "T0TEAM"},
        "api_app_id": "A0APP",
        "token": "legacy-verification-token",
        "container": {"type": "message", "message_ts": "1700000000.000100", "channel_id": "C0PAY"},
        "trigger_id": "1700000000.1.abc",
        "team": {"id": "T0TEAM", "domain": "example"},
        "channel": {"id": "C0PAY", "name": "payments"},
        "message": message or {"type": "message", "text": "INC-1", "ts": "1700000000.000100"},
        "response_url": response_url,
        "actions": [
            {
                "action_id": action_id,
                "block_id": "runbookd_actions",
                "text": {"type": "plain_text", "text": action_id},
                "value": value,
                "type": "button",
                "action_ts": "1700000001.000200",
            }
        ],
    }
    return urlencode({"payload": json.dumps(payload)}).encode()


def command(user: str, text: str, response_url: str) -> bytes:
    """The form body of a slash command, with the fields Slack sends."""
    return urlencode(
        {
            "token": "legacy-verification-token",
            "team_id": "T0TEAM",
            "team_domain": "example",
            "channel_id": "C0PAY",
            "channel_name": "payments",
            "user_id": user,
            "user_name": user.lower(),
            "command": "/runbookd",
            "text": text,
            "api_app_id": "A0APP",
            "response_url": response_url,
            "trigger_id": "1700000000.2.def",
        }
    ).encode()
