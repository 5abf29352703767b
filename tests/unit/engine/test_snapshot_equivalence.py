"""Snapshots: an engine restored from a snapshot is the engine a full replay builds.

For every scenario of the corpus and for randomized streams over the bundled library, the inputs
the engine saw are recorded, replayed into one engine, and at cut points that engine is captured
and restored into a second one. The two must hold the same state (incidents, timers, correlation
halves inside durable_rules, rails, call and approval bookkeeping, counters) and answer every
following input with the same commands.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import runbookd.toolchain.scenario as scenario_module
from runbookd.engine.clock import VirtualClock
from runbookd.engine.commands import WORK_KINDS, Command
from runbookd.engine.compiler import CompiledRunbook
from runbookd.engine.errors import EngineError
from runbookd.engine.runtime import Engine
from runbookd.engine.simulator import Simulator
from runbookd.engine.snapshot import (
    SnapshotError,
    capture,
    comparable_state,
    fingerprint,
    refs_of,
    restore,
)
from runbookd.toolchain.library import load_library

REPO = Path(__file__).resolve().parents[3]
SCENARIOS = sorted((REPO / "tests" / "scenarios").glob("*.yaml"))
CODE = fingerprint()
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: The engine's inputs; ``advance`` is how timers fire.
INPUTS = (
    "ingest",
    "call_finished",
    "acknowledge",
    "resolve",
    "close",
    "reopen",
    "add_note",
    "decide",
    "advance",
)


@dataclass(frozen=True)
class Input:
    at: datetime
    method: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]


class RecordingSimulator(Simulator):
    """The scenario runner's simulator, writing down every input its engine gets."""

    recorded: list[tuple[list[CompiledRunbook], datetime, list[Input]]] = []

    def __init__(self, compiled: Any, start: datetime, *args: Any, **kwargs: Any) -> None:
        super().__init__(compiled, start, *args, **kwargs)
        inputs: list[Input] = []
        RecordingSimulator.recorded.append((list(compiled), start, inputs))
        for name in INPUTS:
            setattr(self.engine, name, self._recording(name, getattr(self.engine, name), inputs))

    def _recording(
        self, name: str, method: Callable[..., list[Command]], inputs: list[Input]
    ) -> Callable[..., list[Command]]:
        def call(*args: Any, **kwargs: Any) -> list[Command]:
            inputs.append(Input(self.clock.now(), name, args, kwargs))
            return method(*args, **kwargs)

        return call


def feed(engine: Engine, clock: VirtualClock, item: Input) -> list[Command] | str:
    clock.set(max(item.at, clock.now()))
    try:
        out: list[Command] | str = getattr(engine, item.method)(*item.args, **item.kwargs)
        return out
    except EngineError as exc:
        return f"refused: {exc}"


def restored_copy(
    engine: Engine, library: dict[str, CompiledRunbook]
) -> tuple[Engine, VirtualClock]:
    blob = capture(engine, lambda c: c.name, code=CODE)
    assert set(refs_of(blob, code=CODE)) <= set(library)
    clock = VirtualClock(EPOCH)
    return restore(blob, library.__getitem__, clock, code=CODE), clock


def check_equivalent(
    compiled: list[CompiledRunbook], start: datetime, inputs: list[Input], cuts: list[int]
) -> None:
    """Replay ``inputs``; at each cut, a restored copy must match and then behave the same."""
    library = {c.name: c for c in compiled}
    clock = VirtualClock(start)
    full = Engine(compiled, clock)
    copies: list[tuple[Engine, VirtualClock]] = []
    for index, item in enumerate(inputs):
        if index in cuts:
            copy = restored_copy(full, library)
            assert comparable_state(copy[0]) == comparable_state(full), f"state at input {index}"
            copies.append(copy)
        expected = feed(full, clock, item)
        for engine, engine_clock in copies:
            assert feed(engine, engine_clock, item) == expected, f"input {index}: {item.method}"
    final = comparable_state(full)
    for engine, _ in copies:
        assert comparable_state(engine) == final


def cut_points(count: int, rng: random.Random, how_many: int = 3) -> list[int]:
    return sorted(rng.sample(range(count + 1), min(how_many, count + 1)))


@pytest.fixture(scope="module")
def corpus() -> list[tuple[str, list[CompiledRunbook], datetime, list[Input]]]:
    RecordingSimulator.recorded = []
    recordings = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(scenario_module, "Simulator", RecordingSimulator)
        for path in SCENARIOS:
            before = len(RecordingSimulator.recorded)
            scenario_module.run_scenario(path)
            for compiled, start, inputs in RecordingSimulator.recorded[before:]:
                recordings.append((path.name, compiled, start, inputs))
    return recordings


