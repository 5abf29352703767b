"""YAML loading that remembers where every node came from.

PyYAML's ``compose`` keeps a mark on every node; we turn the node tree into plain Python data and a
``SourceMap`` from node paths (tuples of keys and indexes) to 1-based line and column, so that any
later error -- from pydantic or from a semantic check -- can point at the exact spot in the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Pos:
    line: int
    col: int


@dataclass
class SourceMap:
    """Positions of values (``values[path]``) and of mapping keys (``keys[path]``)."""

    values: dict[Path, Pos] = field(default_factory=dict)
    keys: dict[Path, Pos] = field(default_factory=dict)

    def value(self, path: Path) -> Pos:
        """The position of the node at ``path``, or of its nearest ancestor that exists."""
        return _nearest(self.values, path)

    def key(self, path: Path) -> Pos:
        """The position of the mapping key that ends ``path`` (falls back to the value)."""
        if path in self.keys:
            return self.keys[path]
        return self.value(path)


def _nearest(table: dict[Path, Pos], path: Path) -> Pos:
    for end in range(len(path), -1, -1):
        pos = table.get(path[:end])
        if pos is not None:
            return pos
    return Pos(1, 1)


class SourceError(Exception):
    """A YAML document that cannot be read; carries its position."""

    def __init__(self, message: str, pos: Pos) -> None:
        super().__init__(message)
        self.message = message
        self.pos = pos


# libyaml's parser when PyYAML was built with it: composing is most of the time `check` and a
# start spend (3.5 s of CPU for 33 runbooks in pure Python, measured). Its nodes carry the same
# line/column marks, and it resolves tags through the same Python resolver table overridden below.
_Base: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_Base):  # type: ignore[valid-type,misc]
    """SafeLoader without the implicit timestamp type: a runbook's times are durations or text."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _pos(mark: yaml.Mark) -> Pos:
    return Pos(mark.line + 1, mark.column + 1)


def load_yaml(text: str) -> tuple[Any, SourceMap]:
    """Parse one YAML document into plain data and its source map.

    Raises ``SourceError`` for syntax errors, duplicate keys, anchors/aliases to nowhere and
    more than one document.
    """
    smap = SourceMap()
    try:
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = _pos(mark) if mark is not None else Pos(1, 1)
        problem = exc.problem or str(exc)
        if exc.context and "expected a single document" in exc.context:
            problem = "a runbook file holds exactly one YAML document"
        raise SourceError(f"YAML syntax error: {problem}", where) from None
    except yaml.YAMLError as exc:  # pragma: no cover - PyYAML raises marked errors for text input
        raise SourceError(f"YAML error: {exc}", Pos(1, 1)) from None
    if node is None:
        return None, smap
    constructor = _Loader("")
    return _convert(node, (), smap, constructor), smap


def load_yaml_documents(text: str) -> list[tuple[Any, SourceMap]]:
    """Every document of a multi-document stream (``---``), each with its own source map.

    For files that are not runbooks: Kubernetes manifests often hold several objects. Raises
    ``SourceError`` like ``load_yaml``.
    """
    out: list[tuple[Any, SourceMap]] = []
    constructor = _Loader("")
    try:
        loader = _Loader(text)
        try:
            while loader.check_node():
                node = loader.get_node()
                smap = SourceMap()
                out.append((_convert(node, (), smap, constructor), smap))
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = _pos(mark) if mark is not None else Pos(1, 1)
        raise SourceError(f"YAML syntax error: {exc.problem or exc}", where) from None
    return out


def _convert(node: yaml.Node, path: Path, smap: SourceMap, ctor: yaml.SafeLoader) -> Any:
    smap.values[path] = _pos(node.start_mark)
    if isinstance(node, yaml.MappingNode):
        ctor.flatten_mapping(node)  # resolves YAML merge keys (<<)
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = ctor.construct_object(key_node, deep=True)
            if not isinstance(key, str):
                key = str(key)
            if key in out:
                first = smap.keys[(*path, key)]
                raise SourceError(
                    f"duplicate key {key!r} (first defined at line {first.line})",
                    _pos(key_node.start_mark),
                )
            smap.keys[(*path, key)] = _pos(key_node.start_mark)
            out[key] = _convert(value_node, (*path, key), smap, ctor)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_convert(item, (*path, i), smap, ctor) for i, item in enumerate(node.value)]
    return ctor.construct_object(node, deep=True)
