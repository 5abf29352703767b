"""Failover of the engine leader among replicas on one PostgreSQL database, with default settings.

Three `runbookd serve` replicas (cluster.enabled, lease_ttl 5s) share a fresh schema. Each trial
sends alerts for a few new problems through any live replica (pages, a remediation step and a
1 s escalation deadline in flight: tests/runbooks/crash-trial.yaml), SIGKILLs the leader, sends
one more alert through a survivor, and measures:

- ``elected``: kill to a survivor reporting itself leader in /readyz (it has caught up by then and
  commits its first batch next);
- ``first_page``: kill to the receiver getting the page for the alert sent after the kill, which
  is what an on-call person notices;
- calls re-sent (calls in flight at the kill, sent again with their original idempotency key)
  and calls duplicated under a NEW key (must be 0).

Then it checks every problem got one incident and each call one key, and prints p50/p99/max.
The killed replica is restarted as a follower before the next trial. These are figures for
bench/RESULTS.md, not a test: `tests/e2e/test_replicas.py` asserts the behaviour.

    python bench/failover_bench.py [--trials 20] [--database-url postgresql+psycopg://...]
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import signal
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.ingest_bench import Server, database, runbookd_server  # noqa: E402
from runbookd.toolchain.testing import am_alert, am_notification  # noqa: E402

HOOK = "/api/v1/alerts/alertmanager"
DEFAULT_DB = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


class Receiver:
    """Records every connector call: path, idempotency key, arrival time (monotonic)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, float]] = []
        self.lock = threading.Lock()
        record = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length") or 0))
                with record.lock:
                    record.calls.append(
                        (self.path, self.headers.get("idempotency-key") or "", time.monotonic())
                    )
                time.sleep(0.1)  # a slow endpoint, so calls are in flight at the kill
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"ok": true}')

            def log_message(self, *args: Any) -> None:
                pass

        class Quiet(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 128

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass

        self.httpd = Quiet(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def first(self, path: str) -> float | None:
        with self.lock:
            return next((at for p, _, at in self.calls if p == path), None)

    def keys(self) -> dict[str, set[str]]:
        out: dict[str, set[str]] = defaultdict(set)
        with self.lock:
            for path, key, _ in self.calls:
                out[path].add(key)
        return out


def alert(key: str) -> dict[str, object]:
    return am_notification(
        [am_alert({"alertname": "CrashTrial", "key": key})], group_labels={"key": key}
    )


def state(server: Server) -> str | None:
    try:
        body = httpx.get(server.url + "/readyz", timeout=1).json()
    except (httpx.TransportError, ValueError):
        return None
    cluster = body.get("cluster") or {}
    return str(cluster.get("state"))


def wait(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.02)  # a polling interval
    raise RuntimeError(f"timed out after {timeout}s waiting for {what}")


def post(servers: list[Server], rng: random.Random, body: dict[str, object]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        server = rng.choice([s for s in servers if s.proc and s.proc.poll() is None])
        try:
            if httpx.post(server.url + HOOK, json=body, timeout=10).status_code == 202:
                return
        except httpx.TransportError:
            pass
    raise RuntimeError("no replica accepted an alert for 60 s")


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)]


def run(trials: int, base_url: str, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    receiver = Receiver()
    with tempfile.TemporaryDirectory() as tmp, database(base_url, Path(tmp), "failover") as url:
        library = Path(tmp) / "library"
        library.mkdir()
        text = (REPO / "tests" / "runbooks" / "crash-trial.yaml").read_text()
        (library / "crash-trial.yaml").write_text(
            text.replace("http://127.0.0.1:8083", receiver.url)
        )
        servers = []
        for i in range(3):
            server = runbookd_server(f"r{i}", Path(tmp) / f"r{i}", url)
            server.env |= {
                "RUNBOOKD_RUNBOOKS": f"[{library}]",
                "RUNBOOKD_ENGINE__DRY_RUN": "false",
                "RUNBOOKD_CLUSTER__ENABLED": "true",
                "RUNBOOKD_CLUSTER__NAME": f"r{i}",
                "RUNBOOKD_LOG__LEVEL": "info",
            }
            server.start(timeout=120)
            servers.append(server)
        elected: list[float] = []
        first_page: list[float] = []
        problems: list[str] = []
        try:
            for trial in range(trials):
                for i in range(5):
                    problems.append(f"t{trial}p{i}")
                    post(servers, rng, alert(problems[-1]))
                leader = wait(
                    lambda: next((s for s in servers if state(s) == "leader"), None), 60, "leader"
                )
                # Kill while the last problems' pages and steps are in flight.
                wait(lambda: receiver.first(f"/page/{problems[-1]}"), 30, "a page in flight")
                assert leader.proc is not None
                leader.proc.send_signal(signal.SIGKILL)
                killed = time.monotonic()
                leader.proc.wait()
                survivors = [s for s in servers if s is not leader]
                after = f"t{trial}after"
                problems.append(after)
                post(survivors, rng, alert(after))
                wait(
                    lambda alive=survivors: any(state(s) == "leader" for s in alive),
                    60,
                    "a new leader",
                )
                elected.append(time.monotonic() - killed)
                page = wait(lambda p=after: receiver.first(f"/page/{p}"), 60, "the page after")
                first_page.append(page - killed)
                print(
                    f"trial {trial}: elected {elected[-1]:.2f} s, first page {first_page[-1]:.2f} s",
                    file=sys.stderr,
                )
                leader.start(timeout=120)  # back as a follower
            # Every problem handled: paged, fixed, escalated.
            for prefix in ("/page/", "/fix/", "/escalate/"):
                for problem in problems:
                    wait(lambda p=prefix + problem: receiver.first(p), 90, prefix + problem)
            keys = receiver.keys()
            with receiver.lock:
                total = len(receiver.calls)
            new_keys = sum(len(k) - 1 for k in keys.values())
            resent = total - len(keys)
            lead = next(s for s in servers if state(s) == "leader")
            incidents = httpx.get(lead.url + "/api/v1/incidents?limit=1000", timeout=10).json()
            opened = sorted(i["labels"]["key"] for i in incidents["incidents"])
        finally:
            for server in servers:
                server.stop()
            receiver.httpd.shutdown()
    return {
        "trials": trials,
        "replicas": 3,
        "lease_ttl_s": 5.0,
        "elected_s": summary(elected),
        "first_page_s": summary(first_page),
        "problems": len(problems),
        "incidents": len(opened),
        "incidents_match_problems": opened == sorted(problems),
        "calls": total,
        "calls_resent_same_key": resent,
        "calls_under_a_second_key": new_keys,
        "machine": f"{platform.node()} {platform.machine()} {platform.python_version()}",
    }


def summary(values: list[float]) -> dict[str, float]:
    return {
        "p50": round(statistics.median(values), 2),
        "p99": round(quantile(values, 0.99), 2),
        "max": round(max(values), 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--database-url", default=DEFAULT_DB)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    result = run(args.trials, args.database_url, args.seed)
    print(json.dumps(result, indent=2))
    ok = result["incidents_match_problems"] and result["calls_under_a_second_key"] == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
