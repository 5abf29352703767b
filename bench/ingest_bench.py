"""Webhook ingest benchmark: throughput against a bare endpoint, and alert-to-incident latency.

Two measurements in one run, against real server processes on loopback:

1. Throughput. ``wrk -t1 -c32`` POSTs a real ~1.8 KB Alertmanager v4 notification (one alert,
   labels and annotations of kube-prometheus' NodeFilesystemAlmostOutOfSpace) to
   ``POST /api/v1/alerts/alertmanager`` of runbookd (durable storage, bundled runbooks/) and of a
   bare FastAPI endpoint that only reads the body (bench/bare_app.py), both under the same
   uvicorn settings. runbookd deduplicates identical alerts without storing them again, which
   would flatter it, so the wrk Lua script gives every request its own ``instance`` label and
   fingerprint: each request stores a new alert (the headline figure). A separate run sends one
   body over and over (all duplicates after the first). A small share of the requests carry an
   alert a runbook trigger matches (``--match-every``); the rest are noise. The 2-core machine
   is noisy, so the servers take turns (bare, runbookd, runbookd-duplicates per round) and the
   figures are medians over rounds. Before each run the servers must be idle: runbookd's engine
   thread may still be applying what the previous run stored, and that would slow the next run.
2. Latency. Correlated pairs (PaymentFailureRateHigh + PaymentChannelProbeFailed, one new
   ``channel`` per pair) open one incident each of the bundled payment-channel-abnormal runbook.
   A paced open-loop client sends them at a steady ``--rate`` alerts/s. The primary figure is the
   server's ``runbookd_alert_to_incident_seconds`` histogram (quantiles estimated from buckets);
   the cross-check is client-side: from sending the pair's second alert to a poll of
   ``GET /api/v1/incidents`` showing the incident.

Goals (the issue): runbookd >= 0.8 x bare with unique alerts; alert-to-incident p99 < 50 ms.

Every run also reports who used the CPU meanwhile (the server, the load generator, everything
else on the machine) and the server's CPU time per request, which a busy machine distorts far
less than req/s; runs first wait (up to ``--quiet-wait`` s) for the machine to be nearly idle.

Run with the project's virtualenv: ``.venv/bin/python bench/ingest_bench.py`` (``--quick`` for a
smoke run of a few seconds per phase; ``--database-url postgresql+psycopg://...`` to store in a
fresh schema of that PostgreSQL database, dropped afterwards).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import dataclasses
import importlib.metadata
import json
import math
import os
import platform
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(
    0, str(REPO)
)  # run as a script from anywhere; runbookd.toolchain.testing builds payloads

from runbookd.toolchain.testing import am_alert, am_notification  # noqa: E402

INGEST_PATH = "/api/v1/alerts/alertmanager"
RUNBOOK = "payment-channel-abnormal"
THROUGHPUT_GOAL = 0.8
P99_GOAL_S = 0.050
#: Reuse a client connection only when idle for less than this (uvicorn's keep-alive is 5 s).
KEEP_ALIVE_S = 2.0
#: /proc counts CPU time in these units.
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
#: Where the substituted parts of a body go; chosen so that JSON encoding leaves them intact.
SEQ_MARK = "@@SEQ@@"
FP_MARK = "@@FP@@"
MARK_RE = re.compile(f"({SEQ_MARK}|{FP_MARK})")


# --- payloads -------------------------------------------------------------------------------

#: kube-prometheus' NodeFilesystemAlmostOutOfSpace (reference/prometheus-rules/kube-prometheus/
#: manifests/nodeExporter-prometheusRule.yaml), expr as Prometheus prints it in generatorURL.
_FS = '{fstype!="",job="node-exporter",mountpoint!=""}'
NOISE_EXPR = (
    f"(node_filesystem_avail_bytes{_FS} / node_filesystem_size_bytes{_FS} * 100 < 5 "
    f"and node_filesystem_readonly{_FS} == 0)"
)


def _compact(data: Any) -> str:
    """JSON as Alertmanager's Go encoder writes it: no spaces."""
    return json.dumps(data, separators=(",", ":"))


def _generator_url(expr: str) -> str:
    return "http://prometheus-k8s-0:9090/graph?g0.expr=" + quote(expr, safe="") + "&g0.tab=1"


def noise_notification(starts_at: datetime) -> str:
    """A notification no runbook matches; ``instance`` and fingerprint are marks to fill in."""
    instance = f"ip-10-42-{SEQ_MARK}.eu-west-1.compute.internal"
    labels = {
        "alertname": "NodeFilesystemAlmostOutOfSpace",
        "device": "/dev/nvme0n1p1",
        "fstype": "ext4",
        "instance": instance,
        "job": "node-exporter",
        "mountpoint": "/var/lib/kubelet",
        "namespace": "monitoring",
        "pod": "node-exporter-7x9kq",
        "prometheus": "monitoring/k8s",
        "service": "node-exporter",
        "severity": "warning",
    }
    annotations = {
        "description": f"Filesystem on /dev/nvme0n1p1, mounted on /var/lib/kubelet, at {instance} "
        "has only 4.21% available space left.",
        "runbook_url": "https://runbooks.prometheus-operator.dev/runbooks/node/"
        "nodefilesystemalmostoutofspace",
        "summary": "Filesystem has less than 5% space left.",
    }
    url = _generator_url(NOISE_EXPR)
    alert = am_alert(labels, starts_at=starts_at, annotations=annotations, generator_url=url)
    alert["fingerprint"] = FP_MARK
    note = am_notification(
        [alert],
        group_labels={"namespace": "monitoring"},
        external_url="http://alertmanager-main-0:9093",
    )
    return _compact(note)


