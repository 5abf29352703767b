"""`GET /api/v1/runbooks/{id}` and `/runbooks/{id}` show inhibition both ways: which runbooks
suppress this one, and which ones this one suppresses (real app under uvicorn on loopback)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from runbookd.api.auth import Credentials
from runbookd.server.app import build_app
from runbookd.service.core import Options
from tests.unit.postmortem.rig import database_url
from tests.unit.runbookd.live_app import live

ROOT = Path(__file__).resolve().parents[3] / "runbooks"
TOKEN = "inhibition-pages-token-81aa"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    runbooks = [
        ROOT / "10-database" / "database-abnormal.yaml",
        ROOT / "10-system" / "system-crash.yaml",
        ROOT / "02-orders" / "order-creation-failed.yaml",
        ROOT / "03-payment" / "payment-failed.yaml",
    ]
    with database_url(tmp_path_factory.mktemp("inhibition-pages")) as url:
        app = build_app(
            Options(database_url=url, runbooks=runbooks, dry_run=True),
            credentials=Credentials(bearer_token=TOKEN),
        )
        with live(app) as base:
            headers = {"Authorization": f"Bearer {TOKEN}"}
            with httpx.Client(base_url=base, headers=headers, timeout=30) as http:
                yield http


def test_the_api_names_the_inhibitors_and_the_inhibited(client: httpx.Client) -> None:
    orders = client.get("/api/v1/runbooks/order-creation-failed").json()["detection"]
    assert orders["inhibited_by"] == [
        {"runbook": "database-abnormal", "equal": []},
        {"runbook": "system-crash", "equal": []},
    ]
    assert orders["inhibits"] == []
    database = client.get("/api/v1/runbooks/database-abnormal").json()["detection"]
    assert database["inhibited_by"] == []
    assert database["inhibits"] == ["order-creation-failed", "payment-failed"]


def test_the_page_links_them(client: httpx.Client) -> None:
    orders = client.get("/runbooks/order-creation-failed").text
    assert '<a href="/runbooks/database-abnormal">database-abnormal</a> is open' in orders
    database = client.get("/runbooks/database-abnormal").text
    assert (
        'it suppresses: <a href="/runbooks/order-creation-failed">order-creation-failed</a>, '
        '<a href="/runbooks/payment-failed">payment-failed</a>.'
    ) in database
