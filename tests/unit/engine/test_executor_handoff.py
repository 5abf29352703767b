"""Calls the engine hands to the executor directly, next to the outbox it reads."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx

from runbookd.connectors.base import CallContext, ConnectorSpec, Params, Runtime
from runbookd.engine.executor import Executor, Outcome, Work


class Text(Params):
    text: str = "x"


class Outbox:
    """An in-memory outbox: what is pending until its outcome is stored, and who ran what."""

    def __init__(self) -> None:
        self.rows: dict[str, Work] = {}
        self.done: dict[str, Outcome] = {}
        self.reads = 0
        self.ran: list[str] = []
        self.stale: list[Work] | None = None

    def add(self, *ids: str) -> list[Work]:
        works = [Work(i, "run_step", {"connector": "echo", "params": {"text": i}}) for i in ids]
        for w in works:
            self.rows[w.call_id] = w
        return works

    def pending(self, limit: int, exclude: frozenset[str]) -> list[Work]:
        self.reads += 1
        if self.stale is not None:
            return self.stale
        waiting = [w for i, w in self.rows.items() if i not in self.done and i not in exclude]
        return waiting[:limit]

    async def finish(self, work: Work, outcome: Outcome) -> None:
        self.done[work.call_id] = outcome


def executor(outbox: Outbox, workers: int = 2) -> Executor:
    async def echo(params: Text, ctx: CallContext, runtime: Runtime) -> dict[str, Any]:
        outbox.ran.append(ctx.idempotency_key)
        return {"text": params.text}

    specs = {"echo": ConnectorSpec("echo", Text, "echo", run=echo)}
    return Executor(specs, outbox, httpx.AsyncClient(), workers=workers)


async def until(condition: Callable[[], bool]) -> None:
    deadline = asyncio.get_running_loop().time() + 10
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "not reached before the deadline"
        await asyncio.sleep(0.001)


def test_offered_calls_run_without_reading_the_outbox_back() -> None:
    async def scenario() -> Outbox:
        outbox = Outbox()
        ex = executor(outbox)
        runner = asyncio.create_task(ex.run())
        ex.wake()
        await until(lambda: outbox.reads == 1)  # the first read: nothing waiting
        await asyncio.sleep(0)
        reads = outbox.reads
        ex.offer(outbox.add("a:1", "a:2", "a:3"))
        await until(lambda: len(outbox.done) == 3)
        # Each finished call wakes the executor to look for more, but the offer itself did
        # not need a read to start the calls.
        assert outbox.ran[:3] == ["a:1", "a:2", "a:3"]
        assert reads == 1
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
        return outbox

    outbox = asyncio.run(scenario())
    assert sorted(outbox.done) == ["a:1", "a:2", "a:3"]


def test_offered_calls_wait_behind_calls_already_pending_in_the_outbox() -> None:
    async def scenario() -> list[str]:
        outbox = Outbox()
        outbox.add("old:1", "old:2")  # left pending, e.g. by the previous run of the service
        ex = executor(outbox, workers=1)
        ex.offer(outbox.add("new:1"))  # before any read: the executor does not know the outbox
        runner = asyncio.create_task(ex.run())
        await until(lambda: len(outbox.done) == 3)
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
        return outbox.ran

    assert asyncio.run(scenario()) == ["old:1", "old:2", "new:1"]


def test_a_call_finished_during_a_read_is_not_run_again() -> None:
    # A read of the outbox that began before a call's outcome was stored lists it as pending;
    # by the time the read returns the call may be finished and no longer in flight.
    async def scenario() -> list[str]:
        outbox = Outbox()
        ex = executor(outbox)
        await ex._dispatch()  # the outbox is empty: offers are taken from now on
        (work,) = outbox.add("c:1")
        ex.offer([work])
        await until(lambda: "c:1" in outbox.done and ex.inflight == 0)
        outbox.stale = [work]  # the next read answers with what it saw before the outcome
        await ex._dispatch()
        assert ex.inflight == 0
        return outbox.ran

    assert asyncio.run(scenario()) == ["c:1"]
