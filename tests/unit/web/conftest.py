"""Fixtures: a migrated store (SQLite, or a fresh PostgreSQL schema when
RUNBOOKD_TEST_DATABASE_URL is set) and a writer of incident rows shaped as the engine stores them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, insert

from runbookd.store import db as store
from runbookd.store import tables as t
from runbookd.store.codec import dumps
from tests.unit.postmortem.rig import database_url


@pytest.fixture
def db_url(tmp_path: Path) -> Iterator[str]:
    with database_url(tmp_path) as url:
        yield url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    db = store.make_engine(db_url)
    store.upgrade(db)
    yield db
    db.dispose()


AddIncident = Callable[..., str]


@pytest.fixture
def add_incident(engine: Engine) -> AddIncident:
    """Insert one incident (and optional timeline rows as ``(at, kind, data)``)."""
    counter = iter(range(1, 1_000_000))

    def add(
        opened: datetime,
        *,
        id: str | None = None,  # the column's name
        runbook: str = "rb-a",
        section: str = "3.3",
        title: str = "Payment channel abnormal",
        severity: str = "high",
        status: str = "triggered",
        labels: dict[str, str] | None = None,
        acked: datetime | None = None,
        mitigated: datetime | None = None,
        resolved: datetime | None = None,
        nature: str = "external",
        level: int = 0,
        alerts: int = 1,
        timeline: list[tuple[datetime, str, dict[str, Any]]] = (),  # type: ignore[assignment]
    ) -> str:
        incident_id = id or f"INC-{next(counter)}"
        row = {
            "id": incident_id,
            "runbook": runbook,
            "runbook_version": 1,
            "section": section,
            "title": title,
            "severity": severity,
            "status": status,
            "key": f"labels.channel={(labels or {}).get('channel', 'alipay')}",
            "labels": labels or {"channel": "alipay"},
            "opened_at": opened,
            "acknowledged_at": acked,
            "acknowledged_by": "ana" if acked else None,
            "mitigated_at": mitigated,
            "resolved_at": resolved,
            "resolved_by": None,
            "closed_at": None,
            "alerts": alerts,
            "detail": {"nature": nature, "level": level, "team": "payments", "alerts": []},
            "updated_at": opened,
        }
        with engine.begin() as conn:
            conn.execute(insert(t.incident), [row])
            for at, kind, data in timeline:
                conn.execute(
                    insert(t.timeline),
                    [
                        {
                            "incident_id": incident_id,
                            "at": at,
                            "kind": kind,
                            "summary": kind,
                            "data": dumps(data),
                        }
                    ],
                )
        return incident_id

    return add
