"""``runbookd postmortem ID [--format md|html|json]``: print an incident's post-mortem.

Talks to a running server like ``runbookd incidents`` (same ``--url``/``--token``, same exit
codes: 0 ok, 1 the API refused, 2 usage, 3 unreachable). An open incident prints as a draft.
"""

from __future__ import annotations

import argparse
import os
import sys

from runbookd.cli.client import DEFAULT_URL, ApiError, Client, Unreachable

PROG = "runbookd postmortem"


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cmd = sub.add_parser("postmortem", help="print an incident's post-mortem from a running server")
    cmd.add_argument("id", help="incident id, e.g. INC-1")
    cmd.add_argument(
        "--format", choices=("md", "html", "json"), default="md", help="default: md (Markdown)"
    )
    cmd.add_argument("--url", help=f"server base URL (default: $RUNBOOKD_URL or {DEFAULT_URL})")
    cmd.add_argument(
        "--token",
        help="API bearer token (default: $RUNBOOKD_TOKEN; prefer the variable: "
        "arguments are visible to other users in ps)",
    )
    cmd.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    url = args.url or os.environ.get("RUNBOOKD_URL") or DEFAULT_URL
    token = args.token or os.environ.get("RUNBOOKD_TOKEN") or None
    if not url.startswith(("http://", "https://")):
        print(f"{PROG}: --url must start with http:// or https://, got {url!r}", file=sys.stderr)
        return 2
    try:
        with Client(url, token) as api:
            text = api.postmortem(args.id, args.format)
    except Unreachable as exc:
        print(
            f"{PROG}: {exc}; is the server running? start it with `runbookd serve`", file=sys.stderr
        )
        return 3
    except ApiError as exc:
        print(f"{PROG}: {exc.status} {exc.detail}", file=sys.stderr)
        if exc.status == 401:
            hint = "the token was refused" if token else "set RUNBOOKD_TOKEN or --token"
            print(f"{PROG}: {hint}", file=sys.stderr)
        return 1
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 0
