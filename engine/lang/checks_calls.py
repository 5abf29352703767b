"""Checks on connector calls: the connector exists, its parameters are known and complete, and
every template in them parses and reads only variables that exist where the call is made."""

from __future__ import annotations

from collections.abc import Mapping

from jinja2.defaults import DEFAULT_NAMESPACE

from runbookd.connectors.base import ConnectorSpec
from runbookd.connectors.registry import known_names
from runbookd.engine.lang.checks_steps import STEP_ATTRS, StepScope
from runbookd.engine.lang.diagnostics import Diagnostic, did_you_mean
from runbookd.engine.lang.loader import LoadedRunbook
from runbookd.engine.lang.model import Call
from runbookd.engine.lang.source import Path
from runbookd.engine.templating import (
    Reference,
    TemplateError,
    is_template,
    references,
    template_strings,
)

#: The attributes each template variable has (``steps`` is checked against the step list).
#: Deeper parts are free where the value is a mapping of the author's own keys: labels,
#: annotations, a step's result.
ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "incident": (
        "id",
        "key",
        "title",
        "severity",
        "scope",
        "complexity",
        "nature",
        "status",
        "labels",
        "opened_at",
        "acked_by",
        "alerts",
        "runbook",
        "section",
        "team",
    ),
    "runbook": ("id", "title", "version", "section", "team"),
    "alert": ("name", "labels", "annotations", "value", "status", "fingerprint", "starts_at"),
    "step": ("id", "target"),
    "level": ("id", "who"),
    "oncall": ("schedule", "person", "name", "via", "email", "slack", "pagerduty", "phone"),
    "window": ("start", "end", "duration", "seconds"),
}

#: Names Jinja itself provides (range, dict, ...) and the loop variable inside ``{% for %}``.
JINJA_NAMES = frozenset(DEFAULT_NAMESPACE) | {"loop"}


def check_call(
    loaded: LoadedRunbook,
    call: Call,
    base: Path,
    specs: Mapping[str, ConnectorSpec],
    roots: frozenset[str],
    steps: StepScope,
) -> list[Diagnostic]:
    """The connector and parameters of the call at ``base``, and the templates in its params."""
    found = _connector_problems(loaded, call, base, specs)
    for sub, text in template_strings(call.params):
        found.extend(check_template(loaded, text, (*base, "params", *sub), roots, steps))
    return found


def _connector_problems(
    loaded: LoadedRunbook, call: Call, base: Path, specs: Mapping[str, ConnectorSpec]
) -> list[Diagnostic]:
    spec = specs.get(call.connector)
    if spec is None:
        known = known_names(specs)
        return [
            loaded.at(
                (*base, "connector"),
                f"unknown connector {call.connector!r}{did_you_mean(call.connector, known)}; "
                f"known: {', '.join(known)}",
            )
        ]
    found: list[Diagnostic] = []
    names = spec.param_names()
    for key in call.params:
        if key not in names:
            hint = did_you_mean(key, names)
            listed = "" if hint else f"; parameters: {', '.join(names)}"
            found.append(
                loaded.at(
                    (*base, "params", key),
                    f"unknown parameter {key!r} for connector {spec.name!r}{hint}{listed}",
                    key=True,
                )
            )
    # `params:` may be left out entirely; then the call itself is what lacks the parameter.
    has_params = (*base, "params") in loaded.source.keys
    where: Path = (*base, "params") if has_params else (*base, "connector")
    for name in spec.required_params():
        if name not in call.params:
            found.append(
                loaded.at(
                    where,
                    f"missing required parameter {name!r} for connector {spec.name!r}",
                    key=True,
                )
            )
    return found


def check_template(
    loaded: LoadedRunbook, text: str, path: Path, roots: frozenset[str], steps: StepScope
) -> list[Diagnostic]:
    """One templated string: it parses, and every variable chain it reads exists here."""
    if not is_template(text):
        return []
    try:
        refs = references(text)
    except TemplateError as exc:
        return [loaded.at(path, str(exc))]
    problems = [_reference_problem(ref, roots, steps) for ref in refs]
    # `{{ foo }} and {{ foo }}` is one mistake: say it once.
    return [loaded.at(path, p) for p in dict.fromkeys(p for p in problems if p is not None)]


def _reference_problem(ref: Reference, roots: frozenset[str], steps: StepScope) -> str | None:
    if ref.root in JINJA_NAMES and ref.root not in roots:
        return None
    if ref.root not in roots:
        available = ", ".join(sorted(roots))
        return (
            f"template uses {ref.root!r}, which does not exist here"
            f"{did_you_mean(ref.root, roots)}; available: {available}"
        )
    if not ref.chain:
        return None
    if ref.root == "steps":
        step_id = ref.chain[0]
        unseen = steps.problem("template", step_id)
        if unseen is not None or len(ref.chain) < 2 or ref.chain[1] in STEP_ATTRS:
            return unseen
        attr = ref.chain[1]
        return (
            f"template uses steps.{step_id}.{attr}, which does not exist"
            f"{did_you_mean(attr, STEP_ATTRS)}; a step has: {', '.join(STEP_ATTRS)}"
        )
    attrs = ATTRIBUTES.get(ref.root)
    attr = ref.chain[0]
    if attrs is None or attr in attrs:
        return None
    return (
        f"template uses {ref.root}.{attr}, which does not exist"
        f"{did_you_mean(attr, attrs)}; {ref.root} has: {', '.join(attrs)}"
    )
