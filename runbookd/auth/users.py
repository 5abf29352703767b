"""``Users``: the users and service accounts of the configuration, and their lookups.

Built once per configuration (a reload builds a new one). A token is checked against the stored
scrypt hashes; one that matched is remembered by its SHA-256 so that the slow hash is paid once
per token and process, not once per request. A token that matched nothing is not remembered, so
a guesser pays the full cost every time.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

from runbookd.auth.roles import Principal, Role, Via
from runbookd.auth.tokens import TokenHash
from runbookd.oncall.model import Person

Kind = Literal["user", "service"]


@dataclass(frozen=True)
class Account:
    """One configured user or service account (its token only as a hash)."""

    name: str
    role: Role
    kind: Kind = "user"
    token_hash: TokenHash | None = None
    teams: tuple[str, ...] = field(default=())
    slack: str | None = None
    pagerduty: str | None = None
    person: str | None = None

    def principal(self, via: Via, address: str | None = None) -> Principal:
        return Principal(self.name, self.role, via, address, self.teams, kind=self.kind)


def unknown_people(accounts: Iterable[Account], people: Mapping[str, Person]) -> list[str]:
    """One message per account whose ``person`` is not among the schedules' ``people``."""
    return [
        f"users: {a.name}: person {a.person!r} is not among the schedules' people"
        for a in accounts
        if a.person is not None and a.person not in people
    ]


class Users:
    """The registry: lookups by token, name, Slack id and PagerDuty id."""

    def __init__(self, accounts: Iterable[Account] = (), people: Mapping[str, Person] = {}) -> None:
        resolved = [_with_person(a, people) for a in accounts]
        self._by_name = {a.name: a for a in resolved}
        self._by_slack = {a.slack: a for a in resolved if a.slack}
        self._by_pagerduty = {a.pagerduty: a for a in resolved if a.pagerduty}
        self._verified: dict[bytes, str] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._by_name)

    def __bool__(self) -> bool:
        return bool(self._by_name)

    @property
    def accounts(self) -> list[Account]:
        return list(self._by_name.values())

    def by_name(self, name: str) -> Account | None:
        return self._by_name.get(name)

    def by_slack_id(self, slack_id: str) -> Account | None:
        return self._by_slack.get(slack_id)

    def by_pagerduty_id(self, pagerduty_id: str) -> Account | None:
        return self._by_pagerduty.get(pagerduty_id)

    def by_token(self, token: str) -> Account | None:
        """The account whose stored hash this token matches (blocking: scrypt; use a thread)."""
        if not token:
            return None
        known = self._remembered(token)
        if known is not None:
            return known
        for account in self._by_name.values():
            if self._check(account, token):
                return account
        return None

    def by_basic(self, name: str, token: str) -> Account | None:
        """HTTP basic auth: the user name and their token as the password (blocking)."""
        account = self._by_name.get(name)
        if account is None or not token:
            return None
        known = self._remembered(token)
        if known is not None:
            return known if known.name == name else None
        return account if self._check(account, token) else None

    def _remembered(self, token: str) -> Account | None:
        with self._lock:
            name = self._verified.get(_key(token))
        return None if name is None else self._by_name.get(name)

    def _check(self, account: Account, token: str) -> bool:
        if account.token_hash is None or not account.token_hash.matches(token):
            return False
        with self._lock:
            self._verified[_key(token)] = account.name
        return True


def _key(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def _with_person(account: Account, people: Mapping[str, Person]) -> Account:
    # The schedules' people already hold Slack and PagerDuty ids: a user who names their
    # person takes them from there, and ids written on the user win.
    person = people.get(account.person) if account.person else None
    if person is None:
        return account
    return replace(
        account,
        slack=account.slack or person.slack,
        pagerduty=account.pagerduty or person.pagerduty,
    )