def test_the_corpus_is_recorded(
    corpus: list[tuple[str, list[CompiledRunbook], datetime, list[Input]]],
) -> None:
    assert len(corpus) == len(SCENARIOS) > 100
    assert sum(len(inputs) for *_, inputs in corpus) > 1000


def test_snapshot_plus_tail_equals_full_replay_for_every_scenario(
    corpus: list[tuple[str, list[CompiledRunbook], datetime, list[Input]]],
) -> None:
    for name, compiled, start, inputs in corpus:
        rng = random.Random(name)
        try:
            check_equivalent(compiled, start, inputs, cut_points(len(inputs), rng))
        except AssertionError as exc:
            raise AssertionError(f"{name}: {exc}") from exc


# --- randomized streams over the bundled library -----------------------------------------------


def alert_pool(
    corpus: list[tuple[str, list[CompiledRunbook], datetime, list[Input]]],
) -> list[Any]:
    """Every event the corpus ingested: realistic alerts for every bundled runbook."""
    return [item.args[0] for *_, inputs in corpus for item in inputs if item.method == "ingest"]


def random_stream(
    engine: Engine, clock: VirtualClock, pool: list[Any], rng: random.Random, length: int
) -> Iterator[Input]:
    """Inputs chosen against the live engine: events (some re-keyed so correlations interleave),
    people's actions on real incidents and approvals, call results and timer ticks."""
    pending_calls: list[str] = []
    for _ in range(length):
        now = clock.now() + timedelta(seconds=rng.choice([0, 1, 5, 30, 90, 400]))
        roll = rng.random()
        if roll < 0.55:
            event = rng.choice(pool)
            channel = rng.choice(["a", "b", "c"])
            labels = {**event.labels, "channel": channel, "instance": channel}
            status = rng.choice(["firing", "firing", "resolved"])
            event = replace(event, labels=labels, at=now, fingerprint=None, status=status)
            item = Input(now, "ingest", (event,), {})
        elif roll < 0.7 and pending_calls:
            call_id = pending_calls.pop(rng.randrange(len(pending_calls)))
            if rng.random() < 0.7:
                item = Input(now, "call_finished", (call_id,), {"result": {"ok": True}})
            else:
                item = Input(
                    now,
                    "call_finished",
                    (call_id,),
                    {"error": "boom", "retryable": rng.random() < 0.5},
                )
        elif roll < 0.8 and engine.incidents:
            incident = rng.choice(list(engine.incidents))
            method = rng.choice(["acknowledge", "resolve", "add_note", "close", "reopen"])
            args: tuple[Any, ...] = (
                (incident, "sam") if method != "add_note" else (incident, "n", "sam")
            )
            item = Input(now, method, args, {})
        elif roll < 0.85 and engine.waiting_approvals():
            approval = rng.choice(sorted(engine.waiting_approvals()))
            item = Input(now, "decide", (approval, rng.random() < 0.7, "sam"), {})
        else:
            due = engine.next_due()
            at = max(now, due) if due is not None and rng.random() < 0.8 else now
            item = Input(at, "advance", (), {})
        out = feed(engine, clock, item)
        if not isinstance(out, str):
            pending_calls += [c.data["call_id"] for c in out if c.kind in WORK_KINDS]
        yield item


@pytest.mark.parametrize("seed", range(6))
def test_snapshot_plus_tail_equals_full_replay_for_random_streams(
    corpus: list[tuple[str, list[CompiledRunbook], datetime, list[Input]]], seed: int
) -> None:
    library = load_library([REPO / "runbooks"], load_rules=False)
    assert library.ok
    compiled = library.compiled()
    start = datetime(2026, 12, 1, tzinfo=UTC)
    rng = random.Random(seed)
    clock = VirtualClock(start)
    generator = Engine(compiled, clock)
    inputs = list(random_stream(generator, clock, alert_pool(corpus), rng, 400))
    assert len(generator.incidents) > 5
    check_equivalent(compiled, start, inputs, cut_points(len(inputs), rng, how_many=4))


def test_a_snapshot_from_other_code_or_damaged_is_refused() -> None:
    library = load_library([REPO / "runbooks"], load_rules=False)
    compiled = library.compiled()
    engine = Engine(compiled, VirtualClock(datetime(2026, 12, 1, tzinfo=UTC)))
    blob = capture(engine, lambda c: c.name, code=CODE)
    by_name = {c.name: c for c in compiled}
    with pytest.raises(SnapshotError, match="different engine code"):
        restore(blob, by_name.__getitem__, VirtualClock(EPOCH), code="other")
    with pytest.raises(SnapshotError, match="damaged"):
        restore(blob[: len(blob) // 2], by_name.__getitem__, VirtualClock(EPOCH), code=CODE)
