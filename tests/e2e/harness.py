"""Harness for end-to-end tests: `runbookd serve` in a subprocess on a free loopback port.

The database is a fresh SQLite file per test, or -- when RUNBOOKD_TEST_DATABASE_URL is set -- a
fresh schema in that PostgreSQL database, dropped afterwards. Nothing waits by sleeping: readiness
and effects are polled with a deadline.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from runbookd.toolchain.testing import am_alert, am_notification

REPO = Path(__file__).resolve().parents[2]
PG_URL = os.environ.get("RUNBOOKD_TEST_DATABASE_URL")
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def poll(check: Callable[[], T | None], timeout: float = 20.0, what: str = "condition") -> T:
    """Call ``check`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except httpx.TransportError as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(0.02)  # a polling interval, not a wait for the effect
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")


@dataclass
class Database:
    url: str
    schema: str | None = None

    @property
    def is_postgres(self) -> bool:
        return self.schema is not None


@dataclass
class Server:
    """One `runbookd serve` process; restartable on the same database and port."""

    database: Database
    runbooks: list[Path]
    workdir: Path
    env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0
    #: A CA file when the server serves HTTPS (server.tls in its environment): URLs are https.
    ca_file: Path | None = None

    @property
    def url(self) -> str:
        return f"{'https' if self.ca_file else 'http'}://127.0.0.1:{self.port}"

    @property
    def verify(self) -> ssl.SSLContext | bool:
        return ssl.create_default_context(cafile=str(self.ca_file)) if self.ca_file else True

    # A deadline, not a wait: on a loaded 2-core machine importing the app alone took 34 s of
    # wall clock (3 s of CPU), so 30 s failed healthy servers.
    def start(self, timeout: float = 120.0) -> None:
        env = {
            **os.environ,
            "RUNBOOKD_DATABASE_URL": self.database.url,
            "RUNBOOKD_DATA_DIR": str(self.workdir / "data"),
            "RUNBOOKD_RUNBOOKS": "[" + ", ".join(str(p) for p in self.runbooks) + "]",
            "RUNBOOKD_LOG__LEVEL": "info",
            **self.env,
        }
        for name in [n for n in env if n.startswith("RUNBOOKD_TEST_")]:
            del env[name]  # the test suite's own knobs; the server refuses unknown RUNBOOKD_ keys
        self.starts += 1
        log = (self.workdir / f"server-{self.starts}.log").open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "runbookd.cli.main", "serve", "--host", "127.0.0.1"]
            + ["--port", str(self.port)],
            cwd=self.workdir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

        def ready() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited with {self.proc.returncode}:\n{self.log()}")
            return httpx.get(self.url + "/readyz", timeout=2, verify=self.verify).status_code == 200

        try:
            poll(ready, timeout, "the server to become ready")
        except BaseException:
            self.stop()  # a server that never became ready must not outlive its test
            raise

    def log(self) -> str:
        return (self.workdir / f"server-{self.starts}.log").read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a crash or an OOM kill."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    # --- API helpers ------------------------------------------------------------------------

    def post(
        self, path: str, body: Any = None, content: bytes | None = None, **kw: Any
    ) -> httpx.Response:
        kw.setdefault("verify", self.verify)
        if content is not None:
            return httpx.post(self.url + path, content=content, timeout=10, **kw)
        return httpx.post(self.url + path, json=body, timeout=10, **kw)

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return httpx.get(self.url + path, timeout=10, verify=self.verify, **kw)

    def incidents(self, **params: Any) -> list[dict[str, Any]]:
        response = self.get("/api/v1/incidents", params=params)
        response.raise_for_status()
        result: list[dict[str, Any]] = response.json()["incidents"]
        return result

    def incident(self, incident_id: str) -> dict[str, Any]:
        response = self.get(f"/api/v1/incidents/{incident_id}")
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def metric(self, name: str, **labels: str) -> float:
        """The value of one sample in /metrics (0 when absent)."""
        want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
        for line in self.get("/metrics").text.splitlines():
            if line.startswith("#"):
                continue
            series, _, value = line.rpartition(" ")
            sname, _, rest = series.partition("{")
            if sname != name:
                continue
            got = ",".join(sorted(p for p in rest.rstrip("}").split(",") if p))
            if got == want:
                return float(value)
        return 0.0


class TcpProxy:
    """A loopback TCP relay that a test can cut and restore: a database outage on demand."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._up = False

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        self._up = True
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        """Refuse new connections and break every open one."""
        self._up = False
        if self._listener is not None:
            # close() alone does not wake a thread blocked in accept() on Linux: the old
            # listener would go on accepting, and the "outage" would let connections through.
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None
        with self._lock:
            _hang_up(*self._conns)
            self._conns.clear()

    def _accept(self, listener: socket.socket) -> None:
        while self._up:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            if not self._up or listener is not self._listener:
                client.close()
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                if listener is not self._listener:  # cut while we were connecting upstream
                    _hang_up(client, upstream)
                    return
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            _hang_up(src, dst)


def _hang_up(*socks: socket.socket) -> None:
    """Shut down, then close: close() alone neither wakes the thread piping the other way
    (blocked in recv) nor sends the peer a FIN while that recv holds the socket. A PostgreSQL
    backend behind the relay then stayed 'idle in transaction' for ever, holding its locks, and
    the next DROP SCHEMA hung the suite (CI, 2026-12-02)."""
    for s in socks:
        with contextlib.suppress(OSError):
            s.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            s.close()


HOOK = "/api/v1/alerts/alertmanager"
T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def channel_pair(channel: str) -> dict[str, object]:
    """One notification with both signals the bundled 3.3 runbook correlates, for one channel."""
    return am_notification(
        [
            am_alert({"alertname": "PaymentFailureRateHigh", "channel": channel}, starts_at=T0),
            am_alert({"alertname": "PaymentChannelProbeFailed", "channel": channel}, starts_at=T0),
        ],
        group_labels={"channel": channel},
    )


@dataclass
class Alertmanager:
    """Debian's prometheus-alertmanager with gossip off, on a free loopback port."""

    home: Path
    config: str
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    #: Gossip flags; the default turns it off (parallel instances would collide on port 9094).
    cluster: list[str] = field(default_factory=lambda: ["--cluster.listen-address="])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        binary = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
        if binary is None:
            pytest.skip(
                "Alertmanager is not installed (apt-get install -y prometheus-alertmanager)"
            )
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "am.yml").write_text(self.config)
        log = (self.home / "am.log").open("wb")
        self.proc = subprocess.Popen(
            [
                binary,
                f"--config.file={self.home / 'am.yml'}",
                f"--storage.path={self.home / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                f"--web.external-url={self.url}",
                *self.cluster,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        poll(lambda: httpx.get(self.url + "/-/ready", timeout=2).status_code == 200, 30, "AM")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


@dataclass
class Call:
    """One request a :class:`Receiver` got."""

    path: str
    idempotency_key: str
    at: datetime


class Receiver:
    """An HTTP endpoint on a free loopback port that records every call, as a connector's target.

    ``answer(path)`` decides what each call gets; by default ``200 {"ok": true}``. It may block
    (a slow or hung target): each request has its own thread.
    """

    def __init__(self, answer: Callable[[BaseHTTPRequestHandler], None] | None = None) -> None:
        self.calls: list[Call] = []
        self.lock = threading.Lock()
        record = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                arrived = datetime.now(UTC)
                self.rfile.read(int(self.headers.get("content-length") or 0))
                with record.lock:
                    key = self.headers.get("idempotency-key") or ""
                    record.calls.append(Call(self.path, key, arrived))
                (answer or _answer_ok)(self)

            def log_message(self, *args: Any) -> None:
                pass

        class Quiet(ThreadingHTTPServer):
            daemon_threads = True
            # not socketserver's 5: a burst of calls must not overflow the accept queue
            request_queue_size = 128

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # clients that give up on a hung answer leave broken pipes here

        self._httpd = Quiet(("127.0.0.1", 0), Handler)
        self.port = int(self._httpd.server_address[1])
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def by(self, prefix: str) -> dict[str, list[Call]]:
        """Calls whose path starts with ``prefix``, grouped by the rest of the path."""
        grouped: dict[str, list[Call]] = defaultdict(list)
        with self.lock:
            for call in self.calls:
                if call.path.startswith(prefix):
                    grouped[call.path.removeprefix(prefix)].append(call)
        return grouped

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def _answer_ok(handler: BaseHTTPRequestHandler) -> None:
    handler.send_response(200)
    handler.send_header("content-type", "application/json")
    handler.end_headers()
    handler.wfile.write(b'{"ok": true}')


def runbook_copy(name: str, folder: Path, replace: dict[str, str]) -> Path:
    """A test runbook from tests/runbooks copied into ``folder`` with texts replaced."""
    folder.mkdir(parents=True, exist_ok=True)
    source = (REPO / "tests" / "runbooks" / name).read_text()
    for old, new in replace.items():
        source = source.replace(old, new)
    (folder / name).write_text(source)
    return folder
