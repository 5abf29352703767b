"""A connector's target that times out, hangs, answers 5xx or garbage, against the running service.

While one runbook's target is broken, another runbook's incidents keep being handled promptly; the
broken target's circuit opens, and its incidents escalate to a person instead of retrying into
the outage. Garbage that is still a well-formed 2xx (non-JSON, the wrong content type) is a call
that worked: recorded as it came, breaking nothing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from runbookd.toolchain.testing import am_alert, am_notification
from tests.e2e.harness import HOOK, T0, Receiver, Server, poll

BROKEN_KEYS = [f"b{i}" for i in range(8)]
HEALTHY_KEYS = [f"h{i}" for i in range(6)]
FAILURES_TO_OPEN = 3
PROMPT = 15.0  # seconds from alert to remediation call for the healthy runbook (loaded machine)

RUNBOOKS = {
    # The broken runbook: its remediation target is the faulty server; its pages go to a
    # healthy one (the same connector, http, to another host) and must still get through.
    "broken.yaml": """
runbook: 1
id: broken-target
title: Remediation target broken
team: platform
section: "10.1"
classification: {nature: infrastructure, scope: local, complexity: simple}
detection:
  group_by: [labels.key]
  triggers:
    - id: down
      match: {field: name, eq: BrokenTarget}
escalation:
  levels:
    - id: oncall
      connector: http
      params: {method: POST, url: "{GOOD}/page/{{ incident.labels.key }}"}
      ack_within: 1h
    - id: lead
      connector: http
      params: {method: POST, url: "{GOOD}/lead/{{ incident.labels.key }}"}
handling:
  steps:
    - id: fix
      connector: http
      params: {method: POST, url: "{BAD}/fix/{{ incident.labels.key }}"}
      timeout: 1s
      on_failure: {retries: 1, backoff: 1s, then: escalate}
""",
    "healthy.yaml": """
runbook: 1
id: healthy-target
title: Remediation target healthy
team: platform
section: "10.1"
classification: {nature: infrastructure, scope: local, complexity: simple}
detection:
  group_by: [labels.key]
  triggers:
    - id: down
      match: {field: name, eq: HealthyTarget}
handling:
  steps:
    - id: fix
      connector: http
      params: {method: POST, url: "{GOOD}/ok/{{ incident.labels.key }}"}
      timeout: 5s
