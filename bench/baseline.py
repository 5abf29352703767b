"""The baseline: the bundled runbooks' detection written directly against durable_rules.

This is what a team would write without runbookd, following ../shared/notes/durable-rules.md:
one ruleset per trigger (an event fires at most one rule per ruleset, so each trigger that must
see every event gets its own, §8.5), rules in ``durable.lang`` or the JSON ruleset API, a
``Host`` with the library's threads off (§8.1), a fixed set of 64 session shards (§8.4), pending
half-correlations retracted when their window ends (§8.9), and the whole trimmed alert posted
(§8.6). Actions only record which alerts a rule matched; a few lines of Python keep ``count``
windows and open "incidents" (one per runbook and key, closed when all its alerts resolve).

Runbooks with a hand-written ruleset below use it. Any other runbook found in runbooks/ gets the
same kind of rules from ``translate`` (direct field tests on the raw alert, no projection); the
benchmark prints which runbook used which, and skips from both sides a runbook that cannot be
translated (``Not``, ``matches``), so both sides always run the same library.
"""

from __future__ import annotations

import heapq
import itertools
import zlib
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from durable import engine as durable_engine
from durable import lang
from durable.engine import MessageNotHandledException, MessageObservedException
from durable.lang import c, m, when_all

from runbookd.engine.compiler import CompiledRunbook, trigger_conditions
from runbookd.engine.lang.conditions import All, AnyOf, Condition, Leaf

SHARDS = 64
Json = dict[str, Any]
#: makes a durable action that records the firing of the trigger it was written for
Recorder = Callable[[str], Callable[[Any], None]]


class Untranslatable(Exception):
    """A runbook condition the baseline translator has no direct durable_rules form for."""


class QuietHost(durable_engine.Host):  # type: ignore[misc]  # untyped library base
    """The study's §8.1 host: no dispatch/timer threads, so actions run inside ``post()``."""

    def _run(self) -> None:
        return


@dataclass(frozen=True)
class RawTrigger:
    """One trigger = one ruleset: durable_rules fires at most one rule per event in a ruleset
    and consumes the event, so every trigger that must see every event gets its own (§8.5)."""

    trigger: str
    ruleset: str
    kind: str
    count: int | None = None
    #: count window, or how long a pending correlation half may wait
    within: timedelta | None = None


@dataclass(frozen=True)
class RawRunbook:
    runbook: str
    #: every ruleset of the runbook, ready for ``Host.register_rulesets``
    definition: Json
    #: paths into the raw alert whose values make the incident key
    key_paths: tuple[tuple[str, ...], ...]
    #: alert names the rules test, for the routed variant; None = any name may match
    names: frozenset[str] | None
    triggers: tuple[RawTrigger, ...]
    origin: str


def shard(key: str) -> str:
    """The study's §8.4 fixed session set: far below the 1024-sessions-per-ruleset crash."""
    return f"s{zlib.crc32(key.encode()) % SHARDS}"


# --- hand-written rulesets ----------------------------------------------------------------------


def payment_channel_abnormal(record: Recorder) -> RawRunbook:
    """runbooks/03-payment/payment-channel-abnormal.yaml, trigger failures-and-probe."""
    name = "raw.payment-channel-abnormal"
    rules = lang.ruleset(name)
    with rules:
        # Failures and a failed probe, both firing, for the same channel: the channel is down.
        when_all(
            c.a << ((m.labels.alertname == "PaymentFailureRateHigh") & (m.status == "firing")),
            c.b
            << (
                (m.labels.alertname == "PaymentChannelProbeFailed")
                & (m.status == "firing")
                & (m.labels.channel == c.a.labels.channel)
            ),
        )(record("failures-and-probe"))
    return RawRunbook(
        runbook="payment-channel-abnormal",
        definition=_define(rules),
        key_paths=(("labels", "channel"),),
        names=frozenset({"PaymentFailureRateHigh", "PaymentChannelProbeFailed"}),
        triggers=(
            RawTrigger("failures-and-probe", name, "correlate", within=timedelta(minutes=5)),
        ),
        origin="hand-written (durable.lang)",
    )


HAND_WRITTEN: dict[str, Callable[[Recorder], RawRunbook]] = {
    "payment-channel-abnormal": payment_channel_abnormal,
}


