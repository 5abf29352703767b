"""alertmanager_silence against a real Alertmanager (Debian's prometheus-alertmanager)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from runbookd.connectors.alertmanager_silence import SPEC, AlertmanagerSettings
from runbookd.connectors.base import PermanentError, Result

pytestmark = pytest.mark.anyio
Caller = Callable[..., Awaitable[Result]]


def silence(alertmanager: str, silence_id: str) -> dict[str, Any]:
    found: dict[str, Any] = httpx.get(f"{alertmanager}/api/v2/silence/{silence_id}").json()
    return found


async def test_create_then_expire(alertmanager: str, call: Caller) -> None:
    settings = AlertmanagerSettings(url=alertmanager)

    created = await call(
        SPEC,
        {
            "matchers": [
                {"name": "alertname", "value": "PaymentsDown"},
                {"name": "env", "value": "stag.*", "is_regex": True, "is_equal": False},
            ],
            "duration": "2h",
            "comment": "INC-7: failover in progress",
            "created_by": "runbookd/payments",
        },
        settings,
    )
    active = silence(alertmanager, created["silence_id"])
    expired = await call(SPEC, {"action": "expire", "silence_id": created["silence_id"]}, settings)

    assert active["status"]["state"] == "active"
    assert active["comment"] == "INC-7: failover in progress"
    assert active["createdBy"] == "runbookd/payments"
    assert {(m["name"], m["value"], m["isRegex"], m["isEqual"]) for m in active["matchers"]} == {
        ("alertname", "PaymentsDown", False, True),
        ("env", "stag.*", True, False),
    }
    starts = datetime.fromisoformat(active["startsAt"])
    ends = datetime.fromisoformat(active["endsAt"])
    # Alertmanager moves a startsAt already in the past (by milliseconds) to its own now.
    assert abs(ends - starts - timedelta(hours=2)) < timedelta(seconds=5)
    assert expired == {"silence_id": created["silence_id"]}
    assert silence(alertmanager, created["silence_id"])["status"]["state"] == "expired"


async def test_expiring_twice_is_harmless(alertmanager: str, call: Caller) -> None:
    settings = AlertmanagerSettings(url=alertmanager)
    created = await call(SPEC, {"matchers": [{"name": "job", "value": "x"}]}, settings)
    expire = {"action": "expire", "silence_id": created["silence_id"]}

    await call(SPEC, expire, settings)
    again = await call(SPEC, expire, settings)

    assert again == {"silence_id": created["silence_id"]}


async def test_an_unknown_silence_is_permanent_though_alertmanager_says_500(
    alertmanager: str, call: Caller
) -> None:
    settings = AlertmanagerSettings(url=alertmanager)
    unknown = "00000000-0000-0000-0000-000000000000"

    with pytest.raises(PermanentError) as info:
        await call(SPEC, {"action": "expire", "silence_id": unknown}, settings)

    assert str(info.value) == (
        f"alertmanager_silence: DELETE {alertmanager}/api/v2/silence/{unknown} "
        f"answered 500: no silence '{unknown}'"
    )


async def test_a_malformed_id_is_permanent(alertmanager: str, call: Caller) -> None:
    settings = AlertmanagerSettings(url=alertmanager)

    with pytest.raises(PermanentError, match=r"answered 422.*must be of type uuid"):
        await call(SPEC, {"action": "expire", "silence_id": "INC-7"}, settings)


async def test_an_invalid_matcher_is_permanent(alertmanager: str, call: Caller) -> None:
    settings = AlertmanagerSettings(url=alertmanager)

    with pytest.raises(PermanentError, match="answered 400"):
        await call(SPEC, {"matchers": [{"name": "job", "value": "(", "is_regex": True}]}, settings)
