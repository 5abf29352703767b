"""Classification (plan chapter 1) and the severity matrix derived from it.

The plan classifies an abnormal situation by nature, scope and complexity. runbookd derives a
severity from them so that two runbooks with the same classification page the same way:

==========  ==========  ==========
scope       simple      complex
==========  ==========  ==========
local       low         medium
global      high        critical
==========  ==========  ==========

Security incidents go one level up (capped at critical): the plan's "safety first" principle
treats anything that may spread beyond the platform as more urgent. A runbook may override the
derived severity, and ``raise`` rules may increase it while an incident runs -- never lower it.
"""

from __future__ import annotations

from enum import Enum


class Nature(str, Enum):
    infrastructure = "infrastructure"
    business = "business"
    security = "security"
    external = "external"


class Scope(str, Enum):
    local = "local"
    global_ = "global"


class Complexity(str, Enum):
    simple = "simple"
    complex = "complex"


class Severity(str, Enum):
    low = "low"
    medium = "medium"
    high = "high"
    critical = "critical"

    @property
    def rank(self) -> int:
        return _ORDER.index(self)

    def at_least(self, other: Severity) -> bool:
        return self.rank >= other.rank


_ORDER = [Severity.low, Severity.medium, Severity.high, Severity.critical]

_MATRIX = {
    (Scope.local, Complexity.simple): Severity.low,
    (Scope.local, Complexity.complex): Severity.medium,
    (Scope.global_, Complexity.simple): Severity.high,
    (Scope.global_, Complexity.complex): Severity.critical,
}


def derive_severity(nature: Nature, scope: Scope, complexity: Complexity) -> Severity:
    """Severity from the chapter-1 classification, by the matrix in this module's docstring."""
    base = _MATRIX[(scope, complexity)]
    if nature is Nature.security:
        return _ORDER[min(base.rank + 1, len(_ORDER) - 1)]
    return base


def higher(a: Severity, b: Severity) -> Severity:
    return a if a.rank >= b.rank else b
