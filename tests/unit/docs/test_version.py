"""The version is written once, in runbookd/__init__.py: the installed package's metadata (what
pip and `runbookd_build_info` report), `runbookd --version` and the API's OpenAPI document all
say that one."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

from runbookd import __version__
from runbookd.config.settings import load_settings
from runbookd.server.app import create_app

REPO = Path(__file__).resolve().parents[3]


def test_pyproject_takes_the_version_from_the_package() -> None:
    text = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    assert 'dynamic = ["version"]' in text
    assert 'version = { attr = "runbookd.__version__" }' in text
    assert metadata.version("runbookd") == __version__


def test_the_api_document_carries_the_version(tmp_path: Path) -> None:
    settings = load_settings(None, {"RUNBOOKD_DATA_DIR": str(tmp_path)})
    assert create_app(settings).openapi()["info"]["version"] == __version__
