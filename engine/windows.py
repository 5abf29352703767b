"""Maintenance windows from config: named ``time_intervals`` and the ``maintenance_windows``
that use them, read into ``engine.silences.Window`` values.

The config sections, as in config.yaml::

    time_intervals:            # Alertmanager's syntax, name and list of specs
      - name: nightly-backup
        time_intervals:
          - times: [{start_time: "02:00", end_time: "03:00"}]
            location: Europe/Paris
    maintenance_windows:
      - name: db-backup
        time_intervals: [nightly-backup]
        matchers: ['instance=~"db.*"']    # optional when runbooks is given
        runbooks: [database-replication-lag]   # optional: every runbook
        comment: nightly backup

``windows_from_config`` raises ``WindowError`` naming the key path (``maintenance_windows[0]
.time_intervals[1]``); ``runbookd check-config`` shows it with the file's line and column.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runbookd.engine.matchers import Matcher
from runbookd.engine.silences import SilenceError, Window, validate_matchers
from runbookd.engine.timeintervals import Interval, IntervalError, parse_specs

SECTIONS = ("time_intervals", "maintenance_windows")
_WINDOW_KEYS = ("name", "time_intervals", "matchers", "runbooks", "comment")


class WindowError(ValueError):
    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


def windows_from_config(config: Mapping[str, Any]) -> list[Window]:
    """The windows of a config mapping holding ``time_intervals`` and ``maintenance_windows``."""
    intervals = _intervals(config.get("time_intervals") or [])
    raw = config.get("maintenance_windows") or []
    if not isinstance(raw, list):
        raise WindowError("maintenance_windows", "must be a list of windows")
    out: list[Window] = []
    names: set[str] = set()
    for i, item in enumerate(raw):
        window = _window(item, f"maintenance_windows[{i}]", intervals)
        if window.name in names:
            raise WindowError(f"maintenance_windows[{i}].name", f"{window.name!r} is used twice")
        names.add(window.name)
        out.append(window)
    return out


def _intervals(raw: object) -> dict[str, Interval]:
    if not isinstance(raw, list):
        raise WindowError("time_intervals", "must be a list of {name, time_intervals}")
    out: dict[str, Interval] = {}
    for i, item in enumerate(raw):
        where = f"time_intervals[{i}]"
        if not isinstance(item, Mapping) or set(item) - {"name", "time_intervals"}:
            raise WindowError(where, "must have name and time_intervals only")
        name = _name(item.get("name"), f"{where}.name")
        if name in out:
            raise WindowError(f"{where}.name", f"{name!r} is used twice")
        try:
            specs = parse_specs(item.get("time_intervals"), f"{where}.time_intervals")
        except IntervalError as exc:
            raise WindowError(exc.path, exc.message) from None
        out[name] = Interval(name, specs)
    return out


def _window(raw: object, where: str, intervals: Mapping[str, Interval]) -> Window:
    if not isinstance(raw, Mapping):
        raise WindowError(where, "must be a mapping with name and time_intervals")
    unknown = sorted(set(raw) - set(_WINDOW_KEYS))
    if unknown:
        raise WindowError(f"{where}.{unknown[0]}", "unknown key; keys: " + ", ".join(_WINDOW_KEYS))
    name = _name(raw.get("name"), f"{where}.name")
    used = raw.get("time_intervals")
    if not isinstance(used, list) or not used:
        raise WindowError(f"{where}.time_intervals", "must list the time_intervals it is open in")
    chosen: list[Interval] = []
    for j, ref in enumerate(used):
        if not isinstance(ref, str) or ref not in intervals:
            known = ", ".join(sorted(intervals)) or "none are defined"
            raise WindowError(
                f"{where}.time_intervals[{j}]", f"no time interval {ref!r} (known: {known})"
            )
        chosen.append(intervals[ref])
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
    return Window(name, tuple(chosen), matchers, tuple(runbooks), comment)


def _name(raw: object, where: str) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise WindowError(where, "must be a non-empty name")
    return raw
