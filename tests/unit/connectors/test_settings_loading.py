"""load_settings: config.yaml's ``connectors:`` section, validated per connector."""

from __future__ import annotations

from typing import Any

import pytest

from runbookd.connectors.base import ConnectorError
from runbookd.connectors.email import EmailSettings
from runbookd.connectors.registry import BUILTINS, SettingsError, load_settings, load_specs
from runbookd.connectors.shell import ShellSettings
from runbookd.connectors.slack import SlackSettings

SPECS = load_specs(include_plugins=False)


def problems(raw: Any, environ: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(SettingsError) as info:
        load_settings(SPECS, raw, environ=environ or {})
    assert isinstance(info.value, ConnectorError)
    return info.value.problems


def test_valid_sections_become_settings_models() -> None:
    loaded = load_settings(
        SPECS,
        {
            "slack": {"bot_token": "${env:SLACK_BOT_TOKEN}"},
            "email": {"host": "smtp.example.org", "from_address": "runbookd@example.org"},
            "shell": {"allow": ["/usr/bin/systemctl"]},
        },
        environ={"SLACK_BOT_TOKEN": "xoxb-1"},
    )

    assert isinstance(loaded["slack"], SlackSettings)
    assert loaded["slack"].bot_token is not None
    assert loaded["slack"].bot_token.get_secret_value() == "xoxb-1"
    assert loaded["slack"].api_url == "https://slack.com/api"
    assert isinstance(loaded["email"], EmailSettings)
    assert (loaded["email"].port, loaded["email"].starttls) == (587, True)
    assert isinstance(loaded["shell"], ShellSettings)


def test_no_section_and_empty_sections() -> None:
    assert load_settings(SPECS, None) == {}
    assert load_settings(SPECS, {}) == {}
    assert isinstance(load_settings(SPECS, {"slack": None})["slack"], SlackSettings)


def test_an_unknown_connector_lists_the_known_ones() -> None:
    assert problems({"slak": {}}) == [
        "connectors.slak: unknown connector (did you mean 'slack'?); known: "
        "alertmanager_silence, email, http, log, pagerduty, prometheus, shell, slack, sql"
    ]


def test_errors_carry_the_key_path() -> None:
    assert problems({"slack": {"bot_token": 5}, "email": {"host": "h"}}) == [
        "connectors.slack.bot_token: Input should be a valid string",
        "connectors.email.from_address: Field required",
    ]


def test_an_unknown_key_suggests_and_lists_the_keys() -> None:
    assert problems({"slack": {"bot_tokn": "x"}}) == [
        "connectors.slack.bot_tokn: unknown key (did you mean 'bot_token'?); keys: "
        "bot_token, api_url"
    ]


def test_a_missing_environment_variable_is_named_and_other_problems_still_shown() -> None:
    assert problems({"slack": {"bot_token": "${env:SLACK_BOT_TOKEN}", "extra": 1}}) == [
        "connectors.slack.extra: unknown key; keys: bot_token, api_url",
        "connectors.slack.bot_token: environment variable 'SLACK_BOT_TOKEN' is not set",
    ]


def test_references_inside_longer_values_and_lists_are_resolved() -> None:
    loaded = load_settings(
        SPECS,
        {"shell": {"allow": ["${env:TOOLS}/restart"]}},
        environ={"TOOLS": "/opt/tools"},
    )

    shell = loaded["shell"]
    assert isinstance(shell, ShellSettings)
    assert shell.allow == ["/opt/tools/restart"]


def test_a_connector_without_settings_takes_none() -> None:
    assert problems({"log": {"level": "debug"}}) == [
        "connectors.log: connector 'log' takes no settings"
    ]


def test_the_section_must_be_a_mapping() -> None:
    assert problems(["slack"]) == ["connectors: must map connector names to their settings"]


def test_every_problem_is_reported_at_once() -> None:
    found = problems(
        {
            "prometheus": {"url": "prometheus:9090"},
            "alertmanager_silence": {"url": "http://am:9093", "header": {}},
            "sql": {"databases": {"main": "not a url"}},
            "shell": {"allow": ["systemctl"]},
        }
    )

    assert [p.split(":", 1)[0] for p in found] == [
        "connectors.prometheus.url",
        "connectors.alertmanager_silence.header",
        "connectors.sql.databases.main",
        "connectors.shell.allow",
    ]


def test_urls_with_credentials_are_refused() -> None:
    assert problems({"prometheus": {"url": "https://u:pw@prom.example.org"}}) == [
        "connectors.prometheus.url: put credentials in headers (Authorization), not in the URL"
    ]


@pytest.mark.parametrize("spec", BUILTINS, ids=lambda s: s.name)
def test_every_setting_is_described(spec: Any) -> None:
    if spec.settings is None:
        assert spec.name == "log"
        return
    for name, info in spec.settings.model_fields.items():
        assert info.description, f"{spec.name}.{name} has no description"
