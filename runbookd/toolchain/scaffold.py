"""``runbookd scaffold``: a first runbook and its two scenarios, written from an alerting rule.

The output is meant to be kept and edited, not regenerated: YAML written as text, with comments
where a person must decide (who is paged, which step), and everything the rule already says
carried over: the name it fires under, what its expression keeps as the incident key, its
severity on the chapter-1 matrix, its annotations in the page and its ``runbook_url``.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

from runbookd.engine.lang.severity import Complexity, Nature, Scope, Severity, derive_severity
from runbookd.toolchain.promql_labels import output_labels
from runbookd.toolchain.rules_files import AlertRule

# Prometheus severity label -> the chapter-1 cell that derives the same urgency. Rules use many
# spellings; these are the ones the public rule sets use (critical, warning, info, none) and
# the common aliases.
_SEVERITY: dict[str, tuple[Scope, Complexity]] = {
    "critical": (Scope.global_, Complexity.complex),
    "page": (Scope.global_, Complexity.complex),
    "error": (Scope.global_, Complexity.simple),
    "high": (Scope.global_, Complexity.simple),
    "major": (Scope.global_, Complexity.simple),
    "warning": (Scope.local, Complexity.complex),
    "warn": (Scope.local, Complexity.complex),
    "medium": (Scope.local, Complexity.complex),
}
_LOW = (Scope.local, Complexity.simple)
_LABEL_REF = re.compile(r"\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)")
LEVEL_ID = "oncall"


@dataclass(frozen=True)
class Scaffold:
    runbook_id: str
    runbook: str
    fires: str
    near_miss: str


def runbook_id(alert: str) -> str:
    """``HostOutOfMemory`` -> ``host-out-of-memory``; punctuation becomes a dash."""
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "-", alert).lower()
    slug = re.sub(r"[^a-z0-9_.]+", "-", words).strip("-.")
    return slug or "alert"


def _q(text: str) -> str:
    """A YAML double-quoted scalar (JSON's string syntax is a subset of it)."""
    return json.dumps(text, ensure_ascii=False)


def _templated(text: str | None) -> bool:
    return text is not None and "{{" in text


def _rank(rule: AlertRule) -> int:
    scope, complexity = _SEVERITY.get((rule.severity or "").lower(), _LOW)
    return derive_severity(Nature.infrastructure, scope, complexity).rank


def group_labels(rule: AlertRule) -> tuple[list[str], str]:
    """The labels that make two alerts of ``rule`` different incidents, and why those."""
    labels = output_labels(rule.expr)
    static = set(rule.labels)
    if labels.kept is not None:
        keep = sorted(labels.kept - static)
        if not keep:
            return [], "the expression yields one series, so there is one incident at a time"
        return keep, f"the expression keeps exactly {', '.join(keep)}"
    refs = [
        name
        for text in rule.annotations.values()
        for name in _LABEL_REF.findall(text)
        if name not in static and labels.can_carry(name) is not False
    ]
    keep = list(dict.fromkeys(refs))
    if keep:
        return keep, (
            "the expression keeps its series' labels; these are the ones the rule's annotations "
            "name"
        )
    return ["instance"], "the expression keeps its series' labels; `instance` names the target"


def scaffold(
    rules: list[AlertRule], *, section: str, file: str, neighbours: Sequence[str] = ()
) -> Scaffold:
    """The runbook and scenarios for the rules named alike (one name may have several rules).

    ``neighbours`` are the other alert names of the file: the near miss fires the closest one.
    """
    primary = max(rules, key=_rank)
    rid = runbook_id(primary.alert)
    groups, why = group_labels(primary)
    runbook = _runbook(rid, primary, rules, groups, why, section, file)
    fires = _fires(rid, primary, groups)
    others = [n for n in neighbours if n != primary.alert]
    close = difflib.get_close_matches(primary.alert, others, n=1, cutoff=0.0)
    near = _near_miss(rid, primary, groups, close[0] if close else None)
    return Scaffold(rid, runbook, fires, near)


def _classification(rule: AlertRule) -> tuple[Scope, Complexity, Severity]:
    scope, complexity = _SEVERITY.get((rule.severity or "").lower(), _LOW)
    return scope, complexity, derive_severity(Nature.infrastructure, scope, complexity)


def _always_fires(rule: AlertRule) -> bool:
    return re.fullmatch(r"\(*\s*vector\s*\(\s*1\s*\)\s*\)*", rule.expr.strip()) is not None


def _title(rule: AlertRule) -> str:
    summary = rule.annotations.get("summary")
    if summary and not _templated(summary):
        return summary
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", rule.alert)


def _runbook(
    rid: str,
    rule: AlertRule,
    rules: list[AlertRule],
    groups: list[str],
    why: str,
    section: str,
    file: str,
) -> str:
    scope, complexity, severity = _classification(rule)
    url = rule.annotations.get("runbook_url")
    expr = " ".join(rule.expr.split())
    out = [
        f"# Scaffolded by `runbookd scaffold` from {file}, rule {rule.alert} (group {rule.group!r}):",
        f"#   expr: {expr}",
    ]
    if rule.for_:
        out.append(f"#   for: {rule.for_}")
    for other in rules:
        if other is not rule:
            out.append(
                f"# The file defines {rule.alert} again at line {other.line} (severity "
                f"{other.severity or 'none'}); this runbook takes the most severe one's severity."
            )
    out += [
        "# Lines marked DECIDE are for you: the scaffold cannot know who is paged or what to do.",
        "runbook: 1",
        f"id: {rid}",
        f"title: {_q(_title(rule))}",
        "version: 1",
        "team: unassigned          # DECIDE: the team that owns this alert",
        f"section: {_q(section)}" + ("" if section != "0" else "  # DECIDE: the plan section"),
    ]
    description = rule.annotations.get("description")
    text = (
        description
        if description and not _templated(description)
        else f"Alerting rule {rule.alert}."
    )
    if url:
        text += f" Rule runbook: {url}"
    out.append(f"description: {_q(text)}")
    out.append(
        f"# Once this runbook runs, the rule's runbook_url can point at its live page: "
        f"<runbookd URL>/runbooks/{rid}"
    )
    out.append(f"tags: [scaffolded, {_q(rule.group)}]")
    out += [
        "classification:",
        "  nature: infrastructure  # DECIDE: infrastructure, business, security or external",
        f"  # scope and complexity are the chapter-1 cell that derives {severity.value}, as the rule's",
        f"  # severity {rule.severity or '(none)'!s} says; set what is true of this failure.",
        f"  scope: {scope.value}",
        f"  complexity: {complexity.value}",
        "detection:",
        f"  # One incident per distinct {', '.join(groups) or 'rule'}: {why}.",
        f"  group_by: [{', '.join('labels.' + g for g in groups)}]",
        "  triggers:",
    ]
    if _always_fires(rule):
        out += [
            "    # DECIDE: this rule always fires (a dead man's switch, e.g. Watchdog). This trigger",
            "    # opens one incident that stays open while Prometheus and Alertmanager work. runbookd",
            "    # deduplicates Alertmanager's repeat notifications of one alert, so an `absent:`",
            "    # trigger on it would not see them as heartbeats: keep this rule out of runbookd's",
            "    # route, or keep this runbook to see the pipeline end to end.",
        ]
    if rule.for_:
        out.append(
            f"    # The rule already holds for {rule.for_} before Prometheus sends it; add `for:` "
            "here only to wait longer."
        )
    else:
        out.append(
            "    # The rule has no `for`: one evaluation fires it. DECIDE: `for: 2m` here would "
            "let a blip that resolves sooner page no one."
        )
    out += [
        "    - id: fires",
        f"      match: {{field: name, eq: {_q(rule.alert)}}}",
        "escalation:",
        "  levels:",
        "    # DECIDE: who is paged and how (pagerduty, slack, email: docs/runbook-language.md).",
        f"    - id: {LEVEL_ID}",
        "      who: on-call         # DECIDE: the person or rota",
        "      connector: slack",
        "      params:",
        '        channel: "#oncall"  # DECIDE: the channel',
        f"        text: {_q(_page_text(rule, groups))}",
        "      ack_within: 15m      # DECIDE: how long before the next level (add one) is told",
        "handling:",
        "  # DECIDE: the first step a person (or runbookd) takes, e.g. an http call to your",
        "  # orchestrator with `approval: {required: true}` until you trust it.",
        "  steps: []",
        "resolution:",
        "  on_alerts_resolved: true  # resolved when every alert of the incident has resolved",
    ]
    return "\n".join(out) + "\n"


def _page_text(rule: AlertRule, groups: list[str]) -> str:
    parts = ["{{ incident.id }} ({{ incident.severity }}) {{ alert.name }}"]
    if groups:
        parts.append(" on " + ", ".join(f"{{{{ incident.labels.{g} }}}}" for g in groups))
    for key in ("summary", "description"):
        if key in rule.annotations:
            parts.append(f": {{{{ alert.annotations.{key} | default('') }}}}")
            break
    if "runbook_url" in rule.annotations:
        parts.append(" Runbook: {{ alert.annotations.runbook_url | default('') }}")
    return "".join(parts)


def _alert(
    rule: AlertRule, groups: list[str], status: str | None = None, name: str | None = None
) -> str:
    labels = {
        "alertname": name or rule.alert,
        **{k: v for k, v in rule.labels.items() if not _templated(v)},
    }
    labels.update({g: f"{g}-1" for g in groups})
    body = ", ".join(
        f"{_q(k) if not re.fullmatch(r'[a-zA-Z_][a-zA-Z0-9_]*', k) else k}: {_q(v)}"
        for k, v in labels.items()
    )
    tail = f", status: {status}" if status else ""
    return f"{{labels: {{{body}}}{tail}}}"


def _fires(rid: str, rule: AlertRule, groups: list[str]) -> str:
    _, _, severity = _classification(rule)
    incident_labels = ", ".join(f"{g}: {_q(g + '-1')}" for g in groups)
    return "\n".join(
        [
            f"scenario: {_q(f'{rule.alert} fires: an incident opens, on-call is paged, it resolves with the alert')}",
            f"runbooks: [../../runbooks/{rid}.yaml]",
            "timeline:",
            "  # DECIDE: label values your alerts really carry.",
            "  - at: 0s",
            f"    alert: {_alert(rule, groups)}",
            "  - at: 10m",
            f"    alert: {_alert(rule, groups, 'resolved')}",
            "expect:",
            f"  - incident: {{runbook: {rid}, at: 0s, status: open, severity: {severity.value}, labels: {{{incident_labels}}}}}",
            f"  - notified: {{level: {LEVEL_ID}, at: 0s}}",
            f"  - resolved: {{runbook: {rid}, at: 10m}}",
            "",
        ]
    )


def _near_miss(rid: str, rule: AlertRule, groups: list[str], neighbour: str | None) -> str:
    what = (
        f"{neighbour} fires, {rule.alert} arrives only as resolved"
        if neighbour
        else (f"{rule.alert} arrives only as resolved")
    )
    timeline = []
    if neighbour:
        timeline += [
            f"  # {neighbour}, from the same rule file, with the same labels: the runbook",
            "  # matches on the alert name, not on the labels.",
            "  - at: 0s",
            f"    alert: {_alert(rule, groups, name=neighbour)}",
        ]
    timeline += [
        "  # A resolved notification with no firing one before it (Alertmanager after a restart).",
        "  - at: 1m",
        f"    alert: {_alert(rule, groups, 'resolved')}",
    ]
    return "\n".join(
        [
            f"scenario: {_q(f'near miss: {what}; no incident')}",
            f"runbooks: [../../runbooks/{rid}.yaml]",
            "timeline:",
            *timeline,
            "run_for: 30m",
            "expect:",
            f"  - no_incident: {{runbook: {rid}}}",
            f"  - no_notify: {{level: {LEVEL_ID}}}",
            "",
        ]
    )
