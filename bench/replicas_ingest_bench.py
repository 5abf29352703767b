"""Webhook throughput with replicas: one replica, an ingest-only replica beside an engine replica,
two and three replicas, each against a bare FastAPI endpoint measured in the same run.

Every configuration gets a fresh PostgreSQL schema and its own `runbookd serve` processes
(cluster.enabled); wrk posts the ingest benchmark's Alertmanager bodies (unique fingerprints, one
in ten matching a bundled runbook) to the replicas named, one wrk per replica at the same time,
and the requests per second are summed. Between runs every server is left to go idle (the engine
applying what was stored). A ratio to bare is the figure; raw requests per second on this shared
2-core machine are not.

    python bench/replicas_ingest_bench.py [--seconds 10] [--rounds 2] [--database-url URL]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.ingest_bench import (  # noqa: E402
    Server,
    WrkRun,
    bare_server,
    database,
    lua_script,
    run_wrk,
    runbookd_server,
    templates,
)

DEFAULT_DB = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
#: name -> (roles of the replicas, indexes of those wrk posts to)
CONFIGS: dict[str, tuple[tuple[str, ...], tuple[int, ...]]] = {
    "one replica": (("all",), (0,)),
    "ingest-only (beside an engine replica)": (("engine", "ingest"), (1,)),
    "two replicas": (("all", "all"), (0, 1)),
    "three replicas": (("all", "all", "all"), (0, 1, 2)),
}


@contextlib.contextmanager
def replicas(base_url: str, tmp: Path, name: str, roles: tuple[str, ...]) -> Iterator[list[Server]]:
    with database(base_url, tmp, name.split()[0]) as url:
        servers = []
        try:
            for i, role in enumerate(roles):
                server = runbookd_server(
                    f"{name.split()[0]}-{i}", tmp / f"{name.split()[0]}{i}", url
                )
                server.env |= {
                    "RUNBOOKD_CLUSTER__ENABLED": "true",
                    "RUNBOOKD_CLUSTER__ROLE": role,
                    "RUNBOOKD_CLUSTER__NAME": f"r{i}",
                }
                server.start(timeout=120)
                servers.append(server)
            yield servers
        finally:
            for server in servers:
                server.stop()


def together(targets: list[Server], script: Path, seconds: float, run: int) -> float:
    """Requests per second summed over one wrk per target, all running at once."""
    results: list[WrkRun] = []
    lock = threading.Lock()

    def one(index: int, server: Server) -> None:
        # A run id per wrk: each posts fingerprints no other run used.
        result = run_wrk(server, script, seconds, 32, [str(run * 10 + index), "10", "unique"])
        with lock:
            results.append(result)

    threads = [threading.Thread(target=one, args=(i, s)) for i, s in enumerate(targets)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if any(r.errors for r in results):
        raise RuntimeError(f"wrk saw errors: {[r.errors for r in results]}")
    return sum(r.requests for r in results) / max(r.seconds for r in results)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--database-url", default=DEFAULT_DB)
    args = parser.parse_args(argv)
    results: dict[str, list[float]] = {"bare": [], **{name: [] for name in CONFIGS}}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        script = tmp / "post.lua"
        script.write_text(lua_script(*templates()))
        run = 0
        for _ in range(args.rounds):
            bare = bare_server(tmp / "bare")
            bare.start()
            try:
                run += 1
                together([bare], script, args.seconds, run)  # warm-up
                run += 1
                results["bare"].append(together([bare], script, args.seconds, run))
            finally:
                bare.stop()
            for name, (roles, posted) in CONFIGS.items():
                with replicas(args.database_url, tmp, name, roles) as servers:
                    targets = [servers[i] for i in posted]
                    run += 1
                    together(targets, script, min(args.seconds, 3), run)  # warm-up
                    for server in servers:
                        server.wait_idle()
                    run += 1
                    results[name].append(together(targets, script, args.seconds, run))
                print(f"{name}: {results[name][-1]:.0f} req/s", file=sys.stderr)
    medians = {name: statistics.median(values) for name, values in results.items()}
    one = medians["one replica"]
    report = {
        "seconds": args.seconds,
        "rounds": args.rounds,
        "requests_per_second": {k: round(v) for k, v in medians.items()},
        "vs_bare": {k: round(v / medians["bare"], 2) for k, v in medians.items() if k != "bare"},
        "vs_one_replica": {k: round(v / one, 2) for k, v in medians.items() if k != "bare"},
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
