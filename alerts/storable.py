"""Text every store can hold: a reversible escape for the characters PostgreSQL or UTF-8 cannot.

Prometheus label values may be any UTF-8 string, and JSON can spell more than UTF-8 holds. Two
kinds of character reach the webhook from a misbehaving target and cannot be stored as they are:

- U+0000 (NUL): PostgreSQL ``text`` refuses it (``jsonb`` too), on every server version;
- lone UTF-16 surrogates U+D800..U+DFFF (JSON ``"\\ud800"``): not Unicode scalar values, so not
  encodable as UTF-8; orjson, SQLite's driver and PostgreSQL all refuse them.

Refusing the notification that carries one would lose every other alert of its group for good
(Alertmanager does not retry a 4xx), so the parsers escape such text once, where the JSON is read,
and everything downstream (journal, dedup state, engine, incidents, timelines, pages, API answers)
sees the escaped form and nothing else. The rule, applied to one string:

- a string without NUL or a lone surrogate is kept verbatim (RTL overrides, BOMs, emoji, other
  control characters are valid text that every store holds);
- in a string with one, every ``\\`` becomes ``\\\\``, NUL becomes ``\\u0000`` and a lone
  surrogate ``\\udXXX`` (four lower-case hex digits), as JSON would spell them.

Inside an escaped string every backslash starts an escape, so :func:`unescape` gives back the
exact original. Whether a stored string *is* escaped is recorded beside it, not guessed from its
text: a sender may well send the six characters ``\\u0000`` themselves. :func:`escape_tree`
returns the paths it escaped (an alert keeps them in ``Event.escaped``), and a path names a
key/value pair whose key, and value when that is a string, are both in escaped form.
"""

from __future__ import annotations

import re
from typing import Any

from runbookd.alerts.errors import PayloadError, short_repr

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_TO_ESCAPE = re.compile("[\\\\\x00\ud800-\udfff]")
_ESCAPED = re.compile(r"\\(\\|u[0-9a-f]{4})")


def storable(text: str) -> bool:
    """True when ``text`` holds no NUL and no lone surrogate: any store keeps it verbatim."""
    return _UNSTORABLE.search(text) is None


def _one(match: re.Match[str]) -> str:
    char = match.group()
    return "\\\\" if char == "\\" else f"\\u{ord(char):04x}"


def escape(text: str) -> str:
    """The escaped form of ``text`` (see the module docstring); storable, ASCII escapes only."""
    return _TO_ESCAPE.sub(_one, text)


def _back(match: re.Match[str]) -> str:
    code = match.group(1)
    return "\\" if code == "\\" else chr(int(code[1:], 16))


def unescape(text: str) -> str:
    """The original of an escaped string: ``unescape(escape(s)) == s`` for every ``s``."""
    return _ESCAPED.sub(_back, text)


def escape_tree(value: Any, path: str = "") -> tuple[Any, list[str]]:
    """``value`` (decoded JSON) with unstorable text escaped, and the paths that were.

    Paths are spelled like ``PayloadError`` fields (``labels.instance``, ``[2]``), relative to
    ``value``. A key that holds unstorable text is escaped with its value; if it then equals
    another key of the same object the two cannot both be kept, and a ``PayloadError`` names the
    object (``path``, or ``body`` at the top).
    """
    marks: list[str] = []
    return _walk(value, path, marks), marks


def _walk(value: Any, path: str, marks: list[str]) -> Any:
    if isinstance(value, str):
        if storable(value):
            return value
        marks.append(path)
        return escape(value)
    if isinstance(value, list):
        return [_walk(item, f"{path}[{i}]", marks) for i, item in enumerate(value)]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, item in value.items():
        bad_value = isinstance(item, str) and not storable(item)
        if storable(key) and not bad_value:
            out[key] = _walk(item, f"{path}.{key}" if path else key, marks)
            continue
        new_key = escape(key)
        if new_key != key and (new_key in value or new_key in out):
            raise PayloadError(
                path or "body",
                f"key {short_repr(new_key)} (escaped: it holds U+0000 or a lone surrogate) "
                "equals another key of this object",
            )
        child = f"{path}.{new_key}" if path else new_key
        marks.append(child)
        if isinstance(item, str):
            out[new_key] = escape(item)
        else:
            out[new_key] = _walk(item, child, marks)
    return out
