"""``fallback_runbook``: the named fallback runbook is loaded, others are not, a bad name fails."""

from __future__ import annotations

from pathlib import Path

import pytest

from runbookd.cli.main import main
from runbookd.toolchain.library import load_library, select_fallback

REPO = Path(__file__).resolve().parents[3]


def ids(name: str | None) -> set[str]:
    library = load_library([REPO / "runbooks"], load_rules=False)
    select_fallback(library, name)
    assert library.ok, library.diagnostics
    return {item.runbook.id for item in library.loaded}


def test_only_the_named_fallback_runbook_is_loaded() -> None:
    assert "unhandled-alert" in ids("unhandled-alert")
    off = ids(None)
    assert "unhandled-alert" not in off and "system-crash" in off


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("unhandled-alerts", "no runbook 'unhandled-alerts' is loaded"),
        ("system-crash", "'system-crash' is not a fallback runbook"),
    ],
)
def test_a_bad_fallback_name_fails_check_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, says: str
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(f"runbooks: [{REPO / 'runbooks'}]\nfallback_runbook: {name}\n")
    assert main(["check-config", str(config)]) == 1
    err = capsys.readouterr().err
    assert "fallback_runbook" in err and says in err


def test_null_turns_it_off(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(f"runbooks: [{REPO / 'runbooks'}]\nfallback_runbook: null\n")
    assert main(["check-config", str(config)]) == 0


def test_fallback_notify_replaces_the_fallback_level(tmp_path: Path) -> None:
    library = load_library([REPO / "runbooks"], load_rules=False)
    notify = {"connector": "slack", "who": "#ops", "params": {"channel": "#ops", "text": "hi"}}
    select_fallback(library, "unhandled-alert", notify=notify)
    assert library.ok, library.diagnostics
    [fallback] = [i.runbook for i in library.loaded if i.runbook.id == "unhandled-alert"]
    assert fallback.escalation is not None
    [level] = fallback.escalation.levels
    assert (level.connector, level.who, level.params) == ("slack", "#ops", notify["params"])


@pytest.mark.parametrize(
    ("notify", "says"),
    [
        (
            "{connector: slak, params: {text: hi}}",
            "unknown connector 'slak' (did you mean 'slack'?)",
        ),
        ("{connector: slack, params: {channel: '#x'}}", "missing required parameter 'text'"),
        ("{connector: log, params: {message: '{{ alert.nam }}'}}", "alert.nam, which does not"),
    ],
)
def test_a_bad_fallback_notify_fails_check_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], notify: str, says: str
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        f"runbooks: [{REPO / 'runbooks'}]\nfallback_runbook: unhandled-alert\n"
        f"fallback_notify: {notify}\n"
    )
    assert main(["check-config", str(config)]) == 1
    err = capsys.readouterr().err
    assert f"{config}:1:1: fallback_notify: " in err and says in err


def test_env_references_in_fallback_notify_params_wait_for_the_call(tmp_path: Path) -> None:
    # Resolved at load, a webhook URL would be journaled with the library in clear.
    from runbookd.config.settings import load_settings

    config = tmp_path / "config.yaml"
    config.write_text(
        "fallback_notify:\n  connector: slack\n  params:\n"
        "    webhook: ${env:HOOK_URL}\n    text: hi\n"
    )
    settings = load_settings(config, {"HOOK_URL": "https://hooks.example/secret"})
    assert settings.fallback_notify is not None
    assert settings.fallback_notify.params["webhook"] == "${env:HOOK_URL}"


def test_fallback_notify_gives_a_silent_fallback_a_level(tmp_path: Path) -> None:
    text = (REPO / "runbooks/00-fallback/unhandled-alert.yaml").read_text()
    silent = text[: text.index("escalation:")] + text[text.index("resolution:") :]
    (tmp_path / "silent.yaml").write_text(silent)
    library = load_library([tmp_path], load_rules=False)
    assert library.ok, library.diagnostics
    notify = {"connector": "log", "params": {"message": "{{ alert.name }} has no runbook"}}
    select_fallback(library, "unhandled-alert", notify=notify)
    assert library.ok, library.diagnostics
    escalation = library.loaded[0].runbook.escalation
    assert escalation is not None
    [level] = escalation.levels
    assert (level.connector, level.params) == ("log", notify["params"])
