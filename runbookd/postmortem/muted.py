"""When paging was suppressed: the post-mortem's sentences from the timeline's pause notes.

The engine writes a ``note`` with ``paging: paused`` when a silence or maintenance window holds
an incident's escalation, and ``paging: resumed`` when it pages again (``engine.muting``). A
manager reading the post-mortem should see that nobody was paged then, and why, in one line:
"Paging suppressed 02:00-03:00 UTC by maintenance window nightly-backup."
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol


class _Entry(Protocol):
    @property
    def at(self) -> datetime: ...
    @property
    def kind(self) -> str: ...
    @property
    def data(self) -> Mapping[str, Any]: ...


def paging_suppressed(timeline: Sequence[_Entry], end: datetime) -> list[str]:
    """One sentence per pause; a pause the incident's end cut short ends at ``end``."""
    out: list[str] = []
    open_pause: tuple[datetime, str] | None = None
    for entry in timeline:
        if entry.kind != "note" or "paging" not in entry.data:
            continue
        at = _utc(entry.at)
        if entry.data["paging"] == "paused":
            if open_pause is not None:  # another mute took over: the first one ends here
                out.append(_sentence(*open_pause, at))
            open_pause = (at, str(entry.data.get("muted_by") or "a silence"))
        elif entry.data["paging"] == "resumed" and open_pause is not None:
            out.append(_sentence(*open_pause, at))
            open_pause = None
    if open_pause is not None:
        out.append(_sentence(*open_pause, _utc(end)))
    return out


def _sentence(start: datetime, by: str, end: datetime) -> str:
    span = (
        f"{start:%H:%M}-{end:%H:%M}"
        if start.date() == end.date()
        else (f"{start:%Y-%m-%d %H:%M}-{end:%Y-%m-%d %H:%M}")
    )
    return f"Paging suppressed {span} UTC by {by}."


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
