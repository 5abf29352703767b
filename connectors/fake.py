"""A fake for every connector: scripted answers, every call recorded. Runbook authors use it in
their own tests; the offline simulator uses it for ``runbookd test`` and ``replay``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import ValidationError

from connectors.base import ConnectorSpec, PermanentError, RetryableError

DEFAULT_RESULTS: dict[str, dict[str, Any]] = {
    "http": {"status_code": 200, "body": "", "json": None},
    "slack": {"ok": True, "ts": "0"},
    "pagerduty": {"status": "success", "dedup_key": ""},
    "email": {"message_id": "fake"},
    "alertmanager_silence": {"silence_id": "fake-silence"},
    "prometheus": {"value": 0.0, "series": []},
    "sql": {"rows": [], "value": None, "rowcount": 0},
    "shell": {"exit_code": 0, "stdout": "", "stderr": ""},
}


@dataclass(frozen=True)
class Response:
    result: dict[str, Any] = field(default_factory=dict)
    fail: Literal["retryable", "permanent"] | None = None
    message: str = ""


@dataclass(frozen=True)
class RecordedCall:
    connector: str
    params: dict[str, Any]
    step: str | None
    idempotency_key: str
    dry_run: bool
    outcome: str
    result: dict[str, Any]
    error: str | None


class FakeConnectors:
    """Responses are consumed in order and the last one keeps answering; a script for a step
    wins over one for the whole connector; unscripted calls succeed with a plausible result."""

    def __init__(self, specs: Mapping[str, ConnectorSpec] | None = None) -> None:
        if specs is None:
            from connectors.registry import load_specs

            specs = load_specs(include_plugins=False)
        self.specs = dict(specs)
        self.calls: list[RecordedCall] = []
        self._scripts: dict[tuple[str, str | None], list[Response]] = {}

    def script(self, connector: str, *responses: Response, step: str | None = None) -> None:
        if connector not in self.specs:
            raise PermanentError(
                f"unknown connector {connector!r}; known: {', '.join(sorted(self.specs))}"
            )
        self._scripts[(connector, step)] = list(responses) or [Response()]

    def call(
        self,
        connector: str,
        params: dict[str, Any],
        *,
        step: str | None = None,
        idempotency_key: str = "",
        dry_run: bool = False,
    ) -> dict[str, Any]:
        spec = self.specs.get(connector)
        if spec is None:
            raise PermanentError(
                f"unknown connector {connector!r}; known: {', '.join(sorted(self.specs))}"
            )
        try:
            spec.params.model_validate(params)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"]) or "params"
            self._record(
                connector, params, step, idempotency_key, dry_run, "permanent", {}, err["msg"]
            )
            raise PermanentError(f"{connector} parameter {where}: {err['msg']}") from None
        if dry_run and not spec.read_only:
            self._record(
                connector, params, step, idempotency_key, True, "ok", {"dry_run": True}, None
            )
            return {"dry_run": True}
        response = self._next(connector, step)
        if response is None:
            result = dict(DEFAULT_RESULTS.get(connector, {}))
            self._record(connector, params, step, idempotency_key, dry_run, "ok", result, None)
            return result
        if response.fail is not None:
            message = response.message or f"{connector} failed ({response.fail})"
            self._record(
                connector, params, step, idempotency_key, dry_run, response.fail, {}, message
            )
            raise (RetryableError if response.fail == "retryable" else PermanentError)(message)
        self._record(
            connector, params, step, idempotency_key, dry_run, "ok", dict(response.result), None
        )
        return dict(response.result)

    async def run(
        self,
        connector: str,
        params: dict[str, Any],
        *,
        step: str | None = None,
        idempotency_key: str = "",
        dry_run: bool = False,
    ) -> dict[str, Any]:
        return self.call(
            connector, params, step=step, idempotency_key=idempotency_key, dry_run=dry_run
        )

    def calls_to(self, connector: str | None = None, step: str | None = None) -> list[RecordedCall]:
        return [
            c
            for c in self.calls
            if (connector is None or c.connector == connector) and (step is None or c.step == step)
        ]

    def _next(self, connector: str, step: str | None) -> Response | None:
        queue = self._scripts.get((connector, step)) if step is not None else None
        if queue is None:
            queue = self._scripts.get((connector, None))
        if not queue:
            return None
        return queue.pop(0) if len(queue) > 1 else queue[0]

    def _record(
        self,
        connector: str,
        params: dict[str, Any],
        step: str | None,
        key: str,
        dry_run: bool,
        outcome: str,
        result: dict[str, Any],
        error: str | None,
    ) -> None:
        self.calls.append(
            RecordedCall(connector, dict(params), step, key, dry_run, outcome, result, error)
        )
