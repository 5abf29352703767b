"""A circuit breaker per connector: stop calling what keeps failing, and say so at once.

After ``failures`` consecutive failures that another attempt might cure (timeouts, 5xx, refused
connections) the circuit opens: calls fail at once, permanently, so the step's ``on_failure``
escalates to a person instead of retrying into an outage. After ``open_for`` one trial call is let
through (half-open); its success closes the circuit, its failure opens it again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _State:
    failures: int = 0
    opened_at: float | None = None
    trial: bool = False


class Breakers:
    def __init__(
        self,
        failures: int = 5,
        open_for: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._failures = failures
        self._open_for = open_for
        self._clock = clock
        self._states: dict[str, _State] = {}

    def refuse(self, name: str) -> str | None:
        """Why a call to ``name`` must not be made now, or None to go ahead."""
        state = self._states.get(name)
        if state is None or state.opened_at is None:
            return None
        if self._clock() - state.opened_at < self._open_for or state.trial:
            return (
                f"{name}: circuit open after {state.failures} consecutive failures; "
                "not called (escalate instead)"
            )
        state.trial = True  # half-open: exactly one call finds out
        return None

    def record(self, name: str, ok: bool, counts: bool = True) -> None:
        """The outcome of a call; ``counts`` False for failures that say nothing of the target
        (bad parameters, a refused circuit)."""
        state = self._states.setdefault(name, _State())
        if ok:
            self._states[name] = _State()
            return
        if not counts:
            if state.trial:
                state.trial = False
            return
        state.failures += 1
        state.trial = False
        if state.failures >= self._failures:
            state.opened_at = self._clock()

    def open_circuits(self) -> list[str]:
        return sorted(n for n, s in self._states.items() if s.opened_at is not None)
