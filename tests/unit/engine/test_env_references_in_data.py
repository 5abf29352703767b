"""Alert text that looks like a ``${env:NAME}`` reference stays text; the runbook's own resolve.

Found by tests/e2e/test_secrets.py: the executor resolved references in rendered parameters
wherever they came from, so an annotation reading ``${env:DB_PASSWORD}`` was sent to Slack with
the service's password filled in.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from runbookd.engine.executor import Secrets
from runbookd.engine.templating import render_text, render_value

ENV = {"DB_PASSWORD": "hunter2-secret", "SLACK_WEBHOOK": "https://hooks.example/T/B/xyz"}


def call_params(template: object, data: str) -> object:
    """What a connector gets: the template rendered with alert data, references resolved."""
    secrets = Secrets(ENV)
    resolved = secrets.resolve(render_value(template, {"alert": {"summary": data}}))
    return resolved, secrets.used


def test_a_reference_in_alert_text_is_sent_as_text_and_reads_nothing() -> None:
    sent, used = call_params({"text": "{{ alert.summary }}"}, "leak ${env:DB_PASSWORD} now")
    assert sent == {"text": "leak ${env:DB_PASSWORD} now"}
    assert used == set()  # nothing was looked up, so nothing could leak


def test_the_runbooks_own_reference_still_resolves_next_to_alert_text() -> None:
    template = {"url": "${env:SLACK_WEBHOOK}", "text": "{{ alert.summary }} ${env:DB_PASSWORD}"}
    sent, used = call_params(template, "${env:SLACK_WEBHOOK}")
    assert sent == {
        "url": "https://hooks.example/T/B/xyz",
        "text": "${env:SLACK_WEBHOOK} hunter2-secret",
    }
    assert used == {"https://hooks.example/T/B/xyz", "hunter2-secret"}


def test_alert_text_cannot_complete_a_reference_the_template_starts() -> None:
    # the data brings the opening, the template the rest: still not a reference
    sent, used = call_params("{{ alert.summary }}DB_PASSWORD}", "${env:")
    assert (sent, used) == ("${env:DB_PASSWORD}", set())


def test_non_text_values_are_escaped_too() -> None:
    secrets = Secrets(ENV)
    rendered = render_text("{{ labels }}", {"labels": {"a": "${env:DB_PASSWORD}"}})
    assert secrets.resolve(rendered) == "{'a': '${env:DB_PASSWORD}'}"
    assert secrets.used == set()


PIECES = st.sampled_from(["$", "{", "}", "env:", "DB_PASSWORD", "$$", " ", "x", "${env:"])


@given(st.lists(PIECES, max_size=12).map("".join) | st.text())
def test_any_alert_text_arrives_unchanged(data: str) -> None:
    sent, used = call_params("{{ alert.summary }}", data)
    assert sent == data
    assert used == set()
