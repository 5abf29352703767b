"""Fixtures: the simulated platform in-process, driven step by step (no background traffic)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from examples.orderplatform.app import create_app
from examples.orderplatform.platform import Platform

T0 = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


class Sim:
    """A platform, its events, and a synchronous client over its ASGI app."""

    def __init__(self, rate: float = 20.0, seed: int = 7) -> None:
        self.events: list[dict[str, Any]] = []
        self.platform = Platform(
            seed=seed, rate=rate, sink=self.events.append, wallclock=lambda: T0
        )
        self.app = create_app(self.platform)

        # Without ``with``, TestClient runs no lifespan: no background traffic, no forwarding.
        self.http = TestClient(self.app)

    def metric(self, name: str, **labels: str) -> float:
        """The sum of every series of ``name`` whose labels include ``labels``."""
        return float(self.platform.metrics.total(name, **labels))

    def named(self, name: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["name"] == name]


@pytest.fixture
def sim() -> Sim:
    return Sim()


def on(sim: Sim, fault: str, **params: Any) -> None:
    """Switch a fault on, failing the test if the platform refuses."""
    answer = sim.http.post(f"/faults/{fault}", json=params)
    assert answer.status_code == 200, answer.text


def off(sim: Sim, fault: str) -> None:
    answer = sim.http.delete(f"/faults/{fault}")
    assert answer.status_code == 200, answer.text


def op(sim: Sim, path: str, body: dict[str, Any] | None = None, status: int = 200) -> Any:
    """POST an admin operation and return its JSON answer, checking the status."""
    answer = sim.http.post(path, json=body or {})
    assert answer.status_code == status, answer.text
    return answer.json()


def get(sim: Sim, path: str, **params: Any) -> Any:
    answer = sim.http.get(path, params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()
