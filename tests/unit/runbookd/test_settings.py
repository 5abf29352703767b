"""``load_settings``: defaults, the bundled config.yaml, environment overrides, ``${env:}``
references, and error messages that name every problem and never a secret."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

import pytest

from runbookd.config.settings import Settings, SettingsError, load_settings, redact_url

ROOT = Path(__file__).parents[3]
SECRETS = ("tok-3f9a", "pw-77c1", "dbpw-0b2e", "hook-51d4")


def _write(tmp_path: Path, text: str, name: str = "config.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _problems(path: Path | None, environ: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(SettingsError) as caught:
        load_settings(path, environ or {})
    assert str(caught.value) == "\n".join(caught.value.problems)
    return list(caught.value.problems)


def test_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(None, {})
    assert settings.data_dir == tmp_path.resolve() / "data"
    assert settings.runbooks == [tmp_path.resolve() / "runbooks"]
    assert settings.database_url is None
    assert settings.database_url_resolved() == f"sqlite:///{tmp_path.resolve()}/data/runbookd.db"
    assert (settings.server.host, settings.server.port) == ("127.0.0.1", 8080)
    assert settings.server.max_body_bytes == 1_048_576
    assert not settings.auth.enabled
    assert settings.alertmanager.timeout == timedelta(seconds=5)
    assert settings.ingest.commit_interval == timedelta(0)
    assert settings.executor.default_timeout == timedelta(seconds=30)
    assert (settings.engine.dry_run, settings.engine.batch_max, settings.executor.workers) == (
        False,
        500,
        16,
    )
    assert (settings.polling, settings.connectors) == ([], {})
    assert (settings.log.level, settings.log.format) == ("info", "text")
    assert not (tmp_path / "data").exists(), "the loader creates nothing"


def test_bundled_config_yaml_is_the_defaults() -> None:
    settings = load_settings(ROOT / "config.yaml", {})
    assert settings.runbooks == [ROOT.resolve() / "runbooks"]
    assert settings.data_dir == ROOT.resolve() / "data"
    assert settings.schedules == [ROOT.resolve() / "schedules"]
    # The one key the file sets apart from its default: the safety net is on out of the box.
    assert settings.fallback_runbook == "unhandled-alert" and Settings().fallback_runbook is None
    paths = {"data_dir", "runbooks", "schedules", "fallback_runbook"}
    assert settings.model_dump(exclude=paths) == Settings().model_dump(exclude=paths)


def test_relative_paths_in_the_file_are_relative_to_its_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conf = tmp_path / "etc"
    conf.mkdir()
    path = _write(conf, "data_dir: state\nrunbooks: [library, ../shared/x.yaml, /abs/rb]\n")
    monkeypatch.chdir(ROOT)
    settings = load_settings(path, {})
    assert settings.data_dir == conf.resolve() / "state"
    assert settings.runbooks == [
        conf.resolve() / "library",
        tmp_path.resolve() / "shared" / "x.yaml",
        Path("/abs/rb"),
    ]
    # From the environment they are relative to the working directory.
    settings = load_settings(path, {"RUNBOOKD_RUNBOOKS": "[mine]"})
    assert settings.runbooks == [ROOT.resolve() / "mine"]
    assert settings.data_dir == conf.resolve() / "state"


def test_environment_overrides_nested_keys_and_wins(tmp_path: Path) -> None:
    path = _write(tmp_path, "server: {host: 10.0.0.1, port: 8000}\nengine: {dry_run: false}\n")
    settings = load_settings(
        path,
        {
            "RUNBOOKD_SERVER__PORT": "9000",
            "runbookd_engine__DRY_RUN": "true",
            "RUNBOOKD_DATA_DIR": "/var/lib/runbookd",
            "RUNBOOKD_DATABASE_URL": "postgresql+psycopg://rb@db/rb",
            "RUNBOOKD_RUNBOOKS": "[/srv/a, /srv/b]",
            "RUNBOOKD_EXECUTOR__DEFAULT_TIMEOUT": "1m30s",
            "RUNBOOKD_CONNECTORS__PROMETHEUS__URL": "http://prom:9090",
            "RUNBOOKD_POLLING": "[{name: up, query: up, labels: {team: sre}}]",
            "PATH": "/usr/bin",
        },
    )
    assert (settings.server.host, settings.server.port) == ("10.0.0.1", 9000)
    assert settings.engine.dry_run is True
    assert settings.data_dir == Path("/var/lib/runbookd")
    assert settings.database_url_resolved() == "postgresql+psycopg://rb@db/rb"
    assert settings.runbooks == [Path("/srv/a"), Path("/srv/b")]
    assert settings.executor.default_timeout == timedelta(minutes=1, seconds=30)
    assert settings.connectors == {"prometheus": {"url": "http://prom:9090"}}
    (poll,) = settings.polling
    assert (poll.name, poll.every, poll.labels) == ("up", timedelta(seconds=30), {"team": "sre"})
    assert settings.poll_url(poll) == "http://prom:9090"


def test_a_section_from_the_environment_merges_into_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "server: {host: 10.0.0.1, port: 8000}\n")
    settings = load_settings(
        path, {"RUNBOOKD_SERVER": "{port: 9000}", "RUNBOOKD_SERVER__ACCESS_LOG": "yes"}
    )
    assert (settings.server.host, settings.server.port) == ("10.0.0.1", 9000)
    assert settings.server.access_log is True


def test_secret_scalars_from_the_environment_are_taken_verbatim() -> None:
    settings = load_settings(
        None,
        {
            "RUNBOOKD_AUTH__BEARER_TOKEN": "yes",
            "RUNBOOKD_AUTH__BASIC_USERNAME": "0123",
            "RUNBOOKD_AUTH__BASIC_PASSWORD": "a #b: [c",
        },
    )
    assert settings.auth.bearer_token is not None
    assert settings.auth.bearer_token.get_secret_value() == "yes"
    assert settings.auth.basic_username == "0123"
    assert settings.auth.basic_password is not None
    assert settings.auth.basic_password.get_secret_value() == "a #b: [c"


def test_client_and_test_variables_are_not_settings() -> None:
    environ = {
        "RUNBOOKD_TEST_DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1/test",
        "RUNBOOKD_URL": "http://127.0.0.1:8080",
        "RUNBOOKD_TOKEN": "x",
    }
    assert load_settings(None, environ) == load_settings(None, {})


def test_unknown_variables_are_errors_with_a_suggestion() -> None:
    problems = _problems(None, {"RUNBOOKD_SERVR__PORT": "1", "RUNBOOKD_POLLING__0__NAME": "x"})
    assert problems == [
        "RUNBOOKD_POLLING__0__NAME: not a runbookd setting (did you mean 'RUNBOOKD_POLLING'?); "
        "see docs/configuration.md",
        "RUNBOOKD_SERVR__PORT: not a runbookd setting (did you mean 'RUNBOOKD_SERVER__PORT'?); "
        "see docs/configuration.md",
    ]


def test_env_references(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "database_url: postgresql+psycopg://rb:${env:PGPASSWORD}@${env:PGHOST:-localhost}/rb\n"
        "server: {port: '${env:PORT}'}\n"
        "auth: {bearer_token: '${env:API_TOKEN:-}'}\n"
        "connectors: {slack: {webhook_url: '${env:HOOK}', channel: '#ops-${env:ENV:-prod}'}}\n",
    )
    env = {"PGPASSWORD": SECRETS[2], "PORT": "9100", "HOOK": SECRETS[3]}
    settings = load_settings(path, env)
    assert settings.database_url == f"postgresql+psycopg://rb:{SECRETS[2]}@localhost/rb"
    assert settings.server.port == 9100
    assert settings.auth.bearer_token is None, "an empty default leaves auth off"
    assert settings.connectors["slack"] == {"webhook_url": SECRETS[3], "channel": "#ops-prod"}


def test_a_missing_variable_names_key_and_variable(tmp_path: Path) -> None:
    path = _write(
        tmp_path, "auth: {bearer_token: '${env:RUNBOOKD_TOKEN}'}\nserver: {port: '${env:PORT}'}\n"
    )
    assert _problems(path) == [
        f"{path}: auth.bearer_token: environment variable RUNBOOKD_TOKEN is not set",
        f"{path}: server.port: environment variable PORT is not set",
    ]
    # A key the environment overrides does not need its reference resolved.
    settings = load_settings(path, {"RUNBOOKD_SERVER__PORT": "1", "RUNBOOKD_TOKEN": "t"})
    assert settings.server.port == 1


def test_every_problem_at_once_with_key_paths(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "server: {port: 70000, max_body_bytes: 0, prot: 1}\n"
        "executor: {default_timeout: 5x}\n"
        "polling:\n"
        "  - {name: up, query: up, url: 'http://p'}\n"
        "  - {name: up, query: up, url: 'http://p'}\n"
        "log: {level: verbose}\n"
        "runbook: []\n",
    )
    assert _problems(path, {"RUNBOOKD_ENGINE__BATCH_MAX": "many"}) == [
        f"{path}: server.port: Input should be less than or equal to 65535, got 70000",
        f"{path}: server.max_body_bytes: Input should be greater than 0, got 0",
        f"{path}: server.prot: unknown key (did you mean 'port'?)",
        "RUNBOOKD_ENGINE__BATCH_MAX: engine.batch_max: Input should be a valid integer, "
        "unable to parse string as an integer, got 'many'",
        f"{path}: executor.default_timeout: '5x' is not a duration; write e.g. 30s, 5m, 1h30m, 2d",
        f"{path}: polling: duplicate name 'up' (entries 0 and 1)",
        f"{path}: log.level: Input should be 'debug', 'info', 'warning' or 'error', got 'verbose'",
        f"{path}: runbook: unknown key (did you mean 'runbooks'?)",
    ]


def test_file_problems(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    assert _problems(missing) == [f"{missing}: no such file"]
    bad = _write(tmp_path, "server:\n  port: [8080\n", "bad.yaml")
    (problem,) = _problems(bad)
    assert problem.startswith(f"{bad}:3:1: YAML syntax error: ")
    listed = _write(tmp_path, "- a\n", "list.yaml")
    assert _problems(listed) == [f"{listed}: the top level must be a mapping of keys, got a list"]
    dup = _write(tmp_path, "data_dir: a\ndata_dir: b\n", "dup.yaml")
    assert _problems(dup) == [f"{dup}:2:1: duplicate key 'data_dir' (first defined at line 1)"]
    empty = _write(tmp_path, "# nothing set\n", "empty.yaml")
    assert load_settings(empty, {}).server.port == 8080


def test_secrets_never_appear_in_errors(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        f"database_url: 'postgres//rb:{SECRETS[2]}@db/rb'\n"
        f"auth: {{bearer_token: [{SECRETS[0]}], basic_password: {SECRETS[1]}, bearer_tokn: {SECRETS[0]}}}\n"
        f"connectors: {{slack: 'https://hooks/{SECRETS[3]}'}}\n"
        f"alertmanager: {{api_url: 'am:{SECRETS[1]}@am:9093'}}\n",
    )
    problems = _problems(path)
    text = "\n".join(problems)
    for secret in SECRETS:
        assert secret not in text
    assert f"{path}: auth.bearer_token: Input should be a valid string, got <redacted>" in problems
    assert f"{path}: auth.bearer_tokn: unknown key (did you mean 'bearer_token'?)" in problems
    assert (
        f"{path}: database_url: not a database URL; write e.g. postgresql+psycopg://user@host/db, got <redacted>"
        in problems
    )
    assert (
        f"{path}: connectors.slack: Input should be a valid dictionary, got <redacted>" in problems
    )
    assert (
        f"{path}: alertmanager.api_url: must start with http:// or https://, got <redacted>"
        in problems
    )


def test_basic_auth_needs_both_halves() -> None:
    problems = _problems(None, {"RUNBOOKD_AUTH__BASIC_USERNAME": "am"})
    assert problems == [
        "settings: auth: basic_username is set but basic_password is not; set both or neither"
    ]
    settings = load_settings(
        None, {"RUNBOOKD_AUTH__BASIC_USERNAME": "am", "RUNBOOKD_AUTH__BASIC_PASSWORD": "pw"}
    )
    assert settings.auth.enabled


def test_repr_hides_secrets() -> None:
    settings = load_settings(
        None,
        {
            "RUNBOOKD_DATABASE_URL": f"postgresql+psycopg://rb:{SECRETS[2]}@db/rb",
            "RUNBOOKD_AUTH__BEARER_TOKEN": SECRETS[0],
            "RUNBOOKD_AUTH__BASIC_USERNAME": "am",
            "RUNBOOKD_AUTH__BASIC_PASSWORD": SECRETS[1],
            "RUNBOOKD_CONNECTORS__SLACK__WEBHOOK_URL": SECRETS[3],
            "RUNBOOKD_ALERTMANAGER__API_URL": f"http://am:{SECRETS[1]}@am:9093",
        },
    )
    for text in (repr(settings), str(settings)):
        for secret in SECRETS:
            assert secret not in text
    assert "postgresql+psycopg://rb:***@db/rb" in repr(settings)
    assert "connectors={'slack': ['webhook_url']}" in repr(settings)


def test_polling_needs_a_prometheus_url(tmp_path: Path) -> None:
    path = _write(tmp_path, "polling: [{name: up, query: up, every: 10s}]\n")
    assert _problems(path) == [
        f"{path}: polling[0].url: no url, and connectors.prometheus.url is not set either"
    ]
    settings = load_settings(path, {"RUNBOOKD_CONNECTORS__PROMETHEUS__URL": "http://p:9090"})
    assert settings.polling[0].every == timedelta(seconds=10)


def test_durations_and_zero_commit_interval() -> None:
    settings = load_settings(
        None,
        {"RUNBOOKD_INGEST__COMMIT_INTERVAL": "3ms", "RUNBOOKD_ALERTMANAGER__TIMEOUT": "1500ms"},
    )
    assert settings.ingest.commit_interval == timedelta(milliseconds=3)
    zero = load_settings(None, {"RUNBOOKD_INGEST__COMMIT_INTERVAL": "0s"})
    assert zero.ingest.commit_interval == timedelta(0)
    assert settings.alertmanager.timeout == timedelta(seconds=1.5)
    assert _problems(None, {"RUNBOOKD_EXECUTOR__DEFAULT_TIMEOUT": "0s"}) == [
        "RUNBOOKD_EXECUTOR__DEFAULT_TIMEOUT: executor.default_timeout: '0s' is not a positive duration"
    ]


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql+psycopg://rb:pw@db:5432/rb", "postgresql+psycopg://rb:***@db:5432/rb"),
        ("postgresql+psycopg://rb:p%40ss@db/rb?x=a@b", "postgresql+psycopg://rb:***@db/rb?x=a@b"),
        ("postgresql+psycopg://rb@db/rb", "postgresql+psycopg://rb@db/rb"),
        ("sqlite:////var/lib/runbookd/runbookd.db", "sqlite:////var/lib/runbookd/runbookd.db"),
        ("http://host/path?token=x:y@z", "http://host/path?token=x:y@z"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_values_from_env_references_are_not_shown(tmp_path: Path) -> None:
    path = _write(
        tmp_path, "server: {port: '${env:WRONG}'}\nexecutor: {default_timeout: '${env:WRONG}'}\n"
    )
    assert _problems(path, {"WRONG": SECRETS[1]}) == [
        f"{path}: server.port: Input should be a valid integer, unable to parse string as an "
        "integer, got <redacted>",
        f"{path}: executor.default_timeout: <redacted> is not a duration; write e.g. 30s, 5m, "
        "1h30m, 2d",
    ]


def test_a_postgresql_url_without_its_driver_names_the_extra_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """psycopg is the `postgres` extra: a plain `pip install runbookd` has no PostgreSQL driver."""
    path = _write(tmp_path, "database_url: postgresql+psycopg://rb@db/rb\n")
    assert load_settings(path, {}).database_url == "postgresql+psycopg://rb@db/rb"
    monkeypatch.setitem(sys.modules, "psycopg", None)  # how Python marks a module unimportable
    assert _problems(path) == [
        f"{path}: database_url: the driver 'psycopg' is not installed: "
        "pip install 'runbookd[postgres]', got <redacted>"
    ]
