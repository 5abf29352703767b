"""Where settings come from before validation: the YAML file, ``${env:NAME}`` references, and
``RUNBOOKD_<KEY>`` environment overrides.

Each function returns plain data plus a list of ``Problem`` so that ``load_settings`` can report
every problem at once. No problem message carries a value taken from the environment.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel

from runbookd.engine.lang.diagnostics import did_you_mean
from runbookd.engine.lang.source import SourceError, load_yaml

Loc = tuple[str | int, ...]
Kind = Literal["section", "structured", "scalar", "free"]

#: Variables with the prefix that are not settings: the test suite's database and the CLI client.
ENV_PREFIX = "RUNBOOKD_"
ENV_IGNORED = frozenset({"RUNBOOKD_TEST_DATABASE_URL", "RUNBOOKD_URL", "RUNBOOKD_TOKEN"})

_REF = re.compile(r"\$\{(env|file):([^}]*)\}")

#: Reads a ``${file:PATH}`` reference: the text, or None and why not (``secretfiles.read_secret``).
FileReader = Callable[[str], tuple[str | None, str | None]]
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Problem:
    """One problem: where it came from (a file or a variable), the key path, the message."""

    source: str
    loc: Loc
    message: str

    def __str__(self) -> str:
        where = dotted(self.loc)
        return (
            f"{self.source}: {where}: {self.message}" if where else f"{self.source}: {self.message}"
        )


@dataclass(frozen=True)
class Override:
    """One ``RUNBOOKD_*`` variable mapped to a key path and its parsed value."""

    variable: str
    loc: Loc
    value: Any


def dotted(loc: Loc) -> str:
    """``('polling', 0, 'name')`` -> ``polling[0].name``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def read_file(path: Path) -> tuple[Any, list[Problem]]:
    """The YAML document in ``path`` (None when empty), or a problem with line:col."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, [Problem(str(path), (), "no such file")]
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        return None, [Problem(str(path), (), f"cannot read: {reason}")]
    try:
        data, _ = load_yaml(text)
    except SourceError as exc:
        return None, [Problem(f"{path}:{exc.pos.line}:{exc.pos.col}", (), exc.message)]
    return data, []


#: Connector parameters, which keep their ``${env:NAME}`` for the connector to resolve at call
#: time as a runbook's do: resolved here, a webhook URL would be journaled with the library.
CALL_TIME = frozenset({("fallback_notify", "params")})


def interpolate(
    value: Any, environ: Mapping[str, str], loc: Loc = (), read: FileReader | None = None
) -> tuple[Any, list[Problem], set[Loc]]:
    """Replace ``${env:NAME}``, ``${env:NAME:-default}`` and (with ``read``) ``${file:PATH}``
    in every string value.

    Returns the new data, the problems (key path and variable name or file, never a value; their
    source is left empty) and the key paths whose value came from a reference, which error
    messages must not show."""
    problems: list[Problem] = []
    refs: set[Loc] = set()
    return _interpolate(value, environ, loc, problems, refs, read), problems, refs


def _interpolate(
    value: Any,
    environ: Mapping[str, str],
    loc: Loc,
    problems: list[Problem],
    refs: set[Loc],
    read: FileReader | None,
) -> Any:
    if isinstance(value, dict):
        return {
            k: _interpolate(v, environ, (*loc, k), problems, refs, read) for k, v in value.items()
        }
    if isinstance(value, list):
        return [
            _interpolate(v, environ, (*loc, i), problems, refs, read) for i, v in enumerate(value)
        ]
    if not isinstance(value, str) or "${" not in value or loc[:2] in CALL_TIME:
        return value

    def replace(match: re.Match[str]) -> str:
        if match.group(1) == "file":
            return from_file(match)
        name, sep, default = match.group(2).partition(":-")
        if not _ENV_NAME.match(name):
            problems.append(Problem("", loc, f"{match.group(0)!r} is not ${{env:NAME}}"))
            return ""
        refs.add(loc)
        if name in environ:
            return environ[name]
        if sep:
            return default
        problems.append(Problem("", loc, f"environment variable {name} is not set"))
        return ""

    def from_file(match: re.Match[str]) -> str:
        refs.add(loc)
        if read is None:
            problems.append(Problem("", loc, f"{match.group(0)!r}: no file references here"))
            return ""
        text, why = read(match.group(2))
        if text is None:
            problems.append(Problem("", loc, why or "cannot read the file"))
            return ""
        return text

    return _REF.sub(replace, value)


def env_overrides(
    model: type[BaseModel], environ: Mapping[str, str]
) -> tuple[list[Override], list[Problem]]:
    """Every ``RUNBOOKD_*`` variable as an override of ``model``'s keys, or a problem."""
    overrides: list[Override] = []
    problems: list[Problem] = []
    for variable, raw in sorted(environ.items()):
        upper = variable.upper()
        if not upper.startswith(ENV_PREFIX) or upper in ENV_IGNORED:
            continue
        parts = upper[len(ENV_PREFIX) :].lower().split("__")
        target = _target(model, parts)
        if target is None:
            known = [f"{ENV_PREFIX}{'__'.join(p).upper()}" for p in _env_paths(model)]
            hint = did_you_mean(upper, known)
            message = f"not a runbookd setting{hint}; see docs/configuration.md"
            problems.append(Problem(variable, (), message))
            continue
        loc, kind = target
        try:
            value = _parse(raw, kind)
        except yaml.YAMLError as exc:
            reason = getattr(exc, "problem", None) or "cannot parse"
            problems.append(Problem(variable, loc, f"not a YAML value ({reason})"))
            continue
        overrides.append(Override(variable, loc, value))
    return overrides, problems


