"""Built-in connector parameter contracts, as runbook authors meet them."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from runbookd.connectors.alertmanager_silence import SilenceParams
from runbookd.connectors.base import ConnectorSpec, Params
from runbookd.connectors.email import EmailParams
from runbookd.connectors.http import HttpParams
from runbookd.connectors.pagerduty import PagerDutyParams
from runbookd.connectors.registry import BUILTINS
from runbookd.connectors.sql import SqlParams

SPECS = {spec.name: spec for spec in BUILTINS}


def validate(name: str, **params: Any) -> Params:
    return SPECS[name].params.model_validate(params)


def error_text(name: str, **params: Any) -> str:
    with pytest.raises(ValidationError) as info:
        validate(name, **params)
    return str(info.value)


@pytest.mark.parametrize("spec", BUILTINS, ids=lambda s: s.name)
def test_every_parameter_is_described(spec: ConnectorSpec) -> None:
    assert spec.description
    for name, info in spec.params.model_fields.items():
        assert info.description, f"{spec.name}.{name} has no description"


@pytest.mark.parametrize(
    ("name", "required"),
    [
        ("http", ["url"]),
        ("slack", ["text"]),
        ("pagerduty", ["routing_key"]),
        ("email", ["to", "subject", "body"]),
        ("alertmanager_silence", []),
        ("prometheus", ["query"]),
        ("sql", ["query"]),
        ("shell", ["command"]),
        ("log", ["message"]),
    ],
)
def test_required_parameters(name: str, required: list[str]) -> None:
    assert SPECS[name].required_params() == required


def test_unknown_parameter_is_rejected_by_name() -> None:
    text = error_text("slack", channel="#ops", text="hi", chanel="#ops")
    assert "chanel" in text
    assert "Extra inputs are not permitted" in text


def test_missing_required_parameter_is_named() -> None:
    assert "text" in error_text("slack", channel="#ops")


def test_reserved_words_are_spelled_as_in_yaml() -> None:
    assert "class" in SPECS["pagerduty"].param_names()
    assert "json" in SPECS["http"].param_names()
    page = PagerDutyParams.model_validate({"routing_key": "k", "summary": "s", "class": "cpu load"})
    assert page.class_ == "cpu load"


def test_only_queries_are_read_only() -> None:
    assert {s.name for s in BUILTINS if s.read_only} == {"prometheus", "sql"}


def test_templates_are_accepted_where_text_is_expected() -> None:
    validate("pagerduty", routing_key="${env:PD_KEY}", summary="{{ incident.title }}")
    validate("prometheus", query="up{job='{{ incident.labels.job }}'}", at="{{ window.end }}")
    validate(
        "alertmanager_silence",
        matchers=[{"name": "channel", "value": "{{ incident.labels.channel }}"}],
        duration="{{ params.hold }}",
    )


def test_pagerduty_trigger_needs_a_summary() -> None:
    assert "'summary' is required" in error_text("pagerduty", routing_key="k")


def test_pagerduty_resolve_needs_the_dedup_key_not_a_summary() -> None:
    assert "'dedup_key' is required" in error_text("pagerduty", routing_key="k", action="resolve")
    validate("pagerduty", routing_key="k", action="resolve", dedup_key="INC-1")


def test_pagerduty_severity_is_one_of_the_api_values() -> None:
    assert "severity" in error_text("pagerduty", routing_key="k", summary="s", severity="high")


def test_slack_needs_exactly_one_destination() -> None:
    assert "exactly one" in error_text("slack", text="hi")
    assert "exactly one" in error_text("slack", text="hi", channel="#ops", webhook="${env:W}")
    validate("slack", text="hi", webhook="${env:SLACK_WEBHOOK_URL}")


def test_shell_rejects_a_shell_string_and_shows_the_split() -> None:
    text = error_text("shell", command="systemctl restart nginx")
    assert "not a shell string" in text
    assert "['systemctl', 'restart', 'nginx']" in text


def test_shell_rejects_one_argument_holding_a_whole_command() -> None:
    text = error_text("shell", command=["systemctl restart nginx"])
    assert "split it into ['systemctl', 'restart', 'nginx']" in text


def test_shell_accepts_an_argument_list() -> None:
    validate("shell", command=["systemctl", "restart", "nginx"])
    validate("shell", command=["uptime"])
    assert "command" in error_text("shell", command=[])


def test_email_takes_one_address_as_a_string() -> None:
    mail = EmailParams.model_validate({"to": "oncall@example.com", "subject": "s", "body": "b"})
    assert mail.to == ["oncall@example.com"]
    assert "to" in error_text("email", to=[], subject="s", body="b")


def test_silence_create_needs_matchers_and_expire_needs_an_id() -> None:
    assert "'matchers'" in error_text("alertmanager_silence")
    assert "'silence_id'" in error_text("alertmanager_silence", action="expire")
    validate("alertmanager_silence", action="expire", silence_id="abc")


def test_silence_matchers_are_strict() -> None:
    text = error_text("alertmanager_silence", matchers=[{"name": "a", "value": "b", "regex": True}])
    assert "regex" in text
    silence = SilenceParams.model_validate({"matchers": [{"name": "a", "value": "b"}]})
    assert (silence.matchers[0].is_regex, silence.matchers[0].is_equal) == (False, True)
    assert silence.duration == "1h"


def test_http_method_is_case_insensitive_and_body_is_one_kind() -> None:
    assert HttpParams.model_validate({"url": "http://x", "method": "get"}).method == "GET"
    assert "not both" in error_text("http", url="http://x", json={"a": 1}, body="a=1")
    assert "method" in error_text("http", url="http://x", method="FETCH")


def test_sql_is_read_only_unless_told() -> None:
    sql = SqlParams.model_validate({"query": "select 1"})
    assert (sql.read_only, sql.database) == (True, "default")
