"""Profile a real `runbookd serve` under one benchmark's load with py-spy (every thread).

    python bench/profile_server.py latency   # pairs at 100 alerts/s, as latency_bench sends them
    python bench/profile_server.py burst     # one burst of 1,000 alerts, as burst_bench sends it
    python bench/profile_server.py start     # start -> ready on a database filled like restart's
    python bench/profile_server.py ingest    # wrk's webhook load, as ingest_bench's unique run
    python bench/profile_server.py ingest --same   # ... and as its all-duplicates run

Prints the functions with the most samples on top of the stack (self) and anywhere on it
(inclusive). cProfile is not enough here: the engine and the executor run on their own threads.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import burst_bench, ingest_bench, latency_bench  # noqa: E402
from bench.ingest_bench import Pair, Server  # noqa: E402
from bench.service import Cycle, Receiver, drain, feed, library_copy, post_all, runbookd  # noqa: E402


def py_spy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(found).exists():
        raise SystemExit("py-spy not found: .venv/bin/pip install -e '.[dev]'")
    return found


def attach(pid: int, out: Path, extra: Sequence[str] = ()) -> subprocess.Popen[bytes]:
    argv = [py_spy(), "record", "--pid", str(pid), "--format", "raw", "--rate", "250"]
    # --native has to pause the process to unwind C stacks: it cannot be --nonblocking
    argv += ["--threads", "--output", str(out), *extra]
    if "--native" not in extra:
        argv.append("--nonblocking")
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def finish(spy: subprocess.Popen[bytes]) -> None:
    spy.send_signal(signal.SIGINT)  # py-spy writes its output when interrupted
    spy.wait(timeout=60)


def top(raw: Path, lines: int) -> str:
    """Self and inclusive sample counts per function from py-spy's collapsed stacks."""
    own: collections.Counter[str] = collections.Counter()
    anywhere: collections.Counter[str] = collections.Counter()
    total = 0
    for row in raw.read_text().splitlines():
        stack, _, count = row.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        frames = [f for f in stack.split(";") if not f.startswith("thread ")]
        if not frames:
            continue
        total += n
        own[frames[-1]] += n
        for frame in set(frames):
            anywhere[frame] += n
    out = [f"{total} samples", "", "self:"]
    out += [f"  {n / total:6.1%}  {f}" for f, n in own.most_common(lines)]
    out += ["", "inclusive:"]
    out += [f"  {n / total:6.1%}  {f}" for f, n in anywhere.most_common(lines)]
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("load", choices=("latency", "burst", "start", "ingest"))
    parser.add_argument(
        "--seconds", type=float, default=10.0, help="latency, ingest: length of the load"
    )
    parser.add_argument("--same", action="store_true", help="ingest: one body, all duplicates")
    parser.add_argument(
        "--gil",
        action="store_true",
        help="ingest: sample only the thread holding the GIL (where the one busy core goes)",
    )
    parser.add_argument("--native", action="store_true", help="ingest: C frames too")
    parser.add_argument("--events", type=int, default=20_000, help="start: stored events")
    parser.add_argument("--lines", type=int, default=25)
    parser.add_argument("--raw", type=Path, help="also keep py-spy's collapsed stacks here")
    args = parser.parse_args(argv)
    if args.load == "ingest":
        return ingest(args)
    receiver = Receiver()
    with tempfile.TemporaryDirectory(prefix="profile-") as tmp:
        work = Path(tmp)
        raw = work / "profile.txt"
        lib = library_copy(work / "runbooks", receiver.address)
        server = runbookd(
            "runbookd", work / "srv", lib, receiver.address, dry_run=args.load == "start"
        )
        try:
            server.start(timeout=120)
            if args.load == "start":
                feed(
                    server.url,
                    uuid.uuid4().hex[:6],
                    range(args.events // 1000),
                    Cycle(1000, 100, False),
                )
                server.stop()
                wrapped = Server(
                    server.name,
                    [
                        py_spy(),
                        "record",
                        "--format",
                        "raw",
                        "--rate",
                        "250",
                        "--threads",
                        "--output",
                        str(raw),
                        "--",
                        *server.argv,
                    ],
                    server.env,
                    server.workdir,
                    server.port,
                )
                started = time.perf_counter()
                wrapped.start(timeout=300)
                print(f"start -> ready under py-spy: {time.perf_counter() - started:.2f} s")
                wrapped.proc.send_signal(signal.SIGINT)  # type: ignore[union-attr]
                wrapped.proc.wait(timeout=60)  # type: ignore[union-attr]
            else:
                spy = attach(server.pid, raw)
                if args.load == "latency":
                    count = int(100 * args.seconds) // 2
                    pairs = [Pair(f"ch-{uuid.uuid4().hex[:6]}-{k}") for k in range(count)]
                    asyncio.run(latency_bench._paced(server.url, pairs, 100.0))
                else:
                    bodies, _ = burst_bench.burst(1000, 100, 1_000_000)
                    post_all(server.url, bodies, burst_bench.CONCURRENCY)
                drain(server.url, 120)  # sample until the engine has applied the whole load
                finish(spy)
        finally:
            server.stop()
            receiver.close()
        print(top(raw, args.lines))
        if args.raw:
            shutil.copy(raw, args.raw)
    return 0


def ingest(args: argparse.Namespace) -> int:
    """wrk against ingest_bench's runbookd (SQLite, bundled runbooks) with py-spy attached.

    A 2 s warm-up run first, unprofiled, as ingest_bench does. The CPU per request printed is
    the server's CPU from wrk's start until it is idle again, with py-spy's sampling in it.
    """
    noise, match = ingest_bench.templates()
    with tempfile.TemporaryDirectory(prefix="profile-") as tmp:
        work = Path(tmp)
        raw = work / "profile.txt"
        script = work / "post.lua"
        script.write_text(ingest_bench.lua_script(noise, match))
        url = f"sqlite:///{work / 'journal.db'}"
        server = ingest_bench.runbookd_server("runbookd", work / "srv", url)
        mode = "same" if args.same else "unique"
        try:
            server.start(timeout=120)
            ingest_bench.run_wrk(server, script, 2, 32, ["1", "20", mode])
            server.wait_idle()
            extra = ["--gil"] * args.gil + ["--native"] * args.native
            spy = attach(server.pid, raw, extra)
            cpu0 = server.cpu_seconds()
            run = ingest_bench.run_wrk(server, script, args.seconds, 32, ["2", "20", mode])
            server.wait_idle()
            cpu = server.cpu_seconds() - cpu0
            finish(spy)
        finally:
            server.stop()
        if args.raw:
            shutil.copy(raw, args.raw)
        print(f"{run.requests} requests, {run.rps:,.0f} req/s, {1000 * cpu / run.requests:.3f} ms")
        print(by_thread(raw, run.requests))
        print(top(raw, args.lines))
    return 0


def by_thread(raw: Path, requests: int) -> str:
    """Samples per thread, and what they come to per request at py-spy's 250 Hz."""
    per: collections.Counter[str] = collections.Counter()
    for row in raw.read_text().splitlines():
        stack, _, count = row.rpartition(" ")
        first = stack.split(";", 1)[0]
        per[first if first.startswith("thread ") else "?"] += int(count)
    total = sum(per.values()) or 1
    out = ["thread: share, ms per request"]
    out += [
        f"  {n / total:6.1%}  {n / 250 * 1000 / requests:.3f}  {name}"
        for name, n in per.most_common()
    ]
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(main())
