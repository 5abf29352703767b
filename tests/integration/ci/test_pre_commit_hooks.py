"""The pre-commit hooks (.pre-commit-hooks.yaml) run `runbookd check` and `runbookd test` on a
repository of runbooks as pre-commit would: the hook's entry and args, in the repository's root,
with no file names (each hook checks the whole library).

pre-commit itself is not a dependency of the suite; each hook is run here the way pre-commit
runs a `language: python` hook, whose environment has runbookd installed: the entry's program
from that environment, then its arguments.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.ci_fixtures import UNKNOWN_CONNECTOR, WRONG_SEVERITY, runbook_repository
from tests.deploy_files import REPO

HOOKS = {h["id"]: h for h in yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())}


def _run(hook: dict[str, Any], root: Path) -> subprocess.CompletedProcess[str]:
    program, *args = shlex.split(hook["entry"])
    assert program == "runbookd"
    executable = Path(sys.executable).parent / program
    files = [] if hook.get("pass_filenames", True) is False else ["<files>"]
    return subprocess.run(
        [str(executable), *args, *hook.get("args", []), *files],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_each_hook_has_what_pre_commit_requires() -> None:
    assert set(HOOKS) == {"runbookd-check", "runbookd-test"}
    for hook in HOOKS.values():
        assert {"id", "name", "entry", "language"} <= set(hook)
        assert hook["language"] == "python"  # pre-commit pip-installs this repository
        assert re.compile(hook["files"]).search("runbooks/02-orders/x.yaml")
        assert not re.compile(hook["files"]).search("README.md")
        assert hook["pass_filenames"] is False


@pytest.mark.parametrize(
    ("hook", "problem"),
    [("runbookd-check", UNKNOWN_CONNECTOR), ("runbookd-test", WRONG_SEVERITY)],
)
def test_the_hook_fails_on_a_problem_and_names_its_line(
    hook: str, problem: Any, tmp_path: Path
) -> None:
    root = runbook_repository(tmp_path, broken=True)
    done = _run(HOOKS[hook], root)
    assert done.returncode == 1
    output = done.stdout + done.stderr
    if hook == "runbookd-check":
        assert f"{problem.file}:{problem.line}:{problem.col}: {problem.text}" in output
    else:
        assert f"FAIL {problem.file}" in output and f"FAIL {problem.text}" in output


@pytest.mark.parametrize("hook", sorted(HOOKS))
def test_the_hook_passes_on_a_clean_repository(hook: str, tmp_path: Path) -> None:
    done = _run(HOOKS[hook], runbook_repository(tmp_path, broken=False))
    assert done.returncode == 0, done.stdout + done.stderr
