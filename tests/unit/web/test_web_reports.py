"""Report figures from known incidents: counts, weekly MTTA/MTTR, rates, follow-ups (numbers only)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine, insert

from runbookd.store import tables as t
from runbookd.web import facts, reports
from runbookd.web.facts import Period, PeriodError
from tests.unit.web.conftest import AddIncident

# Monday 2026-11-02 .. Sunday 2026-11-15: two ISO weeks (W45, W46).
MON = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
PERIOD = Period(date(2026, 11, 2), date(2026, 11, 15))


def table(section: facts.Section) -> list[list[object]]:
    return section.table.rows


def test_counts_by_severity_nature_and_chapter(engine: Engine, add_incident: AddIncident) -> None:
    add_incident(MON, severity="critical", section="3.3", nature="external")
    add_incident(MON + timedelta(days=1), severity="critical", section="3.1", nature="business")
    add_incident(MON + timedelta(days=2), severity="low", section="10.3", nature="infrastructure")
    add_incident(MON - timedelta(days=1), severity="low", section="3.3")  # before the period
    add_incident(MON + timedelta(days=14), severity="low", section="3.3")  # after it
    with engine.connect() as conn:
        sev = reports.by_severity(facts.Report(conn, PERIOD))
        nature = reports.by_nature(facts.Report(conn, PERIOD))
        chapter = reports.by_chapter(facts.Report(conn, PERIOD))
    assert table(sev) == [["critical", 2], ["high", 0], ["medium", 0], ["low", 1]]
    assert sorted(map(tuple, table(nature))) == [
        ("business", 1),
        ("external", 1),
        ("infrastructure", 1),
    ]
    assert table(chapter) == [["3.1", 1], ["3.3", 1], ["10.3", 1]]
    # The chart folds sections into chapters, in chapter order (3 before 10).
    svg = str(chapter.chart)
    assert svg.index("chapter 3<") < svg.index("chapter 10<")
    assert ">2<" in svg and ">1<" in svg


def test_weekly_mtta_and_mttr(engine: Engine, add_incident: AddIncident) -> None:
    # Week 45: acked after 2 and 4 minutes (mean 3), one resolved after 60 minutes.
    add_incident(MON, acked=MON + timedelta(minutes=2), resolved=MON + timedelta(minutes=60))
    later = MON + timedelta(days=6, hours=14)  # Sunday evening: still week 45
    add_incident(later, acked=later + timedelta(minutes=4))
    # Week 46: never acknowledged, resolved after 30 minutes.
    w46 = MON + timedelta(days=7)
    add_incident(w46, resolved=w46 + timedelta(minutes=30))
    with engine.connect() as conn:
        section = reports.weekly_times(facts.Report(conn, PERIOD))
    assert table(section) == [
        ["2026-W45", 2, 3.0, 2, 60.0, 1],
        ["2026-W46", 1, None, 0, 30.0, 1],
    ]


def test_escalation_and_remediation_rates(engine: Engine, add_incident: AddIncident) -> None:
    step = {"step": "switch", "outcome": "ok"}
    add_incident(
        MON, runbook="rb-a", level=1, mitigated=MON, timeline=[(MON, "step_outcome", step)]
    )
    add_incident(MON, runbook="rb-a", level=0, timeline=[(MON, "step_outcome", step)])
    add_incident(MON, runbook="rb-a", level=0, timeline=[(MON, "step_outcome", step)])
    add_incident(MON, runbook="rb-a", level=0)  # no step ran: not a remediation
    add_incident(MON, runbook="rb-b", level=2)
    with engine.connect() as conn:
        esc = reports.escalation_rate(facts.Report(conn, PERIOD))
        rem = reports.remediation(facts.Report(conn, PERIOD))
    assert table(esc) == [
        ["rb-a", 4, 1, 25.0],
        ["rb-b", 1, 1, 100.0],
        ["all runbooks", 5, 2, 40.0],
    ]
    assert table(rem) == [["rb-a", 3, 1, 33.3]]


def test_noisy_runbooks_ranked_by_incidents(engine: Engine, add_incident: AddIncident) -> None:
    for _ in range(3):
        add_incident(MON, runbook="noisy", alerts=5, resolved=MON + timedelta(minutes=1))
    add_incident(MON, runbook="quiet", alerts=2, acked=MON, resolved=MON + timedelta(minutes=1))
    with engine.connect() as conn:
        section = reports.noisy(facts.Report(conn, PERIOD))
    assert table(section) == [["noisy", 3, 15, 3], ["quiet", 1, 2, 0]]


def test_open_follow_ups_due_first(engine: Engine, add_incident: AddIncident) -> None:
    incident = add_incident(MON, title="Channel <b>down</b>")
    now = MON

    def item(title: str, status: str, due: date | None) -> dict[str, object]:
        return {
            "incident_id": incident,
            "title": title,
            "owner": "ana",
            "due_date": due,
            "status": status,
            "created_at": now,
            "created_by": "ana",
            "updated_at": now,
            "updated_by": "ana",
        }

    with engine.begin() as conn:
        conn.execute(
            insert(t.follow_up),
            [
                item("later", "open", date(2026, 12, 1)),
                item("no date", "in_progress", None),
                item("sooner", "in_progress", date(2026, 11, 20)),
                item("finished", "done", date(2026, 11, 1)),
            ],
        )
        section = reports.follow_ups(facts.Report(conn, PERIOD))
    assert [row[2] for row in table(section)] == ["sooner", "later", "no date"]
    assert ">in progress<" in str(section.chart)


def test_sections_are_an_extension_point(engine: Engine) -> None:
    def extra(report: facts.Report) -> facts.Section:
        days = report.period.last.day
        return facts.Section("extra", "Extra", None, facts.Table(["days"], [[days]]))

    with engine.connect() as conn:
        built = reports.build(conn, PERIOD, [*reports.SECTIONS, extra])
    assert [s.id for s in built][-1] == "extra"
    assert built[-1].table.rows == [[15]]
    assert len(built) == len(reports.SECTIONS) + 1


def test_period_defaults_and_errors() -> None:
    today = date(2026, 12, 2)
    default = Period.parse(None, None, today)
    assert (default.first, default.last) == (date(2026, 11, 3), today)
    assert (default.end - default.start) == timedelta(days=30)
    with pytest.raises(PeriodError, match=r"^from: .*after"):
        Period.parse("2026-12-03", "2026-12-01", today)
    with pytest.raises(PeriodError, match=r"^to: expected a date"):
        Period.parse(None, "yesterday", today)


def test_drill_scores_per_runbook_in_the_period(engine: Engine) -> None:
    def run(runbook: str, at: datetime, score: float) -> dict[str, object]:
        return {
            "runbook_id": runbook,
            "runbook_version": 1,
            "started_at": at,
            "finished_at": at + timedelta(seconds=2),
            "passed": score == 1.0,
            "score": score,
            "details": "{}",
        }

    with engine.begin() as conn:
        conn.execute(
            insert(t.DrillRun.__table__),  # type: ignore[attr-defined]
            [
                run("payment-channel-abnormal", MON, 1.0),
                run("payment-channel-abnormal", MON + timedelta(days=7), 0.5),
                run("database-abnormal", MON + timedelta(days=1), 1.0),
                run("database-abnormal", MON - timedelta(days=3), 0.0),  # before the period
            ],
        )
        section = reports.drill_scores(facts.Report(conn, PERIOD))
    # Lowest average first: the runbook whose drills fail is the one a manager must see.
    assert [row[:5] for row in table(section)] == [
        ["payment-channel-abnormal", 2, 1, 0.75, 0.5],
        ["database-abnormal", 1, 1, 1.0, 1.0],
    ]
    assert "payment-channel-abnormal" in str(section.chart)
    assert reports.drill_scores in reports.SECTIONS
