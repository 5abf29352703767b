"""The incident list's filters and paging, and one incident's timeline as the engine stores it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from starlette.datastructures import QueryParams

from runbookd.web import queries
from runbookd.web.queries import Filters
from runbookd.web.timeline import marks
from tests.unit.postmortem.rig import T0, Rig, run_payment_outage
from tests.unit.web.conftest import AddIncident

T = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def ids(engine: Engine, query: str) -> list[str]:
    with engine.connect() as conn:
        page = queries.list_incidents(conn, Filters.parse(QueryParams(query)))
    return [r.id for r in page.rows]


def test_filters(engine: Engine, add_incident: AddIncident) -> None:
    add_incident(T, id="A", status="triggered", severity="critical", section="3.3", runbook="pay")
    add_incident(
        T + timedelta(minutes=1),
        id="B",
        status="resolved",
        severity="low",
        section="3.1",
        runbook="pay",
        labels={"channel": "wechat", "region": "100%_east"},
    )
    add_incident(
        T + timedelta(minutes=2), id="C", status="acknowledged", section="10.3", runbook="db"
    )
    assert ids(engine, "") == ["C", "B", "A"]  # newest first
    assert ids(engine, "status=triggered&status=acknowledged") == ["C", "A"]
    assert ids(engine, "severity=critical") == ["A"]
    assert ids(engine, "runbook=pay") == ["B", "A"]
    assert ids(engine, "section=3") == ["B", "A"]  # a chapter matches its sections
    assert ids(engine, "section=3.1") == ["B"]
    assert ids(engine, "section=10") == ["C"]  # not "1" matching "10.3" by prefix
    assert ids(engine, "q=WECHAT") == ["B"]  # labels, case-insensitive
    assert ids(engine, "q=100%25_east") == ["B"]  # % and _ are literal
    assert ids(engine, "q=w%25t") == []  # would match "wechat" if % were a wildcard
    assert ids(engine, "status=bogus") == ["C", "B", "A"]  # unknown values are ignored
    # A NUL (which PostgreSQL refuses in a parameter) is dropped, not a database error.
    assert ids(engine, "q=WE%00CHAT&runbook=p%00ay") == ["B"]


def test_paging_and_open_banner(engine: Engine, add_incident: AddIncident) -> None:
    for i in range(queries.PAGE_SIZE + 5):
        add_incident(T + timedelta(seconds=i), id=f"P{i:03d}", severity="high" if i % 2 else "low")
    with engine.connect() as conn:
        first = queries.list_incidents(conn, Filters.parse(QueryParams("")))
        second = queries.list_incidents(conn, Filters.parse(QueryParams("page=2")))
        beyond = queries.list_incidents(conn, Filters.parse(QueryParams("page=99")))
    assert (first.total, first.pages, len(first.rows)) == (55, 2, 50)
    assert first.rows[0].id == "P054"
    assert [r.id for r in second.rows] == ["P004", "P003", "P002", "P001", "P000"]
    assert beyond.page == 2  # past the end shows the last page
    assert first.open_by_severity == {"high": 27, "low": 28}


def test_filters_round_trip_into_links() -> None:
    filters = Filters.parse(QueryParams("status=triggered&severity=low&q=a b&page=3"))
    assert filters.query(page=4) == [
        ("status", "triggered"),
        ("severity", "low"),
        ("q", "a b"),
        ("page", "4"),
    ]
    assert ("page", "1") not in filters.query(page=1)


def test_real_engine_timeline_on_the_chart(db_url: str) -> None:
    """The 3.3 outage run by the real engine thread: the opening trigger firing (stored without
    an incident id) is found, each connector call is a span ending when its call finished."""
    rig = Rig(db_url)
    run_payment_outage(rig)
    with rig.db.connect() as conn:
        view = queries.load_incident(conn, "INC-1")
        assert queries.load_incident(conn, "INC-404") is None
    assert view is not None
    assert view.incident["status"] == "resolved"
    kinds = [r.kind for r in view.timeline]
    assert kinds[0] == "rule_fired"
    assert view.timeline[0].data["rule"] == "failures-and-probe"
    drawn = marks(view.timeline, T0 + timedelta(hours=1))
    steps = [m for m in drawn if m.lane == "Steps" and m.end is not None]
    # channel_status failed once (connection refused) and was retried; the impact query ran
    # at resolution.
    assert [(m.label, m.css) for m in steps] == [
        ("channel_status", "call bad"),
        ("channel_status", "call ok"),
        ("switch_channel", "call ok"),
        ("tell_users", "call ok"),
        ("failed_payments", "call ok"),
    ]
    assert all(m.end is not None and m.end >= m.at for m in steps)
    levels = [m.label for m in drawn if m.lane == "Escalation" and m.end is not None]
    assert levels == ["payments-oncall", "payments-lead"]
    assert [m.lane for m in drawn if m.css.startswith("rule-fired")] == ["Rules"]
    assert any(m.css.startswith("resolve") and m.lane == "People" for m in drawn)
