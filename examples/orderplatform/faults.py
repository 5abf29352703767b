"""The fault catalogue and the set of faults switched on: what ``/faults`` reads and writes.

A fault only sets a flag and its parameters here; the traffic code asks ``faults.get(name)`` on
every order and behaves accordingly, so a fault's effect is visible only through the signals.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

IDENTITY = re.compile(r"[A-Za-z0-9_.@-]{1,64}")


class FaultError(ValueError):
    """A fault request the catalogue refuses; ``field`` names the bad part of it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class FaultSpec:
    """One failure mode: its plan section, what it does, and the parameters it takes."""

    name: str
    section: str
    summary: str
    #: closed-set parameters: name -> (default, allowed values)
    choices: Mapping[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)
    #: numeric parameters: name -> (default, lowest, highest)
    numbers: Mapping[str, tuple[float, float, float]] = field(default_factory=dict)
    #: true/false parameters: name -> default
    flags: Mapping[str, bool] = field(default_factory=dict)
    #: identities (an account, an instrument token): name -> default
    texts: Mapping[str, str] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        return sorted([*self.choices, *self.numbers, *self.flags, *self.texts])

    def params(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """The parameters of ``body`` checked against this spec, defaults filled in."""
        unknown = sorted(set(body) - set(self.names))
        if unknown:
            known = ", ".join(self.names) or "none"
            raise FaultError(unknown[0], f"unknown parameter for {self.name!r} (known: {known})")
        out: dict[str, Any] = {}
        for key, (default, allowed) in self.choices.items():
            value = body.get(key, default)
            if value not in allowed:
                raise FaultError(key, f"{value!r} is not one of {', '.join(allowed)}")
            out[key] = value
        for key, (default_n, low, high) in self.numbers.items():
            value = body.get(key, default_n)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise FaultError(key, f"expected a number, got {value!r}")
            if not low <= value <= high:
                raise FaultError(key, f"{value!r} is outside {low:g}..{high:g}")
            out[key] = float(value)
        for key, default_b in self.flags.items():
            value = body.get(key, default_b)
            if not isinstance(value, bool):
                raise FaultError(key, f"expected true or false, got {value!r}")
            out[key] = value
        for key, default_t in self.texts.items():
            value = body.get(key, default_t)
            if not isinstance(value, str) or not IDENTITY.fullmatch(value):
                raise FaultError(
                    key, f"expected an identifier (letters, digits, _.@-), got {value!r}"
                )
            out[key] = value
        return out


class Active(dict[str, Any]):
    """An active fault's parameters: true even for a fault that takes none, so that
    ``if k.fault(name):`` reads as "if the fault is on"."""

    def __bool__(self) -> bool:
        return True


class Faults:
    """The faults switched on, by name, with their parameters."""

    def __init__(self, catalogue: Mapping[str, FaultSpec]) -> None:
        self.catalogue = dict(catalogue)
        self.active: dict[str, Active] = {}

    def spec(self, name: str) -> FaultSpec:
        try:
            return self.catalogue[name]
        except KeyError:
            raise FaultError("name", f"no fault {name!r}") from None

    def switch_on(self, name: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Turn a fault on (or change its parameters); returns the parameters in force."""
        params = Active(self.spec(name).params(body))
        self.active[name] = params
        return dict(params)

    def switch_off(self, name: str) -> bool:
        """Turn a fault off; False when it was not on."""
        self.spec(name)
        return self.active.pop(name, None) is not None

    def get(self, name: str) -> dict[str, Any] | None:
        """The parameters of a fault that is on, else None."""
        return self.active.get(name)

    def on_for(self, name: str, key: str, value: str) -> dict[str, Any] | None:
        """The fault's parameters when it is on and its ``key`` parameter equals ``value``."""
        params = self.active.get(name)
        return params if params is not None and params.get(key) == value else None

    def listing(self) -> list[dict[str, Any]]:
        return [
            {
                "name": spec.name,
                "section": spec.section,
                "summary": spec.summary,
                "active": spec.name in self.active,
                "params": self.active.get(spec.name),
                "accepts": {
                    **{k: {"default": d, "one_of": list(a)} for k, (d, a) in spec.choices.items()},
                    **{
                        k: {"default": d, "min": lo, "max": hi}
                        for k, (d, lo, hi) in spec.numbers.items()
                    },
                    **{k: {"default": d, "one_of": [True, False]} for k, d in spec.flags.items()},
                    **{k: {"default": d} for k, d in spec.texts.items()},
                },
            }
            for spec in self.catalogue.values()
        ]
