"""Which labels an alerting rule's PromQL expression leaves on its alerts.

Not a PromQL evaluator: a reading of the expression's shape, enough to say that
``sum by (service) (...)`` yields alerts with exactly ``service`` (plus the rule's static labels
and Prometheus' external labels), that ``absent(up{job="x"})`` yields ``job``, and that a plain
selector keeps whatever labels its series have, which only the running Prometheus knows. The
label rules follow Prometheus' own: aggregations keep their ``by`` list (``without`` drops its
list), one-to-one vector matching with ``on(...)`` keeps only those labels and with
``ignoring(...)`` drops them, ``group_left``/``group_right`` keep the "many" side plus the listed
labels, ``and``/``unless`` keep the left side, ``label_replace`` adds its target. Anything not
understood is an open set ("depends on the series"), never a guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TOKEN = re.compile(
    r"""\s+|\#[^\n]*
    |(?P<str>"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'|`[^`]*`)
    |(?P<num>0x[0-9a-fA-F]+|(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?[a-zA-Z]*)
    |(?P<id>[a-zA-Z_:][a-zA-Z0-9_:.]*)
    |(?P<op>==|!=|<=|>=|=~|!~|[-+*/%^<>=(){}\[\],@])""",
    re.VERBOSE,
)
_AGGREGATIONS = frozenset(
    {"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values"}
    | {"bottomk", "topk", "quantile", "limitk", "limit_ratio"}
)
# Aggregations that select series instead of combining them keep every label.
_SELECTING = frozenset({"topk", "bottomk", "limitk", "limit_ratio"})
_SCALAR_FUNCTIONS = frozenset({"scalar", "time", "pi"})
_LEVELS: tuple[frozenset[str], ...] = (
    frozenset({"or"}),
    frozenset({"and", "unless"}),
    frozenset({"==", "!=", "<=", "<", ">=", ">"}),
    frozenset({"+", "-"}),
    frozenset({"*", "/", "%", "atan2"}),
    frozenset({"^"}),
)
_OPERAND_END = frozenset({")", "}", "]"})
_WORD_OPERATORS = frozenset({"and", "or", "unless", "atan2"})
_KEYWORDS = (
    _AGGREGATIONS
    | _WORD_OPERATORS
    | {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset"}
)


@dataclass(frozen=True)
class LabelSet:
    """``kept`` is the exact set when known (closed); otherwise None and ``dropped`` is what
    certainly is not there. ``scalar`` marks a number, which has no labels at all."""

    kept: frozenset[str] | None = None
    dropped: frozenset[str] = frozenset()
    scalar: bool = False

    @property
    def closed(self) -> bool:
        return self.kept is not None

    def can_carry(self, label: str) -> bool | None:
        """True/False when the expression decides it, None when the series decide."""
        if self.kept is not None:
            return label in self.kept
        return False if label in self.dropped else None

    def plus(self, names: frozenset[str]) -> LabelSet:
        if self.kept is not None:
            return LabelSet(self.kept | names)
        return LabelSet(None, self.dropped - names)

    def minus(self, names: frozenset[str]) -> LabelSet:
        if self.kept is not None:
            return LabelSet(self.kept - names)
        return LabelSet(None, self.dropped | names)


OPEN = LabelSet()


def output_labels(expr: str) -> LabelSet:
    """The labels of the series ``expr`` yields (``__name__`` aside)."""
    try:
        tokens = _tokens(expr)
        result = _expr(tokens)
    except (ValueError, IndexError):
        return OPEN
    if result.scalar:
        return LabelSet(frozenset())
    # The metric name never reaches Alertmanager as a label of the alert.
    return result.minus(frozenset({"__name__"}))


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise ValueError(f"cannot read {text[pos : pos + 10]!r}")
        pos = m.end()
        kind = m.lastgroup
        if kind is not None:
            word = m.group(kind)
            # PromQL's keywords and aggregation names are case-insensitive (`OR`, `ON (...)`).
            if kind == "id" and word.lower() in _KEYWORDS:
                word = word.lower()
            out.append((kind, word))
    return out


Tokens = list[tuple[str, str]]


def _close(tokens: Tokens, start: int) -> int:
    """Index of the bracket closing the one at ``start``."""
    depth = 0
    for i in range(start, len(tokens)):
        text = tokens[i][1] if tokens[i][0] == "op" else ""
        if text in ("(", "{", "["):
            depth += 1
        elif text in (")", "}", "]"):
            depth -= 1
            if depth == 0:
                return i
    raise ValueError("unbalanced brackets")


def _names(tokens: Tokens) -> frozenset[str]:
    """The label names of a ``(a, b)`` list."""
    return frozenset(t for kind, t in tokens if kind in ("id", "str") and t != ",")


def _expr(tokens: Tokens) -> LabelSet:
    for level in _LEVELS:
        cut = _split(tokens, level, last=level != _LEVELS[-1])
        if cut is not None:
            return _binary(tokens, cut)
    return _operand(tokens)


def _split(tokens: Tokens, ops: frozenset[str], *, last: bool) -> int | None:
    found: int | None = None
    depth = 0
    for i, (kind, text) in enumerate(tokens):
        if kind == "op" and text in ("(", "{", "["):
            depth += 1
        elif kind == "op" and text in (")", "}", "]"):
            depth -= 1
        elif (
            depth == 0
            and text in ops
            and (kind == "op" or text in _WORD_OPERATORS)
            and i > 0
            and _ends_operand(tokens[i - 1])
        ):
            found = i
            if not last:
                return found
    return found


def _ends_operand(token: tuple[str, str]) -> bool:
    kind, text = token
    return (
        kind in ("str", "num") or (kind == "id" and text not in ("bool",)) or text in _OPERAND_END
    )


def _binary(tokens: Tokens, cut: int) -> LabelSet:
    op = tokens[cut][1]
    left = _expr(tokens[:cut])
    i = cut + 1
    matching: tuple[str, frozenset[str]] | None = None
    group: tuple[str, frozenset[str]] | None = None
    while i < len(tokens) and tokens[i][0] == "id":
        word = tokens[i][1]
        if word == "bool":
            i += 1
        elif word in ("on", "ignoring", "group_left", "group_right"):
            names: frozenset[str] = frozenset()
            if i + 1 < len(tokens) and tokens[i + 1][1] == "(":
                end = _close(tokens, i + 1)
                names = _names(tokens[i + 2 : end])
                i = end + 1
            else:
                i += 1
            if word in ("on", "ignoring"):
                matching = (word, names)
            else:
                group = (word, names)
        else:
            break
    right = _expr(tokens[i:])
    if op in ("and", "unless"):
        return left
    if op == "or":
        if left.kept is not None and right.kept is not None:
            return LabelSet(left.kept | right.kept)
        dropped = (left.dropped if left.kept is None else frozenset()) & (
            right.dropped if right.kept is None else frozenset()
        )
        return LabelSet(None, dropped)
    if left.scalar:
        return right
    if right.scalar:
        return left
    if group is not None:
        many = left if group[0] == "group_left" else right
        return many.plus(group[1])
    if matching is not None and matching[0] == "on":
        return LabelSet(matching[1])
    if matching is not None:
        return left.minus(matching[1])
    # One-to-one without a modifier: both sides carry the same labels, so a closed side tells.
    return left if left.closed or not right.closed else right


def _strip_suffixes(tokens: Tokens) -> Tokens:
    """Drop a trailing ``[range]``, ``offset D`` or ``@ T``: they change no label."""
    while len(tokens) > 1:
        if tokens[-1][1] == "]":
            depth = 0
            for j in range(len(tokens) - 1, -1, -1):
                text = tokens[j][1]
                depth += text == "]"
                depth -= text == "["
                if depth == 0:
                    tokens = tokens[:j]
                    break
            else:
                raise ValueError("unbalanced [")
        elif len(tokens) > 2 and tokens[-2][1] in ("offset", "@"):
            tokens = tokens[:-2]
        elif len(tokens) > 3 and tokens[-3][1] in ("offset", "@") and tokens[-2][1] == "-":
            tokens = tokens[:-3]
        else:
            break
    return tokens


def _operand(tokens: Tokens) -> LabelSet:
    while tokens and tokens[0][1] in ("-", "+"):
        tokens = tokens[1:]
    tokens = _strip_suffixes(tokens)
    if not tokens:
        raise ValueError("empty expression")
    kind, text = tokens[0]
    if kind in ("num", "str"):
        return LabelSet(frozenset(), scalar=True)
    if text == "(" and _close(tokens, 0) == len(tokens) - 1:
        return _expr(tokens[1:-1])
    if kind == "id" and text in _AGGREGATIONS:
        return _aggregation(tokens)
    if kind == "id" and len(tokens) > 1 and tokens[1][1] == "(":
        return _function(text, tokens[2 : _close(tokens, 1)])
    return OPEN  # a selector: its series' labels


def _aggregation(tokens: Tokens) -> LabelSet:
    name = tokens[0][1]
    i = 1
    grouping: tuple[str, frozenset[str]] | None = None
    args: Tokens = []
    while i < len(tokens):
        word = tokens[i][1]
        if word in ("by", "without"):
            end = _close(tokens, i + 1)
            grouping = (word, _names(tokens[i + 2 : end]))
            i = end + 1
        elif word == "(":
            end = _close(tokens, i)
            args = tokens[i + 1 : end]
            i = end + 1
        else:
            raise ValueError(f"unexpected {word!r} in {name}")
    parts = _arguments(args)
    inner = _expr(parts[-1]) if parts else OPEN
    if name in _SELECTING:
        return inner  # `topk by (x)` picks series per x but keeps all their labels
    extra: frozenset[str] = frozenset()
    if name == "count_values" and parts and parts[0] and parts[0][0][0] == "str":
        extra = frozenset({parts[0][0][1][1:-1]})
    if grouping is None:
        return LabelSet(extra)
    if grouping[0] == "by":
        return LabelSet(grouping[1] | extra)
    return inner.minus(grouping[1]).plus(extra)


def _arguments(tokens: Tokens) -> list[Tokens]:
    parts: list[Tokens] = []
    depth = 0
    current: Tokens = []
    for token in tokens:
        text = token[1] if token[0] == "op" else ""
        if text in ("(", "{", "["):
            depth += 1
        elif text in (")", "}", "]"):
            depth -= 1
        if text == "," and depth == 0:
            parts.append(current)
            current = []
        else:
            current.append(token)
    if current:
        parts.append(current)
    return parts


def _function(name: str, args: Tokens) -> LabelSet:
    parts = _arguments(args)
    if name in _SCALAR_FUNCTIONS:
        return LabelSet(frozenset(), scalar=True)
    if name == "vector":
        return LabelSet(frozenset())
    if name in ("absent", "absent_over_time"):
        return LabelSet(_equality_labels(parts[0]) if parts else frozenset())
    if name in ("label_replace", "label_join") and len(parts) >= 2 and parts[1]:
        target = parts[1][0][1][1:-1] if parts[1][0][0] == "str" else ""
        return _expr(parts[0]).plus(frozenset({target}) if target else frozenset())
    if name == "histogram_quantile" and len(parts) == 2:
        return _expr(parts[1]).minus(frozenset({"le"}))
    for part in parts:
        found = _expr(part)
        if not found.scalar:
            return found
    return OPEN


def _equality_labels(tokens: Tokens) -> frozenset[str]:
    """``absent(up{job="x", env=~"p.*"})`` yields ``job``: only ``=`` matchers make labels."""
    out: set[str] = set()
    for i in range(len(tokens) - 2):
        if tokens[i][0] == "id" and tokens[i + 1] == ("op", "=") and tokens[i + 2][0] == "str":
            out.add(tokens[i][1])
    out.discard("__name__")
    return frozenset(out)