def payment_alert(name: str, channel: str, starts_at: datetime) -> dict[str, Any]:
    """One of the two alerts the payment-channel-abnormal runbook correlates, for ``channel``."""
    labels = {
        "alertname": name,
        "channel": channel,
        "env": "prod",
        "job": "payment-gateway",
        "namespace": "payments",
        "service": "payment-gateway",
        "severity": "critical",
        "team": "payments",
    }
    if name == "PaymentFailureRateHigh":
        annotations = {
            "summary": f"Payment failure rate above 20% on channel {channel}",
            "description": f"{channel}: 34.5% of payment attempts failed over the last 5 minutes.",
        }
        expr = "sum by (channel) (rate(orders_payment_failed_total[5m])) / sum by (channel) (rate(orders_payment_attempts_total[5m])) > 0.2"
    else:
        annotations = {
            "summary": f"Synthetic probe of payment channel {channel} failing",
            "description": f"The blackbox probe of {channel}'s API has failed for 2 minutes.",
        }
        expr = 'probe_success{job="payment-channel-probe"} == 0'
    return am_alert(
        labels, starts_at=starts_at, annotations=annotations, generator_url=_generator_url(expr)
    )


def payment_notification(
    name: str, channel: str, starts_at: datetime, fingerprint: str | None = None
) -> str:
    alert = payment_alert(name, channel, starts_at)
    if fingerprint is not None:
        alert["fingerprint"] = fingerprint
    return _compact(
        am_notification(
            [alert],
            group_labels={"alertname": name, "channel": channel},
            external_url="http://alertmanager-main-0:9093",
        )
    )


def render(template: str, seq: int, run: int) -> str:
    """Fill a template's marks the way the wrk script does (for sizes and the smoke check)."""
    return template.replace(SEQ_MARK, _seq_text(seq)).replace(FP_MARK, f"{run:08x}{seq:08x}")


def _seq_text(seq: int) -> str:
    return f"{seq // 256 % 256}-{seq % 256}-{seq // 65536}"


# --- the wrk script -------------------------------------------------------------------------

LUA = r"""-- Generated by bench/ingest_bench.py: POST Alertmanager notifications, each a new alert.
-- args: run id (keeps fingerprints of different runs apart), match_every (every n-th request
-- carries an alert a runbook trigger matches; 0 = never), mode ("unique" or "same").
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["User-Agent"] = "Alertmanager/0.27.0"

local noise_parts = {NOISE_PARTS}
local noise_marks = {NOISE_MARKS}
local match_parts = {MATCH_PARTS}
local match_marks = {MATCH_MARKS}

local run, every, same, n = 0, 0, false, 0
local fixed = nil

-- instance label text for a sequence number (same as _seq_text in Python)
local function seq_text(seq)
  return string.format("%d-%d-%d", math.floor(seq / 256) % 256, seq % 256, math.floor(seq / 65536))
end

local function fill(parts, marks, seq)
  local out = {}
  local st = seq_text(seq)
  local fp = string.format("%08x%08x", run, seq)
  for i = 1, #parts do
    out[#out + 1] = parts[i]
    local m = marks[i]
    if m == "seq" then out[#out + 1] = st elseif m == "fp" then out[#out + 1] = fp end
  end
  return table.concat(out)
end

function init(args)
  run = tonumber(args[1]) or 0
  every = tonumber(args[2]) or 0
  same = args[3] == "same"
  if same then
    fixed = wrk.format(nil, nil, nil, fill(noise_parts, noise_marks, 0))
  end
end

function request()
  if same then return fixed end
  n = n + 1
  if every > 0 and n % every == 0 then
    return wrk.format(nil, nil, nil, fill(match_parts, match_marks, n))
  end
  return wrk.format(nil, nil, nil, fill(noise_parts, noise_marks, n))
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,' ..
    '"status":%d,"timeout":%d,"p50_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
"""


def _lua_parts(template: str) -> tuple[str, str]:
    """A template as Lua tables: literal pieces, and after each the mark that follows it."""
    pieces = MARK_RE.split(template)
    texts = pieces[0::2]
    marks = [{SEQ_MARK: "seq", FP_MARK: "fp"}[m] for m in pieces[1::2]] + [""]
    # Long brackets take the JSON verbatim; the level is chosen so no piece can close it early.
    level = "=" * 4
    assert all(f"]{level}]" not in t for t in texts)
    parts = ", ".join(f"[{level}[{t}]{level}]" for t in texts)
    return parts, ", ".join(f'"{m}"' for m in marks)


def lua_script(noise_template: str, match_template: str) -> str:
    noise_parts, noise_marks = _lua_parts(noise_template)
    match_parts, match_marks = _lua_parts(match_template)
    return (
        LUA.replace("{NOISE_PARTS}", "{" + noise_parts + "}")
        .replace("{NOISE_MARKS}", "{" + noise_marks + "}")
        .replace("{MATCH_PARTS}", "{" + match_parts + "}")
        .replace("{MATCH_MARKS}", "{" + match_marks + "}")
    )


