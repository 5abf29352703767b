"""The pages' Jinja2 environment: sandboxed, strict, autoescaped, templates from this package.

Only the files in ``templates/`` are ever compiled. Incident titles, labels, notes and alert text
are values in the context, escaped on output; nothing from an alert becomes template source.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from importlib import resources
from typing import Any

from jinja2 import DictLoader, StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from runbookd.engine.lang.durations import format_duration


def when(moment: datetime | None) -> str:
    return "-" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def short(moment: datetime | None) -> str:
    return "-" if moment is None else moment.strftime("%m-%d %H:%M")


def duration(delta: timedelta | None) -> str:
    """Rounded for people: seconds under a minute, minutes under a day, then hours."""
    if delta is None:
        return "-"
    seconds = max(int(delta.total_seconds()), 0)
    if seconds >= 86400:
        seconds -= seconds % 3600
    elif seconds >= 60:
        seconds -= seconds % 60
    return format_duration(timedelta(seconds=seconds))


def _templates() -> dict[str, str]:
    folder = resources.files("runbookd.web").joinpath("templates")
    return {f.name: f.read_text("utf-8") for f in folder.iterdir() if f.name.endswith(".j2")}


def make_env() -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        loader=DictLoader(_templates()),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(when=when, short=short, duration=duration)
    return env


def stylesheet() -> bytes:
    return resources.files("runbookd.web").joinpath("static").joinpath("web.css").read_bytes()


def render(env: SandboxedEnvironment, name: str, **context: Any) -> str:
    return env.get_template(name).render(**context)
