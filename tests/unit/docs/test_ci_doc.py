"""docs/ci.md's examples are ones that work: the workflow uses the action and its real inputs,
the pre-commit config names the real hooks, and the sample output is what check prints."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from runbookd.cli.main import main
from tests.ci_fixtures import runbook_repository
from tests.deploy_files import REPO
from tests.unit.docs.test_language_doc import yaml_blocks

DOC = (REPO / "docs" / "ci.md").read_text(encoding="utf-8")
ACTION = yaml.safe_load((REPO / ".github" / "actions" / "runbookd" / "action.yml").read_text())
HOOKS = {h["id"] for h in yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())}


def _block(top_key: str) -> dict[str, object]:
    blocks = [yaml.safe_load(b) for b in yaml_blocks(DOC)]
    (found,) = [b for b in blocks if isinstance(b, dict) and top_key in b]
    return found


def test_the_workflow_uses_the_action_with_inputs_it_has() -> None:
    workflow = _block("jobs")
    steps = workflow["jobs"]["runbookd"]["steps"]  # type: ignore[index]
    assert steps[0]["uses"].startswith("actions/checkout@")
    uses = steps[1]["uses"]
    path = uses.split("/", 2)[2].partition("@")[0]
    assert (REPO / path / "action.yml").exists(), uses
    assert set(steps[1]["with"]) <= set(ACTION["inputs"])


def test_the_inputs_table_matches_the_action() -> None:
    for name, spec in ACTION["inputs"].items():
        default = str(spec.get("default", "")) or "empty"
        assert f"| `{name}` | {default if default == 'empty' else f'`{default}`'} |" in DOC, name


def test_the_pre_commit_config_names_the_hooks() -> None:
    config = _block("repos")
    (repo,) = config["repos"]  # type: ignore[misc]
    assert {h["id"] for h in repo["hooks"]} == HOOKS


def test_the_sample_output_is_what_check_prints(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(runbook_repository(tmp_path, broken=True))
    main(["check", "--format", "github", "runbooks/"])
    printed = capsys.readouterr().out.splitlines()
    sample = DOC.split("$ runbookd check --format github runbooks/\n", 1)[1].split("```", 1)[0]
    for line in sample.strip().splitlines():
        prefix = line.removesuffix("...")
        assert any(p.startswith(prefix) for p in printed), (line, printed)