""",
}


@dataclass(frozen=True)
class Fault:
    name: str
    answer: Callable[[BaseHTTPRequestHandler, threading.Event], None]
    fails: bool  # whether the call fails (and so counts towards the circuit)


def _slow(handler: BaseHTTPRequestHandler, released: threading.Event) -> None:
    released.wait(5)  # longer than the step's 1 s timeout; the server thread, not the test
    _send(handler, 200, "application/json", b"{}")


def _hang(handler: BaseHTTPRequestHandler, released: threading.Event) -> None:
    released.wait()  # the request was read; no answer ever comes until the test ends


def _error(handler: BaseHTTPRequestHandler, released: threading.Event) -> None:
    _send(handler, 503, "text/plain", b"upstream overloaded")


def _truncated(handler: BaseHTTPRequestHandler, released: threading.Event) -> None:
    handler.send_response(200)
    handler.send_header("content-type", "application/json")
    handler.send_header("content-length", "1000")
    handler.end_headers()
    handler.wfile.write(b'{"restarted": tr')  # then the connection closes
    handler.close_connection = True


def _not_json(handler: BaseHTTPRequestHandler, released: threading.Event) -> None:
    _send(handler, 200, "application/json", b"<html>\x00\xff not json {{ 7*7 }}")


def _wrong_type(handler: BaseHTTPRequestHandler, released: threading.Event) -> None:
    _send(handler, 200, "image/png", b"\x89PNG\r\n\x1a\n garbage")


def _send(handler: BaseHTTPRequestHandler, status: int, kind: str, body: bytes) -> None:
    handler.send_response(status)
    handler.send_header("content-type", kind)
    handler.send_header("content-length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


FAULTS = [
    Fault("timeout", _slow, True),
    Fault("hang", _hang, True),
    Fault("5xx", _error, True),
    Fault("truncated", _truncated, True),
    Fault("not-json", _not_json, False),
    Fault("wrong-content-type", _wrong_type, False),
]


@pytest.fixture
def good() -> Iterator[Receiver]:
    target = Receiver()
    yield target
    target.close()


def alert(name: str, key: str) -> dict[str, object]:
    return am_notification([am_alert({"alertname": name, "key": key}, starts_at=T0)])


def timeline(server: Server, runbook: str, key: str) -> list[dict[str, Any]]:
    [found] = [
        i
        for i in server.incidents(limit=1000)
        if i["labels"].get("key") == key and i["runbook"] == runbook
    ]
    result: list[dict[str, Any]] = server.incident(found["id"])["timeline"]
    return result


@pytest.mark.parametrize("fault", [pytest.param(f, id=f.name) for f in FAULTS])
def test_a_broken_target_does_not_hold_up_other_runbooks(
    fault: Fault, make_server: Callable[..., Server], good: Receiver, tmp_path: Path
) -> None:
    released = threading.Event()
    bad = Receiver(lambda handler: fault.answer(handler, released))
    try:
        library = tmp_path / "library"
        library.mkdir()
        for name, text in RUNBOOKS.items():
            (library / name).write_text(text.replace("{GOOD}", good.url).replace("{BAD}", bad.url))
        server = make_server(
            runbooks=[library],
            env={
                "RUNBOOKD_EXECUTOR__BREAKER_FAILURES": str(FAILURES_TO_OPEN),
                "RUNBOOKD_EXECUTOR__BREAKER_OPEN_FOR": "1h",
            },
        )
        for key in BROKEN_KEYS:
            assert server.post(HOOK, alert("BrokenTarget", key)).status_code == 202
        poll(lambda: bad.calls, 30, "the first call at the broken target")

        # While the broken target holds calls, the other runbook is handled promptly.
        sent = {}
        for key in HEALTHY_KEYS:
            sent[key] = time.time()  # wall clock: the receiver stamps calls in it
            assert server.post(HOOK, alert("HealthyTarget", key)).status_code == 202
        poll(lambda: set(good.by("/ok/")) == set(HEALTHY_KEYS), 60, "the healthy remediations")
        made = good.by("/ok/")
        slowest = max(made[key][0].at.timestamp() - sent[key] for key in HEALTHY_KEYS)
        assert slowest < PROMPT, slowest  # not queued behind the broken target's calls
        for key in HEALTHY_KEYS:
            poll(
                lambda key=key: any(
                    e["kind"] == "call_done" for e in timeline(server, "healthy-target", key)
                ),
                30,
                f"{key}: the remediation recorded",
            )

        if not fault.fails:
            # A 2xx with a body that is garbage is a call that worked: every incident handled,
            # no escalation, no open circuit.
            poll(lambda: set(bad.by("/fix/")) == set(BROKEN_KEYS), 30, "every broken-target call")
            assert not good.by("/lead/")
            for key in BROKEN_KEYS:
                poll(
                    lambda key=key: any(
                        e["kind"] == "call_done" for e in timeline(server, "broken-target", key)
                    ),
                    30,
                    f"{key}: the call recorded",
                )
            return

        # Every broken incident escalates to the lead, through the same connector to a healthy
        # host: the open circuit is the broken target's, not every http call's.
        poll(lambda: set(good.by("/lead/")) == set(BROKEN_KEYS), 90, "every escalation")
        # The circuit opened: the target got far fewer calls than the 2 attempts per incident a
        # closed circuit would have sent, and the refusals say why.
        attempts = sum(len(c) for c in bad.by("/fix/").values())
        assert attempts < 2 * len(BROKEN_KEYS), attempts
        refusals = [
            e
            for key in BROKEN_KEYS
            for e in timeline(server, "broken-target", key)
            if "circuit open" in str(e.get("summary", "")) + str(e.get("data", ""))
        ]
        assert refusals, "no call was refused by an open circuit"
        assert len(good.by("/page/")) == len(BROKEN_KEYS)  # paged once each, escalated once each
        assert all(len(c) == 1 for c in good.by("/lead/").values())
    finally:
        released.set()
        bad.close()
