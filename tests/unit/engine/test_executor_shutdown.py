"""Stopping the executor: one cancel of ``Executor.run`` ends it, whenever it arrives.

On Python 3.11, ``asyncio.wait_for`` drops a cancel that arrives just after the awaited future
finished (CPython gh-86296). ``Executor.run`` waited for its wake-up that way, so a cancel right
after a wake-up was lost and ``Service.stop`` (one cancel, then await) hung; the executor
benchmark saw it in half of its passes.
"""

from __future__ import annotations

import asyncio
import itertools

import httpx

from runbookd.engine.executor import Executor, Outcome, Work


class Idle:
    def pending(self, limit: int, exclude: frozenset[str]) -> list[Work]:
        return []

    async def finish(self, work: Work, outcome: Outcome) -> None:
        raise AssertionError("no work was handed out")


def test_one_cancel_stops_the_executor_even_right_after_a_wake_up() -> None:
    async def attempts() -> list[tuple[int, int]]:
        stuck = []
        async with httpx.AsyncClient() as client:
            # The race is a matter of loop iterations: try the cancel at each offset around it.
            for before, after in itertools.product(range(4), range(6)):
                executor = Executor({}, Idle(), client, environ={})
                task = asyncio.create_task(executor.run())
                for _ in range(before):
                    await asyncio.sleep(0)  # let run() reach its wait
                executor.wake()
                for _ in range(after):
                    await asyncio.sleep(0)
                task.cancel()
                done, _ = await asyncio.wait({task}, timeout=2.0)
                if not done:
                    stuck.append((before, after))
                    while not task.done():  # stop it anyway, so the next attempt starts clean
                        task.cancel()
                        await asyncio.wait({task}, timeout=2.0)
        return stuck

    assert asyncio.run(attempts()) == []
