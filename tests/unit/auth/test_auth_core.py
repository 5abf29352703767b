"""``runbookd.auth``: ordered roles, principals in the journal's JSON form, hashed tokens, and the
users registry's lookups (token, basic, name, Slack and PagerDuty ids via the schedules' people)."""

from __future__ import annotations

import pytest

from runbookd.auth.roles import Principal, Role
from runbookd.auth.tokens import TokenHashError, hash_token, parse_hash
from runbookd.auth.users import Account, Users, unknown_people
from runbookd.oncall.model import Person

# A cheap cost keeps the tests fast; the format records it, so checks use the stored cost.
FAST = {"log2_n": 4, "r": 1}


def _account(name: str, role: Role, token: str | None = None, **kw: object) -> Account:
    hashed = parse_hash(hash_token(token, **FAST)) if token else None
    return Account(name, role, token_hash=hashed, **kw)  # type: ignore[arg-type]


def test_roles_are_ordered_and_parse_by_name() -> None:
    assert Role.VIEWER < Role.RESPONDER < Role.APPROVER < Role.ADMIN
    assert Role.parse("approver") is Role.APPROVER and str(Role.ADMIN) == "admin"
    with pytest.raises(ValueError, match="known roles: viewer, responder, approver, admin"):
        Role.parse("root")


def test_principal_may_what_its_role_and_lower_may() -> None:
    approver = Principal("ana", Role.APPROVER, "api", teams=("payments",))
    assert approver.may(Role.RESPONDER) and approver.may(Role.APPROVER)
    assert not approver.may(Role.ADMIN)
    assert approver.in_team("payments") and not approver.in_team("db")


def test_principal_round_trips_and_old_entries_have_none() -> None:
    p = Principal("ana", Role.APPROVER, "slack", "10.0.0.5", ("payments",))
    assert Principal.from_json(p.to_json()) == p
    assert Principal.from_json(None) is None and Principal.from_json({}) is None


def test_a_shared_credential_takes_the_claimed_name_a_user_does_not() -> None:
    shared = Principal("token", Role.ADMIN, "api", named=False)
    user = Principal("ana", Role.APPROVER, "api")
    assert shared.claiming("bob").name == "bob"
    assert shared.claiming("bob").to_json()["claimed"] is True
    assert user.claiming("bob") == user


def test_hash_is_salted_and_checks_only_its_token() -> None:
    one, two = hash_token("s3cret", **FAST), hash_token("s3cret", **FAST)
    assert one != two and "s3cret" not in one
    assert parse_hash(one).matches("s3cret") and parse_hash(two).matches("s3cret")
    assert not parse_hash(one).matches("s3cret ")


@pytest.mark.parametrize("bad", ["", "s3cret", "scrypt$14$8$1$x", "bcrypt$1$2$3$abc$def"])
def test_malformed_hash_is_refused_without_showing_it(bad: str) -> None:
    with pytest.raises(TokenHashError) as caught:
        parse_hash(bad)
    assert "hash-token" in str(caught.value) or "out of range" in str(caught.value)
    assert bad == "" or bad not in str(caught.value)


def test_users_lookups() -> None:
    people = {"ana-p": Person(slack="U0ANA", pagerduty="PANA")}
    users = Users(
        [
            _account("ana", Role.APPROVER, "tok-ana", person="ana-p"),
            _account("bob", Role.VIEWER, "tok-bob", slack="U0BOB"),
            _account("ci", Role.RESPONDER, "tok-ci", kind="service"),
        ],
        people,
    )
    assert len(users) == 3
    found = users.by_token("tok-ana")
    assert found is not None and found.name == "ana"
    assert users.by_token("tok-ana") is found  # remembered: the slow hash once per token
    assert users.by_token("tok-nobody") is None and users.by_token("") is None
    assert users.by_slack_id("U0ANA") is found  # from the schedules' person
    assert users.by_pagerduty_id("PANA") is found
    bob = users.by_slack_id("U0BOB")
    assert bob is not None and bob.name == "bob"
    assert users.by_name("ci") is not None and users.by_name("eve") is None


def test_basic_needs_the_token_of_that_user() -> None:
    users = Users(
        [_account("ana", Role.APPROVER, "tok-ana"), _account("bob", Role.VIEWER, "tok-bob")]
    )
    ana = users.by_basic("ana", "tok-ana")
    assert ana is not None and ana.name == "ana"
    assert users.by_basic("bob", "tok-ana") is None  # a remembered token of someone else
    assert users.by_basic("ana", "tok-bob") is None
    assert users.by_basic("eve", "tok-ana") is None


def test_a_user_without_a_token_cannot_log_in_with_one() -> None:
    users = Users([_account("proxy-only", Role.RESPONDER)])
    assert users.by_token("anything") is None and users.by_basic("proxy-only", "x") is None


def test_unknown_person_is_reported() -> None:
    problems = unknown_people([_account("ana", Role.VIEWER, person="nobody")], {})
    assert problems == ["users: ana: person 'nobody' is not among the schedules' people"]
