"""``runbookd incidents list|show|ack|resolve|note``: steer incidents on a running server.

Exit codes: 0 ok, 1 the API refused (``runbookd incidents: <status> <detail>`` on stderr),
2 usage, 3 server unreachable. The token (``--token`` or ``RUNBOOKD_TOKEN``) is never printed.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from runbookd.cli.client import DEFAULT_URL, ApiError, Client, Json, Unreachable

PROG = "runbookd incidents"
STATUSES = ("triggered", "acknowledged", "mitigated", "resolved", "closed")
SEVERITIES = ("low", "medium", "high", "critical")
LIFECYCLE = (
    ("acknowledged", "acknowledged_at", "acknowledged_by"),
    ("mitigated", "mitigated_at", None),
    ("resolved", "resolved_at", "resolved_by"),
    ("closed", "closed_at", None),
)


class UsageError(Exception):
    """A bad option value found after parsing (exit 2)."""


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``incidents`` and its actions on the top-level subcommands."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--url",
        default=argparse.SUPPRESS,
        help=f"server base URL (default: $RUNBOOKD_URL or {DEFAULT_URL})",
    )
    common.add_argument(
        "--token",
        default=argparse.SUPPRESS,
        help="API bearer token (default: $RUNBOOKD_TOKEN; prefer the variable: "
        "arguments are visible to other users in ps)",
    )
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="raw JSON")
    incidents = sub.add_parser(
        "incidents", parents=[common], help="list, show and steer incidents on a running server"
    )
    actions = incidents.add_subparsers(dest="action", required=True, metavar="ACTION")

    ls = actions.add_parser("list", parents=[common], help="incidents, newest first")
    ls.add_argument("--status", action="append", default=[], help=f"one of {', '.join(STATUSES)}")
    ls.add_argument("--severity", action="append", default=[], help=", ".join(SEVERITIES))
    ls.add_argument("--runbook", help="only incidents of this runbook id")
    ls.add_argument("--since", help="opened at or after: a duration back (2h, 1d) or ISO 8601")
    ls.add_argument("--until", help="opened before: a duration back or ISO 8601")
    ls.add_argument("--limit", type=int, help="at most this many (server default 100)")
    ls.set_defaults(func=_usage_errors(_cmd_list))

    show = actions.add_parser("show", parents=[common], help="one incident and its timeline")
    show.add_argument("id")
    show.set_defaults(func=_usage_errors(_cmd_show))

    by = argparse.ArgumentParser(add_help=False)
    by.add_argument("--by", help="who does it (default: $USER)")
    ack = actions.add_parser("ack", parents=[common, by], help="acknowledge an incident")
    ack.add_argument("id")
    ack.set_defaults(func=_usage_errors(_cmd_ack))
    res = actions.add_parser("resolve", parents=[common, by], help="resolve an incident")
    res.add_argument("id")
    res.add_argument("--reason", help="why it is resolved (goes into the post-mortem)")
    res.set_defaults(func=_usage_errors(_cmd_resolve))
    note = actions.add_parser("note", parents=[common, by], help="add a note to the timeline")
    note.add_argument("id")
    note.add_argument("text", nargs="+", help="the note (words are joined by spaces)")
    note.set_defaults(func=_usage_errors(_cmd_note))
    close = actions.add_parser("close", parents=[common, by], help="close a resolved incident")
    close.add_argument("id")
    close.set_defaults(func=_usage_errors(_cmd_close))
    reopen = actions.add_parser("reopen", parents=[common, by], help="reopen an incident")
    reopen.add_argument("id")
    reopen.add_argument("--reason", help="why it is open again")
    reopen.set_defaults(func=_usage_errors(_cmd_reopen))
    waiting = actions.add_parser("approvals", parents=[common], help="steps waiting for approval")
    waiting.set_defaults(func=_usage_errors(_cmd_approvals))
    for verb, approve in (("approve", True), ("deny", False)):
        decide = actions.add_parser(verb, parents=[common, by], help=f"{verb} a waiting step")
        decide.add_argument("approval", help="approval id, as `incidents approvals` lists it")
        decide.set_defaults(func=_usage_errors(_decider(approve)))


def _cmd_list(args: argparse.Namespace) -> int:
    status = _choices("--status", args.status, STATUSES)
    severity = _choices("--severity", args.severity, SEVERITIES)
    if args.limit is not None and args.limit < 1:
        raise UsageError(f"--limit must be at least 1, got {args.limit}")
    now = datetime.now(UTC)
    since = _time("--since", args.since, now)
    until = _time("--until", args.until, now)

    def call(api: Client) -> Json:
        return api.list_incidents(
            status=status,
            severity=severity,
            runbook=args.runbook,
            since=since,
            until=until,
            limit=args.limit,
        )

    return _run(args, call, lambda data: format_table(data.get("incidents", []), now))


def _cmd_show(args: argparse.Namespace) -> int:
    now = datetime.now(UTC)
    return _run(args, lambda api: api.get_incident(args.id), lambda d: format_incident(d, now))


def _cmd_ack(args: argparse.Namespace) -> int:
    by = _by(args)
    return _run(args, lambda api: api.ack(args.id, by), _done)


def _cmd_resolve(args: argparse.Namespace) -> int:
    by = _by(args)
    return _run(args, lambda api: api.resolve(args.id, by, args.reason), _done)


def _cmd_note(args: argparse.Namespace) -> int:
    by, text = _by(args), " ".join(args.text)
    return _run(args, lambda api: api.note(args.id, by, text), lambda d: _done(d, "note added"))


def _cmd_close(args: argparse.Namespace) -> int:
    by = _by(args)
    return _run(args, lambda api: api.close_incident(args.id, by), _done)


def _cmd_reopen(args: argparse.Namespace) -> int:
    by = _by(args)
    return _run(args, lambda api: api.reopen(args.id, by, args.reason), _done)


def _cmd_approvals(args: argparse.Namespace) -> int:
    def show(data: Json) -> str:
        rows = data.get("approvals", [])
        if not rows:
            return "no step is waiting for approval"
        lines = [f"{'APPROVAL':<36} {'RUNBOOK':<28} {'STEP':<20} DEADLINE"]
        for a in rows:
            lines.append(
                f"{a['id']:<36} {a.get('runbook') or '':<28} {a['step']:<20} {a.get('deadline') or ''}"
            )
        return "\n".join(lines)

    return _run(args, lambda api: api.approvals(), show)


def _decider(approve: bool) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        by = _by(args)
        return _run(
            args,
            lambda api: api.decide(args.approval, approve, by),
            lambda d: f"{d.get('id')}: {d.get('decision')} by {d.get('by')}",
        )

    return run


def _run(
    args: argparse.Namespace, call: Callable[[Client], Json], show: Callable[[Json], str]
) -> int:
    url = getattr(args, "url", None) or os.environ.get("RUNBOOKD_URL") or DEFAULT_URL
    token = getattr(args, "token", None) or os.environ.get("RUNBOOKD_TOKEN") or None
    if not url.startswith(("http://", "https://")):
        print(f"{PROG}: --url must start with http:// or https://, got {url!r}", file=sys.stderr)
        return 2
    try:
        with Client(url, token) as api:
            data = call(api)
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
    print(json.dumps(data, indent=2) if getattr(args, "json", False) else show(data))
    return 0


def _usage_errors(
    command: Callable[[argparse.Namespace], int],
) -> Callable[[argparse.Namespace], int]:
    """``command`` with a ``UsageError`` turned into exit 2 (``cli.main`` calls ``args.func``)."""

    def guarded(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except UsageError as exc:
            print(f"{PROG}: {exc}", file=sys.stderr)
            return 2

    return guarded


def _choices(option: str, values: list[str], allowed: tuple[str, ...]) -> list[str]:
    out = [v.strip() for raw in values for v in raw.split(",") if v.strip()]
    for value in out:
        if value not in allowed:
            raise UsageError(f"{option} {value!r} is not one of {', '.join(allowed)}")
    return out


def _time(option: str, value: str | None, now: datetime) -> str | None:
    """A duration back from now (``2h``) or an ISO 8601 time (UTC unless it has an offset)."""
    if value is None:
        return None
    from runbookd.engine.lang.durations import parse_duration

    try:
        return (now - parse_duration(value)).isoformat()
    except ValueError:
        pass
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise UsageError(f"{option} {value!r} is neither a duration (2h) nor ISO 8601") from None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).isoformat()


def _by(args: argparse.Namespace) -> str:
    if args.by:
        return str(args.by)
    try:
        name = os.environ.get("USER") or getpass.getuser()
    except (KeyError, OSError):  # no USER and no passwd entry (some containers)
        name = ""
    if not name:
        raise UsageError("--by is required: USER is not set")
    return name


def _done(incident: Json, what: str | None = None) -> str:
    status = str(incident.get("status", "?"))
    if what is None:
        who = incident.get("resolved_by") if status == "resolved" else None
        who = who or incident.get("acknowledged_by")
        what = status + (f" by {who}" if who else "")
        return f"{incident.get('id')}: {what}"
    return f"{incident.get('id')}: {what} (status {status})"


def format_table(incidents: list[Json], now: datetime) -> str:
    """The aligned ``list`` table; TITLE is last so long titles do not widen other columns."""
    if not incidents:
        return "no incidents"
    header = ("ID", "SEVERITY", "STATUS", "SECTION", "RUNBOOK", "AGE", "TITLE")
    rows = [header] + [
        (
            _text(i.get("id")),
            _text(i.get("severity")),
            _text(i.get("status")),
            _text(i.get("section")),
            _text(i.get("runbook")),
            _age(_parse(i.get("opened_at")), now),
            _text(i.get("title")),
        )
        for i in incidents
    ]
    widths = [max(len(row[c]) for row in rows) for c in range(len(header) - 1)]
    lines = [
        "  ".join([*(v.ljust(w) for v, w in zip(row, widths, strict=False)), row[-1]])
        for row in rows
    ]
    return "\n".join(line.rstrip() for line in lines)


def format_incident(incident: Json, now: datetime) -> str:
    """``show``: the header fields, then the timeline (time, kind, summary)."""
    labels = incident.get("labels") or {}
    opened = _parse(incident.get("opened_at"))
    fields: list[tuple[str, str]] = [
        ("ID", _text(incident.get("id"))),
        ("Title", _text(incident.get("title"))),
        (
            "Runbook",
            f"{_text(incident.get('runbook'))} v{_text(incident.get('runbook_version'))}"
            f" (section {_text(incident.get('section'))})",
        ),
        ("Severity", _text(incident.get("severity"))),
        ("Status", _text(incident.get("status"))),
        ("Key", _text(incident.get("key"))),
        ("Labels", " ".join(f"{k}={v}" for k, v in sorted(labels.items())) or "-"),
        ("Alerts", _text(incident.get("alerts"))),
        ("Opened", f"{_when(opened)} ({_age(opened, now)} ago)"),
    ]
    for label, at_key, by_key in LIFECYCLE:
        at = _parse(incident.get(at_key))
        if at is not None:
            by = incident.get(by_key) if by_key else None
            fields.append((label.capitalize(), _when(at) + (f" by {by}" if by else "")))
    width = max(len(label) for label, _ in fields) + 3
    lines = [f"{label + ':':<{width}}{value}" for label, value in fields]
    timeline: list[Json] = incident.get("timeline") or []
    lines.append("")
    lines.append(f"Timeline ({len(timeline)} entries):" if timeline else "Timeline: empty")
    kind_width = max((len(_text(e.get("kind"))) for e in timeline), default=0)
    for entry in timeline:
        when = _when(_parse(entry.get("at")))
        summary = _text(entry.get("summary")).replace("\n", "\n" + " " * (kind_width + 26))
        lines.append(f"  {when:<20}  {_text(entry.get('kind')):<{kind_width}}  {summary}".rstrip())
    return "\n".join(lines)


def _text(value: Any) -> str:
    return "-" if value is None or value == "" else str(value)


def _parse(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _when(at: datetime | None) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ") if at else "-"


def _age(at: datetime | None, now: datetime) -> str:
    """``42s``, ``5m``, ``3h12m``, ``2d4h``, ``12d``: how long ago, kubectl-style."""
    if at is None:
        return "-"
    seconds = max(0, int((now - at) / timedelta(seconds=1)))
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if seconds < 60:
        return f"{seconds}s"
    if minutes < 60:
        return f"{minutes}m"
    if hours < 24:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if days < 7 and hours % 24:
        return f"{days}d{hours % 24}h"
    return f"{days}d"
