"""Checks that need the whole runbook, after the models have accepted each part on its own.

Connectors and their parameters and templates (``checks_calls``), condition field paths and
regular expressions (``checks_fields``), references between steps and their reachability
(``checks_steps``); here: walking the runbook, duplicate ids, escalation levels that cannot be
reached, the post-mortem template file, and whether the compiled rules load in durable_rules.
Every problem is reported, each at its own node.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path as FsPath
from typing import Any

from runbookd.connectors.base import ConnectorSpec
from runbookd.engine.compiler import compile_runbook
from runbookd.engine.lang.checks_calls import check_call, check_template
from runbookd.engine.lang.checks_fields import check_condition, check_event_path
from runbookd.engine.lang.checks_inhibition import check_inhibitions
from runbookd.engine.lang.checks_steps import StepScope, outcome_problems
from runbookd.engine.lang.diagnostics import Diagnostic
from runbookd.engine.lang.loader import LoadedRunbook
from runbookd.engine.lang.source import Path
from runbookd.engine.rules import lint, validate_in_child
from runbookd.engine.templating import (
    IMPACT_VARS,
    LEVEL_VARS,
    SCHEDULE_LEVEL_VARS,
    STEP_VARS,
    TemplateError,
    parse,
)


def check_runbook(loaded: LoadedRunbook, specs: Mapping[str, ConnectorSpec]) -> list[Diagnostic]:
    """Every problem of one runbook that the models alone cannot see, sorted by position."""
    found = [
        *_detection(loaded),
        *_escalation(loaded, specs),
        *_handling(loaded, specs),
        *_postmortem(loaded, specs),
    ]
    when = loaded.runbook.resolution.when
    if when is not None:
        found.extend(check_condition(loaded, when, ("resolution", "when"), "event"))
    return sorted(set(found))


def check_all(
    loaded: Sequence[LoadedRunbook], specs: Mapping[str, ConnectorSpec], *, load_rules: bool = True
) -> list[Diagnostic]:
    """Each runbook's problems, runbook ids used twice, inhibitions between them, and -- for the
    runbooks with no other problem -- whether their compiled rules load in durable_rules."""
    found: list[Diagnostic] = []
    owner: dict[str, LoadedRunbook] = {}
    clean: list[LoadedRunbook] = []
    for item in loaded:
        problems = check_runbook(item, specs)
        rid = item.runbook.id
        first = owner.setdefault(rid, item)
        if first is not item:
            problems.append(
                item.at(("id",), f"duplicate runbook id {rid!r} (first used in {first.file})")
            )
        found.extend(problems)
        if not problems:
            clean.append(item)
    found.extend(check_inhibitions(loaded))  # they name other runbooks: checked across them
    if load_rules:
        found.extend(_rules_problems(clean))
    return found


# --- sections -----------------------------------------------------------------------------


def _detection(loaded: LoadedRunbook) -> list[Diagnostic]:
    detection = loaded.runbook.detection
    found: list[Diagnostic] = []
    for i, entry in enumerate(detection.group_by):
        found.extend(check_event_path(loaded, entry, ("detection", "group_by", i)))
    for i, trigger in enumerate(detection.triggers):
        base: Path = ("detection", "triggers", i)
        for j, cond in enumerate(trigger.correlate or []):
            found.extend(check_condition(loaded, cond, (*base, "correlate", j), "event"))
        for key, single in (("match", trigger.match), ("absent", trigger.absent)):
            if single is not None:
                found.extend(check_condition(loaded, single, (*base, key), "event"))
    for i, rule in enumerate(detection.raise_):
        found.extend(check_condition(loaded, rule.when, ("detection", "raise", i, "when"), "raise"))
    found.extend(
        _duplicates(
            loaded, [t.id for t in detection.triggers], ("detection", "triggers"), "trigger"
        )
    )
    return found


def _escalation(loaded: LoadedRunbook, specs: Mapping[str, ConnectorSpec]) -> list[Diagnostic]:
    escalation = loaded.runbook.escalation
    if escalation is None:
        return []
    levels = escalation.levels
    no_steps = StepScope((), ())  # level templates cannot name steps: LEVEL_VARS has no `steps`
    found: list[Diagnostic] = []
    for i, level in enumerate(levels):
        found.extend(
            check_call(
                loaded,
                level,
                ("escalation", "levels", i),
                specs,
                LEVEL_VARS if level.schedule is None else SCHEDULE_LEVEL_VARS,
                no_steps,
            )
        )
    # Without an ack deadline a level is final unless a step or an approval escalates on its own.
    # `repeat` does not help: it starts over from the first level only after the last one.
    early = _escalates_early(loaded)
    for i in range(1, len(levels)):
        before = levels[i - 1]
        if before.ack_within is None and not early:
            found.append(
                loaded.at(
                    ("escalation", "levels", i, "id"),
                    f"escalation level {levels[i].id!r} can never be reached: level "
                    f"{before.id!r} has no ack_within and no step or approval escalates",
                )
            )
    if escalation.repeat > 0 and levels[-1].ack_within is None and not early:
        found.append(
            loaded.at(
                ("escalation", "repeat"),
                f"repeat has no effect: the last level {levels[-1].id!r} has no ack_within "
                "and no step or approval escalates",
            )
        )
    found.extend(
        _duplicates(loaded, [lv.id for lv in levels], ("escalation", "levels"), "escalation level")
    )
    return found


def _escalates_early(loaded: LoadedRunbook) -> bool:
    return any(
        step.on_failure.then == "escalate"
        or (step.approval is not None and step.approval.on_timeout == "escalate")
        for step in loaded.runbook.handling.steps
    )


def _handling(loaded: LoadedRunbook, specs: Mapping[str, ConnectorSpec]) -> list[Diagnostic]:
    steps = loaded.runbook.handling.steps
    found: list[Diagnostic] = []
    for i, step in enumerate(steps):
        base: Path = ("handling", "steps", i)
        scope = StepScope.before(steps, i)
        found.extend(check_call(loaded, step, base, specs, STEP_VARS, scope))
        if step.target is not None:
            found.extend(check_template(loaded, step.target, (*base, "target"), STEP_VARS, scope))
        if step.when is not None:
            found.extend(check_condition(loaded, step.when, (*base, "when"), "step", scope))
            found.extend(outcome_problems(loaded, i, step.when, (*base, "when")))
        # Rollback and the verification check run after the step's call, so they may read its
        # own state (steps.<this step>.result) as well as the earlier steps'.
        after = StepScope.before(steps, i, itself=True)
        if step.rollback is not None:
            found.extend(
                check_call(loaded, step.rollback, (*base, "rollback"), specs, STEP_VARS, after)
            )
        verify = step.verify
        if verify is not None:
            vbase: Path = (*base, "verify")
            if verify.event is not None:
                found.extend(check_condition(loaded, verify.event, (*vbase, "event"), "event"))
            if verify.check is not None:
                found.extend(
                    check_call(loaded, verify.check, (*vbase, "check"), specs, STEP_VARS, after)
                )
            if verify.expect is not None:
                found.extend(check_condition(loaded, verify.expect, (*vbase, "expect"), "expect"))
    found.extend(_duplicates(loaded, [s.id for s in steps], ("handling", "steps"), "step"))
    return found


def _postmortem(loaded: LoadedRunbook, specs: Mapping[str, ConnectorSpec]) -> list[Diagnostic]:
    postmortem = loaded.runbook.postmortem
    everything = StepScope.after_all(loaded.runbook.handling.steps)
    found: list[Diagnostic] = []
    for i, impact in enumerate(postmortem.impact):
        base: Path = ("postmortem", "impact", i)
        found.extend(check_call(loaded, impact, base, specs, IMPACT_VARS, everything))
    found.extend(
        _duplicates(loaded, [m.id for m in postmortem.impact], ("postmortem", "impact"), "impact")
    )
    if postmortem.template is not None:
        problem = _template_file_problem(FsPath(loaded.file).parent, postmortem.template)
        if problem is not None:
            found.append(loaded.at(("postmortem", "template"), problem))
    return found


def _template_file_problem(folder: FsPath, name: str) -> str | None:
    path = folder / name
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return f"post-mortem template {name!r} not found (looked for {path})"
    except UnicodeDecodeError as exc:
        return f"post-mortem template {name!r} is not UTF-8 text ({exc.reason} at byte {exc.start})"
    except OSError as exc:
        return f"post-mortem template {name!r} cannot be read: {exc.strerror}"
    try:
        parse(text)
    except TemplateError as exc:
        return f"post-mortem template {name!r}: {exc}"
    return None


def _duplicates(
    loaded: LoadedRunbook, ids: Sequence[str | None], base: Path, what: str
) -> list[Diagnostic]:
    """Ids used twice in one list, reported at each repeat with the line of the first use."""
    first: dict[str, int] = {}
    found: list[Diagnostic] = []
    for i, ident in enumerate(ids):
        if ident is None:  # triggers may go unnamed; they are numbered instead
            continue
        index = first.setdefault(ident, i)
        if index != i:
            line = loaded.source.value((*base, index, "id")).line
            found.append(
                loaded.at((*base, i, "id"), f"duplicate {what} id {ident!r} (first at line {line})")
            )
    return found


# --- durable_rules ------------------------------------------------------------------------


def _rules_problems(clean: Sequence[LoadedRunbook]) -> list[Diagnostic]:
    """Compile each runbook and have durable_rules create the rulesets in one child process.

    The library aborts the process on some definitions instead of raising, hence the child; one
    child for the whole library keeps ``check`` fast. Definitions that fail ``lint`` are not sent:
    lint exists to keep exactly those (crash or hang) away from the library.
    """
    found: list[Diagnostic] = []
    definitions: list[dict[str, Any]] = []
    owners: list[LoadedRunbook] = []
    for item in clean:
        for ruleset in compile_runbook(item.runbook).rulesets():
            definition = ruleset.definition()
            problems = lint(definition)
            found.extend(_rules_error(item, p) for p in problems)
            if not problems:
                definitions.append(definition)
                owners.append(item)
    for item, verdict in zip(owners, validate_in_child(definitions), strict=True):
        if verdict is not None:
            found.append(_rules_error(item, verdict))
    return found


def _rules_error(item: LoadedRunbook, problem: str) -> Diagnostic:
    return item.at(
        ("detection",), f"compiled rules do not load in durable_rules: {problem}", key=True
    )
