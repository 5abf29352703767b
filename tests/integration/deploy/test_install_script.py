"""deploy/install.sh refuses what it cannot install, saying why, before it creates anything.

(That it installs a runbookd that serves is tests/e2e/test_install_recipe.py.)
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.deploy_files import DEPLOY, REPO

SCRIPT = DEPLOY / "install.sh"


def _install(*args: str, python: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **({"PYTHON": python} if python else {})}
    return subprocess.run(
        ["sh", str(SCRIPT), *args], capture_output=True, text=True, timeout=60, env=env, check=False
    )


def test_without_a_prefix_it_prints_its_usage() -> None:
    done = _install()
    assert done.returncode == 2
    assert "usage:" in done.stderr and "PREFIX [SRC]" in done.stderr


def test_a_source_that_is_not_runbookd_is_refused(tmp_path: Path) -> None:
    done = _install(str(tmp_path / "prefix"), str(tmp_path))
    assert done.returncode == 2
    assert f"{tmp_path}/pyproject.toml not found" in done.stderr
    assert not (tmp_path / "prefix").exists()


def test_a_source_without_the_runtime_lock_is_refused(tmp_path: Path) -> None:
    """The recipe installs only locked versions: without the lock it stops, it does not resolve."""
    (tmp_path / "pyproject.toml").write_text((REPO / "pyproject.toml").read_text())
    done = _install(str(tmp_path / "prefix"), str(tmp_path))
    assert done.returncode == 2
    assert f"{tmp_path}/requirements/runtime.txt not found" in done.stderr
    assert not (tmp_path / "prefix").exists()


def test_a_python_durable_rules_cannot_run_on_is_refused(tmp_path: Path) -> None:
    fake = tmp_path / "python3.13"
    fake.write_text('#!/bin/sh\n[ "$1" = -V ] && { echo "Python 3.13.1"; exit 0; }\nexit 1\n')
    fake.chmod(0o755)
    done = _install(str(tmp_path / "prefix"), str(REPO), python=str(fake))
    assert done.returncode == 2
    assert "needs Python 3.11 or 3.12" in done.stderr and "Python 3.13.1" in done.stderr
    assert not (tmp_path / "prefix").exists()
