"""Engine snapshots: the engine's state as bytes and back, so a restart replays only the tail.

Stored: every attribute of ``Engine`` -- incidents, timers, rails, counting windows, open keys,
correlation halves, call and approval bookkeeping, the id and document counters -- except

* compiled runbooks, stored as references (``Ref``) that the caller resolves on restore (the
  worker: the journal entry of the library a runbook came from). An incident opened under an
  older library version gets that version's object back, the same object for every reference.
* the ``Matcher``: durable_rules keeps its state in C behind handles that cannot be pickled. It is
  rebuilt: the rulesets that were loaded are loaded again from the compiled runbooks, and the
  correlation halves the library still held are posted again, in their original order. That is
  all of its state the engine can observe: consumed and retracted documents leave nothing behind
  (its duplicate check only looks at messages it still holds), and sessions carry no state of ours.
* the clock (the caller's, set to the snapshot's time), ``dry_run`` and the on-call lookup
  (configuration, not state; the caller sets ``oncall`` again) and the output buffers (empty
  between two inputs).

Why pickle: the state is the engine's own Python objects (dataclasses, deques, datetimes, events).
A hand-written codec per type would be large, slower, and silently incomplete whenever a field is
added; pickle round-trips them exactly and new attributes are included without a change here.
Its risks are contained: a snapshot is only read back by the code that wrote it (``fingerprint``
covers the engine's source, Python and durable_rules; any difference makes the snapshot unusable
and the caller replays the journal instead), and it is only read from the service's own database,
which is trusted exactly like the journal it summarises.
"""

from __future__ import annotations

import contextlib
import copyreg
import gc
import hashlib
import io
import itertools
import pickle
import sys
import zlib
from collections.abc import Callable, Iterable, Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

from runbookd.engine.clock import VirtualClock
from runbookd.engine.compiler import SEQ_FIELD, CompiledRunbook, RulesetDef
from runbookd.engine.rules import SHARDS, Matcher
from runbookd.engine.runtime import Engine

#: Bumped whenever the layout of a snapshot changes.
FORMAT = 1
#: A reference to a compiled runbook; its meaning is the caller's.
Ref = str
#: Attributes that are not state (see the module docstring); ``_seq`` is stored as a number.
_NOT_STATE = frozenset({"clock", "matcher", "dry_run", "oncall", "_out", "_attached", "_seq"})
_ENGINE_DIR = Path(__file__).resolve().parent


class SnapshotError(Exception):
    """This snapshot cannot be used (other code or format, damaged, inconsistent)."""


def fingerprint(*extra: Path) -> str:
    """What a snapshot depends on: the engine's source (and ``extra`` files), Python, durable_rules.

    Any change means the state could differ from what a replay by the running code would build,
    so the snapshot is not trusted. Computed once per process (it reads ~40 small files).
    """
    digest = hashlib.sha256()
    digest.update(sys.version.encode())
    digest.update(metadata.version("durable_rules").encode())
    for path in [*sorted(_ENGINE_DIR.rglob("*.py")), *extra]:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def capture(
    engine: Engine,
    ref: Callable[[CompiledRunbook], Ref],
    *,
    code: str,
    known: Iterable[CompiledRunbook] = (),
) -> bytes:
    """The engine's state between two inputs. ``known``: compiled runbooks that may define loaded
    rulesets nothing in the engine refers to any more (an old version's lifecycle rules)."""
    refs: dict[int, Ref] = {}

    def reduce_compiled(
        obj: CompiledRunbook,
    ) -> tuple[Callable[[Ref], CompiledRunbook], tuple[Ref]]:
        found = refs.get(id(obj))
        if found is None:
            found = refs[id(obj)] = ref(obj)
        return _compiled, (found,)

    # Read the document counter without consuming a number (itertools.count is not pickled).
    following = next(engine._seq)
    engine._seq = itertools.count(following)
    state = {k: v for k, v in vars(engine).items() if k not in _NOT_STATE}
    state["_seq"] = following
    body = {
        "state": state,
        "clock": engine.clock.now(),
        "loaded": _loaded_owners(engine, known),
        "pending": _pending_halves(engine),
        "collisions": engine.matcher.observed_collisions,
    }
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
    # A per-type reducer, not persistent_id: that hook is called for every one of the millions of
    # objects in a large state (it was a quarter of the time); this one only for compiled runbooks.
    pickler.dispatch_table = {**copyreg.dispatch_table, CompiledRunbook: reduce_compiled}
    try:
        with _gc_paused():
            pickler.dump(body)
    except (pickle.PicklingError, TypeError, AttributeError) as exc:
        raise SnapshotError(f"engine state cannot be stored: {exc}") from exc
    header = {"format": FORMAT, "code": code, "refs": sorted(set(refs.values()))}
    # Level 1: most of the size gain (timelines repeat a lot) for a few % of the time.
    return pickle.dumps((header, zlib.compress(buffer.getvalue(), 1)), pickle.HIGHEST_PROTOCOL)


def refs_of(blob: bytes, *, code: str) -> list[Ref]:
    """The compiled runbooks ``restore`` will ask for; raises SnapshotError if not usable."""
    header, _ = _split(blob, code)
    return list(header["refs"])


