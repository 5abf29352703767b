"""The executor: one bounded attempt per command, secrets resolved late and masked everywhere."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from pydantic import Field

from runbookd.connectors.base import (
    CallContext,
    ConnectorSpec,
    Params,
    PermanentError,
    RetryableError,
    Runtime,
)
from runbookd.connectors.http import SPEC as HTTP
from runbookd.engine.breaker import Breakers
from runbookd.engine.executor import Executor, Outcome, Work

SECRET = "xoxb-very-secret-token"


class EchoParams(Params):
    text: str = Field(description="echoed back")
    behave: str = Field("ok", description="ok | slow | retryable | permanent | crash")


async def echo(params: EchoParams, ctx: CallContext, runtime: Runtime) -> dict[str, Any]:
    if params.behave == "slow":
        await asyncio.sleep(10)  # the executor's deadline must cut this short
    if params.behave == "retryable":
        raise RetryableError(f"echo: upstream said 503 for {params.text}")
    if params.behave == "permanent":
        raise PermanentError(f"echo: refused {params.text}")
    if params.behave == "crash":
        raise ZeroDivisionError(params.text)
    return {"text": params.text, "key": ctx.idempotency_key, "masked": sorted(ctx.secrets)}


SPECS = {
    "echo": ConnectorSpec("echo", EchoParams, "echo", ("text", "key"), run=echo),
    "writer": ConnectorSpec("writer", EchoParams, "writes", run=echo),
}


class Port:
    def pending(self, limit: int, exclude: frozenset[str]) -> list[Work]:
        return []

    async def finish(self, work: Work, outcome: Outcome) -> None:
        return None


def call(connector: str, params: dict[str, Any], **data: Any) -> Outcome:
    async def run() -> Outcome:
        async with httpx.AsyncClient() as client:
            executor = Executor(
                SPECS, Port(), client, default_timeout=0.2, environ={"TOKEN": SECRET}
            )
            work = Work(
                "INC-1:fix:1", "run_step", {"connector": connector, "params": params, **data}
            )
            return await executor.call(work)

    return asyncio.run(run())


def test_env_references_are_resolved_for_the_call_and_passed_on_as_secrets() -> None:
    outcome = call("echo", {"text": "token ${env:TOKEN}"})
    assert outcome.error is None and outcome.result is not None
    assert outcome.result["text"] == f"token {SECRET}"
    assert outcome.result["key"] == "INC-1:fix:1"
    assert outcome.result["masked"] == [SECRET]


def test_failures_are_classified_and_never_show_the_secret() -> None:
    retry = call("echo", {"text": "${env:TOKEN}", "behave": "retryable"})
    assert retry.retryable and retry.error is not None
    assert SECRET not in retry.error and "***" in retry.error
    refused = call("echo", {"text": "${env:TOKEN}", "behave": "permanent"})
    assert not refused.retryable and refused.error is not None and SECRET not in refused.error
    crashed = call("echo", {"text": "${env:TOKEN}", "behave": "crash"})
    assert crashed.error == "echo: ZeroDivisionError"


def test_a_call_past_its_timeout_is_cut_and_retryable() -> None:
    outcome = call("echo", {"text": "x", "behave": "slow"}, timeout="100ms")
    assert outcome.retryable and outcome.error is not None and "timeout" in outcome.error


def test_bad_parameters_unknown_connectors_and_missing_variables_are_permanent() -> None:
    bad = call("echo", {"txt": "x"})
    assert not bad.retryable and bad.error is not None and "txt" in bad.error
    unknown = call("nope", {})
    assert unknown.error == "unknown connector 'nope'"
    missing = call("echo", {"text": "${env:NOT_SET}"})
    assert missing.error == "environment variable NOT_SET is not set"


def test_a_dry_run_calls_nothing_that_writes() -> None:
    outcome = call("writer", {"text": "x", "behave": "crash"}, dry_run=True)
    assert outcome.result == {"dry_run": True} and outcome.error is None


def test_a_connector_that_keeps_failing_is_cut_off() -> None:
    async def run() -> list[Outcome]:
        async with httpx.AsyncClient() as client:
            executor = Executor(SPECS, Port(), client, breakers=Breakers(failures=2, open_for=60))
            outcomes = []
            for i in range(3):
                work = Work(
                    f"INC-1:fix:{i}",
                    "run_step",
                    {"connector": "echo", "params": {"text": "x", "behave": "retryable"}},
                )
                outcomes.append(await executor.call(work))
            return outcomes

    first, second, third = asyncio.run(run())
    assert first.retryable and second.retryable
    assert not third.retryable and third.error is not None and "circuit open" in third.error


def test_each_host_of_the_http_connector_has_its_own_circuit() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503 if request.url.host == "dead.example" else 200, json={})

    async def run() -> list[Outcome]:
        transport = httpx.MockTransport(answer)
        async with httpx.AsyncClient(transport=transport) as client:
            executor = Executor(
                {"http": HTTP}, Port(), client, breakers=Breakers(failures=2, open_for=60)
            )
            outcomes = []
            for i, host in enumerate(["dead", "dead", "dead", "alive"]):
                params = {"method": "POST", "url": f"http://{host}.example/x"}
                work = Work(f"INC-1:fix:{i}", "run_step", {"connector": "http", "params": params})
                outcomes.append(await executor.call(work))
            return outcomes

    *dead, alive = asyncio.run(run())
    assert dead[0].retryable and dead[1].retryable
    assert dead[2].error is not None and "circuit open" in dead[2].error
    assert "http://dead.example" in dead[2].error
    assert alive.error is None  # the same connector, another host: called


class Outbox:
    """A port with one pending call, recording finished ones."""

    def __init__(self, work: Work) -> None:
        self.waiting = [work]
        self.finished: list[str] = []
        self.done = asyncio.Event()

    def pending(self, limit: int, exclude: frozenset[str]) -> list[Work]:
        return [
            w for w in self.waiting if w.call_id not in exclude and w.call_id not in self.finished
        ]

    async def finish(self, work: Work, outcome: Outcome) -> None:
        self.finished.append(work.call_id)
        self.done.set()


def test_no_call_starts_without_the_permit_and_pending_ones_run_once_it_comes() -> None:
    """Replicas: a process whose engine lease may be someone else's starts no call; the outbox
    keeps the call pending, and the process that takes the lease over runs it."""
    work = Work("INC-1:page:1", "notify", {"connector": "echo", "params": {"text": "hi"}})
    outbox = Outbox(work)
    allowed = False

    async def run() -> None:
        async with httpx.AsyncClient() as client:
            executor = Executor(SPECS, outbox, client, permit=lambda: allowed)
            await executor._dispatch()
            executor.offer([work])
            assert executor.inflight == 0 and outbox.finished == []
            nonlocal allowed
            allowed = True
            executor.resume()
            await executor._dispatch()
            await asyncio.wait_for(outbox.done.wait(), 10)
            assert outbox.finished == ["INC-1:page:1"]

    asyncio.run(run())
