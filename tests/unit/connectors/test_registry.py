"""The connector registry: built-ins always, plugins through entry points."""

from __future__ import annotations

import sys
import types
from importlib.metadata import EntryPoint

import pytest

from runbookd.connectors import registry
from runbookd.connectors.base import ConnectorError, ConnectorSpec, Params
from runbookd.connectors.registry import (
    BUILTINS,
    ENTRY_POINT_GROUP,
    RegistryError,
    known_names,
    load_specs,
)

BUILTIN_NAMES = [
    "alertmanager_silence",
    "email",
    "http",
    "log",
    "pagerduty",
    "prometheus",
    "shell",
    "slack",
    "sql",
]


class TicketParams(Params):
    title: str


TICKET = ConnectorSpec("ticket", TicketParams, "Open a ticket.", ("ticket_id",))


@pytest.fixture
def plugins(monkeypatch: pytest.MonkeyPatch) -> list[EntryPoint]:
    """Installed plugins, as entry points the test fills in."""
    module = types.ModuleType("acme_connectors")
    vars(module).update(
        TICKET=TICKET,
        CLASH=ConnectorSpec("slack", TicketParams, "Another slack."),
        NOT_A_SPEC=TicketParams,
    )
    monkeypatch.setitem(sys.modules, "acme_connectors", module)
    found: list[EntryPoint] = []

    def entry_points(*, group: str) -> list[EntryPoint]:
        assert group == ENTRY_POINT_GROUP
        return found

    monkeypatch.setattr(registry, "entry_points", entry_points)
    return found


def plugin(name: str, value: str) -> EntryPoint:
    return EntryPoint(name=name, value=value, group=ENTRY_POINT_GROUP)


def test_every_builtin_is_listed_once() -> None:
    assert known_names(load_specs(include_plugins=False)) == BUILTIN_NAMES
    assert len(BUILTINS) == len(BUILTIN_NAMES)


def test_without_plugins_installed_only_builtins_load(plugins: list[EntryPoint]) -> None:
    assert known_names(load_specs()) == BUILTIN_NAMES


def test_a_plugin_adds_its_connector(plugins: list[EntryPoint]) -> None:
    plugins.append(plugin("ticket", "acme_connectors:TICKET"))
    specs = load_specs()
    assert specs["ticket"] is TICKET
    assert "ticket" not in load_specs(include_plugins=False)


def test_a_plugin_that_fails_to_import_names_itself(plugins: list[EntryPoint]) -> None:
    plugins.append(plugin("broken", "acme_missing_module:SPEC"))
    with pytest.raises(RegistryError, match=r"plugin 'broken' \(acme_missing_module:SPEC\) failed"):
        load_specs()


def test_a_plugin_must_be_a_spec(plugins: list[EntryPoint]) -> None:
    plugins.append(plugin("odd", "acme_connectors:NOT_A_SPEC"))
    with pytest.raises(RegistryError, match=r"'odd'.*not a ConnectorSpec"):
        load_specs()


def test_a_plugin_cannot_replace_a_builtin(plugins: list[EntryPoint]) -> None:
    plugins.append(plugin("my-slack", "acme_connectors:CLASH"))
    with pytest.raises(RegistryError, match=r"'my-slack'.*'slack', already taken by a built-in"):
        load_specs()


def test_two_plugins_cannot_share_a_name(plugins: list[EntryPoint]) -> None:
    plugins.append(plugin("one", "acme_connectors:TICKET"))
    plugins.append(plugin("two", "acme_connectors:TICKET"))
    with pytest.raises(RegistryError, match=r"'two'.*already taken by another plugin"):
        load_specs()


def test_registry_errors_are_connector_errors() -> None:
    assert issubclass(RegistryError, ConnectorError)
