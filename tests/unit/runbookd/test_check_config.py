"""``runbookd check-config``: the bundled config passes; broken ones name every problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from runbookd.cli.main import main

REPO = Path(__file__).resolve().parents[3]


def test_bundled_config_is_fine(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", str(REPO / "config.yaml")]) == 0
    out = capsys.readouterr().out
    assert ": ok (" in out and "runbooks" in out


def test_every_bad_key_is_named_by_its_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(f"runbooks: [{REPO / 'runbooks'}]\nserver:\n  port: notaport\nbogus: 1\n")
    assert main(["check-config", str(config)]) == 1
    err = capsys.readouterr().err
    assert "server.port" in err
    assert "bogus: unknown key" in err


def test_broken_runbook_under_the_config_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    books = tmp_path / "runbooks"
    books.mkdir()
    (books / "bad.yaml").write_text("id: [unclosed\n")
    config = tmp_path / "config.yaml"
    config.write_text("runbooks: [runbooks]\n")
    assert main(["check-config", str(config)]) == 1
    assert "bad.yaml:" in capsys.readouterr().err


def test_missing_config_file_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", str(tmp_path / "nope.yaml")]) == 1
    assert "no such configuration file" in capsys.readouterr().err


def test_connector_settings_are_checked_as_serve_checks_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        f"runbooks: [{REPO / 'runbooks'}]\n"
        f"connectors: {{http: {{tls_config: {{ca_file: {tmp_path / 'ca.pem'}}}}}}}\n"
    )
    assert main(["check-config", str(config)]) == 1
    err = capsys.readouterr().err
    assert (
        f"{config}: connectors.http.tls_config: ca_file '{tmp_path / 'ca.pem'}': cannot load: "
        "No such file or directory"
    ) in err
