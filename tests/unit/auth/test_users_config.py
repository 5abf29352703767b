"""``users:`` and ``users_file:`` in config.yaml, their errors with positions (never the hash),
and ``runbookd users hash-token``."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from runbookd.auth.roles import Role
from runbookd.auth.tokens import hash_token, parse_hash
from runbookd.cli.main import main
from runbookd.config.positions import with_positions
from runbookd.config.settings import SettingsError, load_settings
from runbookd.server.access import build_access

HASH = hash_token("tok-ana", log2_n=4, r=1)


def _problems(path: Path) -> list[str]:
    with pytest.raises(SettingsError) as caught:
        load_settings(path, {})
    return list(caught.value.problems)


def test_users_inline_and_from_a_file(tmp_path: Path) -> None:
    (tmp_path / "people.yaml").write_text(
        f"users:\n  - name: bob\n    role: viewer\n    token_hash: '{HASH}'\n"
    )
    config = tmp_path / "config.yaml"
    config.write_text(
        "users:\n"
        "  - name: ana\n"
        "    role: approver\n"
        "    teams: [payments]\n"
        "    slack: U0ANA\n"
        "    token_hash: ${file:ana.hash}\n"
        "users_file: people.yaml\n"
    )
    (tmp_path / "ana.hash").write_text(HASH + "\n")
    settings = load_settings(config, {})
    access, problems = build_access(settings)
    assert problems == []
    ana = access.users.by_token("tok-ana")
    assert ana is not None and (ana.name, ana.role, ana.teams) == (
        "ana",
        Role.APPROVER,
        ("payments",),
    )
    bob = access.users.by_name("bob")
    assert bob is not None and bob.role is Role.VIEWER
    assert access.users.by_slack_id("U0ANA") is ana


def test_bad_role_is_reported_with_its_position(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("users:\n  - name: ana\n    role: root\n")
    (problem,) = with_positions(config, _problems(config))
    assert problem.startswith(f"{config}:3:5: users[0].role: Input should be 'viewer'")


def test_bad_hash_in_a_users_file_is_reported_without_the_hash(tmp_path: Path) -> None:
    users = tmp_path / "users.yaml"
    users.write_text("users:\n  - name: ana\n    role: admin\n    token_hash: plain-secret-77\n")
    config = tmp_path / "config.yaml"
    config.write_text("users_file: users.yaml\n")
    (problem,) = _problems(config)
    assert problem.startswith(f"{users}:4:") and "hash-token" in problem
    assert "plain-secret-77" not in problem


def test_a_name_twice_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("users:\n  - {name: ana, role: admin}\n  - {name: ana, role: viewer}\n")
    (problem,) = _problems(config)
    assert "'ana' is defined twice" in problem and problem.startswith(str(config))


def test_hash_token_reads_stdin(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("tok-zed\n"))
    assert main(["users", "hash-token"]) == 0
    out = capsys.readouterr().out.strip()
    assert "tok-zed" not in out and parse_hash(out).matches("tok-zed")


def test_hash_token_refuses_empty_stdin(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert main(["users", "hash-token"]) == 2
    assert "no token on stdin" in capsys.readouterr().err
