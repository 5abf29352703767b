"""docs/chatops.md stays true: the Slack app manifest points at the routes the app serves, the
configuration example loads, and every command in its table does what the table says."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from runbookd.api.chatops_slack import SlackChatops, slack_router
from runbookd.api.slack_actions import NEEDS
from runbookd.api.slack_commands import parse_command
from runbookd.config.settings import load_settings
from tests.unit.docs.test_language_doc import yaml_blocks

DOC = (Path(__file__).resolve().parents[3] / "docs" / "chatops.md").read_text()
SLACK = DOC[DOC.index("## Slack") :]


def _routes() -> set[str]:
    router = slack_router(None, SlackChatops("x"))  # type: ignore[arg-type]  # routes only
    return {getattr(r, "path", "") for r in router.routes}


def test_the_manifest_points_at_the_apps_routes() -> None:
    manifest = yaml.safe_load(yaml_blocks(SLACK)[0])
    [command] = manifest["features"]["slash_commands"]
    urls = [command["url"], manifest["settings"]["interactivity"]["request_url"]]
    assert {urlsplit(u).path for u in urls} == _routes()
    assert command["command"] == "/runbookd"
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == {"chat:write", "commands"}
    table = set(re.findall(r"`https://<runbookd>(/api/v1/chatops/slack/\w+)`", SLACK))
    assert table == _routes()


def test_the_configuration_example_loads(tmp_path: Path) -> None:
    example = yaml_blocks(SLACK)[1]
    (tmp_path / "signing").write_text("documented-signing-secret\n")
    config = tmp_path / "config.yaml"
    config.write_text(
        example.replace("/run/secrets/slack-signing-secret", str(tmp_path / "signing"))
    )
    settings = load_settings(config, {"SLACK_BOT_TOKEN": "xoxb-1"})
    slack = settings.chatops.slack
    assert slack.signing_secret is not None
    assert slack.signing_secret.get_secret_value() == "documented-signing-secret"
    assert slack.approvals_channel == "#payments-approvals"
    assert settings.users[0].slack == "U0ANA"


def test_the_command_table_is_what_the_command_does() -> None:
    section = SLACK[SLACK.index("### The `/runbookd` command") :]
    rows = re.findall(r"^\| (`/runbookd [^|]+) \| (\w+) \|", section, re.MULTILINE)
    assert len(rows) == 6
    for typed, needs in rows:
        for one in re.findall(r"`/runbookd ([^`]+)`", typed):
            parsed = parse_command(one)
            assert parsed.problem is None, one
            if needs == "nothing":
                assert parsed.action == "help"
            else:
                assert str(NEEDS[parsed.action]) == needs, one
