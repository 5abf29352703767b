"""The service's settings: typed models, and ``load_settings`` (config.yaml + environment).

``load_settings(path)`` reads the file, substitutes ``${env:NAME}`` references, applies
``RUNBOOKD_<KEY>`` overrides from the environment (they win), validates everything at once and
raises one ``SettingsError`` listing every problem as ``SOURCE: key.path: message, got value``.
Secrets never appear in messages or in ``repr(settings)``. Nothing is read at import time.
The rules are documented in docs/configuration.md.
"""

from __future__ import annotations

import importlib
import os
import re
import ssl
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

from runbookd.config.chatops import ChatopsSettings
from runbookd.config.positions import key_path
from runbookd.config.secretfiles import file_keys, read_secret
from runbookd.config.sections import (
    AlertmanagerSettings,
    AuthSettings,
    ClusterSettings,
    DrillSettings,
    EngineSettings,
    ExecutorSettings,
    FallbackNotifySettings,
    IngestSettings,
    LogSettings,
    OptionalText,
    PollSettings,
    RetentionSettings,
    Section,
    ServerSettings,
    WebSettings,
    is_secret_key,
    redact_url,
)
from runbookd.config.sources import (
    Loc,
    Problem,
    apply,
    env_overrides,
    field_shape,
    interpolate,
    read_file,
)
from runbookd.config.users import UserSettings, duplicate_names, load_users_file
from runbookd.engine.lang.diagnostics import did_you_mean, short_repr
from runbookd.engine.windows import WindowError, windows_from_config

_DB_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
# The database drivers that ship as an extra of runbookd's, by URL scheme: a URL that needs one
# is refused at load, naming the extra, instead of failing at the first connection with a bare
# ModuleNotFoundError.
_DRIVER_EXTRAS = {"postgresql+psycopg": ("psycopg", "postgres")}


class SettingsError(Exception):
    """Settings that cannot be used; ``problems`` holds one line per problem, no secrets."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = tuple(problems)


class Settings(Section):
    """Everything ``runbookd serve`` needs; built by ``load_settings``."""

    data_dir: Path = Field(
        Path("data"), description="Local state: the SQLite database when database_url is unset."
    )
    database_url: OptionalText = Field(
        None,
        description="SQLAlchemy URL of the store; unset = sqlite:///<data_dir>/runbookd.db.",
    )
    runbooks: list[Path] = Field(
        default_factory=lambda: [Path("runbooks")], description="Runbook files or folders."
    )
    schedules: list[Path] = Field(
        default_factory=lambda: [Path("schedules")],
        description="On-call schedule files or folders (docs/oncall.md); missing ones are skipped.",
    )
    fallback_runbook: OptionalText = Field(
        None,
        description="The runbook (detection.fallback: true) that takes every alert no other "
        "runbook took; null = none. The bundled config.yaml names unhandled-alert.",
    )
    fallback_notify: FallbackNotifySettings | None = Field(
        None,
        description="The connector and params the fallback runbook's levels notify through; "
        "null = the runbook's own (the bundled one: a log note on the incident's timeline).",
    )
    server: ServerSettings = Field(default_factory=ServerSettings, description="HTTP server.")
    auth: AuthSettings = Field(default_factory=AuthSettings, description="API credentials.")
    web: WebSettings = Field(default_factory=WebSettings, description="The web pages.")
    users: list[UserSettings] = Field(
        default_factory=list, description="Users and service accounts, with roles (docs/access.md)."
    )
    users_file: Path | None = Field(
        None, description="A YAML file with more users (a mapping with one key, users:)."
    )
    alertmanager: AlertmanagerSettings = Field(
        default_factory=AlertmanagerSettings, description="Alertmanager API access."
    )
    ingest: IngestSettings = Field(default_factory=IngestSettings, description="Alert intake.")
    engine: EngineSettings = Field(default_factory=EngineSettings, description="Rules engine.")
    executor: ExecutorSettings = Field(
        default_factory=ExecutorSettings, description="Connector calls."
    )
    polling: list[PollSettings] = Field(
        default_factory=list, description="Prometheus queries polled into events."
    )
    connectors: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Per-connector sections, validated by connectors.registry.",
    )
    log: LogSettings = Field(default_factory=LogSettings, description="Logging.")
    retention: RetentionSettings = Field(
        default_factory=RetentionSettings, description="How long the store keeps alert outcomes."
    )
    drills: list[DrillSettings] = Field(
        default_factory=list, description="Scheduled drills of the runbooks (plan 12.1.2)."
    )
    cluster: ClusterSettings = Field(
        default_factory=ClusterSettings, description="Replicas on one PostgreSQL database."
    )
    maintenance_windows: list[Any] = Field(
        default_factory=list,
        description="Recurring windows (Alertmanager time_intervals) muting the alerts their "
        "matchers match, as silences do (docs/silences.md); checked by engine.windows.",
    )
    chatops: ChatopsSettings = Field(
        default_factory=ChatopsSettings,
        description="Slack buttons and commands, PagerDuty webhooks (docs/chatops.md).",
    )

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str | None) -> str | None:
        if value is not None and not _DB_URL.match(value):
            raise ValueError("not a database URL; write e.g. postgresql+psycopg://user@host/db")
        if value is not None and (driver := _DRIVER_EXTRAS.get(value.partition("://")[0])):
            module, extra = driver
            try:
                importlib.import_module(module)
            except ImportError:
                raise ValueError(
                    f"the driver {module!r} is not installed: pip install 'runbookd[{extra}]'"
                ) from None
        return value

    @field_validator("polling")
    @classmethod
    def _unique_polls(cls, value: list[PollSettings]) -> list[PollSettings]:
        seen: dict[str, int] = {}
        for index, poll in enumerate(value):
            if poll.name in seen:
                raise ValueError(
                    f"duplicate name {poll.name!r} (entries {seen[poll.name]} and {index})"
                )
            seen[poll.name] = index
        return value

    @model_validator(mode="after")
    def _cluster_needs_postgresql(self) -> Settings:
        # SQLite is one process's embedded store: its file lock gives no lease, no fencing and
        # no shared journal order, so replicas on it would corrupt each other's effects.
        if self.cluster.enabled and not self.database_url_resolved().startswith("postgresql"):
            raise ValueError(
                "cluster.enabled needs a PostgreSQL database_url; SQLite serves one process "
                "only (unset cluster.enabled, or set database_url: postgresql+psycopg://...)"
            )
        return self

    def database_url_resolved(self) -> str:
        """``database_url``, or the embedded SQLite database in ``data_dir``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir.absolute() / 'runbookd.db'}"

    def windows_section(self) -> dict[str, Any]:
        """``maintenance_windows`` as the runbook library's journal entry carries it (empty
        when none, so a library journaled before windows existed keeps its digest)."""
        return {"maintenance_windows": self.maintenance_windows} if self.maintenance_windows else {}

    def poll_url(self, poll: PollSettings) -> str | None:
        """The Prometheus URL a poll queries: its own, else ``connectors.prometheus.url``."""
        fallback = self.connectors.get("prometheus", {}).get("url")
        return poll.url or (str(fallback) if fallback else None)

    def __repr_args__(self) -> Iterable[tuple[str | None, Any]]:
        for name, value in super().__repr_args__():
            if name == "connectors":
                # Connector sections are raw until the registry validates them: show keys only.
                yield name, {c: sorted(section) for c, section in self.connectors.items()}
            else:
                yield name, value


