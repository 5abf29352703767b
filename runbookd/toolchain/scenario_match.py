"""How a scenario's expected values compare with what happened: numbers within rounding, and
mappings and lists as subsets (an expectation names only the fields it cares about)."""

from __future__ import annotations

from typing import Any


def same(actual: Any, expected: Any) -> bool:
    if isinstance(expected, int | float) and not isinstance(expected, bool):
        try:
            return actual is not None and abs(float(actual) - float(expected)) < 1e-9
        except (TypeError, ValueError):
            return False
    return bool(actual == expected)


def subset(expected: Any, actual: Any) -> bool:
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            k in actual and subset(v, actual[k]) for k, v in expected.items()
        )
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(expected) == len(actual)
            and all(subset(a, b) for a, b in zip(expected, actual, strict=True))
        )
    return same(actual, expected) if isinstance(expected, int | float) else bool(expected == actual)
