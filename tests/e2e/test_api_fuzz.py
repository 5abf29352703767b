"""The HTTP API fuzzed from its own OpenAPI document (schemathesis) against a real server.

Every operation gets generated requests, valid and invalid; none may answer 5xx or answer in a way
its published schema does not allow. An incident exists first, so the per-incident operations see a
real one as well as unknown ids.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import positive_data_acceptance

from tests.e2e.harness import Server, channel_pair, poll

HOOK = "/api/v1/alerts/alertmanager"
# "Schema-valid data must be accepted" cannot hold for the payload parsers: they refuse what JSON
# Schema cannot express (U+0000, times without an offset, a resolved alert without endsAt), with
# a 400 naming the field. Everything else is checked: no 5xx, status codes, content types and
# bodies as documented, and invalid data refused.
SCHEMA_CANNOT_SAY = [positive_data_acceptance]


def test_no_operation_answers_5xx_or_off_spec(make_server: Callable[..., Server]) -> None:
    server = make_server()
    assert server.post(HOOK, channel_pair("alipay")).status_code == 202
    poll(lambda: server.incidents(), what="an incident to fuzz against")
    schema = schemathesis.openapi.from_url(server.url + "/openapi.json")

    failures: dict[str, str] = {}
    tried = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        tried += 1

        @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def fuzz(case: Any) -> None:
            case.call_and_validate(excluded_checks=SCHEMA_CANNOT_SAY)

        try:
            fuzz()
        except BaseException as exc:  # collect every operation's failure, then report them all
            failures[operation.label] = f"{type(exc).__name__}: {exc}"[:2000]
    assert tried >= 10, "the OpenAPI document lists too few operations"
    assert not failures, "\n\n".join(f"{label}\n{text}" for label, text in failures.items())
