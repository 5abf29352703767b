"""SIGKILL at seeded random points of a sustained alert stream, with pages, remediation steps and
escalation deadlines in flight: nothing accepted is lost, no incident is duplicated, every call
keeps one idempotency key however often a crash makes it be re-sent, no step is re-run after its
result was recorded, and every due escalation fires.

``RUNBOOKD_TEST_CRASH_TRIALS`` sets the number of trials (default 2, so CI stays short); each trial's seed
is its index, so a failing trial is re-run exactly with ``-k 'seed3'``.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from runbookd.toolchain.testing import am_alert, am_notification
from tests.e2e.harness import HOOK, REPO, T0, Server, poll

TRIALS = int(os.environ.get("RUNBOOKD_TEST_CRASH_TRIALS", "2"))
KEYS = 60
KILLS = 3
SLOW_RECEIVER = 0.15  # seconds each call takes, so calls are in flight when the kill comes


@dataclass
class Call:
    path: str
    idempotency_key: str
    at: datetime


@dataclass
class Receiver:
    """A slow HTTP endpoint on loopback recording every call it gets."""

    calls: list[Call] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def by(self, prefix: str) -> dict[str, list[Call]]:
        grouped: dict[str, list[Call]] = defaultdict(list)
        with self.lock:
            for call in self.calls:
                if call.path.startswith(prefix):
                    grouped[call.path.removeprefix(prefix)].append(call)
        return grouped


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, int]]:
    record = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            arrived = datetime.now().astimezone()
            self.rfile.read(int(self.headers.get("content-length") or 0))
            with record.lock:
                record.calls.append(
                    Call(self.path, self.headers.get("idempotency-key") or "", arrived)
                )
            time.sleep(SLOW_RECEIVER)  # the endpoint is slow; the test does not wait on this
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"ok": true}')

        def log_message(self, *args: Any) -> None:
            pass

    class Quiet(ThreadingHTTPServer):
        # socketserver's default listen backlog is 5. A restarted runbookd sends every call
        # left pending at once (up to executor.workers connections); beyond the backlog the
        # kernel drops handshakes (TcpExtListenOverflows) and a page fails with "no answer",
        # which is this stand-in's limit, not the crash behaviour under test. Real endpoints
        # listen with backlogs in the hundreds.
        request_queue_size = 128

        def handle_error(self, request: Any, client_address: Any) -> None:
            pass  # a killed client leaves broken pipes here; that is the point of the test

    httpd = Quiet(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield record, httpd.server_address[1]
    finally:
        httpd.shutdown()
        httpd.server_close()


def alert(key: str) -> dict[str, object]:
    return am_notification(
        [am_alert({"alertname": "CrashTrial", "key": key}, starts_at=T0)],
        group_labels={"key": key},
    )


@pytest.mark.parametrize("seed", [pytest.param(s, id=f"seed{s}") for s in range(TRIALS)])
def test_sigkill_at_random_points(
    seed: int,
    make_server: Callable[..., Server],
    receiver: tuple[Receiver, int],
    tmp_path: Path,
) -> None:
    trial(seed, make_server, receiver, tmp_path, {})


@pytest.mark.parametrize("seed", [pytest.param(s, id=f"seed{s}") for s in range(TRIALS)])
def test_sigkill_around_snapshot_writes(
    seed: int,
    make_server: Callable[..., Server],
    receiver: tuple[Receiver, int],
    tmp_path: Path,
) -> None:
    """The engine stores a snapshot after (nearly) every commit, so the kills land before,
    during and right after snapshot writes; each restart starts from whichever was stored. Same
    seeds (same kill points) as the trials above, which restart by replaying the whole journal."""
    trial(seed, make_server, receiver, tmp_path, {"RUNBOOKD_ENGINE__SNAPSHOT_EVERY": "1"})


def trial(
    seed: int,
    make_server: Callable[..., Server],
    receiver: tuple[Receiver, int],
    tmp_path: Path,
    env: dict[str, str],
) -> None:
    record, port = receiver
    library = tmp_path / "library"
    library.mkdir()
    source = (REPO / "tests" / "runbooks" / "crash-trial.yaml").read_text()
    (library / "crash-trial.yaml").write_text(source.replace("127.0.0.1:8083", f"127.0.0.1:{port}"))
    server = make_server(runbooks=[library], env=env)

    rng = random.Random(seed)
    kill_after = sorted(rng.sample(range(5, KEYS), KILLS - 1))
    keys = [f"k{i:03d}" for i in range(KEYS)]
    accepted: list[str] = []
    with httpx.Client(timeout=10) as client:
        for key in keys:
            while True:  # Alertmanager retries the same body until it gets a 2xx
                try:
                    answer = client.post(server.url + HOOK, json=alert(key))
                except httpx.TransportError:
                    continue
                if answer.status_code == 202:
                    break
            accepted.append(key)
            if len(accepted) in kill_after:
                server.kill()
                server.start()
    # The last kill lands right after the stream, with its steps and pages still in flight.
    server.kill()
    server.start()

    def unsettled() -> dict[str, list[str]]:
        return {
            prefix: sorted(set(keys) - set(record.by(prefix)))
            for prefix in ("/page/", "/fix/", "/escalate/")
            if set(keys) - set(record.by(prefix))
        }

    try:
        poll(lambda: not unsettled(), timeout=90, what="every key paged, remediated, escalated")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; missing calls: {unsettled()}") from None
    incidents = poll(
        lambda: (found := server.incidents(limit=1000)) and len(found) >= KEYS and found,
        what="the incidents",
    )
    assert sorted(i["labels"]["key"] for i in incidents) == keys  # none lost, none duplicated

    duplicates = 0
    for prefix in ("/page/", "/fix/", "/escalate/"):
        for key, calls in record.by(prefix).items():
            # A call re-sent after a crash carries the same idempotency key: done once.
            assert len({c.idempotency_key for c in calls}) == 1, (prefix, key, calls)
            assert calls[0].idempotency_key
            duplicates += len(calls) - 1
    for incident in incidents:

        def step_done(incident_id: str = incident["id"]) -> list[datetime]:
            return [
                datetime.fromisoformat(e["at"])
                for e in server.incident(incident_id)["timeline"]
                if e["kind"] == "call_done" and e["data"].get("role") == "step"
            ]

        done = poll(step_done, what=f"{incident['id']}: the step's result recorded")
        fixes = record.by("/fix/")[incident["labels"]["key"]]
        # A re-run is allowed only while the result is unrecorded; never after it.
        assert all(c.at <= min(done) for c in fixes), (incident["id"], fixes, done)
    restored = sum(
        "engine restored from the snapshot" in (server.workdir / f"server-{n}.log").read_text()
        for n in range(1, server.starts + 1)
    )
    if env:  # the snapshots were really used, not skipped
        assert restored >= 1
    print(
        f"seed {seed}: {KEYS} alerts, {KILLS} kills, {duplicates} re-sent calls (same key), "
        f"{restored} starts from a snapshot"
    )