# --- server processes -----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """One server subprocess on a loopback port; its output goes to a log file."""

    name: str
    argv: list[str]
    env: dict[str, str]
    workdir: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / f"{self.name}.log"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout: float = 60.0) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [*self.argv, "--port", str(self.port)],
                cwd=self.workdir,  # no config.yaml here: the environment is the whole config
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.log()}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(self.url + "/readyz", timeout=2).status_code == 200:
                    return
            time.sleep(0.05)  # a polling interval, not a wait for the effect
        raise RuntimeError(f"{self.name} not ready after {timeout}s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def cpu_seconds(self) -> float:
        """User + system CPU time of the process so far (Linux /proc)."""
        return process_cpu_seconds(self.pid)

    def wait_idle(self, timeout: float = 180.0, window: float = 0.5) -> float:
        """Wait until the process uses < 5 % of a core; returns how long that took.

        After a wrk run runbookd's engine thread may still be applying stored alerts; measuring
        the next server meanwhile would charge runbookd's backlog to it.
        """
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            before = self.cpu_seconds()
            time.sleep(window)
            if self.cpu_seconds() - before < 0.05 * window:
                return max(time.monotonic() - started - window, 0.0)
        raise RuntimeError(f"{self.name} still busy after {timeout}s")


def server_env() -> dict[str, str]:
    env = dict(os.environ)
    for key in [k for k in env if k.startswith("RUNBOOKD_")]:
        del env[key]  # a developer's own settings must not leak into the measurement
    return env


def runbookd_server(name: str, workdir: Path, database_url: str) -> Server:
    env = server_env() | {
        "RUNBOOKD_DATABASE_URL": database_url,
        "RUNBOOKD_DATA_DIR": str(workdir / "data"),
        "RUNBOOKD_RUNBOOKS": f"[{REPO / 'runbooks'}]",
        "RUNBOOKD_SERVER__ACCESS_LOG": "false",
        "RUNBOOKD_LOG__LEVEL": "warning",
        # Incidents of the latency phase would page and call 127.0.0.1:8081: record, don't call.
        "RUNBOOKD_ENGINE__DRY_RUN": "true",
    }
    argv = [sys.executable, "-m", "runbookd.cli.main", "serve", "--host", "127.0.0.1"]
    return Server(name, argv, env, workdir)


def bare_server(workdir: Path) -> Server:
    argv = [sys.executable, str(REPO / "bench" / "bare_app.py"), "--host", "127.0.0.1"]
    return Server("bare", argv, server_env(), workdir)


# --- databases ------------------------------------------------------------------------------


@contextlib.contextmanager
def database(base_url: str | None, workdir: Path, name: str) -> Iterator[str]:
    """A fresh database for one server: a SQLite file, or a PostgreSQL schema dropped after."""
    if base_url is None:
        yield f"sqlite:///{workdir / name / 'runbookd.db'}"
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    schema = f"rb_bench_{name}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(base_url).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def describe_database(base_url: str | None) -> str:
    if base_url is None:
        return "SQLite file in a temp dir (WAL, synchronous=FULL)"
    from sqlalchemy.engine import make_url

    url = make_url(base_url)
    version = ""
    with contextlib.suppress(Exception):
        from sqlalchemy import create_engine, text

        engine = create_engine(base_url)
        with engine.connect() as conn:
            version = " " + str(conn.execute(text("SHOW server_version")).scalar())
        engine.dispose()
    return f"PostgreSQL{version} at {url.host}:{url.port or 5432}/{url.database}, fresh schema"


# --- metrics --------------------------------------------------------------------------------

Sample = tuple[str, frozenset[tuple[str, str]]]
LABEL_RE = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def scrape(url: str) -> dict[Sample, float]:
    """GET /metrics as {(name, labels): value}."""
    out: dict[Sample, float] = {}
    for line in httpx.get(url + "/metrics", timeout=10).text.splitlines():
        if not line or line.startswith("#"):
            continue
        series, _, value = line.rpartition(" ")
        name, _, rest = series.partition("{")
        out[(name, frozenset(LABEL_RE.findall(rest)))] = float(value)
    return out


def metric(samples: dict[Sample, float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def buckets(samples: dict[Sample, float], name: str) -> list[tuple[float, float]]:
    """A histogram's cumulative buckets as sorted (upper bound, count), +Inf last."""
    out = [
        (float(dict(labels)["le"]), value)
        for (sname, labels), value in samples.items()
        if sname == name + "_bucket"
    ]
    return sorted(out)


def bucket_quantile(q: float, cumulative: Sequence[tuple[float, float]]) -> tuple[float, str]:
    """Prometheus' histogram_quantile: linear within the bucket; also the bucket's bounds."""
    total = cumulative[-1][1]
    if total == 0:
        return math.nan, "no data"
    rank = q * total
    lower, below = 0.0, 0.0
    for upper, count in cumulative:
        if count >= rank:
            if math.isinf(upper):  # beyond the last finite bound: report that bound
                return lower, f"> {_ms(lower)}"
            inside = count - below
            share = (rank - below) / inside if inside else 1.0
            return lower + (upper - lower) * share, f"({_ms(lower)}, {_ms(upper)}]"
        lower, below = upper, count
    return math.nan, "?"


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:g} ms"


# --- CPU accounting -------------------------------------------------------------------------
# The machine is shared (2 cores): a test suite running next to the benchmark changes every
# figure. Each run therefore reports who used the CPU meanwhile, and runs wait for a quiet
# machine first (up to --quiet-wait seconds).


def process_cpu_seconds(pid: int | str) -> float:
    """User + system CPU time of one process so far (/proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def postgres_cpu_seconds() -> float:
    """CPU time of every PostgreSQL process on this machine (its share of runbookd's work)."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            text = stat.read_text()
            if text[text.index("(") + 1 : text.rindex(")")] == "postgres":
                total += process_cpu_seconds(stat.parent.name)
    return total


def system_busy_seconds() -> float:
    """CPU seconds used on all cores so far (/proc/stat: user+nice+system+irq+softirq)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, _steal = values
    return (user + nice + system + irq + softirq) / CLOCK_TICKS


def own_cpu_seconds() -> float:
    """This process and its reaped children (wrk): the load generator's share."""
    me, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


@dataclass(frozen=True)
class CpuUse:
    """Average cores busy during a run, by whom."""

    server: float  # the measured server process (all its threads)
    client: float  # wrk or this process
    foreign: float  # everything else on the machine
    database: float = 0.0  # PostgreSQL's processes (with --database-url; others' queries too)


class CpuMeter:
    #: Count PostgreSQL's processes apart from the rest (set when benchmarking on PostgreSQL).
    postgres = False

    def __init__(self, measured: Server, idle: Sequence[Server] = ()) -> None:
        self._measured = measured
        self._servers = [measured, *idle]
        self._start = self._read()

    def _read(self) -> tuple[float, ...]:
        return (
            time.monotonic(),
            system_busy_seconds(),
            self._measured.cpu_seconds(),
            sum(s.cpu_seconds() for s in self._servers),
            own_cpu_seconds(),
            postgres_cpu_seconds() if self.postgres else 0.0,
        )

    def stop(self) -> CpuUse:
        end = self._read()
        wall, busy, server, servers, own, db = (
            b - a for a, b in zip(self._start, end, strict=True)
        )
        foreign = max(busy - servers - own - db, 0.0)
        return CpuUse(server / wall, own / wall, foreign / wall, db / wall)


def wait_quiet(max_wait: float, log: Callable[[str], None], threshold: float = 0.3) -> float:
    """Wait until the machine is nearly idle (< ``threshold`` cores busy over 1 s)."""
    started = time.monotonic()
    while True:
        before = system_busy_seconds()
        time.sleep(1.0)
        busy = system_busy_seconds() - before
        waited = time.monotonic() - started
        if busy < threshold:
            return waited
        if waited >= max_wait:
            if max_wait > 0:
                log(
                    f"machine still busy ({busy:.1f} cores by others) after {waited:.0f}s; going on"
                )
            return waited


# --- throughput -----------------------------------------------------------------------------


@dataclass(frozen=True)
class WrkRun:
    server: str
    requests: int
    seconds: float
    errors: int
    p50_ms: float
    p99_ms: float
    cpu: CpuUse
    accepted: float = math.nan  # runbookd only: alerts stored / found duplicate during the run
    duplicates: float = math.nan
    catch_up_s: float = 0.0  # runbookd only: time until idle after wrk stopped
    server_cpu_s: float = math.nan  # server CPU from wrk's start until idle again

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    @property
    def cpu_ms_per_request(self) -> float:
        """Less sensitive to a busy machine than req/s: what one request costs the server."""
        return 1000 * self.server_cpu_s / self.requests if self.requests else math.nan


@dataclass(frozen=True)
class Plan:
    rounds: int
    seconds: float
    warmup: float
    connections: int
    match_every: int
    rate: float
    latency_seconds: float
    poll_interval: float
    quiet_wait: float


def run_wrk(
    server: Server,
    script: Path,
    seconds: float,
    connections: int,
    args: Sequence[str],
    idle: Sequence[Server] = (),
) -> WrkRun:
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "10s"]
    argv += ["-s", str(script), server.url + INGEST_PATH, "--", *args]
    meter = CpuMeter(server, idle)
    done = subprocess.run(argv, capture_output=True, text=True, check=True)
    cpu = meter.stop()
    line = next((x for x in done.stdout.splitlines() if x.startswith("WRK_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary:\n{done.stdout}\n{done.stderr}")
    data = json.loads(line.removeprefix("WRK_JSON "))
    return WrkRun(
        server=server.name,
        requests=int(data["requests"]),
        seconds=data["duration_us"] / 1e6,
        errors=sum(data[k] for k in ("connect", "read", "write", "status", "timeout")),
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        cpu=cpu,
    )


def ingest_counts(url: str) -> tuple[float, float]:
    samples = scrape(url)
    received = "runbookd_alerts_received_total"
    accepted = metric(samples, received, source="alertmanager", outcome="accepted")
    duplicates = sum(
        metric(samples, received, source="alertmanager", outcome=o) for o in ("duplicate", "stale")
    )
    return accepted, duplicates


@dataclass
class Throughput:
    bare: list[WrkRun] = field(default_factory=list)
    unique: list[WrkRun] = field(default_factory=list)
    same: list[WrkRun] = field(default_factory=list)
    incidents_opened: float = 0.0


class ThroughputRunner:
    """The interleaved wrk runs of the throughput phase against two running servers."""

    def __init__(
        self, plan: Plan, script: Path, bare: Server, rbd: Server, log: Callable[[str], None]
    ) -> None:
        self.plan, self.script, self.bare, self.rbd, self.log = plan, script, bare, rbd, log
        self._run_id = 0

    def _args(self, mode: str) -> list[str]:
        self._run_id += 1  # every run its own fingerprints, so no run's alerts repeat another's
        return [str(self._run_id), str(self.plan.match_every), mode]

    def _settle(self) -> None:
        """Both servers idle (runbookd's engine done with the last run), then a quiet machine."""
        self.bare.wait_idle()
        self.rbd.wait_idle()
        wait_quiet(self.plan.quiet_wait, self.log)

    def bare_run(self, seconds: float) -> WrkRun:
        self._settle()
        args = self._args("unique")
        cpu0 = self.bare.cpu_seconds()
        result = run_wrk(self.bare, self.script, seconds, self.plan.connections, args, [self.rbd])
        self.bare.wait_idle()
        return dataclasses.replace(result, server_cpu_s=self.bare.cpu_seconds() - cpu0)

    def runbookd_run(self, seconds: float, mode: str) -> WrkRun:
        """One wrk run on runbookd, with what it counted and how long it took to go idle after."""
        self._settle()
        acc0, dup0 = ingest_counts(self.rbd.url)
        args = self._args(mode)
        cpu0 = self.rbd.cpu_seconds()
        result = run_wrk(self.rbd, self.script, seconds, self.plan.connections, args, [self.bare])
        catch_up = self.rbd.wait_idle()
        cpu = self.rbd.cpu_seconds() - cpu0
        acc1, dup1 = ingest_counts(self.rbd.url)
        return dataclasses.replace(
            result,
            accepted=acc1 - acc0,
            duplicates=dup1 - dup0,
            catch_up_s=catch_up,
            server_cpu_s=cpu,
        )

    def run(self) -> Throughput:
        out = Throughput()
        # Warm-up: the first requests pay for imports, caches and the database's first pages.
        self.bare_run(self.plan.warmup)
        self.runbookd_run(self.plan.warmup, "unique")
        for round_no in range(1, self.plan.rounds + 1):
            b = self.bare_run(self.plan.seconds)
            u = self.runbookd_run(self.plan.seconds, "unique")
            s = self.runbookd_run(self.plan.seconds, "same")
            out.bare.append(b)
            out.unique.append(u)
            out.same.append(s)
            self.log(
                f"round {round_no}: bare {b.rps:,.0f} req/s, runbookd {u.rps:,.0f} "
                f"(catch-up {u.catch_up_s:.1f}s), duplicates {s.rps:,.0f}; others used "
                f"{b.cpu.foreign:.2f}/{u.cpu.foreign:.2f}/{s.cpu.foreign:.2f} cores"
            )
        samples = scrape(self.rbd.url)
        out.incidents_opened = sum(
            v for (n, _), v in samples.items() if n == "runbookd_incidents_opened_total"
        )
        return out


# --- latency --------------------------------------------------------------------------------


class RawHttp:
    """A minimal HTTP/1.1 keep-alive client for the paced sender and the poller.

    httpx's AsyncClient spends about 4 ms of CPU per request here: on a 2-core machine shared
    with the server the client itself then falls behind the 100/s schedule and its queueing shows
    up as "latency" (measured against the bare endpoint: POST -> 202 p50 1.2 s). Writing the
    request bytes and reading one Content-Length-framed response costs a few tens of us.
    """

    def __init__(self, url: str) -> None:
        host, _, port = url.removeprefix("http://").partition(":")
        self._host, self._port = host, int(port)
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = []
        self._all: list[asyncio.StreamWriter] = []

    async def _connection(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        while self._idle:
            reader, writer, since = self._idle.pop()
            # uvicorn closes keep-alive connections idle for 5 s; reusing one then fails.
            if time.monotonic() - since < KEEP_ALIVE_S:
                return reader, writer
            writer.close()
        # Open loop: a request never waits for a busy connection, it opens another.
        reader, writer = await asyncio.open_connection(self._host, self._port)
        self._all.append(writer)
        return reader, writer

    async def request(self, method: str, target: str, body: bytes = b"") -> tuple[int, bytes]:
        reader, writer = await self._connection()
        head = (
            f"{method} {target} HTTP/1.1\r\nHost: {self._host}:{self._port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        writer.write(head.encode() + body)
        try:
            status, data = await self._response(reader)
        except Exception:
            writer.close()
            raise
        self._idle.append((reader, writer, time.monotonic()))
        return status, data

    @staticmethod
    async def _response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        return status, await reader.readexactly(length)

    async def close(self) -> None:
        for writer in self._all:
            writer.close()
        for writer in self._all:
            with contextlib.suppress(OSError):
                await writer.wait_closed()


@dataclass
class Pair:
    channel: str
    second_sent: float | None = None  # perf_counter when the second alert's POST started
    seen: float | None = None  # perf_counter when a poll first showed the incident


@dataclass
class Latency:
    pairs: list[Pair]
    sent: int = 0
    failed: int = 0
    failures: collections.Counter[str] = field(default_factory=collections.Counter)
    ack_ms: list[float] = field(default_factory=list)
    lateness_ms: list[float] = field(default_factory=list)
    polls: int = 0
    cpu: CpuUse | None = None
    histogram: list[tuple[float, float]] = field(default_factory=list)
    server_sum: float = 0.0
    incidents_opened: float = 0.0

    def client_ms(self) -> list[float]:
        return sorted(
            (p.seen - p.second_sent) * 1000
            for p in self.pairs
            if p.seen is not None and p.second_sent is not None
        )


def latency_bodies(count: int, run: str) -> tuple[list[Pair], list[bytes]]:
    """``count`` alerts: pair k's failure-rate alert, then its probe alert, both for one channel."""
    starts = datetime.now(UTC).replace(microsecond=0)
    pairs = [Pair(f"bench-{run}-{k}") for k in range(count // 2)]
    bodies: list[bytes] = []
    for pair in pairs:
        for name in ("PaymentFailureRateHigh", "PaymentChannelProbeFailed"):
            bodies.append(payment_notification(name, pair.channel, starts).encode())
    return pairs, bodies


async def _send_paced(client: RawHttp, bodies: list[bytes], rate: float, lat: Latency) -> None:
    """Open loop: alert i starts at t0 + i/rate whatever the server does, so a slow server
    cannot slow the offered load (no coordinated omission)."""
    pairs = lat.pairs

    async def post(i: int, body: bytes) -> None:
        started = time.perf_counter()
        if i % 2:
            pairs[i // 2].second_sent = started
        try:
            status, _ = await client.request("POST", INGEST_PATH, body)
            outcome = str(status)
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            outcome = type(exc).__name__
        if outcome != "202":
            lat.failed += 1
            lat.failures[outcome] += 1
        lat.ack_ms.append((time.perf_counter() - started) * 1000)

    loop = asyncio.get_running_loop()
    tasks: list[asyncio.Task[None]] = []
    t0 = loop.time() + 0.05
    for i, body in enumerate(bodies):
        due = t0 + i / rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        lat.lateness_ms.append((loop.time() - due) * 1000)
        tasks.append(asyncio.create_task(post(i, body)))
        lat.sent += 1
    await asyncio.gather(*tasks)


async def _poll_incidents(
    client: RawHttp, interval: float, stop: asyncio.Event, lat: Latency
) -> None:
    """One poller for all pairs. ``since`` starts just before the oldest incident not seen yet,
    so a poll returns a few incidents and polling stays a small load on the server."""
    pairs = lat.pairs
    by_channel = {p.channel: p for p in pairs}
    wall0, perf0 = datetime.now(UTC), time.perf_counter()
    while True:
        pending = [p.second_sent for p in pairs if p.seen is None and p.second_sent is not None]
        if not pending and stop.is_set():
            return
        if pending:
            # opened_at is the server's receive time of the pair's later alert, so never before
            # the first alert's send (10 ms before the second's); 50 ms covers clock mapping.
            since = wall0 + timedelta(seconds=min(pending) - perf0 - 0.05)
            query = urlencode({"runbook": RUNBOOK, "since": since.isoformat(), "limit": 1000})
            status, data = await client.request("GET", f"/api/v1/incidents?{query}")
            now = time.perf_counter()
            lat.polls += 1
            if status != 200:
                raise RuntimeError(f"GET /api/v1/incidents: {status} {data[:200]!r}")
            for incident in json.loads(data)["incidents"]:
                pair = by_channel.get(incident["labels"].get("channel", ""))
                if pair is not None and pair.seen is None and pair.second_sent is not None:
                    pair.seen = now
        await asyncio.sleep(interval)


async def _latency_run(server: Server, plan: Plan, run: str) -> Latency:
    count = max(2, int(plan.rate * plan.latency_seconds) // 2 * 2)
    pairs, bodies = latency_bodies(count, run)
    lat = Latency(pairs)
    sender, poller = RawHttp(server.url), RawHttp(server.url)
    try:
        stop = asyncio.Event()
        polling = asyncio.create_task(_poll_incidents(poller, plan.poll_interval, stop, lat))
        meter = CpuMeter(server)
        await _send_paced(sender, bodies, plan.rate, lat)
        lat.cpu = meter.stop()
        stop.set()
        # Incidents a correlation never opens (see the report) would keep the poller going.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(polling, timeout=max(5.0, plan.latency_seconds / 2))
    finally:
        await sender.close()
        await poller.close()
    return lat


def measure_latency(plan: Plan, server: Server, log: Callable[[str], None]) -> Latency:
    server.wait_idle()
    wait_quiet(plan.quiet_wait, log)
    lat = asyncio.run(_latency_run(server, plan, uuid.uuid4().hex[:6]))
    server.wait_idle()
    samples = scrape(server.url)
    lat.histogram = buckets(samples, "runbookd_alert_to_incident_seconds")
    lat.server_sum = metric(samples, "runbookd_alert_to_incident_seconds_sum")
    lat.incidents_opened = metric(samples, "runbookd_incidents_opened_total", runbook=RUNBOOK)
    return lat


# --- the report -----------------------------------------------------------------------------


def machine() -> str:
    model = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.partition(":")[2].strip()
                break
    return f"{model}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def wrk_version() -> str:
    done = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)
    first = (done.stdout or done.stderr).strip().splitlines()
    return first[0].split("[")[0].strip() if first else "wrk"


def _pct(values: Sequence[float], q: float) -> float:
    """The q-quantile of samples (nearest rank)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def _med(runs: Sequence[WrkRun]) -> float:
    return statistics.median(r.rps for r in runs)


def report_header(plan: Plan, db: str, body_bytes: int, match_bytes: int) -> list[str]:
    return [
        "| | |",
        "|---|---|",
        f"| machine | {machine()} |",
        f"| date | {datetime.now().astimezone():%Y-%m-%d %H:%M %Z} |",
        f"| python | {platform.python_version()} |",
        f"| server | uvicorn {_version('uvicorn')} (loop auto = uvloop {_version('uvloop')}, "
        f"http auto = httptools {_version('httptools')}), 1 worker, no access log; "
        f"FastAPI {_version('fastapi')} |",
        f"| database | {db} |",
        f"| load | {wrk_version()} -t1 -c{plan.connections}, {plan.seconds:g} s per run, "
        f"{plan.rounds} round(s) of bare, runbookd, runbookd-duplicates; medians |",
        f"| body | {body_bytes:,} B Alertmanager v4 notification, one alert (noise); "
        f"every {plan.match_every}th request an alert a runbook trigger matches "
        f"({match_bytes:,} B) |",
    ]


def _run_row(round_no: int, label: str, run: WrkRun, bare: WrkRun, catch_up: str) -> str:
    return (
        f"| {round_no} | {label} | {run.rps:,.0f} | {run.rps / bare.rps:.2f} "
        f"| {run.p50_ms:.1f} / {run.p99_ms:.1f} | {run.cpu_ms_per_request:.3f} "
        f"| {run.cpu.server:.2f} | {run.cpu.database:.2f} | {run.cpu.client:.2f} "
        f"| {run.cpu.foreign:.2f} | {catch_up} |"
    )


def report_throughput(t: Throughput, plan: Plan) -> list[str]:
    lines = [
        "",
        "Throughput. CPU ms/req: server CPU from wrk's start until the server was idle again, "
        "per answered request. CPU columns: average cores busy during the run (server process, "
        "PostgreSQL's processes, wrk, everything else on the machine). Catch-up: seconds until "
        "runbookd was idle after wrk stopped (engine backlog).",
        "",
        "| round | endpoint | req/s | vs bare | wrk p50 / p99 ms | CPU ms/req | server CPU "
        "| db CPU | wrk CPU | others CPU | catch-up s |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for i, (b, u, s) in enumerate(zip(t.bare, t.unique, t.same, strict=True), 1):
        lines.append(_run_row(i, "bare", b, b, "-"))
        lines.append(_run_row(i, "runbookd, unique alerts", u, b, f"{u.catch_up_s:.1f}"))
        lines.append(_run_row(i, "runbookd, all duplicates", s, b, f"{s.catch_up_s:.1f}"))
    bare, uniq, same = _med(t.bare), _med(t.unique), _med(t.same)
    cost = {
        k: statistics.median(r.cpu_ms_per_request for r in runs)
        for k, runs in (("bare", t.bare), ("unique", t.unique), ("same", t.same))
    }
    requests = sum(u.requests for u in t.unique)
    accepted = sum(u.accepted for u in t.unique)
    dups = sum(s.duplicates for s in t.same)
    errors = sum(r.errors for r in t.bare + t.unique + t.same)
    matched = 100 / plan.match_every if plan.match_every else 0.0
    lines += [
        "",
        f"Medians: bare **{bare:,.0f}** req/s; runbookd unique alerts **{uniq:,.0f}** "
        f"(**{uniq / bare:.2f}** of bare); runbookd all duplicates **{same:,.0f}** "
        f"(**{same / bare:.2f}**). Server CPU per request: bare {cost['bare']:.3f} ms, runbookd "
        f"{cost['unique']:.3f} ms unique / {cost['same']:.3f} ms duplicates: if CPU were the only "
        f"limit, runbookd would reach {cost['bare'] / cost['unique']:.2f} of bare.",
        "",
        f"Unique runs: wrk counted {requests:,} answers; runbookd stored {accepted:,.0f} new "
        f"alerts (requests in flight when wrk stops are stored but not counted by wrk). "
        f"{matched:.0f} % of them matched a runbook trigger (one half of the payment "
        f"correlation; incidents opened: {t.incidents_opened:.0f}), the rest matched nothing. "
        f"Duplicate runs: {dups:,.0f} alerts found duplicate. wrk errors (non-2xx, timeouts, "
        f"sockets): {errors}.",
    ]
    return lines


def report_latency(lat: Latency, plan: Plan) -> list[str]:
    hist = lat.histogram
    count = hist[-1][1] if hist else 0.0
    p50, p50_bucket = bucket_quantile(0.5, hist) if count else (math.nan, "no data")
    p99, p99_bucket = bucket_quantile(0.99, hist) if count else (math.nan, "no data")
    within = next((c for le, c in hist if le == P99_GOAL_S), 0.0)
    client = lat.client_ms()
    never = sum(p.seen is None for p in lat.pairs)
    cpu = lat.cpu or CpuUse(math.nan, math.nan, math.nan)
    failures = (
        f" ({', '.join(f'{n}x {k}' for k, n in lat.failures.items())})" if lat.failures else ""
    )
    bounds = ", ".join(f"{le:g}" for le, _ in hist if not math.isinf(le))
    return [
        "",
        f"Alert-to-incident latency: {lat.sent} alerts ({len(lat.pairs)} correlated pairs, one "
        f"incident each) at {plan.rate:g} alerts/s for {plan.latency_seconds:g} s; "
        f"{lat.failed} POSTs failed{failures}. CPU meanwhile: server {cpu.server:.2f}, "
        f"PostgreSQL {cpu.database:.2f}, this client {cpu.client:.2f}, others "
        f"{cpu.foreign:.2f} cores.",
        "",
        "| measure | p50 | p99 | max | n |",
        "|---|---|---|---|---|",
        f"| server: `runbookd_alert_to_incident_seconds` (estimated from buckets) "
        f"| {p50 * 1000:.1f} ms in {p50_bucket} | {p99 * 1000:.1f} ms in {p99_bucket} "
        f"| - | {count:.0f} |",
        f"| client: POST of the 2nd alert -> incident listed (one poll every "
        f"{plan.poll_interval * 1000:g} ms, {lat.polls} polls) "
        f"| {_pct(client, 0.5):.1f} ms | {_pct(client, 0.99):.1f} ms "
        f"| {max(client, default=math.nan):.1f} ms | {len(client)} |",
        f"| client: POST -> 202 | {_pct(lat.ack_ms, 0.5):.1f} ms | {_pct(lat.ack_ms, 0.99):.1f} ms "
        f"| {max(lat.ack_ms, default=math.nan):.1f} ms | {len(lat.ack_ms)} |",
        f"| client: pacing, start lateness | {_pct(lat.lateness_ms, 0.5):.2f} ms "
        f"| {_pct(lat.lateness_ms, 0.99):.2f} ms | {max(lat.lateness_ms, default=math.nan):.2f} ms "
        f"| {len(lat.lateness_ms)} |",
        "",
        f"Server: {within:.0f} of {count:.0f} incidents "
        f"({100 * within / count if count else math.nan:.1f} %) within 50 ms; mean "
        f"{1000 * lat.server_sum / count if count else math.nan:.1f} ms. Incidents opened: "
        f"{lat.incidents_opened:.0f} of {len(lat.pairs)} pairs; never listed for their channel: "
        f"{never}. Histogram bucket bounds (s): {bounds}.",
    ]


def report_goals(t: Throughput | None, lat: Latency | None) -> list[str]:
    lines = ["", "| goal | measured | met |", "|---|---|---|"]
    if t is not None:
        ratio = _med(t.unique) / _med(t.bare)
        per_round = ", ".join(f"{u.rps / b.rps:.2f}" for u, b in zip(t.unique, t.bare, strict=True))
        lines.append(
            f"| runbookd >= {THROUGHPUT_GOAL} x bare (unique alerts, medians) | {ratio:.2f} "
            f"(per round: {per_round}) | {'yes' if ratio >= THROUGHPUT_GOAL else '**no**'} |"
        )
    if lat is not None and lat.histogram:
        p99, bucket = bucket_quantile(0.99, lat.histogram)
        count = lat.histogram[-1][1]
        within = next((c for le, c in lat.histogram if le == P99_GOAL_S), 0.0)
        met = count > 0 and within >= 0.99 * count
        lines.append(
            f"| alert-to-incident p99 < 50 ms (server histogram) | {p99 * 1000:.1f} ms, in "
            f"{bucket} | {'yes' if met else '**no**'} |"
        )
    return lines


# --- main -----------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="smoke run: 1 round, a few seconds each")
    p.add_argument("--database-url", help="PostgreSQL URL (default: SQLite in a temp dir)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--seconds", type=float, default=10.0, help="length of one wrk run")
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--match-every", type=int, default=20, help="every n-th alert matches")
    p.add_argument("--rate", type=float, default=100.0, help="latency phase: alerts per second")
    p.add_argument("--latency-seconds", type=float, default=20.0)
    p.add_argument("--poll-interval", type=float, default=0.01, help="latency phase client poll")
    p.add_argument(
        "--quiet-wait", type=float, default=30.0, help="most seconds to wait for an idle machine"
    )
    p.add_argument("--skip-throughput", action="store_true")
    p.add_argument("--skip-latency", action="store_true")
    p.add_argument("--keep", action="store_true", help="keep the temp dir (server logs, database)")
    return p.parse_args(argv)


def make_plan(args: argparse.Namespace) -> Plan:
    if args.quick:
        return Plan(1, 2.0, 1.0, args.connections, args.match_every, args.rate, 3.0, 0.01, 0.0)
    return Plan(
        rounds=args.rounds,
        seconds=args.seconds,
        warmup=2.0,
        connections=args.connections,
        match_every=args.match_every,
        rate=args.rate,
        latency_seconds=args.latency_seconds,
        poll_interval=args.poll_interval,
        quiet_wait=args.quiet_wait,
    )


def templates() -> tuple[str, str]:
    """The noise and the matching notification, with marks for the wrk script to fill in."""
    starts = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    noise = noise_notification(starts)
    match = payment_notification("PaymentFailureRateHigh", f"wrk-{SEQ_MARK}", starts, FP_MARK)
    return noise, match


def measure(
    args: argparse.Namespace, plan: Plan
) -> tuple[list[str], Throughput | None, Latency | None]:
    """Run the phases ``args`` asks for; the report header and each phase's result."""
    CpuMeter.postgres = args.database_url is not None

    def log(message: str) -> None:
        print(f"[{datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)

    noise, match = templates()
    tmp = Path(tempfile.mkdtemp(prefix="ingest-bench-"))
    script = tmp / "post.lua"
    script.write_text(lua_script(noise, match))
    header = report_header(
        plan,
        describe_database(args.database_url),
        len(render(noise, 1, 1)),
        len(render(match, 1, 1)),
    )
    servers: list[Server] = []
    result_t: Throughput | None = None
    result_l: Latency | None = None
    try:
        with contextlib.ExitStack() as stack:
            if not args.skip_throughput:
                url = stack.enter_context(database(args.database_url, tmp, "throughput"))
                bare = bare_server(tmp / "bare")
                rbd = runbookd_server("runbookd", tmp / "throughput", url)
                for server in (bare, rbd):
                    servers.append(server)
                    server.start()
                log(f"throughput: bare pid {bare.pid}, runbookd pid {rbd.pid}; files in {tmp}")
                result_t = ThroughputRunner(plan, script, bare, rbd, log).run()
                bare.stop()
                rbd.stop()
            if not args.skip_latency:
                url = stack.enter_context(database(args.database_url, tmp, "latency"))
                rbd = runbookd_server("runbookd-latency", tmp / "latency", url)
                servers.append(rbd)
                rbd.start()
                log(f"latency: runbookd pid {rbd.pid}, {plan.rate:g} alerts/s")
                result_l = measure_latency(plan, rbd, log)
                rbd.stop()
    finally:
        for server in servers:
            server.stop()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    return header, result_t, result_l


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if shutil.which("wrk") is None:
        print(
            "ingest_bench: wrk not found; install it with `apt-get install -y wrk` "
            "(Debian/Ubuntu) or `brew install wrk` (macOS)",
            file=sys.stderr,
        )
        return 2
    if args.database_url and not args.database_url.startswith("postgresql"):
        print("ingest_bench: --database-url takes a PostgreSQL URL", file=sys.stderr)
        return 2
    if not Path("/proc/stat").exists():
        print("ingest_bench: needs Linux (/proc) for its CPU accounting", file=sys.stderr)
        return 2
    plan = make_plan(args)
    header, result_t, result_l = measure(args, plan)
    lines = ["## Ingest", "", *header]
    if result_t is not None:
        lines += report_throughput(result_t, plan)
    if result_l is not None:
        lines += report_latency(result_l, plan)
    lines += report_goals(result_t, result_l)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