def _define(rules: Any) -> Json:
    # Take the definition out of durable.lang's module-global registry, so that no later
    # get_host() registers it on the stock (threaded) host.
    lang._rulesets.pop(rules.name, None)
    name, definition = rules.define()
    return {name: definition}


# --- translation of other runbooks ------------------------------------------------------------


def translate(compiled: CompiledRunbook, record: Recorder) -> RawRunbook:
    """The rules a person would write for a runbook: field tests on the raw alert."""
    rb = compiled.runbook
    definition: Json = {}
    triggers = []
    for index, trigger in enumerate(rb.detection.triggers):
        tid = rb.trigger_id(index)
        ruleset = f"raw.{rb.id}.{tid}"
        conds = [_expr(cond) for cond in trigger_conditions(trigger)]
        if len(conds) == 1:
            rule: Json = {"all": [{"m": conds[0]}]}
        else:
            join = {_path(f): {"a": _path(f)} for f in rb.detection.group_by}
            # The join goes first: durable_rules 2.0.28 silently drops an alias test that
            # follows a nested $and/$or in the same $and (measured; see bench/RESULTS.md).
            rule = {"all": [{"a": conds[0]}, {"b": {"$and": [join, conds[1]]}}]}
        definition[ruleset] = {"t": {**rule, "run": record(tid)}}
        triggers.append(RawTrigger(tid, ruleset, trigger.kind, trigger.count, trigger.within))
    return RawRunbook(
        runbook=rb.id,
        definition=definition,
        key_paths=tuple(tuple(_path(f).split(".")) for f in rb.detection.group_by),
        names=compiled.names,
        triggers=tuple(triggers),
        origin="translated by bench/baseline.py",
    )


def _path(field_name: str) -> str:
    if field_name == "name":
        return "labels.alertname"
    head = field_name.split(".", 1)[0]
    # ``value`` is absent from Alertmanager alerts on both sides, so its tests never hold.
    if field_name in ("status", "fingerprint", "value") or head in ("labels", "annotations"):
        return field_name
    raise Untranslatable(f"field {field_name!r} is not in a raw alert")


def _expr(cond: Condition) -> Json:
    if isinstance(cond, All | AnyOf):
        children = cond.all if isinstance(cond, All) else cond.any
        parts = [_expr(child) for child in children]
        return parts[0] if len(parts) == 1 else {"$and" if isinstance(cond, All) else "$or": parts}
    if not isinstance(cond, Leaf):
        raise Untranslatable("'not' has no direct durable_rules form")
    path, op, value = _path(cond.field), cond.op, cond.operand
    if op == "eq":
        return {path: value}
    if op == "ne":
        return {"$and": [{"$ex": {path: 1}}, {"$neq": {path: value}}]}
    if op in ("gt", "ge", "lt", "le"):
        return {{"gt": "$gt", "ge": "$gte", "lt": "$lt", "le": "$lte"}[op]: {path: value}}
    if op == "in":
        return {"$or": [{path: v} for v in value]}
    if op == "not_in":
        return {"$and": [{"$ex": {path: 1}}, *({"$neq": {path: v}} for v in value)]}
    if op == "exists":
        return {"$ex" if value else "$nex": {path: 1}}
    raise Untranslatable(f"operator {op!r} (durable_rules has its own regex dialect)")


def raw_runbook(compiled: CompiledRunbook, record: Recorder) -> RawRunbook:
    """The hand-written ruleset when there is one, else the translation."""
    hand = HAND_WRITTEN.get(compiled.runbook.id)
    return hand(record) if hand else translate(compiled, record)


def translatable(compiled: CompiledRunbook) -> str | None:
    """None when the runbook has a baseline, else why not."""
    try:
        raw_runbook(compiled, lambda _tid: lambda _c: None)
    except Untranslatable as exc:
        return str(exc)
    return None


# --- the service loop -------------------------------------------------------------------------


@dataclass
class Expiry:
    """Pending correlation halves, retracted when their window ends (study §8.9)."""

    heap: list[tuple[datetime, int, str, Json, str]] = field(default_factory=list)
    seq: itertools.count[int] = field(default_factory=itertools.count)

    def schedule(self, due: datetime, ruleset: str, doc: Json, sid: str) -> None:
        heapq.heappush(self.heap, (due, next(self.seq), ruleset, doc, sid))

    def due(self, now: datetime) -> list[tuple[str, Json, str]]:
        out = []
        while self.heap and self.heap[0][0] <= now:
            _, _, ruleset, doc, sid = heapq.heappop(self.heap)
            out.append((ruleset, doc, sid))
        return out


