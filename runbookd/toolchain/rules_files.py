"""Prometheus alerting rule files, read the way ``promtool check rules`` reads them.

Two shapes: a plain rule file (``groups: [{name, rules: [...]}]``) and a kube-prometheus
``PrometheusRule`` manifest, whose ``spec.groups`` is the same list; a manifest may hold several
documents (``---``) or a ``kind: List`` of them, and its other objects are skipped. Recording
rules are counted
and skipped: only alerting rules reach Alertmanager and so runbookd. Every problem is a
``PATH:LINE:COL: message`` diagnostic and costs only the rule (or file) it is in.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runbookd.engine.lang.diagnostics import Diagnostic, short_repr
from runbookd.engine.lang.source import Path as NodePath
from runbookd.engine.lang.source import SourceError, SourceMap, load_yaml_documents

RULE_SUFFIXES = (".yml", ".yaml")
# `for: 0m` is the default spelled out: the rule fires on its first evaluation.
_ZERO = re.compile(r"(0+[a-z]*)*")


@dataclass(frozen=True)
class AlertRule:
    """One alerting rule with where it was defined."""

    file: str
    line: int
    col: int
    group: str
    alert: str
    expr: str
    for_: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"

    @property
    def severity(self) -> str | None:
        return self.labels.get("severity")


@dataclass
class RuleSet:
    rules: list[AlertRule] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    recording: int = 0

    def named(self, alert: str) -> list[AlertRule]:
        return [rule for rule in self.rules if rule.alert == alert]


def find_rule_files(paths: Sequence[Path]) -> tuple[list[Path], list[Diagnostic]]:
    files: list[Path] = []
    missing: list[Diagnostic] = []
    for path in paths:
        if path.is_dir():
            files.extend(
                sorted(p for p in path.rglob("*") if p.suffix in RULE_SUFFIXES and p.is_file())
            )
        elif path.is_file():
            files.append(path)
        else:
            missing.append(Diagnostic(str(path), 1, 1, "no such file or directory"))
    return files, missing


def load_rules(paths: Sequence[Path]) -> RuleSet:
    """Every alerting rule in the files and folders ``paths``, with every problem found."""
    files, diagnostics = find_rule_files(paths)
    out = RuleSet(diagnostics=diagnostics)
    for path in files:
        out.files.append(str(path))
        _load_file(path, out)
    return out


def _load_file(path: Path, out: RuleSet) -> None:
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
        documents = load_yaml_documents(text)
    except UnicodeDecodeError as exc:
        out.diagnostics.append(Diagnostic(name, 1, 1, f"not UTF-8 text ({exc.reason})"))
        return
    except OSError as exc:
        out.diagnostics.append(Diagnostic(name, 1, 1, f"cannot read: {exc.strerror}"))
        return
    except SourceError as exc:
        out.diagnostics.append(Diagnostic(name, exc.pos.line, exc.pos.col, exc.message))
        return
    if not documents:
        out.diagnostics.append(Diagnostic(name, 1, 1, "an empty file: no `groups:`"))
    for data, smap in documents:
        at = _Positions(name, smap)
        if (
            isinstance(data, dict)
            and data.get("kind") == "List"
            and isinstance(data.get("items"), list)
        ):
            # `kubectl get prometheusrules -o yaml` wraps the objects in a List.
            for i, item in enumerate(data["items"]):
                _load_document(item, ("items", i), at, out)
        elif data is not None:  # an empty document between two `---` is no error
            _load_document(data, (), at, out)


def _load_document(data: Any, base: NodePath, at: _Positions, out: RuleSet) -> None:
    if not isinstance(data, dict):
        out.diagnostics.append(at.diag(base, "a rule file is a mapping with `groups:`"))
        return
    if data.get("kind") == "PrometheusRule":
        spec = data.get("spec")
        if not isinstance(spec, dict):
            out.diagnostics.append(
                at.diag((*base, "kind"), "a PrometheusRule needs a `spec` mapping")
            )
            return
        data, base = spec, (*base, "spec")
    elif "kind" in data and "groups" not in data:
        return  # another Kubernetes object of the same manifest (a ConfigMap, a Service, ...)
    groups = data.get("groups")
    if not isinstance(groups, list):
        out.diagnostics.append(
            at.diag(base, "no `groups:` list (plain rule file or PrometheusRule spec)")
        )
        return
    for gi, group in enumerate(groups):
        gpath = (*base, "groups", gi)
        if not isinstance(group, dict) or not isinstance(group.get("rules", []), list):
            out.diagnostics.append(at.diag(gpath, "a group is a mapping with `name` and `rules`"))
            continue
        gname = str(group.get("name", ""))
        for ri, raw in enumerate(group.get("rules") or []):
            rule = _rule(raw, (*gpath, "rules", ri), gname, at, out)
            if rule is not None:
                out.rules.append(rule)


@dataclass(frozen=True)
class _Positions:
    file: str
    smap: SourceMap

    def diag(self, path: NodePath, message: str) -> Diagnostic:
        pos = self.smap.value(path)
        return Diagnostic(self.file, pos.line, pos.col, message)


def _rule(
    raw: object, path: NodePath, group: str, at: _Positions, out: RuleSet
) -> AlertRule | None:
    if not isinstance(raw, dict):
        out.diagnostics.append(at.diag(path, f"a rule is a mapping, got {short_repr(raw)}"))
        return None
    if "record" in raw and "alert" not in raw:
        out.recording += 1
        return None
    alert = raw.get("alert")
    if not isinstance(alert, str) or not alert:
        out.diagnostics.append(at.diag(path, "a rule needs `alert:` (or `record:`)"))
        return None
    expr = raw.get("expr")
    if not isinstance(expr, str | int | float) or isinstance(expr, bool):
        out.diagnostics.append(at.diag((*path, "expr"), f"rule {alert!r}: `expr` must be text"))
        return None
    maps: dict[str, dict[str, str]] = {}
    for key in ("labels", "annotations"):
        value = raw.get(key) or {}
        if not isinstance(value, dict):
            out.diagnostics.append(at.diag((*path, key), f"rule {alert!r}: `{key}` is a mapping"))
            return None
        maps[key] = {str(k): str(v) for k, v in value.items()}
    hold = raw.get("for")
    pos = at.smap.value((*path, "alert"))
    return AlertRule(
        file=at.file,
        line=pos.line,
        col=pos.col,
        group=group,
        alert=alert,
        expr=str(expr),
        for_=None if hold is None or _ZERO.fullmatch(str(hold)) else str(hold),
        labels=maps["labels"],
        annotations=maps["annotations"],
    )
