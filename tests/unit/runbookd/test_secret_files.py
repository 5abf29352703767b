"""Secrets from files (``${file:PATH}`` and ``KEY_file``), read from real files: the value without
its trailing newline, paths relative to the config file, and problems that name the key and the
file but never what a file holds."""

from __future__ import annotations

from pathlib import Path

import pytest

from runbookd.config.settings import SettingsError, load_settings
from runbookd.connectors.registry import load_settings as load_connector_settings
from runbookd.connectors.registry import load_specs

SECRET = "s3cr3t-from-a-mount-7d1e"


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "etc" / "config.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
    return path


def _problems(path: Path) -> list[str]:
    with pytest.raises(SettingsError) as caught:
        load_settings(path, {})
    assert SECRET not in str(caught.value)
    return list(caught.value.problems)


def test_a_file_reference_is_the_file_without_its_trailing_newline(tmp_path: Path) -> None:
    config = _config(tmp_path, "auth: {bearer_token: '${file:secrets/token}'}\n")
    (config.parent / "secrets").mkdir()
    # As `echo` and `kubectl create secret --from-file` leave it; relative to the config's folder.
    (config.parent / "secrets" / "token").write_text(SECRET + "\n")
    token = load_settings(config, {}).auth.bearer_token
    assert token is not None and token.get_secret_value() == SECRET


def test_part_of_a_value_can_come_from_a_file(tmp_path: Path) -> None:
    password = tmp_path / "pgpass"
    password.write_text(SECRET + "\r\n")
    config = _config(
        tmp_path, f"database_url: 'postgresql+psycopg://rb:${{file:{password}}}@db/rb'\n"
    )
    assert load_settings(config, {}).database_url == f"postgresql+psycopg://rb:{SECRET}@db/rb"


def test_a_file_key_stands_for_its_key(tmp_path: Path) -> None:
    (tmp_path / "password").write_text(SECRET + "\n")
    config = _config(
        tmp_path,
        f"auth: {{basic_username: am, basic_password_file: {tmp_path / 'password'}}}\n",
    )
    password = load_settings(config, {}).auth.basic_password
    assert password is not None and password.get_secret_value() == SECRET


def test_missing_unreadable_and_doubled_files_are_named_with_their_key(tmp_path: Path) -> None:
    (tmp_path / "token").write_text(SECRET)
    (tmp_path / "latin1").write_bytes(b"caf\xe9 " + SECRET.encode())
    config = _config(
        tmp_path,
        "auth:\n"
        f"  bearer_token_file: {tmp_path / 'nope'}\n"
        f"  basic_username: '${{file:{tmp_path}}}'\n"
        f"  basic_password: '${{file:{tmp_path / 'latin1'}}}'\n"
        "alertmanager:\n"
        # A real file that refuses to be read as a whole (EIO), even for root.
        "  api_url: '${file:/proc/self/mem}'\n",
    )
    problems = _problems(config)
    assert problems == [
        f"{config}: auth.basic_username: secret file '{tmp_path}' is a directory",
        f"{config}: auth.basic_password: secret file '{tmp_path / 'latin1'}' is not UTF-8 text",
        f"{config}: alertmanager.api_url: secret file '/proc/self/mem' cannot be read "
        "(Input/output error)",
        f"{config}: auth.bearer_token_file: secret file '{tmp_path / 'nope'}' does not exist",
    ], problems
    config.write_text(f"auth: {{bearer_token: x, bearer_token_file: {tmp_path / 'token'}}}\n")
    assert _problems(config) == [
        f"{config}: auth.bearer_token_file: give bearer_token or bearer_token_file, not both"
    ]


def test_a_bad_value_from_a_file_is_refused_without_showing_it(tmp_path: Path) -> None:
    (tmp_path / "port").write_text(SECRET + "\n")
    config = _config(tmp_path, f"server: {{port: '${{file:{tmp_path / 'port'}}}'}}\n")
    [problem] = _problems(config)
    assert problem.startswith(f"{config}: server.port: ") and "<redacted>" in problem


def test_connector_secrets_come_from_files_too(tmp_path: Path) -> None:
    (tmp_path / "slack").write_text(SECRET + "\n")
    config = _config(
        tmp_path,
        f"connectors:\n  slack: {{bot_token: '${{file:{tmp_path / 'slack'}}}'}}\n",
    )
    settings = load_settings(config, {})
    loaded = load_connector_settings(load_specs(), settings.connectors)
    assert loaded["slack"].bot_token.get_secret_value() == SECRET  # type: ignore[attr-defined]
    assert SECRET not in repr(settings) and SECRET not in repr(loaded)
    (tmp_path / "slack").unlink()
    assert _problems(config) == [
        f"{config}: connectors.slack.bot_token: secret file '{tmp_path / 'slack'}' does not exist"
    ]


def test_the_documented_example_reads_its_files(tmp_path: Path) -> None:
    from tests.unit.docs.test_language_doc import yaml_blocks

    doc = (Path(__file__).parents[3] / "docs" / "configuration.md").read_text()
    section = doc[doc.index("## Secrets from files") : doc.index("## Environment overrides")]
    [example] = yaml_blocks(section)
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    for name in ("runbookd-token", "pgpassword", "slack-bot-token"):
        (secrets / name).write_text(f"{name}-{SECRET}\n")
    config = _config(tmp_path, example.replace("/run/secrets/", f"{secrets}/"))
    settings = load_settings(config, {})
    assert settings.auth.bearer_token is not None
    assert settings.auth.bearer_token.get_secret_value() == f"runbookd-token-{SECRET}"
    assert settings.database_url == f"postgresql+psycopg://runbookd:pgpassword-{SECRET}@db/runbookd"
    slack = load_connector_settings(load_specs(), settings.connectors)["slack"]
    assert slack.bot_token.get_secret_value() == f"slack-bot-token-{SECRET}"  # type: ignore[attr-defined]
    (secrets / "runbookd-token").unlink()
    [documented] = [line for line in section.splitlines() if line.startswith("config.yaml: ")]
    assert _problems(config) == [
        documented.replace("config.yaml", str(config), 1).replace("/run/secrets/", f"{secrets}/")
    ]
