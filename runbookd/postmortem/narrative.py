"""The summary in words: the plain sentences at the top of a post-mortem, and durations as people
read them (``12m34s``)."""

from __future__ import annotations

from datetime import timedelta

from runbookd.engine.lang.durations import format_duration
from runbookd.postmortem.model import Summary


def _ago(seconds: float | None) -> str:
    return format_duration_s(seconds) if seconds is not None else "-"


def format_duration_s(seconds: float) -> str:
    """``754.0`` -> ``12m34s``; under a second -> ``0s``."""
    if seconds < 1:
        return "0s"
    return format_duration(timedelta(seconds=round(seconds)))


def what_happened(s: Summary) -> list[str]:
    """Two or three plain sentences, built from the classification and the computed figures."""
    kind = " ".join(p for p in (s.scope, s.complexity, s.nature) if p)
    first = (
        f"{s.title} (plan section {s.section}): a {kind} incident of {s.severity} severity, "
        f"opened by runbook {s.runbook} version {s.runbook_version} for {s.key or 'its only key'}."
    )
    t = s.timings
    parts = []
    if t.acknowledged is not None:
        parts.append(
            f"acknowledged by {t.acknowledged_as or t.acknowledged_by or 'someone'} "
            f"after {_ago(t.time_to_acknowledge)}"
        )
    if t.mitigated is not None:
        parts.append(f"mitigated after {_ago(t.time_to_mitigate)}")
    if t.resolved is not None:
        parts.append(f"resolved after {_ago(t.time_to_resolve)}")
    if not parts:
        second = "Nobody has acknowledged it yet and it is not resolved."
    else:
        done = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
        second = f"It was {done}" + ("." if t.resolved is not None else "; it is not resolved yet.")
    alerts = sum(a.count for a in s.alerts)
    ok = sum(1 for step in s.steps if step.outcome == "ok")
    third = (
        f"{alerts} alert notification(s) of {len(s.alerts)} kind(s) were attached; "
        f"{ok} of {len(s.steps)} handling step(s) succeeded; "
        f"{len(s.escalation)} escalation level(s) were notified."
    )
    return [first, second, third]
