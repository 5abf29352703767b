"""External tools some tests run (promtool, systemd-analyze): skipped when missing, except in CI.

A test that skips in CI proves nothing and looks green, so with ``CI=true`` (GitHub Actions and
.ci/run set it) a missing tool fails the test instead, naming the package that brings it.
"""

from __future__ import annotations

import os
import shutil

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def need(binary: str, package: str) -> str:
    """The path of ``binary``; skip (or, under CI=true, fail) the calling test without it."""
    path = shutil.which(binary)
    if path is not None:
        return path
    reason = f"{binary} is not installed (apt-get install -y {package})"
    if in_ci():
        pytest.fail(f"{reason}; CI=true requires it")
    pytest.skip(reason)
