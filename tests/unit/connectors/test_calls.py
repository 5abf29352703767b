"""What every built-in shares: it runs, dry runs of writes touch nothing, secrets are masked."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from pytest_httpserver import HTTPServer

from runbookd.connectors.base import (
    CallContext,
    Params,
    PermanentError,
    Result,
    RetryableError,
    Runtime,
    Settings,
)
from runbookd.connectors.calls import Masker, connector_call, secret_values
from runbookd.connectors.registry import BUILTINS
from runbookd.connectors.slack import SlackSettings

pytestmark = pytest.mark.anyio
Caller = Callable[..., Awaitable[Result]]

DRY = CallContext(idempotency_key="drill-1", dry_run=True)


def test_every_builtin_can_run() -> None:
    assert all(spec.run is not None for spec in BUILTINS)


def writes(url: str) -> list[tuple[str, dict[str, Any], dict[str, Any] | None]]:
    """One call per connector that changes something, all aimed at ``url``."""
    return [
        ("http", {"url": f"{url}/x"}, None),
        ("slack", {"webhook": f"{url}/hook", "text": "t"}, None),
        ("slack", {"channel": "#c", "text": "t"}, {"bot_token": "b", "api_url": url}),
        ("pagerduty", {"routing_key": "k", "summary": "s"}, {"events_url": f"{url}/e"}),
        ("alertmanager_silence", {"matchers": [{"name": "a", "value": "b"}]}, {"url": url}),
        ("alertmanager_silence", {"action": "expire", "silence_id": "s"}, {"url": url}),
        (
            "email",
            {"to": "a@b", "subject": "s", "body": "b"},
            {"host": "127.0.0.1", "port": 1, "from_address": "r@b"},
        ),
        ("shell", {"command": ["/usr/bin/touch", "/nonexistent/x"]}, {"allow": ["/usr/bin/touch"]}),
        (
            "sql",
            {"query": "DELETE FROM t", "read_only": False},
            {"databases": {"default": "sqlite:////nonexistent/x.db"}},
        ),
    ]


@pytest.mark.parametrize("index", range(len(writes(""))))
async def test_a_dry_run_of_a_write_touches_nothing(
    httpserver: HTTPServer, call: Caller, index: int
) -> None:
    name, params, raw = writes(httpserver.url_for("").rstrip("/"))[index]
    spec = next(s for s in BUILTINS if s.name == name)
    settings = spec.settings.model_validate(raw) if spec.settings and raw else None

    result = await call(spec, params, settings, ctx=DRY)

    assert result == {"dry_run": True}
    assert httpserver.log == []


def test_masker_masks_nested_values_longest_first() -> None:
    masker = Masker(["abc", "abcdef", None, ""])

    assert masker.text("x abcdef y abc") == "x *** y ***"
    assert masker.value({"k": ["abc", 1, {"abcdef": None}]}) == {"k": ["***", 1, {"***": None}]}
    assert Masker([]).value({"a": "abc"}) == {"a": "abc"}


def test_secret_values_are_found_in_settings() -> None:
    assert secret_values(SlackSettings.model_validate({"bot_token": "t"})) == ["t"]
    assert secret_values(None) == []


class Noop(Params):
    pass


async def test_errors_keep_their_kind_when_masked(http: httpx.AsyncClient) -> None:
    @connector_call()
    async def fail(params: Noop, ctx: CallContext, runtime: Runtime) -> Result:
        raise RetryableError(f"tried with {next(iter(ctx.secrets))}")

    ctx = CallContext(idempotency_key="k", secrets=frozenset({"s3cr3t"}))
    with pytest.raises(RetryableError) as info:
        await fail(Noop(), ctx, Runtime(http=http))

    assert str(info.value) == "tried with ***"
    assert info.value.__cause__ is None


async def test_settings_of_another_connector_are_refused(
    http: httpx.AsyncClient, call: Caller
) -> None:
    slack = next(s for s in BUILTINS if s.name == "slack")

    with pytest.raises(PermanentError, match="settings are a Settings, not SlackSettings"):
        await call(slack, {"channel": "#c", "text": "t"}, Settings())
