"""``runbookd oncall [SCHEDULE] [--at TIME]``, ``oncall override|remove|calendar``: on a server.

Asks the running server, so the answer includes the overrides people made (they are journaled
there). Exit codes as ``runbookd incidents``: 0 ok, 1 the API refused, 2 usage, 3 unreachable.
"""

from __future__ import annotations

import argparse
import getpass
from collections.abc import Callable
from typing import Any

from runbookd.cli.client import Client
from runbookd.cli.remote import common_options, run

PROG = "runbookd oncall"


def _run(args: argparse.Namespace, call: Callable[[Client], Any]) -> int:
    return run(PROG, args, call, _print)


def _print(data: dict[str, Any]) -> None:
    if "schedules" not in data:  # an override made or removed
        print(f"override {data.get('id')} {data.get('op')}: {data.get('schedule')}")
        return
    for s in data["schedules"]:
        now, nxt = s["now"], s["next"]
        who = (
            f"{now['name']} ({now['person']}, via {now['via']}) until {now['until']}"
            if now
            else "nobody"
        )
        print(f"{s['id']} ({s['time_zone']}): on call now: {who}")
        if nxt:
            print(f"  next: {nxt['name']} ({nxt['person']}) from {nxt['start']}")
        for o in s["overrides"]:
            print(
                f"  override {o['id']}: {o['person']} {o['start']} .. {o['end']} {o['reason'] or ''}".rstrip()
            )


def _cmd_show(args: argparse.Namespace) -> int:
    return _run(args, lambda api: api.oncall(args.schedule, args.at))


def _cmd_override(args: argparse.Namespace) -> int:
    body = {
        "person": args.person,
        "start": args.start,
        "end": args.end,
        "reason": args.reason,
        "by": args.by or getpass.getuser(),
    }
    return _run(args, lambda api: api.add_override(args.schedule, body))


def _cmd_remove(args: argparse.Namespace) -> int:
    by = args.by or getpass.getuser()
    return _run(args, lambda api: api.remove_override(args.schedule, args.id, by))


def _cmd_calendar(args: argparse.Namespace) -> int:
    return _run(args, lambda api: api.calendar(args.schedule))


def _common() -> argparse.ArgumentParser:
    return common_options()


def _actions() -> dict[str, argparse.ArgumentParser]:
    """``override``, ``remove`` and ``calendar``, parsed after ``oncall`` (see ``_dispatch``)."""
    common = _common()
    by = argparse.ArgumentParser(add_help=False)
    by.add_argument("--by", help="who does it (default: $USER)")
    ov = argparse.ArgumentParser(prog=f"{PROG} override", parents=[common, by])
    ov.add_argument("schedule")
    ov.add_argument("person", help="person id from the schedule files")
    ov.add_argument("--start", required=True, help="ISO 8601; without offset: the schedule's zone")
    ov.add_argument("--end", required=True, help="ISO 8601; without offset: the schedule's zone")
    ov.add_argument("--reason", help="shown with the override")
    ov.set_defaults(func=_cmd_override)
    rm = argparse.ArgumentParser(prog=f"{PROG} remove", parents=[common, by])
    rm.add_argument("schedule")
    rm.add_argument("id", help="the override's id (runbookd oncall SCHEDULE lists them)")
    rm.set_defaults(func=_cmd_remove)
    cal = argparse.ArgumentParser(prog=f"{PROG} calendar", parents=[common])
    cal.add_argument("schedule")
    cal.set_defaults(func=_cmd_calendar)
    return {"override": ov, "remove": rm, "calendar": cal}


def _dispatch(args: argparse.Namespace) -> int:
    # argparse cannot take an optional positional (SCHEDULE) next to sub-commands, so the
    # first word picks: an action name, or a schedule id.
    actions = _actions()
    if args.schedule in actions:
        sub = actions[args.schedule].parse_args(args.rest)
        return int(sub.func(sub))
    if args.rest:  # options after SCHEDULE land in rest too
        show = argparse.ArgumentParser(prog=PROG, parents=[_common()])
        show.add_argument("--at")
        args = show.parse_args(args.rest, namespace=args)
    return _cmd_show(args)


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    oncall = sub.add_parser(
        "oncall",
        parents=[_common()],
        help="who is on call (now, next); override|remove|calendar SCHEDULE ...",
        description="runbookd oncall [SCHEDULE] [--at TIME]; runbookd oncall override SCHEDULE "
        "PERSON --start T --end T; runbookd oncall remove SCHEDULE ID; "
        "runbookd oncall calendar SCHEDULE",
    )
    oncall.add_argument("schedule", nargs="?", help="one schedule (default: all), or an action")
    oncall.add_argument("--at", help="instead of now: ISO 8601, e.g. 2026-03-29T08:00+02:00")
    oncall.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    oncall.set_defaults(func=_dispatch)
