"""Jinja2 templates for connector parameters: sandboxed, strict, and checked before they run.

Alert content is always *data* in the context, never template source: only the runbook's own
strings are compiled. ``StrictUndefined`` turns a missing variable into an error instead of an
empty string, so a typo cannot page someone with a blank message.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, nodes
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.sandbox import SandboxedEnvironment

REF_START = "${env:"
#: What a ``${env:`` in a value printed by ``{{ }}`` becomes; the executor turns it back into
#: ``${env:`` as plain text instead of resolving a reference (see ``inert_references``).
ESCAPED_REF_START = "$" + REF_START


def inert_references(value: Any) -> Any:
    """Jinja ``finalize``: ``${env:`` in printed data becomes ``$${env:``, so it stays text.

    The executor resolves ``${env:NAME}`` in rendered parameters. Without this, an alert whose
    annotation says ``${env:DB_PASSWORD}`` would have the service's secret filled into a Slack
    message or a request body. Only printed values are escaped: the runbook's own template text,
    where its author writes references, is not.
    """
    text = value if isinstance(value, str) else str(value)
    return text.replace(REF_START, ESCAPED_REF_START) if REF_START in text else value


_ENV = SandboxedEnvironment(
    undefined=StrictUndefined,
    autoescape=False,
    keep_trailing_newline=True,
    finalize=inert_references,
)

#: Root variables each kind of template may use.
LEVEL_VARS = frozenset({"incident", "runbook", "alert", "level"})
#: A level with ``schedule:`` also has the person on call when it is notified.
SCHEDULE_LEVEL_VARS = LEVEL_VARS | {"oncall"}
STEP_VARS = frozenset({"incident", "runbook", "alert", "steps", "step"})
IMPACT_VARS = frozenset({"incident", "runbook", "alert", "steps", "window"})


class TemplateError(Exception):
    """A template that does not parse, or that failed while rendering."""


def is_template(text: str) -> bool:
    return "{{" in text or "{%" in text or "{#" in text


@lru_cache(maxsize=2048)
def _compile(source: str) -> Any:
    return _ENV.from_string(source)


@dataclass(frozen=True)
class Reference:
    """A variable a template reads: ``root`` and the attribute chain after it (``steps.x.result``)."""

    root: str
    chain: tuple[str, ...]


def parse(source: str) -> nodes.Template:
    """Parse, raising TemplateError with Jinja's message and line."""
    try:
        return _ENV.parse(source)
    except TemplateSyntaxError as exc:
        raise TemplateError(
            f"template syntax error: {exc.message} (template line {exc.lineno})"
        ) from None


def references(source: str) -> list[Reference]:
    """Every variable chain a template reads (``{{ steps.check.result.code }}`` -> steps, check...)."""
    tree = parse(source)
    assigned = {n.name for n in tree.find_all(nodes.Name) if n.ctx in ("store", "param")}
    out: list[Reference] = []
    for node in tree.find_all((nodes.Getattr, nodes.Getitem, nodes.Name)):
        if isinstance(node, nodes.Name) and node.ctx == "load" and node.name not in assigned:
            out.append(Reference(node.name, _chain_above(tree, node)))
    return out


def _chain_above(tree: nodes.Template, name: nodes.Name) -> tuple[str, ...]:
    """The attribute names applied to ``name`` (``a.b['c']`` -> ('b', 'c'))."""
    chain: list[str] = []
    current: nodes.Node = name
    while True:
        parent = _parent_of(tree, current)
        if isinstance(parent, nodes.Getattr) and parent.node is current:
            chain.append(parent.attr)
        elif (
            isinstance(parent, nodes.Getitem)
            and parent.node is current
            and isinstance(parent.arg, nodes.Const)
            and isinstance(parent.arg.value, str)
        ):
            chain.append(parent.arg.value)
        else:
            return tuple(chain)
        current = parent


def _parent_of(tree: nodes.Node, child: nodes.Node) -> nodes.Node | None:
    for node in tree.find_all(nodes.Node):
        for sub in node.iter_child_nodes():
            if sub is child:
                return node
    return None


def render_text(source: str, context: Mapping[str, Any]) -> str:
    if not is_template(source):
        return source
    try:
        return str(_compile(source).render(**context))
    except UndefinedError as exc:
        raise TemplateError(f"template uses an undefined value: {exc.message}") from None
    except SecurityError as exc:
        raise TemplateError(f"template blocked by the sandbox: {exc}") from None
    except TemplateSyntaxError as exc:
        raise TemplateError(f"template syntax error: {exc.message}") from None
    except Exception as exc:  # a filter failing on data: report it as a template failure
        raise TemplateError(f"template failed: {type(exc).__name__}: {exc}") from None


def render_value(value: Any, context: Mapping[str, Any]) -> Any:
    """Render every string inside a params structure; other values pass through."""
    if isinstance(value, str):
        return render_text(value, context)
    if isinstance(value, list):
        return [render_value(v, context) for v in value]
    if isinstance(value, dict):
        return {k: render_value(v, context) for k, v in value.items()}
    return value


def template_strings(
    value: Any, path: tuple[str | int, ...] = ()
) -> list[tuple[tuple[str | int, ...], str]]:
    """Every string inside a params structure with its path, for checking."""
    if isinstance(value, str):
        return [(path, value)]
    if isinstance(value, list):
        return [item for i, v in enumerate(value) for item in template_strings(v, (*path, i))]
    if isinstance(value, dict):
        return [item for k, v in value.items() for item in template_strings(v, (*path, k))]
    return []
