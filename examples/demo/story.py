"""The demo's story, step by step: inject the outage, watch runbookd handle it, print the result.

Every wait polls with a deadline; ``say`` receives the narration (print it, or collect it in a
test). ``run_story`` returns what happened, with the times it took, so a test can assert on it.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import httpx

from examples.demo.stack import REPO, Stack, poll

RUNBOOK_ID = "payment-channel-abnormal"
CHANNEL = "alipay"
Say = Callable[[str], None]


@dataclass
class Outcome:
    incident: dict[str, Any]
    postmortem: str
    postmortem_source: str
    #: seconds from the fault to each milestone
    timings: dict[str, float] = field(default_factory=dict)
    approve_output: str = ""


def _get(url: str) -> Any:
    response = httpx.get(url, timeout=10)
    response.raise_for_status()
    return response.json()


def _incident_of_runbook(api: str) -> dict[str, Any] | None:
    incidents = _get(api + "/api/v1/incidents")["incidents"]
    mine = [i for i in incidents if i.get("runbook") == RUNBOOK_ID]
    return mine[0] if mine else None


def _timeline_text(incident: dict[str, Any]) -> str:
    return "\n".join(str(entry) for entry in incident.get("timeline", []))


def run_story(stack: Stack, say: Say, timeout: float = 120.0) -> Outcome:
    platform, api = stack.ports.url("platform"), stack.ports.url("runbookd")
    prometheus = stack.ports.url("prometheus")
    say(
        f"The order platform takes about {stack.rate:g} orders/s; payments go through "
        "alipay, wechat and card."
    )
    poll(
        lambda: _get(f'{prometheus}/api/v1/query?query=up{{job="orderplatform"}}')["data"][
            "result"
        ],
        timeout,
        "Prometheus's first scrape of the platform",
    )
    say(f"Prometheus scrapes it every second; Alertmanager routes its alerts to runbookd at {api}.")

    say(
        f"\n>>> Injecting the fault: payment channel {CHANNEL} goes down "
        f"(POST {platform}/faults/payment_channel_down)."
    )
    httpx.post(
        f"{platform}/faults/payment_channel_down", json={"channel": CHANNEL}, timeout=10
    ).raise_for_status()
    start = time.monotonic()
    timings: dict[str, float] = {}

    def mark(name: str) -> float:
        timings[name] = round(time.monotonic() - start, 1)
        return timings[name]

    incident = poll(lambda: _incident_of_runbook(api), timeout, "runbookd to open an incident")
    incident_id = incident["id"]
    say(
        f"[{mark('incident_opened'):5.1f}s] runbookd opened {incident_id} "
        f"({incident.get('severity')}): {incident.get('title')}, channel "
        f"{incident.get('labels', {}).get('channel')}. PaymentFailureRateHigh and "
        "PaymentChannelProbeFailed fired for the same channel within 5 minutes."
    )

    approval = poll(
        lambda: next(
            (
                a
                for a in _get(api + "/api/v1/approvals")["approvals"]
                if a["incident"] == incident_id
            ),
            None,
        ),
        timeout,
        "the switch step to ask for approval",
    )
    say(
        f"[{mark('approval_requested'):5.1f}s] The runbook read the channel's status and now asks "
        f"for approval to run '{approval['step']}' (critical severity needs a person)."
    )
    # What an on-call engineer checks before approving: payments are really failing.
    failed = poll(
        lambda: _failed_since(prometheus, incident),
        timeout,
        "Prometheus to count the failed payments since the incident opened",
    )
    say(
        f"[{mark('checked'):5.1f}s] Before approving, the on-call checks Prometheus: {failed:.0f} "
        f"{CHANNEL} payments failed since {incident_id} opened."
    )
    command = [
        sys.executable,
        "-m",
        "runbookd.cli.main",
        "incidents",
        "approve",
        approval["id"],
        "--url",
        api,
        "--by",
        "demo",
    ]
    say(
        f"         The demo approves it, as an on-call engineer would: "
        f"runbookd incidents approve {approval['id']} --url {api} --by demo"
    )
    done = subprocess.run(
        command, cwd=REPO, capture_output=True, text=True, timeout=60, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"approval failed ({done.returncode}): {done.stderr.strip()}")
    say(f"         {done.stdout.strip()}")

    status = poll(
        lambda: (
            (s := _get(f"{platform}/admin/payments/channels/{CHANNEL}"))["routed_to"] == "backup"
            and s
        ),
        timeout,
        "the platform to route alipay to backup",
    )
    say(
        f"[{mark('switched'):5.1f}s] The platform now routes {CHANNEL} payments to "
        f"{status['routed_to']} (GET /admin/payments/channels/{CHANNEL})."
    )

    poll(lambda: _alert_resolved(api, incident_id), timeout, "PaymentFailureRateHigh to resolve")
    say(
        f"[{mark('verified'):5.1f}s] PaymentFailureRateHigh resolved: payments succeed again "
        "through the backup channel, so the switch is verified."
    )

    say(f"\n>>> The {CHANNEL} channel recovers (DELETE {platform}/faults/payment_channel_down).")
    httpx.delete(f"{platform}/faults/payment_channel_down", timeout=10).raise_for_status()
    resolved = poll(
        lambda: (
            (i := _get(f"{api}/api/v1/incidents/{incident_id}"))["status"] in ("resolved", "closed")
            and i
        ),
        timeout,
        "the incident to resolve",
    )
    say(
        f"[{mark('resolved'):5.1f}s] PaymentChannelProbeFailed resolved too; runbookd resolved "
        f"{incident_id}."
    )

    failures = [
        e.get("summary", "")
        for e in resolved.get("timeline", [])
        if "failed" in str(e.get("summary", ""))
    ]
    if failures:
        say(
            "         (The demo configures no PagerDuty, Slack or e-mail: those calls fail, and the "
            "timeline says why.)"
        )
    postmortem, source = _postmortem(api, incident_id, resolved, timeout)
    return Outcome(resolved, postmortem, source, timings, done.stdout.strip())


def _failed_since(prometheus: str, incident: dict[str, Any]) -> float | None:
    """Failed payments on the channel since the incident opened, once Prometheus has seen some."""
    opened = datetime.fromisoformat(incident["opened_at"].replace("Z", "+00:00"))
    seconds = max(int((datetime.now(UTC) - opened).total_seconds()) + 1, 2)
    query = f'sum(increase(orders_payment_failed_total{{channel="{CHANNEL}"}}[{seconds}s]))'
    result = _get(f"{prometheus}/api/v1/query?" + urlencode({"query": query}))["data"]["result"]
    value = float(result[0]["value"][1]) if result else 0.0
    return value if value >= 1 else None


def _alert_resolved(api: str, incident_id: str) -> bool:
    incident = _get(f"{api}/api/v1/incidents/{incident_id}")
    for entry in incident.get("timeline", []):
        text = str(entry)
        if "PaymentFailureRateHigh" in text and "resolved" in text:
            return True
    return False


def _postmortem(
    api: str, incident_id: str, incident: dict[str, Any], timeout: float
) -> tuple[str, str]:
    """The post-mortem in Markdown from its API; the incident's record when that API is absent."""
    url = f"{api}/api/v1/incidents/{incident_id}/postmortem?format=md"

    def fetch() -> httpx.Response | None:
        response = httpx.get(url, timeout=10)
        # 404 for a route that does not exist in this build; 409/425 while it is being drafted.
        return response if response.status_code in (200, 404) else None

    response = poll(fetch, timeout, "the post-mortem")
    if response.status_code == 200 and "detail" not in response.text[:20]:
        return response.text, url
    lines = [f"# {incident_id}: {incident.get('title')}", ""]
    for key in ("status", "severity", "opened_at", "resolved_at", "labels"):
        lines.append(f"- {key}: {incident.get(key)}")
    lines.append("\n## Timeline\n")
    for entry in incident.get("timeline", []):
        lines.append(f"- {entry.get('at')} {entry.get('kind')}: {entry.get('summary') or entry}")
    return "\n".join(lines), f"{api}/api/v1/incidents/{incident_id}"
