"""Projection: the few typed fields of an event that one runbook's rules look at.

durable_rules compares values as it finds them and has its own regex dialect (``%`` escapes), so
the compiler never hands it raw events. Each leaf of a condition gets a *slot* -- ``p0``, ``p1``
... -- holding the field converted to the type the leaf compares (text, number) or, for a regular
expression, the Python ``re.fullmatch`` outcome as a boolean. Posting only the slots keeps every
message far below the library's ~250-property limit and makes both matchers agree exactly.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

SlotKind = Literal["text", "number", "regex", "present"]


@dataclass(frozen=True)
class Slot:
    name: str
    path: str
    kind: SlotKind
    pattern: str | None = None


def as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def as_number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    else:
        try:
            number = float(str(value).strip())
        except ValueError:
            return None
    return number if math.isfinite(number) else None


@dataclass
class Projection:
    """The slots of one ruleset, allocated as the compiler meets leaves."""

    slots: dict[tuple[str, SlotKind, str | None], Slot] = field(default_factory=dict)
    _regex: dict[str, re.Pattern[str]] = field(default_factory=dict)

    def slot(self, path: str, kind: SlotKind, pattern: str | None = None) -> str:
        key = (path, kind, pattern)
        found = self.slots.get(key)
        if found is None:
            found = Slot(f"p{len(self.slots)}", path, kind, pattern)
            self.slots[key] = found
            if pattern is not None:
                self._regex[found.name] = re.compile(pattern)
        return found.name

    def project(self, lookup: Callable[[str], Any]) -> dict[str, Any]:
        """The posted document: one entry per slot whose field is present (and converts)."""
        doc: dict[str, Any] = {}
        for slot in self.slots.values():
            raw = lookup(slot.path)
            if raw is None:
                continue
            if slot.kind == "text" or slot.kind == "present":
                doc[slot.name] = as_text(raw)
            elif slot.kind == "number":
                number = as_number(raw)
                if number is not None:
                    doc[slot.name] = number
            else:
                doc[slot.name] = self._regex[slot.name].fullmatch(as_text(raw) or "") is not None
        return doc
