"""The sections of config.yaml as typed models (every key, its default and its description),
and the rules about secrets they share: which key names hold one, and URLs shown redacted.

``runbookd.config.settings`` puts them together into ``Settings`` and loads them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    IPvAnyNetwork,
    SecretStr,
    field_validator,
    model_validator,
)

from runbookd.engine.lang.durations import Duration, Offset
from runbookd.engine.lang.model import ID_PATTERN

_SECRET_WORDS = re.compile(r"password|passwd|token|secret|credential|api_?key", re.IGNORECASE)
_URL_PASSWORD = re.compile(r"^(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*?:)(?P<pw>[^/?#]*)@")


def redact_url(url: str) -> str:
    """``url`` with the password of its user info replaced by ``***`` (the rest unchanged)."""
    return _URL_PASSWORD.sub(r"\g<head>***@", url, count=1)


def is_secret_key(name: str) -> bool:
    """True for key names whose values are secrets (password, token, secret, api_key, ...)."""
    return bool(_SECRET_WORDS.search(name))


def _blank_is_none(value: Any) -> Any:
    # `${env:NAME:-}` and `RUNBOOKD_X=` mean "not set" for optional values.
    return None if isinstance(value, str) and not value.strip() else value


def _http_url(value: str | None) -> str | None:
    if value is not None and not value.startswith(("http://", "https://")):
        raise ValueError("must start with http:// or https://")
    return value


OptionalText = Annotated[str | None, BeforeValidator(_blank_is_none)]
OptionalHttpUrl = Annotated[str | None, BeforeValidator(_blank_is_none), AfterValidator(_http_url)]
OptionalSecret = Annotated[SecretStr | None, BeforeValidator(_blank_is_none)]


class Section(BaseModel):
    """Base of every settings model: unknown keys are errors; URLs are redacted in repr."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def __repr_args__(self) -> Iterable[tuple[str | None, Any]]:
        for name, value in super().__repr_args__():
            if isinstance(value, str) and name and name.endswith("url"):
                yield name, redact_url(value)
            else:
                yield name, value


class ServerTlsSettings(Section):
    """HTTPS for the API, the webhooks and the pages; both files PEM."""

    cert_file: Path = Field(description="Certificate (with its chain) the server presents.")
    key_file: Path = Field(description="Private key of cert_file.")


class ServerSettings(Section):
    host: str = Field("127.0.0.1", description="Address to listen on; 0.0.0.0 for all.")
    port: int = Field(8080, ge=1, le=65535, description="TCP port to listen on.")
    max_body_bytes: int = Field(
        1_048_576, gt=0, description="Largest request body accepted; larger ones get 413."
    )
    access_log: bool = Field(False, description="Log one line per HTTP request.")
    tls: ServerTlsSettings | None = Field(None, description="Serve HTTPS; unset = plain HTTP.")


class AuthSettings(Section):
    bearer_token: OptionalSecret = Field(
        None, description="Token expected as `Authorization: Bearer <token>`; unset = no bearer."
    )
    basic_username: OptionalText = Field(None, description="HTTP basic auth user name.")
    basic_password: OptionalSecret = Field(None, description="HTTP basic auth password.")
    trusted_proxies: list[IPvAnyNetwork] = Field(
        default_factory=list,
        description="Addresses (CIDRs) of reverse proxies whose X-Forwarded-User header names "
        "the user; from any other peer the header is ignored.",
    )

    @model_validator(mode="after")
    def _basic_pair(self) -> AuthSettings:
        if (self.basic_username is None) != (self.basic_password is None):
            given, missing = (
                ("basic_username", "basic_password")
                if self.basic_username is not None
                else ("basic_password", "basic_username")
            )
            raise ValueError(f"{given} is set but {missing} is not; set both or neither")
        return self

    @property
    def enabled(self) -> bool:
        """True when requests must carry credentials."""
        return self.bearer_token is not None or self.basic_username is not None


class WebSettings(Section):
    csrf_secret: OptionalSecret = Field(
        None,
        description="Key the pages' forms are signed with (CSRF); unset = derived from the "
        "shared credential or the users' token hashes, else random per process.",
    )


class AlertmanagerSettings(Section):
    api_url: OptionalHttpUrl = Field(
        None,
        description="Alertmanager base URL (e.g. http://127.0.0.1:9093), used to fetch the alerts "
        "a webhook cut off with truncatedAlerts; unset = truncated alerts are only counted.",
    )
    timeout: Duration = Field(
        timedelta(seconds=5), description="Timeout of one Alertmanager API request."
    )


class IngestSettings(Section):
    batch_max: int = Field(500, ge=1, description="Most events written in one inbox transaction.")
    commit_interval: Offset = Field(
        timedelta(0),
        description="Group commit: how long a write waits for others to share its transaction "
        "(0s = commit at once; writes arriving during a commit still share the next one).",
    )


