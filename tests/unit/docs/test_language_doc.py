"""docs/runbook-language.md stays true to the code: it names every field, operator and connector
parameter, and every complete runbook and scenario it shows checks clean and passes."""

from __future__ import annotations

import re
import textwrap
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from runbookd.connectors.base import ConnectorSpec
from runbookd.connectors.registry import BUILTINS
from runbookd.engine.lang.conditions import LEAF_OPS
from runbookd.engine.lang.model import Runbook
from runbookd.engine.lang.source import load_yaml
from runbookd.toolchain.library import load_library
from runbookd.toolchain.scenario import load_scenario, run_scenario
from runbookd.toolchain.scenario_model import Scenario

DOC_PATH = Path(__file__).parents[3] / "docs" / "runbook-language.md"
DOC = DOC_PATH.read_text(encoding="utf-8")

_FENCE = re.compile(r"^([ \t]*)```yaml[ \t]*\n(.*?)^[ \t]*```[ \t]*$", re.MULTILINE | re.DOTALL)


def yaml_blocks(text: str) -> list[str]:
    """The body of every ```yaml fenced block, dedented (blocks may sit inside list items)."""
    return [textwrap.dedent(match.group(2)) for match in _FENCE.finditer(text)]


def blocks_starting_with(key: str) -> list[str]:
    pattern = re.compile(rf"^{re.escape(key)}(?:\s|$)")
    return [b for b in yaml_blocks(DOC) if pattern.match(b.lstrip())]


RUNBOOK_BLOCKS = blocks_starting_with("runbook: 1")
SCENARIO_BLOCKS = blocks_starting_with("scenario:")


def _models_in(annotation: Any) -> Iterator[type[BaseModel]]:
    """Models inside an annotation: through Annotated, unions, lists and dicts."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
        return
    for arg in typing.get_args(annotation):
        yield from _models_in(arg)


def reachable_models(root: type[BaseModel]) -> list[type[BaseModel]]:
    """``root`` and every model reachable from its fields, in discovery order."""
    seen: dict[type[BaseModel], None] = {}
    todo: list[type[BaseModel]] = [root]
    while todo:
        model = todo.pop(0)
        if model in seen:
            continue
        seen[model] = None
        for info in model.model_fields.values():
            todo.extend(_models_in(info.annotation))
    return list(seen)


def yaml_names(model: type[BaseModel]) -> list[str]:
    """Field names as a YAML author writes them (``for``, not ``for_``)."""
    return [info.alias or name for name, info in model.model_fields.items()]


def not_in_backticks(names: list[str]) -> list[str]:
    return [name for name in names if f"`{name}`" not in DOC]


def model_id(model: type[BaseModel]) -> str:
    return model.__name__


# --- names ------------------------------------------------------------------------------------


def test_walk_reaches_nested_and_union_models() -> None:
    names = {m.__name__ for m in reachable_models(Runbook)}
    # Leaf, All, AnyOf and Not are only reachable through the Condition union.
    assert {"Trigger", "Step", "Verify", "Rate", "Impact", "Leaf", "All", "AnyOf", "Not"} <= names


@pytest.mark.parametrize("model", reachable_models(Runbook), ids=model_id)
def test_every_runbook_field_is_documented(model: type[BaseModel]) -> None:
    assert not_in_backticks(yaml_names(model)) == []


@pytest.mark.parametrize("model", reachable_models(Scenario), ids=model_id)
def test_every_scenario_field_is_documented(model: type[BaseModel]) -> None:
    assert not_in_backticks(yaml_names(model)) == []


def test_every_condition_operator_is_documented() -> None:
    assert not_in_backticks([*LEAF_OPS, "all", "any", "not"]) == []


@pytest.mark.parametrize("spec", BUILTINS, ids=lambda spec: spec.name)
def test_every_builtin_connector_is_documented(spec: ConnectorSpec) -> None:
    assert f"### `{spec.name}`" in DOC
    names = [spec.name, *spec.param_names(), *spec.result_fields]
    assert not_in_backticks(names) == []


# --- complete runbooks ------------------------------------------------------------------------


def test_doc_shows_complete_runbooks() -> None:
    # the minimal example and the annotated one, at least
    assert len(RUNBOOK_BLOCKS) >= 2


@pytest.mark.parametrize("block", RUNBOOK_BLOCKS, ids=lambda b: _runbook_id(b))
def test_runbook_example_checks_clean(tmp_path: Path, block: str) -> None:
    path = tmp_path / f"{_runbook_id(block)}.yaml"
    path.write_text(block, encoding="utf-8")
    library = load_library([path])  # what `runbookd check` runs, durable_rules load included
    assert [str(d) for d in library.diagnostics] == []
    assert [item.runbook.id for item in library.loaded] == [_runbook_id(block)]


def _runbook_id(block: str) -> str:
    data, _ = load_yaml(block)
    assert isinstance(data, dict) and isinstance(data.get("id"), str), block[:80]
    return str(data["id"])


# --- complete scenarios -----------------------------------------------------------------------


def test_doc_shows_complete_scenarios() -> None:
    assert SCENARIO_BLOCKS


@pytest.mark.parametrize("index", range(len(SCENARIO_BLOCKS)))
def test_scenario_example_passes(tmp_path: Path, index: int) -> None:
    """Lay out the scenario and the runbooks it names (from this page) as in a repository."""
    runbooks = {_runbook_id(b): b for b in RUNBOOK_BLOCKS}
    folder = tmp_path / "tests" / "scenarios"
    folder.mkdir(parents=True)
    path = folder / f"scenario-{index}.yaml"
    path.write_text(SCENARIO_BLOCKS[index], encoding="utf-8")
    scenario, problems = load_scenario(path)
    assert scenario is not None, [str(p) for p in problems]
    for relative in scenario.runbooks:
        target = (folder / relative).resolve()
        assert target.is_relative_to(tmp_path.resolve()), relative
        assert target.stem in runbooks, f"{relative} names no runbook shown on the page"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(runbooks[target.stem], encoding="utf-8")
    result = run_scenario(path)
    failed = [f"{c.name}: {c.detail}" for c in result.checks if not c.passed]
    assert (result.errors, failed) == ([], [])
