"""Key paths of configuration problems turned into the line and column of that key."""

from __future__ import annotations

from pathlib import Path

from runbookd.config.positions import with_positions


def test_problems_get_the_position_of_their_key(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        "server:\n  port: 70000\npolling:\n  - name: up\n    query: up\n    every: never\n"
    )
    problems = [
        f"{config}: server.port: Input should be less than or equal to 65535, got 70000",
        f"{config}: polling[0].every: not a duration",
        f"{config}: polling[0].url: no url",  # absent: the nearest enclosing node
        f"{config}: the top level must be a mapping of keys, got a list",
        "RUNBOOKD_SERVR__PORT: not a runbookd setting",
    ]
    assert with_positions(config, problems) == [
        f"{config}:2:3: server.port: Input should be less than or equal to 65535, got 70000",
        f"{config}:6:5: polling[0].every: not a duration",
        f"{config}:4:5: polling[0].url: no url",
        f"{config}: the top level must be a mapping of keys, got a list",
        "RUNBOOKD_SERVR__PORT: not a runbookd setting",
    ]


def test_an_unparsable_file_leaves_the_problems_as_they_are(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("server: [\n")
    problem = f"{config}:2:1: YAML syntax error: did not find expected node content"
    assert with_positions(config, [problem]) == [problem]
