"""GET /api/v1/alerts' label matchers page through the stored outcomes up to a scan limit and
say when they stopped early (real store: SQLite, or PostgreSQL when configured)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any, cast

import pytest
from sqlalchemy import Engine

from runbookd.api import alerts as api
from runbookd.engine.commands import Command
from runbookd.engine.matchers import parse_matchers
from runbookd.service.core import Service
from runbookd.service.outcomes import store_outcomes

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def outcome(n: int, severity: str) -> Command:
    data: dict[str, Any] = {
        "event": "HostSwapIsFillingUp",
        "event_kind": "alert",
        "status": "firing",
        "fingerprint": f"f{n}",
        "labels": {"instance": f"h{n}", "severity": severity},
        "outcome": "unmatched",
        "incident": None,
        "runbook": None,
        "results": [],
    }
    return Command("alert_outcome", T0 + timedelta(seconds=n), data=data)


@pytest.fixture
def service(engine: Engine) -> Service:
    commands = [outcome(n, "critical" if n in (10, 2500) else "warning") for n in range(1, 2501)]
    with engine.begin() as conn:
        assert store_outcomes(conn, [*commands, Command("note", T0)])[0].kind == "note"
    # list_outcomes reads through Service.db only; this is the real store behind it
    return cast(Service, SimpleNamespace(db=engine))


def test_matchers_read_every_page_of_the_range(service: Service) -> None:
    crit = parse_matchers('{severity="critical"}')
    found, complete = api.list_outcomes(service, api.outcome_query(), crit, 100)
    assert [r.labels["instance"] for r in found] == ["h2500", "h10"] and complete
    found, complete = api.list_outcomes(service, api.outcome_query(), crit, 1)
    assert [r.labels["instance"] for r in found] == ["h2500"] and complete


def test_the_scan_limit_is_reported(service: Service, monkeypatch: pytest.MonkeyPatch) -> None:
    assert api.SCAN_MAX == 20_000  # the figure docs/operations.md gives
    monkeypatch.setattr(api, "SCAN_MAX", 1000)
    crit = parse_matchers('{severity="critical"}')
    found, complete = api.list_outcomes(service, api.outcome_query(), crit, 100)
    assert [r.labels["instance"] for r in found] == ["h2500"] and not complete
