"""The connectors runbooks may name: built-ins listed here, plugins found by entry point."""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from importlib.metadata import entry_points
from typing import Any

from pydantic import ValidationError

from runbookd.connectors import (
    alertmanager_silence,
    email,
    http,
    log,
    pagerduty,
    prometheus,
    shell,
    slack,
    sql,
)
from runbookd.connectors.base import ConnectorError, ConnectorSpec, Settings

#: Listed explicitly so that ``ls connectors/`` and this tuple can never disagree silently.
BUILTINS: tuple[ConnectorSpec, ...] = (
    http.SPEC,
    slack.SPEC,
    pagerduty.SPEC,
    email.SPEC,
    alertmanager_silence.SPEC,
    prometheus.SPEC,
    sql.SPEC,
    shell.SPEC,
    log.SPEC,
)

#: ``${env:NAME}`` in a settings value: replaced by that environment variable when loading.
ENV_REF = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}")

#: A plugin distribution declares ``name = "package.module:SPEC"`` under this group.
ENTRY_POINT_GROUP = "runbookd.connectors"


class RegistryError(ConnectorError):
    """A connector plugin that does not load, is not a spec, or reuses a taken name."""


class SettingsError(ConnectorError):
    """The ``connectors:`` section of config.yaml is wrong; the message lists every problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("bad connector settings:\n" + "\n".join(f"  {p}" for p in problems))


def load_specs(include_plugins: bool = True) -> dict[str, ConnectorSpec]:
    """Every known connector by name: the built-ins, then the installed plugins."""
    specs = {spec.name: spec for spec in BUILTINS}
    if not include_plugins:
        return specs
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        where = f"connector plugin {ep.name!r} ({ep.value})"
        try:
            spec = ep.load()
        except Exception as exc:  # any import error of third-party code must name the plugin
            raise RegistryError(f"{where} failed to load: {type(exc).__name__}: {exc}") from exc
        if not isinstance(spec, ConnectorSpec):
            raise RegistryError(f"{where} is a {type(spec).__name__}, not a ConnectorSpec")
        if spec.name in specs:
            taken = "a built-in" if any(b.name == spec.name for b in BUILTINS) else "another plugin"
            raise RegistryError(f"{where} uses the name {spec.name!r}, already taken by {taken}")
        specs[spec.name] = spec
    return specs


def known_names(specs: Mapping[str, ConnectorSpec]) -> list[str]:
    """Connector names in the order error messages list them."""
    return sorted(specs)


def load_settings(
    specs: Mapping[str, ConnectorSpec],
    raw: Mapping[str, Any] | None,
    *,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Settings]:
    """Validate config.yaml's ``connectors:`` section: connector name -> its settings model.

    ``${env:NAME}`` references in values are replaced from ``environ`` (by default the process
    environment). Every problem is reported at once, each with its key path
    (``connectors.slack.bot_token``) and never with a value, which may be a secret. Connectors
    without a section are absent from the result and run on their model's defaults.
    """
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise SettingsError(["connectors: must map connector names to their settings"])
    env = os.environ if environ is None else environ
    problems: list[str] = []
    loaded: dict[str, Settings] = {}
    for name, section in raw.items():
        where = f"connectors.{name}"
        spec = specs.get(name)
        if spec is None:
            known = known_names(specs)
            problems.append(
                f"{where}: unknown connector{_did_you_mean(name, known)}; known: {', '.join(known)}"
            )
            continue
        if spec.settings is None:
            problems.append(f"{where}: connector {name!r} takes no settings")
            continue
        missing: dict[str, str] = {}
        values = _resolve(section if section is not None else {}, where, env, missing)
        settings: Settings | None = None
        try:
            settings = spec.settings.model_validate(values)
        except ValidationError as exc:
            # A value whose variable is missing was read as "": say why, not what "" broke.
            problems.extend(
                f"{path}: {what}"
                for path, what in _explain(where, spec.settings, exc)
                if path not in missing
            )
        problems.extend(f"{path}: {what}" for path, what in missing.items())
        if settings is not None and not missing:
            loaded[name] = settings
    if problems:
        raise SettingsError(problems)
    return loaded


def _resolve(value: Any, where: str, env: Mapping[str, str], missing: dict[str, str]) -> Any:
    if isinstance(value, str):

        def lookup(match: re.Match[str]) -> str:
            if match.group(1) not in env:
                missing[where] = f"environment variable {match.group(1)!r} is not set"
                return ""
            return env[match.group(1)]

        return ENV_REF.sub(lookup, value)
    if isinstance(value, Mapping):
        return {k: _resolve(v, f"{where}.{k}", env, missing) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, f"{where}.{i}", env, missing) for i, v in enumerate(value)]
    return value


def _explain(where: str, model: type[Settings], exc: ValidationError) -> list[tuple[str, str]]:
    """(key path, what is wrong) per error; include_input=False: the value may be a password."""
    problems = []
    keys = list(model.model_fields)
    for err in exc.errors(include_input=False, include_context=False):
        path = ".".join([where, *(str(part) for part in err["loc"])])
        if err["type"] == "extra_forbidden":
            key = str(err["loc"][-1])
            what = f"unknown key{_did_you_mean(key, keys)}; keys: {', '.join(keys)}"
        else:
            what = err["msg"].removeprefix("Value error, ")
        problems.append((path, what))
    return problems


def _did_you_mean(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
