"""Safety rails (plan 1.2, "safety first"): rate per target, cool-down, concurrency."""

from __future__ import annotations

from collections import deque
from datetime import datetime

from engine.lang.durations import format_duration
from engine.lang.model import Limits

Key = tuple[str, ...]


class Rails:
    """Counts runs per (scope, target) and says why a new run must wait, if it must."""

    def __init__(self) -> None:
        self._runs: dict[tuple[Key, str], deque[datetime]] = {}
        self._in_flight: dict[Key, int] = {}
        #: when each target of a key last started a run (for the blast-radius cap)
        self._targets: dict[Key, dict[str, datetime]] = {}

    def blocked(self, key: Key, limits: Limits | None, target: str, now: datetime) -> str | None:
        if limits is None:
            return None
        runs = self._runs.get((key, target), deque())
        if (
            limits.max_concurrent is not None
            and self._in_flight.get(key, 0) >= limits.max_concurrent
        ):
            return f"max_concurrent {limits.max_concurrent} reached"
        if limits.cooldown is not None and runs and now - runs[-1] < limits.cooldown:
            return f"cooldown {format_duration(limits.cooldown)} for {target!r} not over"
        if limits.max_targets is not None:
            cap = limits.max_targets
            touched = {t for t, at in self._targets.get(key, {}).items() if now - at < cap.per}
            if target not in touched and len(touched) >= cap.max:
                return (
                    f"blast radius: {len(touched)} targets within "
                    f"{format_duration(cap.per)} already (max_targets {cap.max})"
                )
        if limits.rate is not None:
            recent = [t for t in runs if now - t < limits.rate.per]
            if len(recent) >= limits.rate.max:
                return (
                    f"rate limit {limits.rate.max} per {format_duration(limits.rate.per)} "
                    f"for {target!r} reached"
                )
        return None

    def started(self, key: Key, target: str, now: datetime, *, new_run: bool = True) -> None:
        """A call began; ``new_run`` False for a retry, which rate and cooldown do not count."""
        if new_run:
            self._runs.setdefault((key, target), deque(maxlen=1000)).append(now)
            self._targets.setdefault(key, {})[target] = now
        self._in_flight[key] = self._in_flight.get(key, 0) + 1

    def finished(self, key: Key) -> None:
        self._in_flight[key] = max(self._in_flight.get(key, 0) - 1, 0)
