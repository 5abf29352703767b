"""The durable_rules adapter: the only module that imports the library.

Built as ../shared/notes/durable-rules.md recommends: the library's background threads are off
(``_run`` is a no-op) so exactly one thread -- the caller's -- ever enters its C core; actions are
pure (they only record which rule fired with which messages); timers are not used (the runtime
owns them); sessions are a fixed set of shards and are never deleted; every ruleset is linted and
created once in a child process with a timeout before this process loads it, because a bad
definition can hang ``create_ruleset`` forever with the GIL held.

Run as ``python -m engine.rules`` it is that child: definitions on stdin, one verdict per line.
"""

from __future__ import annotations

import copy
import json
import logging
import subprocess
import sys
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from durable import engine as _durable
from durable.engine import MessageNotHandledException, MessageObservedException

log = logging.getLogger(__name__)

SHARDS = 64
#: Guards below the library's hard limits (511 children per node, ~252 properties, 4096 rules).
MAX_RULES = 400
MAX_SLOTS = 200
MAX_BRANCHES = 256
VALIDATE_TIMEOUT_S = 10.0

_ERROR_CODES = {
    "100": "a condition is not an object",
    "101": "the ruleset definition is malformed",
    "106": "too many rules for one ruleset",
    "202": "an operator durable_rules does not know",
    "301": "too many properties in one message",
    "302": "too many properties in one message",
    "303": "too many conditions on one node",
    "501": "a regular expression durable_rules cannot compile",
}


class RulesError(Exception):
    """A compiled ruleset that durable_rules refuses, or that breaks one of its limits."""


def explain_library_error(exc: BaseException) -> str:
    text = str(exc)
    code = text.rsplit(" ", 1)[-1]
    return f"{_ERROR_CODES[code]} (durable_rules error {code})" if code in _ERROR_CODES else text


def shard(key: str) -> str:
    """The session for an incident key: a fixed set, far under the 1024 sessions per ruleset."""
    return f"s{zlib.crc32(key.encode()) % SHARDS}"


@dataclass(frozen=True)
class Firing:
    """One rule fired: the action name the compiler gave it and the messages it matched."""

    action: str
    messages: dict[str, dict[str, Any]]


@dataclass
class PostResult:
    firings: list[Firing] = field(default_factory=list)
    #: matched part of a correlation and now waits for its partner
    pending: bool = False
    #: no rule matched any part of it
    unmatched: bool = False


class _QuietHost(_durable.Host):  # type: ignore[misc]  # untyped library base
    """A Host without its dispatch and timer threads; actions only record firings."""

    def __init__(self, sink: Callable[[Firing], None]) -> None:
        self._sink = sink
        super().__init__()

    def _run(self) -> None:  # the stock Host starts two re-arming threads here
        return

    def get_action(self, action_name: str) -> Callable[[Any], None]:
        sink = self._sink

        def record(c: Any) -> None:
            messages = {}
            for alias in ("m", "a", "b"):
                msg = getattr(c, alias, None)
                if msg is not None:
                    messages[alias] = dict(msg._d) if hasattr(msg, "_d") else dict(msg)
            sink(Firing(action_name, messages))

        return record


def lint(definition: dict[str, Any]) -> list[str]:
    """Static guards against the library's crash limits, before anything is created."""
    problems: list[str] = []
    for name, rules in definition.items():
        if len(rules) > MAX_RULES:
            problems.append(f"{name}: {len(rules)} rules, more than the {MAX_RULES} allowed")
        for rule_name, rule in rules.items():
            pri = rule.get("pri", 0)
            if not 0 <= pri <= 65535:
                problems.append(f"{name}.{rule_name}: priority {pri} outside 0..65535")
            if "all" not in rule and "any" not in rule:
                problems.append(f"{name}.{rule_name}: no all/any")
            for cond in rule.get("all", []):
                for expr in cond.values():
                    branches = _branches(expr)
                    if branches > MAX_BRANCHES:
                        problems.append(
                            f"{name}.{rule_name}: condition expands to {branches} alternatives, "
                            f"more than {MAX_BRANCHES}; simplify the any/not nesting"
                        )
                    for key in _keys(expr):
                        if key in ("id", "sid", "$s", "label", "chart"):
                            problems.append(f"{name}.{rule_name}: reserved field {key!r}")
    return problems


def _branches(expr: Any) -> int:
    if isinstance(expr, dict):
        if "$or" in expr:
            return sum(_branches(e) for e in expr["$or"])
        if "$and" in expr:
            total = 1
            for e in expr["$and"]:
                total *= _branches(e)
            return total
    return 1


