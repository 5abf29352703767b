"""A stand-in for every connector: scripted answers, every call recorded, nothing touched.

Runbook authors use it in their own tests; the offline simulator behind ``runbookd test``,
``replay`` and ``drill`` uses it too. Rules for answers:

- Responses given to :meth:`FakeConnectors.script` are consumed in order, one per call; the last
  one keeps answering. With ``times=n`` the script answers only ``n`` calls and is then spent.
- A script for a step takes precedence over one for the whole connector; once it is spent, calls
  fall through to the connector-wide script, then to the default result.
- A successful result is the connector's default result (``DEFAULT_RESULTS``, else ``None`` for
  each result field) updated with the scripted ``result``, so a script names only what matters.
- Parameters are validated like the real connector validates them; a bad call is recorded and
  raises :class:`PermanentError`.
- A dry run acts only for read-only connectors; others record it and return ``{"dry_run": True}``.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import ValidationError

from runbookd.connectors.base import ConnectorSpec, Params, PermanentError, RetryableError

Outcome = Literal["ok", "retryable", "permanent"]

#: What an unscripted call returns, per built-in connector: a quiet, successful answer.
DEFAULT_RESULTS: dict[str, dict[str, Any]] = {
    "http": {"status_code": 200, "body": "", "json": None},
    "slack": {"ok": True, "ts": "1700000000.000100"},
    "pagerduty": {"dedup_key": "fake-dedup-key", "status": "success"},
    "email": {"message_id": "<fake@runbookd.invalid>"},
    "alertmanager_silence": {"silence_id": "fake-silence-id"},
    "prometheus": {"value": 0.0, "series": []},
    "sql": {"rows": [], "value": None, "rowcount": 0},
    "shell": {"exit_code": 0, "stdout": "", "stderr": ""},
    "log": {},
}


@dataclass(frozen=True)
class Response:
    """What one scripted call does: succeed with ``result``, or fail with ``message``."""

    result: dict[str, Any] = field(default_factory=dict)
    fail: Literal["retryable", "permanent"] | None = None
    message: str = ""


@dataclass(frozen=True)
class RecordedCall:
    """One call as the fake saw it, including calls that failed or were dry runs."""

    connector: str
    params: dict[str, Any]
    step: str | None
    idempotency_key: str
    dry_run: bool
    outcome: Outcome
    result: dict[str, Any]
    error: str | None


@dataclass
class _Script:
    responses: tuple[Response, ...]
    times: int | None
    used: int = 0

    def take(self) -> Response | None:
        if self.times is not None and self.used >= self.times:
            return None
        response = self.responses[min(self.used, len(self.responses) - 1)]
        self.used += 1
        return response


class FakeConnectors:
    """Answers connector calls from scripts and records every call in :attr:`calls`."""

    def __init__(self, specs: Mapping[str, ConnectorSpec] | None = None) -> None:
        if specs is None:
            # Imported late: the registry imports every built-in, which a caller passing its
            # own specs does not need.
            from runbookd.connectors.registry import load_specs

            specs = load_specs(include_plugins=False)
        self.specs: dict[str, ConnectorSpec] = dict(specs)
        self.calls: list[RecordedCall] = []
        self._scripts: dict[tuple[str, str | None], _Script] = {}

    def script(
        self,
        connector: str,
        *responses: Response,
        step: str | None = None,
        times: int | None = None,
    ) -> None:
        """Queue answers for ``connector`` (only its calls from ``step``, if given).

        Without responses the script answers with the default result. A new script for the same
        connector and step replaces the old one.
        """
        self._spec(connector)
        if times is not None and times < 1:
            raise ValueError(f"times must be at least 1, got {times!r}")
        self._scripts[(connector, step)] = _Script(responses or (Response(),), times)

    def call(
        self,
        connector: str,
        params: dict[str, Any],
        *,
        step: str | None = None,
        idempotency_key: str = "",
        dry_run: bool = False,
    ) -> dict[str, Any]:
        """Validate, record and answer one call; failures raise after they are recorded."""
        spec = self._spec(connector)

        def record(outcome: Outcome, result: dict[str, Any], error: str | None = None) -> None:
            self.calls.append(
                RecordedCall(
                    connector=connector,
                    params=copy.deepcopy(params),
                    step=step,
                    idempotency_key=idempotency_key,
                    dry_run=dry_run,
                    outcome=outcome,
                    result=copy.deepcopy(result),
                    error=error,
                )
            )

        try:
            validated = spec.params.model_validate(params)
        except ValidationError as exc:
            message = _explain(spec, exc)
            record("permanent", {}, message)
            raise PermanentError(message) from None

        if dry_run and not _only_reads(spec, validated):
            record("ok", {"dry_run": True})
            return {"dry_run": True}

        response = self._next(connector, step)
        if response is not None and response.fail is not None:
            message = response.message or f"{connector}: scripted {response.fail} failure"
            record(response.fail, {}, message)
            error = RetryableError if response.fail == "retryable" else PermanentError
            raise error(message)

        result = {**_default_result(spec), **(response.result if response else {})}
        record("ok", result)
        return copy.deepcopy(result)

    async def run(
        self,
        connector: str,
        params: dict[str, Any],
        *,
        step: str | None = None,
        idempotency_key: str = "",
        dry_run: bool = False,
    ) -> dict[str, Any]:
        """:meth:`call` for asynchronous executors."""
        return self.call(
            connector, params, step=step, idempotency_key=idempotency_key, dry_run=dry_run
        )

    def calls_to(self, connector: str | None = None, step: str | None = None) -> list[RecordedCall]:
        """Recorded calls, in order, filtered by connector and/or step."""
        return [
            c
            for c in self.calls
            if (connector is None or c.connector == connector) and (step is None or c.step == step)
        ]

    def _spec(self, connector: str) -> ConnectorSpec:
        spec = self.specs.get(connector)
        if spec is None:
            known = ", ".join(sorted(self.specs))
            raise PermanentError(f"unknown connector {connector!r}; known: {known}")
        return spec

    def _next(self, connector: str, step: str | None) -> Response | None:
        keys = [(connector, step), (connector, None)] if step is not None else [(connector, None)]
        for key in keys:
            script = self._scripts.get(key)
            response = script.take() if script is not None else None
            if response is not None:
                return response
        return None


def _only_reads(spec: ConnectorSpec, params: Params) -> bool:
    # A parameter model may narrow its spec: an sql call with read_only: false is a write.
    return spec.read_only and getattr(params, "read_only", True) is not False


def _default_result(spec: ConnectorSpec) -> dict[str, Any]:
    base: dict[str, Any] = dict.fromkeys(spec.result_fields)
    return {**base, **DEFAULT_RESULTS.get(spec.name, {})}


def _explain(spec: ConnectorSpec, exc: ValidationError) -> str:
    problems = []
    for err in exc.errors(include_input=False):
        where = ".".join(str(part) for part in err["loc"])
        if err["type"] == "extra_forbidden":
            what = f"unknown parameter; allowed: {', '.join(spec.param_names())}"
        else:
            what = err["msg"].removeprefix("Value error, ")
        problems.append(f"parameter {where!r}: {what}" if where else what)
    return f"{spec.name}: {'; '.join(problems)}"
