"""The lock files do what docs/operations.md says: pip refuses a file whose hash is not the
lock's, and each lock is what its own recorded pip-compile command makes from pyproject.toml today
(so nobody edited a range and forgot `make lock`). Both ask the package index, as `make` does."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.unit.docs.test_lock import LOCK, REPO, read_lock

BIN = Path(sys.executable).parent
RUNTIME_LOCK = REPO / "requirements" / "runtime.txt"


def _entry(lock: Path, name: str) -> str:
    """One distribution's lines of a lock: its pin and its hashes."""
    found = re.search(rf"^{name}==\S+ \\\n(?:    --hash=\S+(?: \\)?\n)+", lock.read_text(), re.M)
    assert found, f"{name} is not in {lock}"
    return found[0]


def _dry_install(requirements: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "pip"), "install", "--dry-run", "--ignore-installed", "--no-deps"]
        + ["--require-hashes", "-r", str(requirements)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_pip_installs_a_locked_file_and_refuses_one_whose_hash_is_not_the_locks(
    tmp_path: Path,
) -> None:
    good = tmp_path / "good.txt"
    good.write_text(_entry(LOCK, "sniffio"))
    done = _dry_install(good)
    assert done.returncode == 0, done.stderr
    assert "Would install sniffio-" in done.stdout
    bad = tmp_path / "bad.txt"
    bad.write_text(re.sub(r"sha256:[0-9a-f]{64}", "sha256:" + "0" * 64, good.read_text()))
    refused = _dry_install(bad)
    assert refused.returncode != 0
    assert "DO NOT MATCH THE HASHES" in refused.stderr and "sniffio" in refused.stderr


def _recorded_command(lock: Path) -> list[str]:
    """The pip-compile command a lock's header says made it (`make lock` writes it there)."""
    header = re.search(r"^#    (pip-compile .*)$", lock.read_text(), re.M)
    assert header, f"{lock} has no pip-compile header"
    return header[1].split()


def test_each_lock_is_what_its_pip_compile_command_makes_from_pyproject_today(
    tmp_path: Path,
) -> None:
    """Run in a copy: pyproject.toml, what its dynamic version reads, and the locks as they are.
    pip-compile keeps a pin that still fits, so a lock that is current comes out with the same
    pins; a range edited without `make lock` changes them. Pins only: an index may add a file
    (a wheel for a new Python) to a release it already has, which changes the hashes, not the
    versions installed."""
    for name in ("pyproject.toml", "README.md", "runbookd/__init__.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / name, tmp_path / name)
    (tmp_path / "requirements").mkdir()
    for lock in (LOCK, RUNTIME_LOCK):
        shutil.copy(lock, tmp_path / "requirements" / lock.name)
    for lock in (LOCK, RUNTIME_LOCK):  # lock.txt first: runtime.txt is constrained by it
        command = _recorded_command(lock)
        done = subprocess.run(
            [str(BIN / command[0]), "--quiet", *command[1:]],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        remade = read_lock((tmp_path / "requirements" / lock.name).read_text())
        assert {n: v for n, (v, _) in remade.items()} == {
            n: v for n, (v, _) in read_lock(lock.read_text()).items()
        }, f"{lock.name} is stale: run `make lock`"
