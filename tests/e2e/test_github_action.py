"""The composite action (.github/actions/runbookd/action.yml), run step by step as GitHub's runner
runs it, on a repository of runbooks: it installs runbookd from the action's own checkout and
annotates every problem on its line, or passes quietly.

No runner here, so the test does the runner's part: each ``run`` step with ``bash --noprofile
--norc -eo pipefail``, its ``env`` with the action's inputs and path, ``$GITHUB_PATH`` added to
the next steps' PATH, ``$RUNNER_TEMP``. The one ``uses`` step (actions/setup-python) is this
machine's Python. Workflow commands are read back from stdout as the runner reads them.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.ci_fixtures import UNKNOWN_CONNECTOR, WRONG_SEVERITY, runbook_repository
from tests.deploy_files import REPO
from tests.unit.runbookd.test_github_format import read_commands

ACTION_DIR = REPO / ".github" / "actions" / "runbookd"
ACTION = yaml.safe_load((ACTION_DIR / "action.yml").read_text())
_EXPRESSION = re.compile(r"\$\{\{\s*([^}]*?)\s*\}\}")


def _evaluate(text: str, inputs: dict[str, str]) -> str:
    def one(found: re.Match[str]) -> str:
        expr = found.group(1)
        if expr == "github.action_path":
            return str(ACTION_DIR)
        if expr.startswith("inputs.") and expr.removeprefix("inputs.") in inputs:
            return inputs[expr.removeprefix("inputs.")]
        raise AssertionError(f"an expression this test cannot evaluate: {expr}")

    return _EXPRESSION.sub(one, text)


class Runner:
    """What GitHub's runner does for a composite action's steps, on one machine."""

    def __init__(self, temp: Path, workspace: Path) -> None:
        self.temp, self.workspace = temp, workspace
        self.github_path = temp / "github_path"
        self.github_path.touch()
        # setup-python's part: a python 3.11 first on PATH (the interpreter running this test).
        self.path = f"{Path(sys.executable).parent}:{os.environ['PATH']}"

    def run(self, step: dict[str, Any], inputs: dict[str, str]) -> subprocess.CompletedProcess[str]:
        assert step["shell"] == "bash"
        assert "${{" not in step["run"], "inputs must reach the script through env only"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RUNBOOKD_", "GITHUB_"))}
        env |= {k: _evaluate(str(v), inputs) for k, v in step.get("env", {}).items()}
        added = [p for p in self.github_path.read_text().splitlines() if p]
        env |= {
            "PATH": ":".join([*reversed(added), self.path]),
            "RUNNER_TEMP": str(self.temp),
            "GITHUB_PATH": str(self.github_path),
            "GITHUB_WORKSPACE": str(self.workspace),
            "GITHUB_ACTIONS": "true",
            "CI": "true",
        }
        script = self.temp / "step.sh"
        script.write_text(step["run"])
        return subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            cwd=self.workspace,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )


def _inputs(**given: str) -> dict[str, str]:
    declared = ACTION["inputs"]
    assert set(given) <= set(declared)
    return {name: given.get(name, str(spec.get("default", ""))) for name, spec in declared.items()}


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The action's install step, once (about a minute); its RUNNER_TEMP is reused after."""
    temp = tmp_path_factory.mktemp("runner")
    steps = ACTION["runs"]["steps"]
    assert ACTION["runs"]["using"] == "composite"
    setup = steps[0]
    assert setup["uses"].startswith("actions/setup-python@")
    assert setup["with"]["python-version"] == "${{ inputs.python-version }}"
    assert _inputs()["python-version"] == f"{sys.version_info[0]}.{sys.version_info[1]}"
    done = Runner(temp, temp).run(steps[1], _inputs())
    assert done.returncode == 0, done.stdout + done.stderr
    assert (temp / "runbookd" / "bin" / "runbookd").exists()
    return temp


def _check_and_test(
    installed: Path, workspace: Path, **given: str
) -> subprocess.CompletedProcess[str]:
    runner = Runner(installed, workspace)
    return runner.run(ACTION["runs"]["steps"][2], _inputs(**given))


def test_it_annotates_every_problem_on_its_line(installed: Path, tmp_path: Path) -> None:
    workspace = runbook_repository(tmp_path / "repo", broken=True)
    junit = tmp_path / "junit.xml"
    done = _check_and_test(installed, workspace, junit=str(junit))
    assert done.returncode == 1, done.stdout + done.stderr
    errors = [c for c in read_commands(done.stdout) if c["level"] == "error"]
    located = {(c["file"], c["line"], c["col"]): c["message"] for c in errors}
    for problem in (UNKNOWN_CONNECTOR, WRONG_SEVERITY):
        message = located.get((problem.file, str(problem.line), str(problem.col)))
        assert message is not None and message.startswith(problem.text), (problem, errors)
    assert len(errors) == 2
    # Both tools ran although the first failed, each in a log group of its own.
    groups = [c["message"] for c in read_commands(done.stdout) if c["level"] == "group"]
    assert groups == ["runbookd check runbooks", "runbookd test tests/scenarios"]
    assert "<testcase" in junit.read_text()


def test_a_clean_repository_passes_without_annotations(installed: Path, tmp_path: Path) -> None:
    workspace = runbook_repository(tmp_path / "repo", broken=False)
    done = _check_and_test(installed, workspace)
    assert done.returncode == 0, done.stdout + done.stderr
    assert [c for c in read_commands(done.stdout) if c["level"] == "error"] == []


def test_no_scenarios_input_runs_check_alone(installed: Path, tmp_path: Path) -> None:
    workspace = runbook_repository(tmp_path / "repo", broken=True)
    done = _check_and_test(installed, workspace, scenarios="")
    assert done.returncode == 1
    errors = [c for c in read_commands(done.stdout) if c["level"] == "error"]
    assert [c["file"] for c in errors] == [UNKNOWN_CONNECTOR.file]


def test_a_path_input_is_never_run_as_shell_code(installed: Path, tmp_path: Path) -> None:
    workspace = runbook_repository(tmp_path / "repo", broken=False)
    marker = tmp_path / "pwned"
    done = _check_and_test(installed, workspace, runbooks=f"runbooks;touch {marker}")
    assert not marker.exists()
    assert done.returncode == 1  # "runbooks;touch" is a path that does not exist