def load_settings(path: Path | None, environ: Mapping[str, str] = os.environ) -> Settings:
    """Settings from the file at ``path`` (None: defaults only) and ``RUNBOOKD_*`` variables.

    Raises ``SettingsError`` with every problem of the file and the environment at once.
    """
    source = str(path) if path is not None else "settings"
    data: Any = None
    if path is not None:
        data, problems = read_file(path)
        if problems:
            raise SettingsError([str(p) for p in problems])
    if data is None:
        data = {}
    if not isinstance(data, dict):
        kind = type(data).__name__
        raise SettingsError([f"{source}: the top level must be a mapping of keys, got a {kind}"])
    base = path.parent if path is not None else Path.cwd()
    data, broken, from_env = interpolate(data, environ, read=lambda p: read_secret(p, base))
    data, unread, from_files = file_keys(data, Settings, base)
    broken += unread
    from_env |= from_files
    overrides, problems = env_overrides(Settings, environ)
    origins = {o.loc: o.variable for o in overrides}
    from_file = set(data) - {loc[0] for loc in origins if len(loc) == 1}
    data = apply(data, overrides)

    def origin(loc: Loc) -> str:
        for end in range(len(loc), 0, -1):
            if loc[:end] in origins:
                return origins[loc[:end]]
        return source

    def overridden(loc: Loc) -> bool:
        return any(loc[: len(o)] == o for o in origins)

    problems += [Problem(source, p.loc, p.message) for p in broken if not overridden(p.loc)]
    settings: Settings | None = None
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            loc = tuple(error["loc"])
            if not any(loc[: len(p.loc)] == p.loc for p in broken):
                problems.append(Problem(origin(loc), loc, _message(error, loc in from_env)))
    if settings is not None:
        problems += [Problem(origin(loc), loc, msg) for loc, msg in _cross_checks(settings)]
    if problems or settings is None:
        raise SettingsError([str(p) for p in problems])
    settings = _resolve_paths(settings, base, from_file)
    settings = _with_users_file(settings, origin(("users",)))
    tls = settings.server.tls
    if tls is not None and (why := tls_problem(tls.cert_file, tls.key_file)) is not None:
        raise SettingsError([str(Problem(origin(("server", "tls")), ("server", "tls"), why))])
    return settings


