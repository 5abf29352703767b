"""FakeConnectors: the test double runbook authors and the simulator rely on."""

from __future__ import annotations

import asyncio

import pytest

from runbookd.connectors.base import ConnectorSpec, Params, PermanentError, RetryableError
from runbookd.connectors.fake import FakeConnectors, Response

SLACK = {"channel": "#ops", "text": "hello"}
QUERY = {"query": "up"}


@pytest.fixture
def fake() -> FakeConnectors:
    return FakeConnectors()


def test_unscripted_calls_succeed_with_plausible_results(fake: FakeConnectors) -> None:
    assert fake.call("http", {"url": "http://x"})["status_code"] == 200
    assert fake.call("prometheus", QUERY) == {"value": 0.0, "series": []}
    assert fake.call("sql", {"query": "select 1"}) == {"rows": [], "value": None, "rowcount": 0}
    assert fake.call("shell", {"command": ["true"]}) == {"exit_code": 0, "stdout": "", "stderr": ""}
    assert fake.call("log", {"message": "drill started"}) == {}


def test_every_call_is_recorded(fake: FakeConnectors) -> None:
    fake.call("slack", SLACK, step="tell_users", idempotency_key="k1")
    [call] = fake.calls
    assert (call.connector, call.step, call.idempotency_key) == ("slack", "tell_users", "k1")
    assert call.params == SLACK
    assert (call.outcome, call.error, call.dry_run) == ("ok", None, False)
    assert call.result["ok"] is True


def test_repeated_calls_are_all_recorded_so_tests_can_catch_double_actions(
    fake: FakeConnectors,
) -> None:
    fake.call("slack", SLACK, idempotency_key="same")
    fake.call("slack", SLACK, idempotency_key="same")
    assert len(fake.calls_to("slack")) == 2


def test_responses_are_consumed_in_order_and_the_last_repeats(fake: FakeConnectors) -> None:
    fake.script("prometheus", Response({"value": 1}), Response({"value": 2}))
    values = [fake.call("prometheus", QUERY)["value"] for _ in range(4)]
    assert values == [1, 2, 2, 2]


def test_a_scripted_result_keeps_the_other_default_fields(fake: FakeConnectors) -> None:
    fake.script("prometheus", Response({"value": 42}))
    assert fake.call("prometheus", QUERY) == {"value": 42, "series": []}


def test_a_step_script_wins_over_the_connector_script(fake: FakeConnectors) -> None:
    fake.script("prometheus", Response({"value": 1}))
    fake.script("prometheus", Response({"value": 99}), step="failed_payments")
    assert fake.call("prometheus", QUERY, step="failed_payments")["value"] == 99
    assert fake.call("prometheus", QUERY, step="other")["value"] == 1
    assert fake.call("prometheus", QUERY)["value"] == 1


def test_times_limits_a_script_then_calls_fall_through(fake: FakeConnectors) -> None:
    fake.script("prometheus", Response({"value": 1}))
    fake.script("prometheus", Response({"value": 7}), step="probe", times=2)
    values = [fake.call("prometheus", QUERY, step="probe")["value"] for _ in range(3)]
    assert values == [7, 7, 1]
    with pytest.raises(ValueError, match="times"):
        fake.script("prometheus", times=0)


def test_retryable_failure_raises_after_recording(fake: FakeConnectors) -> None:
    fake.script("http", Response(fail="retryable", message="503 from upstream"), Response())
    with pytest.raises(RetryableError, match="503 from upstream"):
        fake.call("http", {"url": "http://x"}, step="switch")
    assert fake.call("http", {"url": "http://x"}, step="switch")["status_code"] == 200
    first, second = fake.calls_to("http", step="switch")
    assert (first.outcome, first.error) == ("retryable", "503 from upstream")
    assert second.outcome == "ok"


def test_permanent_failure_raises_permanent_error(fake: FakeConnectors) -> None:
    fake.script("pagerduty", Response(fail="permanent"))
    params = {"routing_key": "k", "summary": "down"}
    with pytest.raises(PermanentError, match="pagerduty"):
        fake.call("pagerduty", params)
    assert fake.calls[0].outcome == "permanent"


def test_bad_parameters_are_a_permanent_error_naming_the_field(fake: FakeConnectors) -> None:
    with pytest.raises(PermanentError, match="parameter 'chanel': unknown parameter; allowed:"):
        fake.call("slack", {**SLACK, "chanel": "#ops"})
    with pytest.raises(PermanentError, match="slack: parameter 'text': Field required"):
        fake.call("slack", {"channel": "#ops"})
    with pytest.raises(PermanentError, match="'summary' is required"):
        fake.call("pagerduty", {"routing_key": "k"})
    assert [c.outcome for c in fake.calls] == ["permanent"] * 3


def test_unknown_connector_lists_the_known_ones(fake: FakeConnectors) -> None:
    with pytest.raises(PermanentError, match=r"unknown connector 'slak'; known: .*slack"):
        fake.call("slak", SLACK)
    with pytest.raises(PermanentError, match="unknown connector"):
        fake.script("slak", Response())


def test_dry_run_does_not_act_or_consume_scripts(fake: FakeConnectors) -> None:
    fake.script("http", Response({"status_code": 201}))
    assert fake.call("http", {"url": "http://x"}, dry_run=True) == {"dry_run": True}
    assert fake.calls[0].dry_run is True
    assert fake.call("http", {"url": "http://x"})["status_code"] == 201


def test_dry_run_still_reads(fake: FakeConnectors) -> None:
    fake.script("prometheus", Response({"value": 5}))
    assert fake.call("prometheus", QUERY, dry_run=True)["value"] == 5


def test_dry_run_skips_sql_writes(fake: FakeConnectors) -> None:
    write = {"query": "update orders set state = 'held'", "read_only": False}
    assert fake.call("sql", write, dry_run=True) == {"dry_run": True}
    assert fake.call("sql", {"query": "select 1"}, dry_run=True)["rowcount"] == 0


def test_results_are_copies(fake: FakeConnectors) -> None:
    fake.call("prometheus", QUERY)["series"].append("mutated")
    assert fake.call("prometheus", QUERY)["series"] == []
    assert fake.calls[0].result["series"] == []


def test_run_is_the_async_form_of_call(fake: FakeConnectors) -> None:
    result = asyncio.run(fake.run("slack", SLACK, step="s", idempotency_key="k"))
    assert result["ok"] is True
    assert fake.calls_to(step="s")[0].idempotency_key == "k"


def test_plugin_specs_default_to_their_result_fields() -> None:
    class TicketParams(Params):
        title: str

    spec = ConnectorSpec("ticket", TicketParams, "Open a ticket.", ("ticket_id", "url"))
    fake = FakeConnectors({"ticket": spec})
    assert fake.call("ticket", {"title": "x"}) == {"ticket_id": None, "url": None}
    with pytest.raises(PermanentError, match=r"known: ticket$"):
        fake.call("slack", SLACK)
