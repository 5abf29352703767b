"""Every class of runbook error is reported at its PATH:LINE:COL, all of them at once."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runbookd.toolchain.library import load_library

GOOD = Path(__file__).parents[3] / "runbooks" / "03-payment" / "payment-channel-abnormal.yaml"


def check(tmp_path: Path, text: str, name: str = "rb.yaml") -> list[str]:
    path = tmp_path / name
    path.write_text(text)
    return [str(d) for d in load_library([path]).diagnostics]


def mutate(old: str, new: str) -> str:
    text = GOOD.read_text()
    assert old in text, old
    return text.replace(old, new, 1)


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_bundled_runbook_is_valid(tmp_path: Path) -> None:
    assert check(tmp_path, GOOD.read_text()) == []


@pytest.mark.parametrize(
    ("old", "new", "needle", "message"),
    [
        (
            "  nature: external",
            "  nature: externl",
            "nature: externl",
            "nature: Input should be 'infrastructure', 'business', 'security' or 'external'",
        ),
        (
            "      ack_within: 5m",
            "      ack_withn: 5m",
            "ack_withn",
            "unknown field 'ack_withn' (did you mean 'ack_within'?)",
        ),
        (
            "      connector: pagerduty",
            "      connector: pagerduty2",
            "pagerduty2",
            "unknown connector 'pagerduty2' (did you mean 'pagerduty'?)",
        ),
        (
            '        channel: "#payments-leads"',
            '        chanel: "#payments-leads"',
            "chanel:",
            "unknown parameter 'chanel' for connector 'slack' (did you mean 'channel'?)",
        ),
        (
            '        dedup_key: "{{ incident.id }}"',
            '        dedup_key: "{{ incident.id "',
            "dedup_key",
            "template syntax error",
        ),
        (
            '        dedup_key: "{{ incident.id }}"',
            '        dedup_key: "{{ incident.severty }}"',
            "dedup_key",
            "incident.severty, which does not exist (did you mean 'severity'?)",
        ),
        (
            '        dedup_key: "{{ incident.id }}"',
            '        dedup_key: "{{ incdent.id }}"',
            "dedup_key",
            "template uses 'incdent', which does not exist here (did you mean 'incident'?)",
        ),
        (
            "        - {field: name, eq: PaymentFailureRateHigh}",
            "        - {field: nme, eq: PaymentFailureRateHigh}",
            "field: nme",
            "unknown field 'nme' (did you mean 'name'?)",
        ),
        (
            "        - {field: name, eq: PaymentFailureRateHigh}",
            "        - {field: name, matches: 'Payment(['}",
            "Payment([",
            "bad regular expression",
        ),
        (
            "      within: 5m",
            "      within: 5 minutes",
            "within: 5 minutes",
            "within: '5 minutes' is not a duration",
        ),
        (
            "      within: 5m",
            "      within: 1.5h",
            "within: 1.5h",
            "within: '1.5h' is not a duration",
        ),
        (
            'section: "3.3"',
            "section: 3.3",
            "section: 3.3",
            'section: Input should be a valid string, got 3.3 (YAML read it as a number; quote it: "3.3")',
        ),
        (
            "approval: {min_severity: critical, timeout: 10m, on_timeout: escalate}",
            "approval: {min_severity: critical, timeout: 10m, on_timeout: escalate, role: owner}",
            "role: owner",
            "role: Input should be 'approver' or 'admin'",
        ),
        (
            "    - id: tell_users",
            "    - id: channel_status",
            "- id: channel_status\n",
            "duplicate step id 'channel_status'",
        ),
    ],
)
def test_error_points_at_the_node(
    tmp_path: Path, old: str, new: str, needle: str, message: str
) -> None:
    text = mutate(old, new)
    errors = check(tmp_path, text)
    line = (
        line_of(text, needle.strip().splitlines()[0])
        if needle != "- id: channel_status\n"
        else [i for i, ln in enumerate(text.splitlines(), 1) if "- id: channel_status" in ln][-1]
    )
    assert any(f"rb.yaml:{line}:" in e and message in e for e in errors), errors


def test_many_errors_in_many_files_all_reported(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(mutate("      ack_within: 5m", "      ack_withn: 5m"))
    (tmp_path / "b.yaml").write_text(
        mutate("id: payment-channel-abnormal", "id: other")
        .replace("within: 5m", "within: 5 mins")
        .replace("nature: external", "nature: space")
    )
    (tmp_path / "d.yaml").write_text(
        mutate("id: payment-channel-abnormal", "id: third").replace(
            "connector: slack", "connector: slak"
        )
    )
    (tmp_path / "c.yaml").write_text("id: [unclosed\n")
    errors = [str(d) for d in load_library([tmp_path]).diagnostics]
    files = {e.split(":", 1)[0].rsplit("/", 1)[-1] for e in errors}
    assert files == {"a.yaml", "b.yaml", "c.yaml", "d.yaml"}
    # nature, and both "within: 5m" durations (the correlate window and an ack_within)
    assert sum("b.yaml" in e for e in errors) == 3
    assert sum(
        "d.yaml" in e and "unknown connector 'slak'" in e for e in errors
    ) == GOOD.read_text().count("connector: slack")
    assert any("c.yaml:2:1: YAML syntax error" in e for e in errors), errors


def test_unreachable_level_and_dangling_step_reference(tmp_path: Path) -> None:
    text = (
        mutate("      ack_within: 10m\n", "")
        .replace("on_failure: {then: escalate}", "on_failure: {then: abort}")
        .replace(
            "approval: {min_severity: critical, timeout: 10m, on_timeout: escalate}",
            "approval: {min_severity: critical, timeout: 10m, on_timeout: abort}",
        )
        .replace('text: "Payments via', 'text: "{{ steps.nope.result }} Payments via')
    )
    errors = check(tmp_path, text)
    assert any("escalation level 'manager' can never be reached" in e for e in errors), errors
    assert any("refers to no step 'nope'" in e for e in errors), errors


def test_duplicate_runbook_ids_across_files(tmp_path: Path) -> None:
    (tmp_path / "one.yaml").write_text(GOOD.read_text())
    (tmp_path / "two.yaml").write_text(GOOD.read_text())
    errors = [str(d) for d in load_library([tmp_path]).diagnostics]
    assert any(
        "two.yaml" in e and "duplicate runbook id 'payment-channel-abnormal'" in e for e in errors
    )


@settings(max_examples=60, deadline=None)
@given(cut=st.integers(min_value=0, max_value=4000), junk=st.text(max_size=20))
def test_random_damage_never_crashes(
    tmp_path_factory: pytest.TempPathFactory, cut: int, junk: str
) -> None:
    text = GOOD.read_text()
    damaged = text[:cut] + junk + text[cut + len(junk) :]
    tmp = tmp_path_factory.mktemp("fuzz")
    for line in check(tmp, damaged):
        file, line_no, col, message = line.split(":", 3)
        assert file.endswith("rb.yaml") and int(line_no) >= 1 and int(col) >= 1 and message.strip()