def restore(
    blob: bytes,
    resolve: Callable[[Ref], CompiledRunbook],
    clock: VirtualClock,
    *,
    code: str,
    dry_run: bool = False,
) -> Engine:
    """A new engine in the captured state, driven by ``clock`` (moved to the snapshot's time)."""
    _, compressed = _split(blob, code)
    try:
        unpickler = _Unpickler(io.BytesIO(zlib.decompress(compressed)), resolve)
        with _gc_paused():
            body = unpickler.load()
    except SnapshotError:
        raise
    except Exception as exc:  # a damaged snapshot can fail in many ways; all mean "unusable"
        raise SnapshotError(f"damaged snapshot: {type(exc).__name__}: {exc}") from exc
    state = body["state"]
    engine = Engine([], clock, matcher=Matcher(), dry_run=dry_run)
    following = state.pop("_seq")
    vars(engine).update(state)
    engine._seq = itertools.count(following)
    clock.set(max(body["clock"], clock.now()))
    for name, owner in body["loaded"]:
        engine.matcher.load(_ruleset(owner, name).definition())
    engine.matcher.observed_collisions = body["collisions"]
    for ruleset, sid, doc in body["pending"]:
        result = engine.matcher.post(ruleset, doc, sid)
        if not result.pending:  # it joined or was refused: the rebuilt matcher is not the same
            raise SnapshotError(f"correlation half {doc.get(SEQ_FIELD)} did not wait again")
    return engine


def comparable_state(engine: Engine) -> dict[str, Any]:
    """Everything a snapshot must preserve, in a form ``==`` compares (for equivalence tests)."""
    following = next(engine._seq)
    engine._seq = itertools.count(following)
    state = {k: v for k, v in vars(engine).items() if k not in _NOT_STATE | {"timers", "rails"}}
    state["_seq"] = following
    state["_new_id"] = vars(engine._new_id)
    state["timers"] = [(t.name, t.due, t.seq, t.payload) for t in engine.timers.live()]
    state["timer_seq"] = engine.timers.__getstate__()["seq"]
    state["rails"] = vars(engine.rails)
    state["clock"] = engine.clock.now()
    state["loaded"] = sorted(engine.matcher.loaded)
    state["pending"] = {
        (name, sid): sorted(e[SEQ_FIELD] for e in events)
        for name in engine.matcher.loaded
        for sid in (f"s{i}" for i in range(SHARDS))
        if (events := engine.matcher.pending(name, sid))
    }
    return state


def _compiled(ref: Ref) -> CompiledRunbook:
    """Stands for a compiled runbook in a snapshot; ``_Unpickler`` swaps in the caller's resolver."""
    raise SnapshotError(f"compiled runbook {ref} read without a resolver")


class _Unpickler(pickle.Unpickler):
    def __init__(self, file: io.BytesIO, resolve: Callable[[Ref], CompiledRunbook]) -> None:
        super().__init__(file)
        self._resolve = resolve

    def find_class(self, module: str, name: str) -> Any:
        # Called once per distinct global (the pickle memoizes it), so this costs nothing.
        if module == __name__ and name == _compiled.__name__:
            return self._resolve
        return super().find_class(module, name)


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pickling a large state creates or visits millions of objects, and the cyclic collector
    would run over all of them again and again meanwhile (it doubled the restore time)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _split(blob: bytes, code: str) -> tuple[dict[str, Any], bytes]:
    try:
        header, compressed = pickle.loads(blob)
        version, written_by = header["format"], header["code"]
    except Exception as exc:
        raise SnapshotError(f"damaged snapshot: {type(exc).__name__}: {exc}") from exc
    if version != FORMAT:
        raise SnapshotError(f"snapshot format {version}, this code reads {FORMAT}")
    if written_by != code:
        raise SnapshotError("snapshot written by different engine code")
    return header, compressed


def _loaded_owners(
    engine: Engine, known: Iterable[CompiledRunbook]
) -> list[tuple[str, CompiledRunbook]]:
    """Each loaded ruleset with a compiled runbook that defines it (pickled as a reference)."""
    owners: dict[str, CompiledRunbook] = {}
    candidates = itertools.chain(
        engine.runbooks.values(), (i.compiled for i in engine.incidents.values()), known
    )
    seen: set[int] = set()
    for compiled in candidates:
        if id(compiled) in seen:
            continue
        seen.add(id(compiled))
        for ruleset in compiled.rulesets():
            owners.setdefault(ruleset.name, compiled)
    missing = engine.matcher.loaded - owners.keys()
    if missing:
        raise SnapshotError(f"no compiled runbook defines loaded ruleset {sorted(missing)[0]}")
    return sorted((name, owners[name]) for name in engine.matcher.loaded)


def _pending_halves(engine: Engine) -> list[tuple[str, str, dict[str, Any]]]:
    """Correlation halves durable_rules still holds, oldest first.

    Candidates are the documents of live ``expire`` timers (every half gets one: correlate needs
    ``within``). A half whose partner already came is gone from the library but its timer still
    runs, so each candidate is checked against what the library reports as pending.
    """
    candidates: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for timer in engine.timers.live():
        p = timer.payload
        if p.get("kind") == "expire" and p["ruleset"] in engine.matcher.loaded:
            candidates.setdefault((p["ruleset"], p["sid"]), []).append(p["doc"])
    out: list[tuple[str, str, dict[str, Any]]] = []
    for (ruleset, sid), docs in candidates.items():
        held = {e.get(SEQ_FIELD) for e in engine.matcher.pending(ruleset, sid)}
        out += [(ruleset, sid, doc) for doc in docs if doc[SEQ_FIELD] in held]
    out.sort(key=lambda item: int(item[2][SEQ_FIELD]))
    return out


def _ruleset(compiled: CompiledRunbook, name: str) -> RulesetDef:
    for ruleset in compiled.rulesets():
        if ruleset.name == name:
            return ruleset
    raise SnapshotError(f"{compiled.name} does not define ruleset {name}")
