"""The PagerDuty two-way rig: the real app under uvicorn on loopback, paging a loopback stand-in
for events.pagerduty.com, and webhook requests built as PagerDuty documents its v3 webhooks."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from runbookd.api.auth import Credentials
from runbookd.api.chatops_verify import pagerduty_signature
from runbookd.api.principals import Access
from runbookd.auth.roles import Role
from runbookd.auth.tokens import hash_token, parse_hash
from runbookd.auth.users import Account, Users
from runbookd.connectors.pagerduty import PagerDutySettings
from runbookd.server.app import build_app
from runbookd.service.core import Options
from runbookd.toolchain.testing import am_alert, am_notification
from tests.e2e.harness import poll
from tests.unit.runbookd.live_app import live

REPO = Path(__file__).resolve().parents[3]
RUNBOOK = REPO / "tests" / "runbooks" / "pagerduty-paged.yaml"
ROUTING_KEY = "R0UT1NGKEYPRIMARY0000000000000001"
SECRET = b"pd-webhook-secret-2f9c1e"
SHARED = "shared-secret-token-5b21"
RUTH = "tok-ruth-responder"
#: PagerDuty user ids: Pat is mapped to the runbookd responder ruth, Vera to a viewer.
PAT, VERA, STRANGER = "PXPGF42", "PVIEW01", "PSTRNG9"


class EventsApi:
    """A loopback stand-in for ``https://events.pagerduty.com/v2/enqueue``: it keeps every
    event posted and answers as PagerDuty does (202, status success, the dedup key)."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        rig = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)))
                with rig._lock:
                    rig.events.append(body)
                key = body.get("dedup_key") or uuid.uuid4().hex
                answer = json.dumps(
                    {"status": "success", "message": "Event processed", "dedup_key": key}
                ).encode()
                self.send_response(202)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v2/enqueue"

    def actions(self) -> list[tuple[str, str | None]]:
        with self._lock:
            return [(e["event_action"], e.get("dedup_key")) for e in self.events]

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def webhook_body(
    event_type: str,
    incident_key: str,
    agent: str | None = PAT,
    agent_name: str = "Pat Doe",
    event_id: str | None = None,
) -> bytes:
    """A v3 webhook body as PagerDuty sends it (developer.pagerduty.com, V3 webhooks)."""
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    data = {
        "id": "Q2UEHNB6M3M1FN",
        "type": "incident",
        "self": "https://api.pagerduty.com/incidents/Q2UEHNB6M3M1FN",
        "html_url": "https://acme.pagerduty.com/incidents/Q2UEHNB6M3M1FN",
        "number": 4711,
        "status": event_type.rpartition(".")[2],
        "incident_key": incident_key,
        "created_at": now,
        "title": "Checkout latency high: checkout",
        "service": {"id": "PSVC001", "type": "service_reference", "summary": "Checkout"},
        "assignees": [],
        "escalation_policy": {"id": "PEP0001", "type": "escalation_policy_reference"},
        "teams": [],
        "priority": None,
        "urgency": "high",
        "conference_bridge": None,
        "resolve_reason": None,
    }
    event = {
        "id": event_id or uuid.uuid4().hex[:26],
        "event_type": event_type,
        "resource_type": "incident",
        "occurred_at": now,
        "agent": None
        if agent is None
        else {
            "html_url": f"https://acme.pagerduty.com/users/{agent}",
            "id": agent,
            "self": f"https://api.pagerduty.com/users/{agent}",
            "summary": agent_name,
            "type": "user_reference",
        },
        "client": None,
        "data": data,
    }
    return json.dumps({"event": event}).encode()


def signed(body: bytes, *secrets: bytes) -> dict[str, str]:
    """The headers PagerDuty sends with ``body``, signed with each secret (rotation)."""
    return {
        "content-type": "application/json; charset=utf-8",
        "user-agent": "PagerDuty-Webhook/V3.0",
        "x-webhook-id": str(uuid.uuid4()),
        "x-webhook-subscription": "PSUB001",
        "x-pagerduty-signature": ",".join(
            pagerduty_signature(s, body) for s in secrets or (SECRET,)
        ),
    }


@dataclass
class App:
    url: str
    pagerduty: EventsApi

    def client(self, token: str = SHARED) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"authorization": f"Bearer {token}"}, timeout=30
        )

    def webhook(self, body: bytes, headers: dict[str, str]) -> httpx.Response:
        # PagerDuty carries no runbookd credential: its signature is the proof.
        return httpx.post(
            self.url + "/api/v1/chatops/pagerduty", content=body, headers=headers, timeout=30
        )

    def incident(self, incident_id: str = "INC-1") -> dict[str, Any]:
        with self.client() as http:
            found: dict[str, Any] = http.get(f"/api/v1/incidents/{incident_id}").json()
        return found

    def metric(self, outcome: str) -> float:
        with self.client() as http:
            text = http.get("/metrics").text
        line = f'runbookd_chatops_requests_total{{outcome="{outcome}",source="pagerduty"}}'
        for row in text.splitlines():
            if row.startswith(line):
                return float(row.rpartition(" ")[2])
        return 0.0

    def page(self, service: str = "checkout") -> None:
        """An alert opens INC-1; returns once PagerDuty got the trigger."""
        alert = am_alert({"alertname": "CheckoutLatencyHigh", "service": service})
        with self.client() as http:
            answer = http.post("/api/v1/alerts/alertmanager", json=am_notification([alert]))
            assert answer.status_code == 202, answer.text
        poll(lambda: ("trigger", "INC-1") in self.pagerduty.actions(), what="the trigger")


def _account(name: str, role: Role, pagerduty: str, token: str | None = None) -> Account:
    hashed = parse_hash(hash_token(token, log2_n=4, r=1)) if token else None
    return Account(name, role, token_hash=hashed, pagerduty=pagerduty)


ACCESS = Access(
    users=Users(
        [
            _account("ruth", Role.RESPONDER, PAT, RUTH),
            _account("vera", Role.VIEWER, VERA),
        ]
    ),
    shared=Credentials(bearer_token=SHARED),
)


@contextmanager
def serve(url: str, secrets: tuple[bytes, ...] = (SECRET,)) -> Iterator[App]:
    pagerduty = EventsApi()
    app = build_app(
        Options(database_url=url, runbooks=[RUNBOOK]),
        credentials=ACCESS.shared,
        access=ACCESS,
        connector_settings={"pagerduty": PagerDutySettings(events_url=pagerduty.url)},
        pagerduty_secrets=secrets,
    )
    try:
        with live(app) as base:
            yield App(base, pagerduty)
    finally:
        pagerduty.close()