class EngineSettings(Section):
    dry_run: bool = Field(False, description="Run no connector with side effects; record them.")
    batch_max: int = Field(500, ge=1, description="Most events the engine thread takes at once.")
    retention: Duration = Field(
        timedelta(minutes=5),
        description="How long a resolved incident stays in the engine's memory; the store keeps "
        "it for good, and every action on it still works after.",
    )
    snapshot_every: int = Field(
        10_000,
        ge=0,
        description="Store the engine's state after this many applied journal entries, so a "
        "restart replays only the entries after it (0 = never; a start then replays everything).",
    )
    snapshot_interval: Duration = Field(
        timedelta(minutes=5),
        description="Also store it when this long has passed since the last one and entries "
        "were applied since.",
    )


class ExecutorSettings(Section):
    workers: int = Field(16, ge=1, description="Connector calls running at the same time.")
    default_timeout: Duration = Field(
        timedelta(seconds=30), description="Timeout of a connector call whose step sets none."
    )
    breaker_failures: int = Field(
        5, ge=1, description="Consecutive failures of a connector that open its circuit."
    )
    breaker_open_for: Duration = Field(
        timedelta(seconds=30), description="How long an open circuit refuses calls before a trial."
    )


class PollSettings(Section):
    name: str = Field(pattern=ID_PATTERN, description="Unique name; events carry it as source.")
    query: str = Field(min_length=1, description="PromQL expression, evaluated every `every`.")
    every: Duration = Field(timedelta(seconds=30), description="Polling interval.")
    url: OptionalHttpUrl = Field(
        None, description="Prometheus base URL; unset = connectors.prometheus.url."
    )
    labels: dict[str, str] = Field(
        default_factory=dict, description="Extra labels on every event this poll produces."
    )


def _ids_or_all(value: Any) -> Any:
    # One clear message instead of pydantic's one error per member of the union.
    if value == "all":
        return value
    if not isinstance(value, list) or not value:
        raise ValueError("expected all, or a non-empty list of runbook ids such as [data-leak]")
    for item in value:
        if not isinstance(item, str) or not re.fullmatch(ID_PATTERN, item):
            raise ValueError(f"{item!r} is not a runbook id (lower case, digits, _ . -)")
    return value


class DrillSettings(Section):
    runbooks: Annotated[list[str] | Literal["all"], BeforeValidator(_ids_or_all)] = Field(
        "all", description="Runbook ids to drill, or all (every runbook loaded at that moment)."
    )
    cron: str = Field(
        description="When, as a five-field crontab in UTC (minute hour day month weekday)."
    )

    @field_validator("cron")
    @classmethod
    def _crontab(cls, value: str) -> str:
        from runbookd.config.cron import cron_trigger

        try:
            cron_trigger(value)
        except ValueError as exc:
            raise ValueError(f"not a crontab line ({exc}); write e.g. '0 3 * * 1'") from None
        return value


class LogSettings(Section):
    level: Literal["debug", "info", "warning", "error"] = Field("info", description="Log level.")
    format: Literal["text", "json"] = Field("text", description="text for people, json for tools.")


class ClusterSettings(Section):
    """Replicas on one PostgreSQL database (docs/operations.md "Replicas")."""

    enabled: bool = Field(
        False,
        description="Run as one of several replicas sharing the database: one holds the engine "
        "lease and runs the engine, executor, polls and drills; the others follow. PostgreSQL only.",
    )
    role: Literal["all", "ingest", "engine"] = Field(
        "all",
        description="all: take webhooks and API writes, and stand for the engine lease; "
        "ingest: take webhooks and API writes only, no engine work at all; engine: stand for the "
        "lease (and still answer the API).",
    )
    name: OptionalText = Field(
        None,
        max_length=120,
        description="This replica's name in the lease and /readyz; unset = host:pid.",
    )
    lease_ttl: Duration = Field(
        timedelta(seconds=5),
        description="How long the engine lease lasts without renewal (renewed every ttl/5); the "
        "longest a dead leader holds up the engine.",
    )
    clock_margin: Duration = Field(
        timedelta(seconds=1),
        description="How much earlier than the database's expiry the leader stops trusting its "
        "lease (covers the renewal's round trip and clock rate drift).",
    )
    lock_timeout: Duration = Field(
        timedelta(seconds=2),
        description="PostgreSQL lock_timeout of every connection: no replica waits longer for "
        "a lock held by a paused peer.",
    )
    idle_in_transaction_timeout: Duration = Field(
        timedelta(seconds=3),
        description="PostgreSQL idle_in_transaction_session_timeout: a paused replica's "
        "transaction is ended by the server after this, releasing its locks.",
    )

    @model_validator(mode="after")
    def _margin(self) -> ClusterSettings:
        if not timedelta(0) < self.clock_margin < self.lease_ttl:
            raise ValueError("clock_margin must be greater than 0s and less than lease_ttl")
        return self
