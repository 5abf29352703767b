"""Render a ``Summary`` to Markdown or a printable HTML page with Jinja2.

Both environments are sandboxed and strict. Only the built-in templates and a runbook's own
template file are ever compiled; the summary -- alert labels, notes, lessons included -- is data
in the context. HTML autoescapes every value. Markdown has no autoescape, so every ``{{ }}``
output goes through ``escape_markdown`` (Jinja's ``finalize`` hook): a runbook template cannot
forget to escape a label.

For the web page ``/postmortems/{id}``::

    summary, runbook = load_summary_and_runbook(service.db, incident_id)  # NotFound if unknown
    page = render(summary, "html", runbook)  # the runbook's own *.html.j2 if it has one

or ``render_html(load_summary(service, incident_id))`` for the built-in page only. Both loaders
are in ``runbookd.postmortem.load`` and block (run them in a thread from async code).
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from jinja2 import StrictUndefined, Template, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from runbookd.postmortem.load import RunbookSource
from runbookd.postmortem.markdown import escape_markdown
from runbookd.postmortem.model import Summary
from runbookd.postmortem.narrative import format_duration_s

Format = Literal["md", "html"]


NOTHING = "\u2014"  # an em dash: a lone "-" would be markup at the start of a Markdown line


def _duration(seconds: float | None) -> str:
    return NOTHING if seconds is None else format_duration_s(seconds)


def _when(moment: datetime | None) -> str:
    if moment is None:
        return NOTHING
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _after(moment: datetime | None, start: datetime) -> str:
    """A time as an offset from detection: ``T+1m30s``."""
    if moment is None:
        return NOTHING
    seconds = (moment - start).total_seconds()
    return ("T+" if seconds >= 0 else "T-") + format_duration_s(abs(seconds))


def _number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "unknown" if value is None else str(value)


def _env(*, html: bool) -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        undefined=StrictUndefined,
        autoescape=html,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        finalize=None if html else escape_markdown,
    )
    env.filters.update(duration=_duration, when=_when, after=_after, number=_number)
    return env


_MD = _env(html=False)
_HTML = _env(html=True)


def _builtin(name: str, env: SandboxedEnvironment) -> Template:
    text = resources.files("runbookd.postmortem").joinpath("templates", name).read_text("utf-8")
    return env.from_string(text)


_DEFAULT = {"md": _builtin("summary.md.j2", _MD), "html": _builtin("summary.html.j2", _HTML)}


def render_markdown(summary: Summary, template: str | None = None) -> str:
    """Markdown; ``template`` is a runbook's own template source (default: the built-in one)."""
    return _render(summary, "md", template)


def render_html(summary: Summary, template: str | None = None) -> str:
    """A full, self-contained HTML page (inline CSS with print rules) for one post-mortem."""
    return _render(summary, "html", template)


@lru_cache(maxsize=64)
def _compiled(fmt: Format, source: str) -> Template:
    # Compiling costs more than rendering; a runbook's template text changes rarely.
    return (_HTML if fmt == "html" else _MD).from_string(source)


def _render(summary: Summary, fmt: Format, template: str | None) -> str:
    if template is None:
        return _DEFAULT[fmt].render(s=summary)
    try:
        return _compiled(fmt, template).render(s=summary)
    except TemplateError as exc:
        # A runbook template that fails must not hide the post-mortem: default, with the reason.
        fallback = summary.model_copy(deep=True)
        fallback.warnings.append(f"the runbook's post-mortem template failed ({exc}); default used")
        return _DEFAULT[fmt].render(s=fallback)


def template_for(runbook: RunbookSource | None, fmt: Format) -> tuple[str | None, str | None]:
    """The runbook's own template source for ``fmt`` (None: use the default), and a warning.

    ``postmortem.template`` names one file beside the runbook; a name ending in ``.html.j2``
    replaces the HTML page, any other the Markdown.
    """
    if runbook is None or runbook.runbook.postmortem.template is None:
        return None, None
    name = runbook.runbook.postmortem.template
    if name.endswith(".html.j2") != (fmt == "html"):
        return None, None
    path = Path(runbook.file).parent / name
    try:
        return path.read_text(encoding="utf-8"), None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8"
        return (
            None,
            f"the runbook's post-mortem template {name!r} cannot be read ({reason}); default used",
        )


def render(summary: Summary, fmt: Format, runbook: RunbookSource | None = None) -> str:
    """``summary`` in ``fmt``, with the runbook's own template when it has one for ``fmt``."""
    template, warning = template_for(runbook, fmt)
    if warning is not None:
        summary = summary.model_copy(deep=True)
        summary.warnings.append(warning)
    return _render(summary, fmt, template)
