"""The ``log`` connector: a note in the incident timeline, nothing external."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from runbookd.connectors.base import CallContext, ConnectorSpec, Params, Result, Runtime


class LogParams(Params):
    """A timeline note; handy for drills and status updates."""

    message: str = Field(description="Text of the note.")
    level: Literal["info", "warning", "error"] = Field(
        "info", description="How the note is shown: info, warning or error."
    )


async def run(params: LogParams, ctx: CallContext, runtime: Runtime) -> Result:
    """Nothing to do: the executor writes the call, and so the note, into the timeline."""
    return {}


SPEC = ConnectorSpec(
    name="log",
    params=LogParams,
    description="Record a note in the incident timeline; useful for drills and status updates.",
    run=run,
)
