"""The ``users:`` of config.yaml (and of the file ``users_file:`` names): typed entries, their
conversion into ``runbookd.auth`` accounts, and the reader of a users file.

A users file is a mapping with one key, ``users:``, a list of the same entries as in config.yaml;
its problems are reported as ``PATH:LINE:COL: users[0].role: message``, never with a token hash.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator

from runbookd.auth.roles import Role
from runbookd.auth.tokens import parse_hash
from runbookd.auth.users import Account
from runbookd.config.secretfiles import file_keys
from runbookd.config.sections import OptionalSecret, OptionalText, Section
from runbookd.config.sources import dotted
from runbookd.engine.lang.source import Pos, SourceError, load_yaml

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$"
RoleName = Literal["viewer", "responder", "approver", "admin"]


class UserSettings(Section):
    """One user or service account."""

    name: str = Field(pattern=NAME_PATTERN, description="Login name, shown on timelines.")
    role: RoleName = Field(description="viewer, responder, approver or admin.")
    kind: Literal["user", "service"] = Field("user", description="A person or a service account.")
    token_hash: OptionalSecret = Field(
        None,
        description="scrypt hash of the user's token (`runbookd users hash-token`); "
        "unset = no token (Slack, PagerDuty or a trusted proxy only).",
    )
    teams: list[str] = Field(default_factory=list, description="Teams a runbook step may require.")
    slack: OptionalText = Field(None, description="Slack user id, e.g. U01ABCDEF.")
    pagerduty: OptionalText = Field(None, description="PagerDuty user id, e.g. PABC123.")
    person: OptionalText = Field(
        None, description="Id of a person in the schedules' people: (their Slack/PagerDuty ids)."
    )

    @field_validator("token_hash")
    @classmethod
    def _hash_form(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            parse_hash(value.get_secret_value())  # TokenHashError is a ValueError: a message
        return value

    def account(self) -> Account:
        secret = self.token_hash
        return Account(
            name=self.name,
            role=Role.parse(self.role),
            kind=self.kind,
            token_hash=parse_hash(secret.get_secret_value()) if secret is not None else None,
            teams=tuple(self.teams),
            slack=self.slack,
            pagerduty=self.pagerduty,
            person=self.person,
        )


class UsersFile(Section):
    users: list[UserSettings] = Field(default_factory=list)


def duplicate_names(users: list[UserSettings]) -> list[str]:
    seen: set[str] = set()
    out = []
    for user in users:
        if user.name in seen:
            out.append(f"users: {user.name!r} is defined twice")
        seen.add(user.name)
    return out


def load_users_file(path: Path) -> tuple[list[UserSettings], list[str]]:
    """The entries of a users file, or problems as ``PATH:LINE:COL: key.path: message``."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        return [], [f"{path}:1:1: cannot read the users file: {exc.strerror or exc}"]
    except UnicodeDecodeError:
        return [], [f"{path}:1:1: the users file is not UTF-8 text"]
    try:
        data, smap = load_yaml(text)
    except SourceError as exc:
        return [], [f"{path}:{exc.pos.line}:{exc.pos.col}: {exc.message}"]
    if data is None:
        return [], []
    data, unread, _ = file_keys(data, UsersFile, path.parent)
    problems = [_at(path, smap.key(p.loc), f"{dotted(p.loc)}: {p.message}") for p in unread]
    try:
        model = UsersFile.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            loc = tuple(error["loc"])
            message = error["msg"].removeprefix("Value error, ")
            problems.append(_at(path, smap.key(loc), f"{dotted(loc)}: {message}"))
        return [], problems
    return list(model.users), problems


def _at(path: Path, pos: Pos, message: str) -> str:
    return f"{path}:{pos.line}:{pos.col}: {message}"
