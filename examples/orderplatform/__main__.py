"""``python -m examples.orderplatform``: serve the simulated order platform."""

from __future__ import annotations

import argparse
import logging
import os

import uvicorn
from prometheus_client import disable_created_metrics

from examples.orderplatform.app import create_app
from examples.orderplatform.events import Forwarder
from examples.orderplatform.platform import Platform


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m examples.orderplatform", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="listen address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8081, help="listen port (default 8081)")
    parser.add_argument("--rate", type=float, default=20.0, help="orders per second (default 20)")
    parser.add_argument("--seed", type=int, default=1, help="random seed of the traffic")
    parser.add_argument(
        "--tick", type=float, default=0.25, help="seconds between traffic steps (default 0.25)"
    )
    parser.add_argument(
        "--probe-interval",
        type=float,
        default=15.0,
        help="seconds between probes of each payment channel (default 15, as the contract says)",
    )
    parser.add_argument(
        "--runbookd-url",
        default=os.environ.get("ORDERPLATFORM_RUNBOOKD_URL"),
        help="post events to this runbookd (default: $ORDERPLATFORM_RUNBOOKD_URL; unset = none)",
    )
    args = parser.parse_args(argv)
    if args.rate < 0 or args.tick <= 0 or args.probe_interval <= 0:
        parser.error("--rate must be >= 0, --tick and --probe-interval > 0")
    # One process, one platform: the *_created series only double what Prometheus scrapes.
    disable_created_metrics()  # type: ignore[no-untyped-call]  # untyped in the client library
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # The token comes only from the environment: arguments are visible to others in ps.
    token = os.environ.get("RUNBOOKD_TOKEN")
    forwarder = Forwarder(args.runbookd_url, token) if args.runbookd_url else None
    platform = Platform(seed=args.seed, rate=args.rate, probe_interval=args.probe_interval)
    app = create_app(platform, tick=args.tick, forwarder=forwarder)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
