"""``runbookd silence add|list|expire``: silences on a running server, the way amtool makes them.

    runbookd silence add 'alertname=HostDown' 'instance=~"db.*"' --duration 2h --comment "kernel"
    runbookd silence list [--state active|pending|expired]
    runbookd silence expire ID [ID ...]

Matchers are amtool's (``=``, ``!=``, ``=~``, ``!~``, values quoted or bare); the server checks
them and answers 400 naming the bad one. ``--author`` defaults to $USER; a named user's own name
wins on the server. Exit codes: 0 ok, 1 the API refused, 2 usage, 3 unreachable.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from runbookd.cli.client import Client
from runbookd.cli.remote import common_options, run
from runbookd.connectors.durations import HINT, parse_duration

PROG = "runbookd silence"


def _show(data: dict[str, Any]) -> None:
    rows = data.get("silences", [data])
    if not rows:
        print("no silences")
    for s in rows:
        print(
            f"{s['id']}  {s['status']['state']:<8} {s['startsAt']} .. {s['endsAt']}  "
            f"{s['createdBy']}: {s['comment']}"
        )
        print(f"    {' '.join(s['matchers'])}")


def _cmd_add(args: argparse.Namespace) -> int:
    start = datetime.fromisoformat(args.start) if args.start else datetime.now(UTC)
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    if args.end:
        end = datetime.fromisoformat(args.end)
    else:
        try:
            end = start + parse_duration(args.duration)
        except ValueError:
            print(f"{PROG} add: --duration {args.duration!r}: {HINT}", file=sys.stderr)
            return 2
    body = {
        "matchers": args.matchers,
        "startsAt": start.isoformat(),
        "endsAt": end.isoformat(),
        "createdBy": args.author or getpass.getuser(),
        "comment": args.comment,
    }
    return run(f"{PROG} add", args, lambda api: api.add_silence(body), _show)


def _cmd_list(args: argparse.Namespace) -> int:
    return run(f"{PROG} list", args, lambda api: api.silences(args.state), _show)


def _cmd_expire(args: argparse.Namespace) -> int:
    def expire(silence_id: str) -> Callable[[Client], Any]:
        return lambda api: api.expire_silence(silence_id)

    return max(run(f"{PROG} expire", args, expire(i), _show) for i in args.ids)


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    common = common_options()
    silence = sub.add_parser(
        "silence", help="silences on a running server: add, list, expire (like amtool)"
    )
    verbs = silence.add_subparsers(dest="verb", required=True)
    add = verbs.add_parser("add", parents=[common], help="mute the alerts the matchers match")
    add.add_argument("matchers", nargs="+", help="e.g. alertname=HostDown 'instance=~\"db.*\"'")
    when = add.add_mutually_exclusive_group()
    when.add_argument("--duration", default="1h", help="how long (default 1h), e.g. 2h, 90m")
    when.add_argument("--end", help="instead of --duration: ISO 8601 end (no offset: UTC)")
    add.add_argument("--start", help="ISO 8601 start (default now; no offset: UTC)")
    add.add_argument("--comment", "-c", required=True, help="why (shown with every muted alert)")
    add.add_argument("--author", "-a", help="who (default: $USER)")
    add.set_defaults(func=_cmd_add)
    listing = verbs.add_parser("list", parents=[common], help="silences, newest first")
    listing.add_argument("--state", choices=("active", "pending", "expired"))
    listing.set_defaults(func=_cmd_list)
    expire = verbs.add_parser("expire", parents=[common], help="end silences now")
    expire.add_argument("ids", nargs="+", metavar="ID")
    expire.set_defaults(func=_cmd_expire)
