"""What every connector is: a typed parameter model, a description, and one async ``run``.

Exception tree::

    ConnectorError            a call failed
    ├── RetryableError        worth another attempt (timeouts, 5xx, 429, connection refused)
    └── PermanentError        will fail again the same way (4xx, bad parameters, denied)

Connectors only classify failures; the executor owns timeouts, retries, backoff and metrics.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    import httpx


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
    #: Values the executor resolved from ``${env:NAME}`` references for this call. Connectors
    #: mask them in error messages and results; without this they cannot tell them from text.
    secrets: frozenset[str] = frozenset()


class Settings(BaseModel):
    """Base for a connector's section in config.yaml (``connectors.<name>``): unknown keys are
    errors; secrets are ``SecretStr`` fields filled from ``${env:NAME}`` references."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class Runtime:
    """What the executor lends a connector for one call."""

    #: The service's one shared outbound HTTP client (connection pool, no default timeout:
    #: the executor bounds every call with its own deadline).
    http: httpx.AsyncClient
    #: This connector's validated ``connectors.<name>`` section, or None when it has none.
    settings: Settings | None = None


Result = dict[str, Any]

#: ``async def run(params, ctx, runtime) -> result``: one call, failures raised as
#: RetryableError / PermanentError. ``params`` is an instance of the spec's ``params`` model with
#: every ``${env:NAME}`` reference already resolved by the executor.
RunFn = Callable[[Any, CallContext, Runtime], Awaitable[Result]]


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
    #: The call itself; None only for specs that exist for validation (tests, docs).
    run: RunFn | None = None
    #: Model of the connector's section in config.yaml, if it needs one (URLs, tokens).
    settings: type[Settings] | None = None

    def param_names(self) -> list[str]:
        return [info.alias or name for name, info in self.params.model_fields.items()]

    def required_params(self) -> list[str]:
        return [
            info.alias or name
            for name, info in self.params.model_fields.items()
            if info.is_required()
        ]
