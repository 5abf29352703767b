"""Which runbooks and triggers fired in a period, and which alertnames came without a runbook.

Plan 12 asks that rules nobody exercises be found before the day they are needed; issue 17 §7
asks for it against real traffic. Three aggregate queries over a period, each answered by an
index on its time column, read back one row per runbook, trigger or alertname:

* incidents opened, by runbook and by the trigger that opened them (``incident.detail``);
* alerts a runbook took (any outcome that names it: opened, joined, counted, held, waiting,
  suppressed, silenced), from ``alert_outcome``;
* firing alerts that matched no runbook, by alertname, most frequent first.

"Never fired" is read from the first two: a runbook that opened no incident and took no alert;
a trigger that opened no incident. The fallback runbook is left out of both lists: it takes only
what nothing else did, which the third list already shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, select

from runbookd.engine.lang.model import Runbook
from runbookd.store import tables as t

#: The period when a request names none: the last 30 days, as the reports page's default.
DEFAULT_PERIOD = timedelta(days=30)
#: Alertnames listed at most in ``unmatched`` (the most frequent first).
TOP_UNMATCHED = 20


@dataclass(frozen=True)
class TriggerUse:
    trigger: str
    incidents: int


@dataclass(frozen=True)
class RunbookUse:
    id: str
    title: str
    section: str
    incidents: int
    alerts: int
    triggers: list[TriggerUse]

    @property
    def fired(self) -> bool:
        return self.incidents > 0 or self.alerts > 0


@dataclass(frozen=True)
class Unmatched:
    name: str
    alerts: int
    last_at: datetime


@dataclass(frozen=True)
class Coverage:
    since: datetime
    until: datetime
    runbooks: list[RunbookUse]
    unmatched: list[Unmatched]
    #: Runbooks that opened incidents in the period but are not in the running library (since
    #: removed or renamed): their incidents still count, they are not "never fired".
    retired: dict[str, int] = field(default_factory=dict)

    @property
    def never_fired(self) -> list[str]:
        return [r.id for r in self.runbooks if not r.fired]

    @property
    def silent_triggers(self) -> list[tuple[str, str]]:
        return [(r.id, u.trigger) for r in self.runbooks for u in r.triggers if u.incidents == 0]

    def to_dict(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "never_fired": self.never_fired,
            "silent_triggers": [{"runbook": r, "trigger": g} for r, g in self.silent_triggers],
            "unmatched": [
                {"name": u.name, "alerts": u.alerts, "last_at": u.last_at.isoformat()}
                for u in self.unmatched
            ],
            "runbooks": [
                {
                    "id": r.id,
                    "title": r.title,
                    "section": r.section,
                    "incidents": r.incidents,
                    "alerts": r.alerts,
                    "triggers": [
                        {"trigger": u.trigger, "incidents": u.incidents} for u in r.triggers
                    ],
                }
                for r in self.runbooks
            ],
            "retired": self.retired,
        }


def coverage(
    conn: Connection,
    runbooks: Sequence[Runbook],
    since: datetime,
    until: datetime,
    top: int = TOP_UNMATCHED,
) -> Coverage:
    """The period ``[since, until)``'s coverage of ``runbooks`` (the running library)."""
    i, o = t.incident.c, t.alert_outcome.c
    trigger = i.detail["trigger"].as_string()
    opened: dict[tuple[str, str], int] = {
        (str(rb), str(tr or "")): int(n)
        for rb, tr, n in conn.execute(
            select(i.runbook, trigger, func.count())
            .where(i.opened_at >= since, i.opened_at < until)
            .group_by(i.runbook, trigger)
        ).all()
    }
    taken: dict[str, int] = {
        str(rb): int(n)
        for rb, n in conn.execute(
            select(o.runbook, func.count())
            .where(o.at >= since, o.at < until, o.runbook.is_not(None), o.outcome != "unmatched")
            .group_by(o.runbook)
        ).all()
    }
    unmatched = [
        Unmatched(str(name), int(n), _utc(last))
        for name, n, last in conn.execute(
            select(o.name, func.count(), func.max(o.at))
            .where(o.at >= since, o.at < until, o.outcome == "unmatched", o.status == "firing")
            .group_by(o.name)
            .order_by(func.count().desc(), o.name)
            .limit(top)
        ).all()
    ]
    uses: list[RunbookUse] = []
    known: set[str] = set()
    for rb in runbooks:
        known.add(rb.id)
        if rb.detection.fallback:
            continue
        triggers = [
            TriggerUse(rb.trigger_id(n), opened.get((rb.id, rb.trigger_id(n)), 0))
            for n in range(len(rb.detection.triggers))
        ]
        incidents = sum(k for (r, _), k in opened.items() if r == rb.id)
        uses.append(
            RunbookUse(rb.id, rb.title, rb.section, incidents, taken.get(rb.id, 0), triggers)
        )
    retired: dict[str, int] = {}
    for (rb_id, _), n in opened.items():
        if rb_id not in known:
            retired[rb_id] = retired.get(rb_id, 0) + n
    uses.sort(key=lambda u: (u.fired, _section_key(u.section), u.id))
    return Coverage(since, until, uses, unmatched, dict(sorted(retired.items())))


def _section_key(section: str) -> tuple[int, ...]:
    return tuple(int(p) if p.isdigit() else 1_000_000 for p in section.split("."))


def _utc(value: datetime) -> datetime:
    # SQLite hands back naive times; every time runbookd stores is UTC.
    return value if value.tzinfo else value.replace(tzinfo=UTC)
