"""Maintenance windows from config: the ``maintenance_windows`` list, read into
``engine.silences.Window`` values.

Each window names what it mutes (Alertmanager matchers, and optionally the runbooks) and when,
as a list of Alertmanager ``time_intervals`` specs (``engine.timeintervals``)::

    maintenance_windows:
      - name: sunday-db
        matchers: ['service="db"']
        runbooks: [database-replication-lag]   # optional: only these runbooks' incidents
        comment: weekly patching
        time_intervals:
          - weekdays: [sunday]
            times: [{start_time: "02:00", end_time: "04:00"}]
            location: Europe/Paris

``windows_from_config`` raises ``WindowError`` naming the key path
(``maintenance_windows[0].time_intervals[0].times[0].start_time``); the settings loader reports
it like any other key, so ``runbookd check-config`` and a reload refuse a bad window.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runbookd.engine.matchers import Matcher
from runbookd.engine.silences import SilenceError, Window, validate_matchers
from runbookd.engine.timeintervals import Interval, IntervalError, parse_specs

#: The config key, and the key of the runbook library's journal entry that carries it.
SECTION = "maintenance_windows"
_WINDOW_KEYS = ("name", "matchers", "runbooks", "comment", "time_intervals")


class WindowError(ValueError):
    """A window that is not valid; ``path`` is its key path from the top of config.yaml."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


def windows_from_config(config: Mapping[str, Any]) -> list[Window]:
    """The windows of a mapping holding ``maintenance_windows`` (absent: none)."""
    raw = config.get(SECTION) or []
    if not isinstance(raw, list):
        raise WindowError(SECTION, "must be a list of windows")
    out: list[Window] = []
    names: set[str] = set()
    for i, item in enumerate(raw):
        window = _window(item, f"{SECTION}[{i}]")
        if window.name in names:
            raise WindowError(f"{SECTION}[{i}].name", f"{window.name!r} is used twice")
        names.add(window.name)
        out.append(window)
    return out


def _window(raw: object, where: str) -> Window:
    if not isinstance(raw, Mapping):
        raise WindowError(where, "must be a mapping with name, matchers and time_intervals")
    unknown = sorted(set(raw) - set(_WINDOW_KEYS))
    if unknown:
        raise WindowError(f"{where}.{unknown[0]}", "unknown key; keys: " + ", ".join(_WINDOW_KEYS))
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise WindowError(f"{where}.name", "must be a non-empty name")
    try:
        specs = parse_specs(raw.get("time_intervals"), f"{where}.time_intervals")
    except IntervalError as exc:
        raise WindowError(exc.path, exc.message) from None
    runbooks = raw.get("runbooks") or []
    if not isinstance(runbooks, list) or not all(isinstance(r, str) and r for r in runbooks):
        raise WindowError(f"{where}.runbooks", "must be a list of runbook ids")
    matchers: tuple[Matcher, ...] = ()
    if "matchers" in raw or not runbooks:
        # A window muting every alert of every runbook would be an outage of paging, not a
        # maintenance window: it needs matchers, or runbooks to limit it.
        try:
            matchers = validate_matchers(raw.get("matchers"), f"{where}.matchers")
        except SilenceError as exc:
            hint = "" if runbooks else " (or runbooks, to mute whole runbooks)"
            raise WindowError(exc.field, exc.message + hint) from None
    comment = raw.get("comment") or ""
    if not isinstance(comment, str):
        raise WindowError(f"{where}.comment", "must be text")
    return Window(name, (Interval(name, specs),), matchers, tuple(runbooks), comment)
