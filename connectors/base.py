"""What every connector is: a typed parameter model, a description, and one async ``run``.

Exception tree::

    ConnectorError            a call failed
    ├── RetryableError        worth another attempt (timeouts, 5xx, 429, connection refused)
    └── PermanentError        will fail again the same way (4xx, bad parameters, denied)

Connectors only classify failures; the executor owns timeouts, retries, backoff and metrics.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict


class ConnectorError(Exception):
    """A connector call failed."""


class RetryableError(ConnectorError):
    """A failure another attempt may cure."""


class PermanentError(ConnectorError):
    """A failure that will repeat; do not retry."""


class Params(BaseModel):
    """Base for connector parameter models: unknown parameters are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class CallContext:
    """What the executor tells a connector about the call it is making."""

    idempotency_key: str
    dry_run: bool = False
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ConnectorSpec:
    """A connector as the language sees it: a name, its parameters, what it does."""

    name: str
    params: type[Params]
    description: str
    #: Result fields the connector returns, for templates and ``expect`` checks.
    result_fields: tuple[str, ...] = ()
    #: True for connectors that only read (queries); dry-run still calls them.
    read_only: bool = False

    def param_names(self) -> list[str]:
        return [info.alias or name for name, info in self.params.model_fields.items()]

    def required_params(self) -> list[str]:
        return [
            info.alias or name
            for name, info in self.params.model_fields.items()
            if info.is_required()
        ]


Result = dict[str, Any]