def _resolve_paths(settings: Settings, base: Path, from_file: set[str]) -> Settings:
    # Paths written in the file are relative to the file's folder; paths from the environment
    # and the defaults are relative to the working directory.
    def absolute(key: str, value: Path) -> Path:
        value = value.expanduser()
        return ((base if key in from_file else Path.cwd()) / value).resolve()

    server = settings.server
    if server.tls is not None:
        tls = server.tls.model_copy(
            update={
                "cert_file": absolute("server", server.tls.cert_file),
                "key_file": absolute("server", server.tls.key_file),
            }
        )
        server = server.model_copy(update={"tls": tls})
    return settings.model_copy(
        update={
            "data_dir": absolute("data_dir", settings.data_dir),
            "runbooks": [absolute("runbooks", p) for p in settings.runbooks],
            "schedules": [absolute("schedules", p) for p in settings.schedules],
            "users_file": None
            if settings.users_file is None
            else absolute("users_file", settings.users_file),
            "server": server,
        }
    )


def _with_users_file(settings: Settings, source: str) -> Settings:
    """Settings with the users of ``users_file`` added; every name once across both."""
    users = list(settings.users)
    problems: list[str] = []
    if settings.users_file is not None:
        more, problems = load_users_file(settings.users_file)
        users += more
    problems += [f"{source}: {p}" for p in duplicate_names(users)]
    if problems:
        raise SettingsError(problems)
    return settings.model_copy(update={"users": users})


def tls_problem(cert_file: Path, key_file: Path) -> str | None:
    """Why the server could not present this certificate and key, or None: checked when the
    settings load, so that check-config and a reload catch it, not uvicorn's start."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(cert_file, key_file)
    except ssl.SSLError as exc:
        reason = exc.reason or str(exc)
    except OSError as exc:
        reason = exc.strerror or str(exc)
    else:
        return None
    return f"cannot load cert_file {str(cert_file)!r} and key_file {str(key_file)!r}: {reason}"


def _cross_checks(settings: Settings) -> list[tuple[Loc, str]]:
    out: list[tuple[Loc, str]] = []
    for index, poll in enumerate(settings.polling):
        if settings.poll_url(poll) is None:
            message = "no url, and connectors.prometheus.url is not set either"
            out.append((("polling", index, "url"), message))
    try:
        windows_from_config(settings.windows_section())
    except WindowError as exc:
        out.append((key_path(exc.path) or ("maintenance_windows",), exc.message))
    return out


def _message(error: ErrorDetails, hide_value: bool = False) -> str:
    """pydantic's message with the key path's own words and the bad value, never a secret."""
    loc = tuple(error["loc"])
    kind, value, text = error["type"], error["input"], error["msg"]
    if kind == "extra_forbidden":
        known = _keys_at(loc[:-1])
        hint = did_you_mean(str(loc[-1]), known)
        return f"unknown key{hint}" if hint else f"unknown key; known keys: {', '.join(known)}"
    if kind == "missing":
        return "required key is missing"
    if kind == "model_type":
        text = "Input should be a mapping of keys"
    shown = "<redacted>" if hide_value else _shown(loc, value)
    if shown == "<redacted>" and isinstance(value, str) and value:
        text = text.replace(repr(value), shown)  # validators name the value they refuse
    if kind == "value_error":
        # Our validators' messages already name the bad value (or the section is the value).
        text = text.removeprefix("Value error, ")
        if shown is None or shown in text or isinstance(value, list):
            return text
    if shown is None:
        return text
    return f"{text}, got {shown}"


def _shown(loc: Loc, value: Any) -> str | None:
    """How a bad value may appear in a message: None for whole sections (they may hold
    secrets and the message is about the section)."""
    if isinstance(value, Mapping | BaseModel):
        return None
    names = [str(p) for p in loc if isinstance(p, str)]
    if names[:1] in (["auth"], ["connectors"]) or any(is_secret_key(n) for n in names):
        return "<redacted>"
    if isinstance(value, SecretStr):
        return "<redacted>"
    if isinstance(value, str) and "@" in value and names and names[-1].endswith("url"):
        redacted = redact_url(value)
        return short_repr(redacted) if redacted != value else "<redacted>"
    return short_repr(value)


def _keys_at(loc: Loc) -> list[str]:
    model: type[BaseModel] | None = Settings
    for part in loc:
        if model is None:
            return []
        if isinstance(part, int):
            continue
        info = model.model_fields.get(part)
        model = field_shape(info.annotation)[1] if info is not None else None
    return list(model.model_fields) if model is not None else []
