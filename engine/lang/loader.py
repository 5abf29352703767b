"""Read runbook files into models, turning every problem into a positioned diagnostic."""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from pathlib import Path as FsPath
from typing import Any

from pydantic import BaseModel, ValidationError

from runbookd.engine.lang.conditions import All, AnyOf, Leaf, Not
from runbookd.engine.lang.diagnostics import Diagnostic, did_you_mean, short_repr
from runbookd.engine.lang.model import Runbook
from runbookd.engine.lang.source import Path, SourceError, SourceMap, load_yaml

_TAGS: dict[str, type[BaseModel]] = {"all": All, "any": AnyOf, "not": Not, "leaf": Leaf}
RUNBOOK_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class LoadedRunbook:
    """A parsed runbook with the file it came from and the position of every node."""

    runbook: Runbook
    file: str
    source: SourceMap

    def at(self, path: Path, message: str, *, key: bool = False) -> Diagnostic:
        pos = self.source.key(path) if key else self.source.value(path)
        return Diagnostic(self.file, pos.line, pos.col, message)


def load_text(text: str, file: str) -> tuple[LoadedRunbook | None, list[Diagnostic]]:
    try:
        data, smap = load_yaml(text)
    except SourceError as exc:
        return None, [Diagnostic(file, exc.pos.line, exc.pos.col, exc.message)]
    if not isinstance(data, dict):
        what = "an empty file" if data is None else f"a {type(data).__name__}"
        return None, [Diagnostic(file, 1, 1, f"a runbook is a YAML mapping, this is {what}")]
    try:
        runbook = Runbook.model_validate(data)
    except ValidationError as exc:
        return None, validation_diagnostics(exc, data, smap, file, Runbook)
    return LoadedRunbook(runbook, file, smap), []


def load_file(
    path: FsPath, display: str | None = None
) -> tuple[LoadedRunbook | None, list[Diagnostic]]:
    name = display or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        return None, [Diagnostic(name, 1, 1, f"not UTF-8 text ({exc.reason} at byte {exc.start})")]
    except OSError as exc:
        return None, [Diagnostic(name, 1, 1, f"cannot read: {exc.strerror}")]
    return load_text(text, name)


def find_runbook_files(paths: list[FsPath]) -> tuple[list[FsPath], list[Diagnostic]]:
    """Expand directories into their runbook files (sorted); missing paths are diagnostics."""
    files: list[FsPath] = []
    missing: list[Diagnostic] = []
    for path in paths:
        if path.is_dir():
            files.extend(
                sorted(p for p in path.rglob("*") if p.suffix in RUNBOOK_SUFFIXES and p.is_file())
            )
        elif path.is_file():
            files.append(path)
        else:
            missing.append(Diagnostic(str(path), 1, 1, "no such file or directory"))
    return files, missing


# --- pydantic errors -> positions -------------------------------------------------------------


def _data_path(loc: tuple[int | str, ...], data: Any) -> Path:
    """Drop union tags from a pydantic loc by following the loc through the real data."""
    out: list[str | int] = []
    node = data
    for part in loc:
        if (isinstance(node, dict) and isinstance(part, str) and part in node) or (
            isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        ):
            node = node[part]  # type: ignore[index]  # the test above matched key type to node
            out.append(part)
        elif isinstance(node, dict | list):
            continue  # a union tag or a missing key: stay at this node
        else:
            break
    return tuple(out)


def _unwrap(tp: Any) -> Any:
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(args) != 1:
                return tp
            tp = args[0]
        else:
            return tp


def _model_at(loc: tuple[int | str, ...], root: type[BaseModel]) -> type[BaseModel] | None:
    """The model class that the loc points into, for listing the keys it accepts."""
    tp: Any = root
    for part in loc:
        tp = _unwrap(tp)
        if isinstance(part, int):
            args = typing.get_args(tp)
            if typing.get_origin(tp) not in (list, dict) or not args:
                return None
            tp = args[-1]
        elif (
            isinstance(part, str)
            and part in _TAGS
            and typing.get_origin(tp)
            in (
                typing.Union,
                types.UnionType,
            )
        ):
            tp = _TAGS[part]
        elif isinstance(tp, type) and issubclass(tp, BaseModel):
            field = _field_named(tp, part)
            if field is None:
                return None
            tp = tp.model_fields[field].annotation
        else:
            return None
    tp = _unwrap(tp)
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None


def _field_named(model: type[BaseModel], key: str | int) -> str | None:
    for name, info in model.model_fields.items():
        if key in (name, info.alias):
            return name
    return None


def accepted_keys(model: type[BaseModel]) -> list[str]:
    return [info.alias or name for name, info in model.model_fields.items()]


def validation_diagnostics(
    exc: ValidationError, data: Any, smap: SourceMap, file: str, root: type[BaseModel]
) -> list[Diagnostic]:
    """Every pydantic error of ``root`` as a positioned diagnostic, sorted, without repeats."""
    return sorted({_diagnostic(err, data, smap, file, root) for err in exc.errors()})


def _diagnostic(
    err: Any, data: Any, smap: SourceMap, file: str, root: type[BaseModel]
) -> Diagnostic:
    loc: tuple[int | str, ...] = tuple(err["loc"])
    path = _data_path(loc, data)
    kind = err["type"]
    message = str(err["msg"]).removeprefix("Value error, ")
    if kind == "extra_forbidden":
        key = loc[-1]
        model = _model_at(loc[:-1], root)
        keys = accepted_keys(model) if model else []
        hint = did_you_mean(str(key), keys)
        allowed = f"; allowed: {', '.join(keys)}" if keys and not hint else ""
        pos = smap.key(path)
        return Diagnostic(file, pos.line, pos.col, f"unknown field {key!r}{hint}{allowed}")
    if kind == "missing":
        pos = smap.value(path)
        where = ".".join(str(p) for p in path) or "runbook"
        return Diagnostic(file, pos.line, pos.col, f"{where}: missing required field {loc[-1]!r}")
    pos = smap.value(path)
    field = next((str(p) for p in reversed(path) if isinstance(p, str)), "runbook")
    if kind in ("value_error", "assertion_error"):
        return Diagnostic(file, pos.line, pos.col, f"{field}: {message}")
    got = err.get("input")
    hint = ""
    if kind == "string_type" and isinstance(got, int | float | bool):
        # YAML reads 3.3, 10 and yes as a number or a boolean; the author meant text.
        hint = (
            " (YAML read yes/no/on/off as a boolean; quote the value)"
            if isinstance(got, bool)
            else f' (YAML read it as a number; quote it: "{got}")'
        )
    return Diagnostic(file, pos.line, pos.col, f"{field}: {message}, got {short_repr(got)}{hint}")
