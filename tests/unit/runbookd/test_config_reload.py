"""Reloading config.yaml and the runbooks through ``POST /-/reload`` on the real app (uvicorn on
loopback): a good file swaps, a bad one keeps the running version and turns the metric to 0,
changes only a restart applies are named, and the endpoint wants the API's credentials."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from runbookd import __version__
from runbookd.config.settings import load_settings
from runbookd.server.app import create_app
from runbookd.server.reload import restart_only_changes
from tests.e2e.harness import REPO
from tests.promql import parse_exposition
from tests.unit.postmortem.rig import database_url
from tests.unit.runbookd.live_app import live

PAYMENT = (REPO / "runbooks" / "03-payment" / "payment-channel-abnormal.yaml").read_text()
TOKEN = "reload-test-token-51c"


@dataclass
class Setup:
    config: Path
    library: Path
    url: str

    def write(self, extra: str = "") -> None:
        self.config.write_text(
            f"database_url: {self.url}\n"
            + "data_dir: data\n"
            + f"runbooks: [{self.library}]\n"
            + "engine: {dry_run: true}\n"
            + f"auth: {{bearer_token: {TOKEN}}}\n"
            + extra
        )


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    library = tmp_path / "library"
    library.mkdir()
    (library / "payment.yaml").write_text(PAYMENT)
    with database_url(tmp_path) as url:
        s = Setup(tmp_path / "config.yaml", library, url)
        s.write()
        yield s


def _environ() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("RUNBOOKD_")}


@pytest.fixture
def api(setup: Setup) -> Iterator[httpx.Client]:
    settings = load_settings(setup.config, _environ())
    app = create_app(settings, lambda: load_settings(setup.config, _environ()), config=setup.config)
    with (
        live(app) as base,
        httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30
        ) as http,
    ):
        yield http


def _metrics(http: httpx.Client) -> dict[str, float]:
    return {
        line.rpartition(" ")[0]: float(line.rpartition(" ")[2])
        for line in http.get("/metrics").text.splitlines()
        if line and not line.startswith("#")
    }


def _runbooks(http: httpx.Client) -> list[tuple[str, int]]:
    return [(r["id"], r["version"]) for r in http.get("/api/v1/runbooks").json()["runbooks"]]


def test_a_start_counts_as_a_good_load_and_the_build_is_exported(api: httpx.Client) -> None:
    scraped = parse_exposition(api.get("/metrics").text)
    values = _metrics(api)
    assert values["runbookd_config_last_reload_successful"] == 1
    assert values["runbookd_config_last_reload_success_timestamp_seconds"] > 1.7e9
    [build] = [k for k in values if k.startswith("runbookd_build_info{")]
    assert f'version="{__version__}"' in build and 'durable_rules="2.0.28"' in build
    # The client library's process and platform series, as every Prometheus exporter has them.
    for name in (
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "process_open_fds",
        "process_max_fds",
        "process_start_time_seconds",
        "python_info",
    ):
        assert name in scraped.names


def test_a_broken_file_keeps_the_running_version(
    api: httpx.Client, setup: Setup, caplog: pytest.LogCaptureFixture
) -> None:
    before = _metrics(api)["runbookd_config_last_reload_success_timestamp_seconds"]
    setup.config.write_text(setup.config.read_text() + "engine: [\n")
    with caplog.at_level(logging.ERROR, logger="runbookd.server.reload"):
        refused = api.post("/-/reload")
    assert refused.status_code == 422
    [error] = refused.json()["errors"]
    assert error.startswith(f"{setup.config}:"), error
    line, col = error.removeprefix(f"{setup.config}:").split(":")[:2]
    assert line.isdigit() and col.isdigit(), error
    assert any(error in r.getMessage() for r in caplog.records)
    values = _metrics(api)
    assert values["runbookd_config_last_reload_successful"] == 0
    assert values["runbookd_config_last_reload_success_timestamp_seconds"] == before
    assert _runbooks(api) == [("payment-channel-abnormal", 1)]

    # A broken runbook is refused the same way, with its own PATH:LINE:COL.
    setup.write()
    (setup.library / "payment.yaml").write_text(PAYMENT.replace("ack_within: 5m", "ack_withn: 5m"))
    refused = api.post("/-/reload")
    assert refused.status_code == 422
    [error] = refused.json()["errors"]
    assert error.startswith(f"{setup.library / 'payment.yaml'}:") and "ack_withn" in error
    assert _runbooks(api) == [("payment-channel-abnormal", 1)]

    (setup.library / "payment.yaml").write_text(PAYMENT.replace("version: 1", "version: 2", 1))
    done = api.post("/-/reload")
    assert done.status_code == 200, done.text
    assert done.json() == {"status": "reloaded", "runbooks": 1, "restart_required": []}
    assert _runbooks(api) == [("payment-channel-abnormal", 2)]
    values = _metrics(api)
    assert values["runbookd_config_last_reload_successful"] == 1
    assert values["runbookd_config_last_reload_success_timestamp_seconds"] >= before


def test_the_runbooks_route_is_the_same_reload(api: httpx.Client, setup: Setup) -> None:
    setup.config.write_text(setup.config.read_text() + "server:\n  port: many\n")
    refused = api.post("/api/v1/runbooks/reload")
    assert refused.status_code == 422
    # The loader names the key; the reload adds the line and column of that key in the file.
    [error] = refused.json()["errors"]
    assert error.startswith(f"{setup.config}:7:3: server.port: Input should be a valid integer"), (
        error
    )
    assert _metrics(api)["runbookd_config_last_reload_successful"] == 0


def test_connector_problems_point_at_their_line(api: httpx.Client, setup: Setup) -> None:
    setup.write("connectors:\n  http:\n    max_body_bytes: -1\n")
    [error] = api.post("/-/reload").json()["errors"]
    assert error.startswith(f"{setup.config}:8:5: connectors.http.max_body_bytes: "), error


def test_new_runbook_paths_apply_and_restart_only_keys_are_named(
    api: httpx.Client, setup: Setup, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    other = tmp_path / "other"
    other.mkdir()
    source = (REPO / "runbooks" / "03-payment" / "payment-amount-mismatch.yaml").read_text()
    (other / "failed.yaml").write_text(source)
    setup.library = other
    setup.write("server: {port: 9999, max_body_bytes: 2048}\nexecutor: {workers: 3}\n")
    with caplog.at_level(logging.WARNING, logger="runbookd.server.reload"):
        done = api.post("/-/reload")
    assert done.status_code == 200, done.text
    expected = ["server.port", "server.max_body_bytes", "executor.workers"]
    assert done.json()["restart_required"] == expected
    assert any("server.port, server.max_body_bytes" in r.getMessage() for r in caplog.records)
    assert [rid for rid, _ in _runbooks(api)] == ["payment-amount-mismatch"]
    assert _metrics(api)["runbookd_config_last_reload_successful"] == 1


def test_reload_needs_the_api_credentials(api: httpx.Client) -> None:
    anonymous = httpx.post(api.base_url.join("/-/reload"), timeout=30)
    assert anonymous.status_code == 401
    assert _metrics(api)["runbookd_config_last_reload_successful"] == 1


def test_a_rotated_secret_is_a_change_but_never_shown(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("auth: {bearer_token: old-secret-1}\n")
    before = load_settings(config, {})
    config.write_text("auth: {bearer_token: new-secret-2}\n")
    after = load_settings(config, {})
    assert list(restart_only_changes(before, after)) == ["auth.bearer_token"]
    assert list(restart_only_changes(before, before)) == []


def test_a_rotated_secret_file_is_read_again(tmp_path: Path) -> None:
    library = tmp_path / "library"
    library.mkdir()
    (library / "payment.yaml").write_text(PAYMENT)
    (tmp_path / "hook-token").write_text("first\n")
    (tmp_path / "api-token").write_text(TOKEN + "\n")
    config = tmp_path / "config.yaml"
    with database_url(tmp_path) as url:
        config.write_text(
            f"database_url: {url}\nrunbooks: [{library}]\nengine: {{dry_run: true}}\n"
            + "auth: {bearer_token_file: api-token}\n"
            + "connectors: {http: {headers: {X-Token: '${file:hook-token}'}}}\n"
        )
        settings = load_settings(config, _environ())
        app = create_app(settings, lambda: load_settings(config, _environ()))
        with (
            live(app) as base,
            httpx.Client(base_url=base, headers={"Authorization": f"Bearer {TOKEN}"}) as http,
        ):
            (tmp_path / "hook-token").write_text("second\n")
            done = http.post("/-/reload")
            assert done.status_code == 200 and done.json()["restart_required"] == []
            service = app.state.service
            header = service.connector_settings["http"].headers["X-Token"]
            assert header.get_secret_value() == "second"
            # The API's own token is wired into the routes: a new one waits for a restart.
            (tmp_path / "api-token").write_text("rotated\n")
            done = http.post("/-/reload")
            assert done.json()["restart_required"] == ["auth.bearer_token"]
            assert http.get("/api/v1/runbooks").status_code == 200