def _keys(expr: Any) -> Iterator[str]:
    if isinstance(expr, dict):
        for key, value in expr.items():
            if key.startswith("$"):
                yield from _keys(value)
            else:
                yield key
    elif isinstance(expr, list):
        for item in expr:
            yield from _keys(item)


def validate_in_child(
    definitions: list[dict[str, Any]], timeout: float = VALIDATE_TIMEOUT_S
) -> list[str | None]:
    """Create each definition in a fresh child process; one verdict (None = loads) per input."""
    if not definitions:
        return []
    payload = json.dumps(definitions)
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "runbookd.engine.rules"],
            input=payload,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        if len(definitions) == 1:
            return [
                f"durable_rules did not finish creating the ruleset within {timeout:g}s "
                "(too many conditions on one node?)"
            ]
        # Find the culprit: validate one at a time, each with its own deadline.
        return [validate_in_child([d], timeout)[0] for d in definitions]
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        if len(definitions) == 1:
            return [f"durable_rules crashed creating the ruleset (exit {proc.returncode}): {tail}"]
        return [validate_in_child([d], timeout)[0] for d in definitions]
    verdicts: list[str | None] = json.loads(proc.stdout)
    return verdicts


def _child_main() -> int:
    definitions = json.loads(sys.stdin.read())
    verdicts: list[str | None] = []
    for definition in definitions:
        host = _QuietHost(lambda firing: None)
        try:
            host.register_rulesets(definition)
            verdicts.append(None)
        except Exception as exc:  # the library raises bare Exception and its own error type
            verdicts.append(explain_library_error(exc))
    sys.stdout.write(json.dumps(verdicts))
    return 0


class Matcher:
    """Owns one durable_rules host. Not thread-safe by design: one engine thread calls it."""

    def __init__(self) -> None:
        self._firings: list[Firing] = []
        self._host = _QuietHost(self._firings.append)
        self._loaded: set[str] = set()
        #: events the library dropped as "already observed" (hash collisions); see post()
        self.observed_collisions = 0

    def load(self, definition: dict[str, Any]) -> None:
        """Register rulesets (already validated in a child); a lint failure raises RulesError."""
        problems = lint(definition)
        if problems:
            raise RulesError("; ".join(problems))
        clash = self._loaded.intersection(definition)
        if clash:
            raise RulesError(f"ruleset already loaded: {sorted(clash)[0]}")
        try:
            # A deep copy: the library deletes keys ("run") from the dicts it is given, which
            # would make the caller's compiled runbook unloadable a second time.
            self._host.register_rulesets(copy.deepcopy(definition))
        except Exception as exc:
            raise RulesError(explain_library_error(exc)) from None
        self._loaded.update(definition)

    def unload(self, name: str) -> None:
        """Drop a whole ruleset (safe with the library's threads off; per-sid deletion is not)."""
        if name not in self._loaded:
            return
        ruleset = self._host._ruleset_directory.pop(name)
        self._host._ruleset_list.remove(ruleset)
        _durable.durable_rules_engine.delete_ruleset(ruleset._handle)
        self._loaded.discard(name)

    @property
    def loaded(self) -> frozenset[str]:
        return frozenset(self._loaded)

    def post(self, ruleset: str, doc: dict[str, Any], sid: str) -> PostResult:
        """Post one event; every firing it completes comes back (chained actions included)."""
        self._firings.clear()
        result = PostResult()
        try:
            self._host.post(ruleset, {**doc, "sid": sid})
        except MessageNotHandledException:
            result.unmatched = True
            return result
        except MessageObservedException:
            # Every document carries a unique seq, so this is the library's 32-bit message-id
            # hash colliding (study, finding 4): the event is not matched. Count it, loudly.
            self.observed_collisions += 1
            log.warning("durable_rules refused a message as already seen (id hash collision)")
            result.unmatched = True
            return result
        result.firings = list(self._firings)
        result.pending = not result.firings
        return result

    def retract(self, ruleset: str, doc: dict[str, Any], sid: str) -> None:
        """Remove a pending half-correlation (or fact) by its exact content."""
        self._host.retract_fact(ruleset, {**doc, "sid": sid})

    def pending(self, ruleset: str, sid: str) -> list[dict[str, Any]]:
        try:
            events: list[dict[str, Any]] = self._host.get_pending_events(ruleset, sid)
        except _durable.durable_rules_engine.error as exc:
            if "309" in str(exc):  # no session: nothing was ever posted under this sid
                return []
            raise
        return events


if __name__ == "__main__":
    raise SystemExit(_child_main())