class RawService:
    """Alerts in, firings and incident open/close records out, straight on durable_rules."""

    def __init__(self, compiled: Sequence[CompiledRunbook], *, routed: bool = False) -> None:
        self.routed = routed
        #: fingerprints of the messages each firing of the current post matched
        self.fired: list[list[str]] = []
        self.host = QuietHost()
        self.books = [raw_runbook(item, self._recorder) for item in compiled]
        definitions: Json = {}
        for book in self.books:
            definitions.update(book.definition)
        self.host.register_rulesets(definitions)
        self.expiry = Expiry()
        #: open "incidents": (runbook, key) -> attached alert fingerprint -> its last status
        self.open: dict[tuple[str, str], dict[str, str]] = {}
        self.windows: dict[tuple[str, str, str], deque[datetime]] = {}
        self.firings = 0
        self.opened = 0
        self.closed = 0

    def _recorder(self, _trigger: str) -> Callable[[Any], None]:
        fired = self.fired

        def action(c: Any) -> None:
            # Both halves of a correlation join the incident, as in runbookd.
            matched = (getattr(c, alias, None) for alias in ("m", "a", "b"))
            fired.append([msg.fingerprint for msg in matched if msg is not None])

        return action

    def feed(self, doc: Json, now: datetime) -> None:
        name = doc["labels"].get("alertname")
        for book in self.books:
            key = "|".join(_lookup(doc, path) for path in book.key_paths)
            self._follow(book, key, doc)
            if self.routed and book.names is not None and name not in book.names:
                continue
            posted = {**doc, "sid": shard(key)}
            for trigger in book.triggers:
                self._post(book, trigger, key, posted, now)
        for ruleset, pending, _sid in self.expiry.due(now):
            self.host.retract_fact(ruleset, pending)

    def _post(
        self, book: RawRunbook, trigger: RawTrigger, key: str, doc: Json, now: datetime
    ) -> None:
        self.fired.clear()
        try:
            self.host.post(trigger.ruleset, doc)
        except MessageNotHandledException:  # no rule wants it: the common case for noise
            return
        except MessageObservedException:  # same content already pending
            return
        if not self.fired:  # half of a correlation: it waits no longer than the window
            if trigger.kind == "correlate" and trigger.within is not None:
                self.expiry.schedule(now + trigger.within, trigger.ruleset, doc, doc["sid"])
            return
        for fingerprints in self.fired:
            self.firings += 1
            self._fire(book, trigger, key, fingerprints, now)

    def _fire(
        self,
        book: RawRunbook,
        trigger: RawTrigger,
        key: str,
        fingerprints: list[str],
        now: datetime,
    ) -> None:
        if trigger.kind == "count" and trigger.within is not None and trigger.count is not None:
            window = self.windows.setdefault((book.runbook, trigger.trigger, key), deque())
            window.append(now)
            while window and now - window[0] >= trigger.within:
                window.popleft()
            if len(window) < trigger.count:
                return
            window.clear()
        alerts = self.open.get((book.runbook, key))
        if alerts is None:
            alerts = self.open[(book.runbook, key)] = {}
            self.opened += 1
        for fingerprint in fingerprints:
            alerts[fingerprint] = "firing"  # triggers are firing-only unless they test status

    def _follow(self, book: RawRunbook, key: str, doc: Json) -> None:
        """Track attached alerts; close the incident once all of them are resolved at once."""
        alerts = self.open.get((book.runbook, key))
        if alerts is None or doc["fingerprint"] not in alerts:
            return
        alerts[doc["fingerprint"]] = doc["status"]
        if doc["status"] == "resolved" and all(s == "resolved" for s in alerts.values()):
            del self.open[(book.runbook, key)]
            self.closed += 1


def _lookup(doc: Json, path: tuple[str, ...]) -> str:
    value: Any = doc
    for part in path:
        value = value.get(part) if isinstance(value, dict) else None
    return "" if value is None else str(value)
