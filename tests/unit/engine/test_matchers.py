"""Alertmanager-syntax label matchers, as people type them into Alertmanager and amtool."""

from __future__ import annotations

import pytest

from runbookd.engine.matchers import MatcherError, matches_all, parse_matchers

LABELS = {"alertname": "HostOutOfMemory", "severity": "critical", "job": "node"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{severity=~"crit.*",job!="x"}', True),
        ('{severity=~"crit"}', False),  # anchored at both ends, as Alertmanager anchors them
        ("severity=critical, job=node", True),  # braces and quotes are optional
        ('{job!~"no.*"}', False),
        ('{service=""}', True),  # a label the alert does not carry is the empty string
        ('{service!=""}', False),
        ('{alertname="Host\\"OutOfMemory"}', False),
        ("{}", True),
    ],
)
def test_matchers_select_as_alertmanager_does(text: str, expected: bool) -> None:
    assert matches_all(parse_matchers(text), LABELS) is expected


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ('{severity=~"(crit"}', "invalid regex"),
        ('{severity="crit}', "unterminated"),
        ('{severity="crit"', "closing"),
        ('{severity~"crit"}', "column 1"),
        ('{a="1" b="2"}', "expected ','"),
    ],
)
def test_bad_matchers_say_what_is_wrong(text: str, says: str) -> None:
    with pytest.raises(MatcherError, match=says):
        parse_matchers(text)
