"""Label matchers in Alertmanager's syntax: ``{severity=~"crit.*",job!="node"}``.

What people already type into Alertmanager's UI and ``amtool`` (``=``, ``!=``, ``=~``, ``!~``;
values quoted with Go-style escapes, or bare; regexes anchored at both ends, as Alertmanager
anchors them). Used to filter the alerts runbookd received (``GET /api/v1/alerts``) and by
silences and maintenance windows (``engine.silences``), which is why it lives in the engine: the
engine imports nothing above it. A label the alert does not carry has the value ``""``, so
``{service=""}`` finds alerts without one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, cast

Op = Literal["=", "!=", "=~", "!~"]

_NAME = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*")
_BARE = re.compile(r"[^,}\s\"]*")
_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", '"': '"'}


class MatcherError(ValueError):
    """Not a matcher list; the message says where and why."""


@dataclass(frozen=True)
class Matcher:
    name: str
    op: Op
    value: str
    regex: re.Pattern[str] | None = None

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = labels.get(self.name, "")
        if self.regex is not None:
            found = self.regex.fullmatch(actual) is not None
            return found if self.op == "=~" else not found
        return (actual == self.value) if self.op == "=" else (actual != self.value)

    def __str__(self) -> str:
        quoted = self.value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'{self.name}{self.op}"{quoted}"'


def parse_matchers(text: str) -> list[Matcher]:
    """``{a="b",c=~"d.*"}`` (braces optional) to matchers; MatcherError naming the column."""
    body = text.strip()
    if body.startswith("{"):
        if not body.endswith("}"):
            raise MatcherError(f"missing closing '}}' in {text!r}")
        body = body[1:-1]
    out: list[Matcher] = []
    pos = 0
    while pos < len(body):
        if not body[pos:].strip():
            break
        head = _NAME.match(body, pos)
        if head is None:
            raise MatcherError(
                f"column {pos + 1}: expected label=value, label!=value, label=~regex or "
                f"label!~regex in {text!r}"
            )
        name, op = head.group(1), cast(Op, head.group(2))  # the pattern allows only these
        value, pos = _value(body, head.end(), text)
        regex = None
        if op in ("=~", "!~"):
            try:
                regex = re.compile(value)
            except re.error as exc:
                raise MatcherError(f"{name}{op}: invalid regex {value!r}: {exc}") from None
        out.append(Matcher(name, op, value, regex))
        rest = body[pos:].lstrip()
        if rest.startswith(","):
            pos = len(body) - len(rest) + 1
        elif rest:
            raise MatcherError(f"column {len(body) - len(rest) + 1}: expected ',' in {text!r}")
        else:
            break
    return out


def _value(body: str, pos: int, text: str) -> tuple[str, int]:
    if pos < len(body) and body[pos] == '"':
        chars: list[str] = []
        i = pos + 1
        while i < len(body):
            ch = body[i]
            if ch == "\\" and i + 1 < len(body):
                chars.append(_ESCAPES.get(body[i + 1], "\\" + body[i + 1]))
                i += 2
                continue
            if ch == '"':
                return "".join(chars), i + 1
            chars.append(ch)
            i += 1
        raise MatcherError(f"column {pos + 1}: unterminated quoted value in {text!r}")
    bare = _BARE.match(body, pos)
    assert bare is not None  # the pattern matches the empty string
    return bare.group(0), bare.end()


def matches_all(matchers: list[Matcher], labels: Mapping[str, str]) -> bool:
    return all(m.matches(labels) for m in matchers)
