"""The ``runbookd`` command line: one subcommand group per module of this package."""

from __future__ import annotations

import argparse
from collections.abc import Sequence


def build_parser() -> argparse.ArgumentParser:
    # Each verb group imports what it runs only when it runs: `runbookd check` starts without
    # loading the service (FastAPI, SQLAlchemy, uvicorn).
    from runbookd import __version__
    from runbookd.cli import (
        adoption,
        checkconfig,
        completion,
        connectors,
        drill,
        incidents,
        oncall,
        postmortem,
        serve,
        silence,
        toolchain,
        users,
    )

    parser = argparse.ArgumentParser(
        prog="runbookd", description="Runbook automation for incident response."
    )
    parser.add_argument("--version", action="version", version=f"runbookd {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    toolchain.add_parser(sub)
    serve.add_commands(sub)
    checkconfig.add_parser(sub)
    incidents.add_parser(sub)
    oncall.add_parser(sub)
    silence.add_parser(sub)
    postmortem.add_parser(sub)
    connectors.add_parser(sub)
    drill.add_parser(sub)
    users.add_parser(sub)
    adoption.add_parser(sub)
    adoption.add_scaffold_parser(sub)
    completion.add_parser(sub, build_parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
