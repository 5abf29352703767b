"""A real runbookd for the service benchmarks: a uvicorn subprocess on a free loopback port, the
whole bundled library, and a loopback receiver that stands in for the platform and PagerDuty.

The bundled runbooks call the order platform at 127.0.0.1:8081. The benchmarks copy the library
and point those URLs at the receiver's own free port instead, so a run never depends on (or
disturbs) whatever owns 8081 on the machine, and every runbook is still loaded.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # run as a script from anywhere

from bench.ingest_bench import (  # noqa: E402
    INGEST_PATH,
    RawHttp,
    Server,
    _compact,
    metric,
    noise_notification,
    payment_alert,
    render,
    scrape,
    server_env,
)
from runbookd.toolchain.testing import am_alert, am_notification, rfc3339  # noqa: E402

LIBRARY = REPO / "runbooks"
PLATFORM = "127.0.0.1:8081"
T = TypeVar("T")


@dataclass(frozen=True)
class Call:
    """One request the receiver got: when (perf_counter), the path and the body."""

    at: float
    method: str
    path: str
    body: str


class _Listener(ThreadingHTTPServer):
    # socketserver listens with a backlog of 5. When the executor opens several connections at
    # once (16 workers after a pause), the kernel drops the SYNs past 5 and the client resends
    # them after 1 s: calls that took a second because of the stand-in, not runbookd (seen as
    # TcpExtListenOverflows). Real endpoints listen with far larger backlogs.
    request_queue_size = 128


class Receiver:
    """A threaded loopback HTTP server that answers every request 200 and records it."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self._lock = threading.Lock()
        # Lets a benchmark see the first call of a key without scanning all calls each poll.
        self.on_call: Callable[[Call], None] | None = None
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # The handler writes the head and the body separately. With Nagle's algorithm the
            # body waits for the client's delayed ACK of the head (40 ms on Linux), which made
            # every connector call take 40 ms and capped 16 workers at ~300 calls/s. Real
            # endpoints answer in one segment.
            disable_nagle_algorithm = True

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode(errors="replace") if length else ""
                call = Call(time.perf_counter(), self.command, self.path, body)
                with receiver._lock:
                    receiver.calls.append(call)
                if receiver.on_call is not None:
                    receiver.on_call(call)
                # PagerDuty's Events API answers 202 with this shape; others ignore the body.
                data = b'{"status":"success","message":"Event processed","dedup_key":"bench"}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _answer

            def log_message(self, *args: Any) -> None:
                pass  # one line per call would swamp the benchmark's output

        self._server = _Listener(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def address(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{host!s}:{port}"

    def count(self) -> int:
        with self._lock:
            return len(self.calls)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def library_copy(dest: Path, platform: str) -> Path:
    """The bundled runbooks under ``dest``, with the platform's address replaced by ``platform``."""
    shutil.copytree(LIBRARY, dest)
    for path in dest.rglob("*.yaml"):
        text = path.read_text()
        if PLATFORM in text:
            path.write_text(text.replace(PLATFORM, platform))
    return dest


def runbookd(
    name: str,
    workdir: Path,
    runbooks: Path,
    receiver: str,
    *,
    dry_run: bool = False,
    settings: dict[str, str] | None = None,
) -> Server:
    """A `runbookd serve` subprocess on a fresh SQLite database under ``workdir``; ``settings``
    are extra RUNBOOKD_* variables."""
    env = server_env() | {
        "RUNBOOKD_DATABASE_URL": f"sqlite:///{workdir / 'runbookd.db'}",
        "RUNBOOKD_DATA_DIR": str(workdir / "data"),
        "RUNBOOKD_RUNBOOKS": f"[{runbooks}]",
        "RUNBOOKD_SERVER__ACCESS_LOG": "false",
        "RUNBOOKD_LOG__LEVEL": "warning",
        "RUNBOOKD_ENGINE__DRY_RUN": "true" if dry_run else "false",
        # Pages go to the receiver too: the first connector call of an incident may be either.
        "RUNBOOKD_CONNECTORS__PAGERDUTY__EVENTS_URL": f"http://{receiver}/pagerduty",
        "RUNBOOKD_CONNECTORS__SLACK__API_URL": f"http://{receiver}/slack",
        "PD_PAYMENTS_KEY": "bench-routing-key",
    }
    env.update(settings or {})
    argv = [sys.executable, "-m", "runbookd.cli.main", "serve", "--host", "127.0.0.1"]
    return Server(name, argv, env, workdir)


def poll(check: Callable[[], T | None], timeout: float, what: str) -> T:
    """Call ``check`` until it returns something truthy; raise after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.005)  # a polling interval, not a wait for the effect


def rss_kib(pid: int) -> int:
    """Resident set size of a process (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


# --- payloads -------------------------------------------------------------------------------

CHANNEL_RE = re.compile(r"ch-[0-9a-f]+-\d+")


def channel(run: str, k: int) -> str:
    return f"ch-{run}-{k}"


def noise_alert(seq: int, run: int) -> dict[str, Any]:
    """One distinct alert that no runbook matches (kube-prometheus' filesystem alert)."""
    note = json.loads(render(noise_notification(datetime.now(UTC)), seq, run))
    alert: dict[str, Any] = note["alerts"][0]
    return alert


def grouped(alerts: Sequence[dict[str, Any]], per_body: int) -> list[bytes]:
    """Webhook bodies as Alertmanager sends them with ``group_by: [alertname]``: one group per
    alert name, split into bodies of at most ``per_body`` alerts (``max_alerts``)."""
    by_name: dict[str, list[dict[str, Any]]] = {}
    for alert in alerts:
        by_name.setdefault(alert["labels"]["alertname"], []).append(alert)
    bodies = []
    for name, group in by_name.items():
        for i in range(0, len(group), per_body):
            note = am_notification(
                group[i : i + per_body],
                group_labels={"alertname": name},
                external_url="http://alertmanager-main-0:9093",
            )
            bodies.append(_compact(note).encode())
    return bodies


def payment_pairs(run: str, first: int, count: int, status: str = "firing") -> list[dict[str, Any]]:
    """Both alerts of payment-channel-abnormal for ``count`` channels: ``count`` incidents."""
    starts = datetime.now(UTC).replace(microsecond=0)
    out = []
    for k in range(first, first + count):
        for name in ("PaymentFailureRateHigh", "PaymentChannelProbeFailed"):
            alert = payment_alert(name, channel(run, k), starts)
            if status == "resolved":
                alert = am_alert(
                    alert["labels"],
                    status="resolved",
                    starts_at=starts,
                    ends_at=datetime.now(UTC),
                    annotations=alert["annotations"],
                    generator_url=alert["generatorURL"],
                )
            out.append(alert)
    return out


@dataclass
class Sent:
    """What a burst of POSTs got back."""

    statuses: dict[int, int] = field(default_factory=dict)
    accepted: int = 0

    def ok(self) -> bool:
        return set(self.statuses) == {202}


async def _post_all(url: str, bodies: Iterable[bytes], concurrency: int) -> Sent:
    sent = Sent()
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)

    async def worker() -> None:
        client = RawHttp(url)
        try:
            while not queue.empty():
                body = queue.get_nowait()
                status, data = await client.request("POST", INGEST_PATH, body)
                sent.statuses[status] = sent.statuses.get(status, 0) + 1
                if status == 202:
                    sent.accepted += int(json.loads(data)["accepted"])
        finally:
            await client.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return sent


def post_all(url: str, bodies: Iterable[bytes], concurrency: int = 4) -> Sent:
    """POST every body to the webhook, ``concurrency`` at a time, as fast as answers come."""
    return asyncio.run(_post_all(url, bodies, concurrency))


def resolved(alert: dict[str, Any]) -> dict[str, Any]:
    """The resolved notification of a firing alert, as Alertmanager sends it."""
    return {**alert, "status": "resolved", "endsAt": rfc3339(datetime.now(UTC))}


def inbox_depth(url: str) -> float:
    return metric(scrape(url), "runbookd_inbox_depth")


def drain(url: str, timeout: float) -> None:
    """Wait until the engine has applied every stored entry (the inbox gauge reads 0)."""
    poll(lambda: inbox_depth(url) == 0, timeout, "the engine to apply the inbox")


@dataclass
class Cycle:
    """One slice of a long feed: ``incidents`` channel pairs and noise, ``events`` in all."""

    events: int
    incidents: int
    resolve: bool


def cycle_bodies(run: str, no: int, cycle: Cycle) -> list[list[bytes]]:
    """The bodies of one cycle in phases: pairs and noise firing, then (with ``resolve``) all of
    them resolved. A phase is sent only after the previous one was stored, so a resolution never
    overtakes its firing alert."""
    pairs = payment_pairs(run, no * cycle.incidents, cycle.incidents)
    firing_events = cycle.events // 2 if cycle.resolve else cycle.events
    noise = [noise_alert(no * 100_000 + i, no) for i in range(firing_events - len(pairs))]
    phases = [grouped([*noise, *pairs], 100)]
    if cycle.resolve:
        phases.append(grouped([resolved(a) for a in [*noise, *pairs]], 100))
    return phases


def feed(url: str, run: str, cycles: range, cycle: Cycle, timeout: float = 300.0) -> int:
    """Send ``cycles`` cycles, each applied by the engine before the next; returns events sent."""
    sent = 0
    for no in cycles:
        for bodies in cycle_bodies(run, no, cycle):
            result = post_all(url, bodies, 4)
            if not result.ok():
                raise RuntimeError(f"webhook refused a body: {result.statuses}")
            sent += result.accepted
        drain(url, timeout)
    return sent
