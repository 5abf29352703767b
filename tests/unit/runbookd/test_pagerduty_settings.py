"""``chatops.pagerduty.webhook_secrets`` from config.yaml: inline, from a file (one secret a line,
while rotating), through ``${file:...}`` and the environment -- and never in an error or repr."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from runbookd.config.settings import SettingsError, load_settings
from runbookd.server.access import build_access
from runbookd.server.app import create_app
from tests.unit.postmortem.rig import database_url
from tests.unit.runbookd.live_app import live
from tests.unit.runbookd.pagerduty_app import RUNBOOK, signed, webhook_body

OLD, NEW = "pd-old-secret-6a0f13", "pd-new-secret-93be2c"
PATH = "/api/v1/chatops/pagerduty"


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def test_inline_secrets_are_the_signature_checks_keys(tmp_path: Path) -> None:
    config = _config(tmp_path, f"chatops: {{pagerduty: {{webhook_secrets: [{OLD}, {NEW}]}}}}\n")
    settings = load_settings(config, {})
    assert settings.chatops.pagerduty.secrets() == [OLD.encode(), NEW.encode()]
    assert OLD not in repr(settings) and NEW not in repr(settings)


def test_a_secrets_file_holds_one_secret_a_line(tmp_path: Path) -> None:
    (tmp_path / "pd-secrets").write_text(f"{OLD}\n{NEW}\n")
    config = _config(tmp_path, "chatops: {pagerduty: {webhook_secrets_file: pd-secrets}}\n")
    assert load_settings(config, {}).chatops.pagerduty.secrets() == [OLD.encode(), NEW.encode()]


def test_file_and_environment_references_work_per_secret(tmp_path: Path) -> None:
    (tmp_path / "new").write_text(NEW + "\n")
    config = _config(
        tmp_path,
        "chatops: {pagerduty: {webhook_secrets: ['${env:PD_OLD}', '${file:new}']}}\n",
    )
    settings = load_settings(config, {"PD_OLD": OLD})
    assert settings.chatops.pagerduty.secrets() == [OLD.encode(), NEW.encode()]
    # the secrets are kept out of notes and reasons like every configured secret
    redactor = build_access(settings)[0].redactor
    assert redactor.clean(f"note {OLD} and {NEW}") == "note [redacted] and [redacted]"


def test_by_default_there_is_none_and_an_empty_one_is_refused_unshown(tmp_path: Path) -> None:
    assert load_settings(_config(tmp_path, "{}\n"), {}).chatops.pagerduty.secrets() == []
    config = _config(tmp_path, f"chatops: {{pagerduty: {{webhook_secrets: [{OLD}, ' ']}}}}\n")
    with pytest.raises(SettingsError) as caught:
        load_settings(config, {})
    assert "chatops.pagerduty.webhook_secrets" in str(caught.value)
    assert OLD not in str(caught.value)


def test_runbookd_serve_takes_the_secret_from_the_configuration(tmp_path: Path) -> None:
    (tmp_path / "pd-secret").write_text(NEW + "\n")
    with database_url(tmp_path) as url:
        config = _config(
            tmp_path,
            f"database_url: '{url}'\n"
            f"data_dir: '{tmp_path / 'data'}'\nrunbooks: ['{RUNBOOK}']\n"
            "chatops: {pagerduty: {webhook_secrets_file: pd-secret}}\n",
        )
        body = webhook_body("incident.triggered", "INC-1")
        with live(create_app(load_settings(config, {}))) as base:
            good = httpx.post(base + PATH, content=body, headers=signed(body, NEW.encode()))
            bad = httpx.post(base + PATH, content=body, headers=signed(body, OLD.encode()))
    assert (good.status_code, good.json()["status"], bad.status_code) == (200, "ignored", 401)
