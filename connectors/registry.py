"""The connectors the language knows: built-ins listed explicitly, plugins by entry point."""

from __future__ import annotations

from importlib.metadata import entry_points

from connectors.base import ConnectorError, ConnectorSpec
from connectors.specs import BUILTINS

ENTRY_POINT_GROUP = "runbookd.connectors"


class RegistryError(ConnectorError):
    """A plugin that does not load or clashes with a built-in name."""


def load_specs(include_plugins: bool = True) -> dict[str, ConnectorSpec]:
    specs = {spec.name: spec for spec in BUILTINS}
    if not include_plugins:
        return specs
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            spec = ep.load()
        except Exception as exc:  # a broken plugin must name itself, not crash with a traceback
            raise RegistryError(f"connector plugin {ep.name!r} failed to load: {exc}") from None
        if not isinstance(spec, ConnectorSpec):
            raise RegistryError(f"connector plugin {ep.name!r} is not a ConnectorSpec")
        if spec.name in specs:
            raise RegistryError(f"connector plugin {ep.name!r} reuses the name {spec.name!r}")
        specs[spec.name] = spec
    return specs


def known_names(specs: dict[str, ConnectorSpec]) -> list[str]:
    return sorted(specs)