def apply(data: dict[str, Any], overrides: list[Override]) -> dict[str, Any]:
    """``data`` with every override set (shorter paths first; mappings merge into mappings)."""
    for override in sorted(overrides, key=lambda o: len(o.loc)):
        node = data
        for part in override.loc[:-1]:
            child = node.get(str(part))
            if not isinstance(child, dict):
                child = node[str(part)] = {}
            node = child
        last = str(override.loc[-1])
        if isinstance(node.get(last), dict) and isinstance(override.value, dict):
            node[last] = _merge(node[last], override.value)
        else:
            node[last] = override.value
    return data


def _merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in top.items():
        if isinstance(out.get(key), dict) and isinstance(value, dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _parse(raw: str, kind: Kind) -> Any:
    # Scalars stay verbatim (pydantic converts "9000", "true", "30s" by the key's type), so a
    # password such as `yes`, `0123` or `a #b` is never turned into something else by YAML.
    if kind == "scalar" or (kind == "free" and not raw.lstrip().startswith(("[", "{"))):
        return raw
    return yaml.safe_load(raw) if raw.strip() else None


def field_shape(annotation: Any) -> tuple[Kind, type[BaseModel] | None]:
    """How a field's type is set from the environment, and its model (for sections and lists
    of models)."""
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        annotation = args[0] if len(args) == 1 else annotation
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "section", annotation
    origin = typing.get_origin(annotation)
    if origin is list:
        (item,) = typing.get_args(annotation)
        model = item if isinstance(item, type) and issubclass(item, BaseModel) else None
        return "structured", model
    if origin is dict:
        return "structured", None
    return "scalar", None


def _target(model: type[BaseModel], parts: list[str]) -> tuple[Loc, Kind] | None:
    loc: Loc = ()
    current: type[BaseModel] | None = model
    for index, part in enumerate(parts):
        if current is None or part not in current.model_fields:
            return None
        loc = (*loc, part)
        kind, sub = field_shape(current.model_fields[part].annotation)
        rest = parts[index + 1 :]
        if not rest:
            return loc, kind
        if kind == "section":
            current = sub
            continue
        if kind == "structured" and sub is None and all(rest):
            # Free-form mappings (connectors.<name>.<key>): any key below is allowed.
            return (*loc, *rest), "free"
        return None
    return None


def _env_paths(model: type[BaseModel], prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for name, info in model.model_fields.items():
        path = (*prefix, name)
        yield path
        kind, sub = field_shape(info.annotation)
        if kind == "section" and sub is not None:
            yield from _env_paths(sub, path)
