"""Secrets of the ``connectors:`` section are taken out of free text (notes, reasons, comments)
like the shared credential: a person who pastes a Slack bot token or an SMTP password into a
note must not leave it on the timeline or in the audit log (docs/audit.md, "No secrets")."""

from __future__ import annotations

from pathlib import Path

from runbookd.config.settings import load_settings
from runbookd.connectors.registry import load_settings as load_connector_settings
from runbookd.connectors.registry import load_specs
from runbookd.server.access import build_access
from runbookd.server.app import create_app

BOT_TOKEN = "xoxb-1111-2222-connector-secret"
SMTP_PASSWORD = "smtp-pass-4e1b9"


def _config(tmp_path: Path) -> Path:
    config = tmp_path / "config.yaml"
    config.write_text(
        f"data_dir: {tmp_path / 'data'}\n"
        "connectors:\n"
        "  slack: {bot_token: '${env:SLACK_BOT}'}\n"
        f"  email: {{host: 127.0.0.1, username: ops, password: '{SMTP_PASSWORD}', from_address: a@b.example}}\n"
    )
    return config


def test_connector_secrets_are_redacted_with_the_others(tmp_path: Path) -> None:
    settings = load_settings(_config(tmp_path), {"SLACK_BOT": BOT_TOKEN})
    env = {"SLACK_BOT": BOT_TOKEN}
    connectors = load_connector_settings(load_specs(), settings.connectors, environ=env)
    redactor = build_access(settings, connectors)[0].redactor
    text = f"tried {BOT_TOKEN} then {SMTP_PASSWORD}; channel #ops stays"
    assert redactor.clean(text) == "tried [redacted] then [redacted]; channel #ops stays"


def test_the_service_builds_its_redactor_with_them(tmp_path: Path) -> None:
    settings = load_settings(_config(tmp_path), {"SLACK_BOT": BOT_TOKEN})
    app = create_app(settings)
    assert app.state.access.redactor.clean(f"x {SMTP_PASSWORD} y") == "x [redacted] y"
