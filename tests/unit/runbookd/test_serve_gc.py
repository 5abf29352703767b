"""``runbookd serve`` runs with the collector set up for a service (runbookd/service/gcpolicy.py).

Without it the default young threshold promoted the objects of requests in flight and full
collections walked every object built at start: about 0.1 ms of CPU per webhook request.
"""

from __future__ import annotations

import argparse
import gc
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from runbookd.cli.serve import cmd_serve
from runbookd.service.gcpolicy import FULL_AFTER, YOUNG_AFTER


@pytest.fixture
def restore_gc() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


@pytest.mark.usefixtures("restore_gc")
def test_serve_freezes_the_built_app_and_sets_the_thresholds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, object] = {}

    def run(self: uvicorn.Server) -> None:  # stands in for serving: look at the collector
        seen["threshold"] = gc.get_threshold()
        seen["frozen"] = gc.get_freeze_count()

    monkeypatch.chdir(tmp_path)  # no config.yaml: the environment is the configuration
    monkeypatch.setenv("RUNBOOKD_DATABASE_URL", f"sqlite:///{tmp_path / 'journal.db'}")
    monkeypatch.setenv("RUNBOOKD_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr(uvicorn.Server, "run", run)
    gc.unfreeze()

    cmd_serve(argparse.Namespace(config=None, host="127.0.0.1", port=0))

    assert seen["threshold"] == (YOUNG_AFTER, gc.get_threshold()[1], FULL_AFTER)
    assert isinstance(seen["frozen"], int)
    assert seen["frozen"] > 10_000  # the modules and the app built before serving
