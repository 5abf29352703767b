"""The real app with users and roles, served by uvicorn on loopback, for the audit log's tests:
a payment outage posted through the webhook opens INC-1 and waits for an approval."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from runbookd.api.auth import Credentials
from runbookd.api.principals import Access
from runbookd.auth.roles import Role
from runbookd.auth.tokens import hash_token, parse_hash
from runbookd.auth.users import Account, Users
from runbookd.server.app import build_app
from runbookd.service.core import Options
from runbookd.toolchain.testing import am_alert, am_notification
from tests.e2e.harness import poll
from tests.unit.postmortem.rig import PAYMENT
from tests.unit.runbookd.live_app import live

SHARED = "shared-secret-token-77c1"
TOKENS = {"ana": "tok-ana-approver", "rob": "tok-rob-responder", "vic": "tok-vic-viewer"}
ROLES = {"ana": Role.APPROVER, "rob": Role.RESPONDER, "vic": Role.VIEWER}
CLI_AGENT = {"user-agent": "runbookd-cli/1.0"}


def _account(name: str) -> Account:
    return Account(
        name, ROLES[name], token_hash=parse_hash(hash_token(TOKENS[name], log2_n=4, r=1))
    )


ACCESS = Access(users=Users([_account(n) for n in TOKENS]), shared=Credentials(bearer_token=SHARED))


@dataclass
class App:
    url: str

    def client(self, who: str | None = None, **headers: str) -> httpx.Client:
        token = TOKENS[who] if who else SHARED
        return httpx.Client(
            base_url=self.url,
            headers={"authorization": f"Bearer {token}", **headers},
            timeout=30,
        )


@contextmanager
def serve(url: str, access: Access = ACCESS, **options: Any) -> Iterator[App]:
    """``options``: more ``Options`` fields (``runbooks`` instead of the payment runbook)."""
    runbooks = options.pop("runbooks", [PAYMENT])
    app = build_app(
        Options(database_url=url, runbooks=runbooks, dry_run=True, **options),
        credentials=access.shared,
        access=access,
    )
    with live(app) as base:
        yield App(base)


def outage(app: App, channel: str = "alipay") -> None:
    """Both payment signals through the webhook; returns once INC-1 waits for its approval."""
    now = datetime.now(UTC)
    alerts = [
        am_alert({"alertname": name, "channel": channel}, starts_at=now)
        for name in ("PaymentFailureRateHigh", "PaymentChannelProbeFailed")
    ]
    with app.client() as http:
        for alert in alerts:
            answer = http.post("/api/v1/alerts/alertmanager", json=am_notification([alert]))
            assert answer.status_code == 202, answer.text
        poll(lambda: http.get("/api/v1/approvals").json()["approvals"], what="the approval")


def timeline(app: App, incident: str = "INC-1") -> list[dict[str, Any]]:
    with app.client() as http:
        entries: list[dict[str, Any]] = http.get(f"/api/v1/incidents/{incident}").json()["timeline"]
    return entries
