"""Safety rails (plan 1.2, "safety first"): rate per target, cool-down, concurrency."""

from __future__ import annotations

from collections import deque
from datetime import datetime, timedelta

from runbookd.engine.lang.durations import format_duration
from runbookd.engine.lang.model import Limits

Key = tuple[str, ...]

_NOTHING = timedelta(0)


class Rails:
    """Counts runs per (scope, target) and says why a new run must wait, if it must."""

    def __init__(self) -> None:
        self._runs: dict[tuple[Key, str], deque[datetime]] = {}
        self._in_flight: dict[Key, int] = {}
        #: when each target of a key last started a run (for the blast-radius cap)
        self._targets: dict[Key, dict[str, datetime]] = {}
        #: per key, the longest span any of its limits looks back (see ``prune``)
        self._horizon: dict[Key, timedelta] = {}

    def blocked(self, key: Key, limits: Limits | None, target: str, now: datetime) -> str | None:
        if limits is None:
            return None
        spans = [
            limits.cooldown,
            limits.rate.per if limits.rate is not None else None,
            limits.max_targets.per if limits.max_targets is not None else None,
        ]
        horizon = max((span for span in spans if span is not None), default=_NOTHING)
        if horizon > self._horizon.get(key, _NOTHING):
            self._horizon[key] = horizon
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
        left = self._in_flight.get(key, 0) - 1
        if left > 0:
            self._in_flight[key] = left
        else:
            self._in_flight.pop(key, None)

    def prune(self, now: datetime) -> None:
        """Forget runs older than every limit of their key looks back: ``blocked`` would not
        count them (cooldown, rate and blast radius all compare ``now - t`` with their span), so
        decisions stay the same while targets that went quiet (e.g. resolved incident keys)
        stop costing memory. A key never checked against limits keeps nothing."""
        for run_key in [k for k, runs in self._runs.items() if self._stale(k[0], runs, now)]:
            del self._runs[run_key]
        for key, targets in list(self._targets.items()):
            horizon = self._horizon.get(key, _NOTHING)
            for target in [t for t, at in targets.items() if now - at >= horizon]:
                del targets[target]
            if not targets:
                del self._targets[key]

    def _stale(self, key: Key, runs: deque[datetime], now: datetime) -> bool:
        return not runs or now - runs[-1] >= self._horizon.get(key, _NOTHING)
