"""CSRF tokens: signed, bound to the signed-in user, and checked against the cookie."""

from __future__ import annotations

from starlette.requests import Request

from runbookd.api.auth import Credentials
from runbookd.api.principals import Access
from runbookd.auth.roles import Role
from runbookd.auth.tokens import hash_token, parse_hash
from runbookd.auth.users import Account, Users
from runbookd.web.csrf import COOKIE, Csrf, csrf_key


def request(cookie: str | None) -> Request:
    headers = [(b"cookie", f"{COOKIE}={cookie}".encode())] if cookie else []
    return Request({"type": "http", "method": "POST", "path": "/", "headers": headers})


def test_token_round_trip_and_binding() -> None:
    csrf = Csrf(Csrf.key_for("s3cret"))
    token = csrf.new_token("ana")
    assert csrf.check(request(token), token, "ana")
    assert not csrf.check(request(token), token, "bob")  # another user's token
    assert not csrf.check(request(token), None, "ana")  # no form field
    assert not csrf.check(request(None), token, "ana")  # no cookie (cross-site: SameSite)
    other = csrf.new_token("ana")
    assert not csrf.check(request(token), other, "ana")  # form and cookie differ


def test_forged_and_foreign_tokens_fail() -> None:
    csrf = Csrf(Csrf.key_for("s3cret"))
    nonce = "x" * 24
    forged = f"{nonce}.AAAA"
    assert not csrf.check(request(forged), forged, "")
    foreign = Csrf(Csrf.key_for("other")).new_token("")
    assert not csrf.check(request(foreign), foreign, "")
    assert not csrf.valid("no-dot", "")


def test_replicas_with_the_same_credentials_agree() -> None:
    token = Csrf(Csrf.key_for("s3cret")).new_token("ana")
    assert Csrf(Csrf.key_for("s3cret")).valid(token, "ana")
    # Without auth each process has its own random key.
    assert Csrf.key_for(None) != Csrf.key_for(None)


def test_page_keeps_a_good_cookie_and_replaces_a_bad_one() -> None:
    csrf = Csrf(Csrf.key_for(None))
    good = csrf.new_token("")
    assert csrf.token_for(request(good), "") == (good, False)
    token, fresh = csrf.token_for(request("garbage.sig"), "")
    assert fresh and csrf.valid(token, "")


def _users(*names: str) -> Users:
    return Users(
        [
            Account(n, Role.VIEWER, token_hash=parse_hash(hash_token(n + "-tok", log2_n=4, r=1)))
            for n in names
        ]
    )


def test_the_key_is_the_configured_secret_else_the_shared_credential_else_the_users() -> None:
    users = _users("ana", "bob")
    secret = Access(users=users, csrf_secret="configured-csrf-secret")
    assert csrf_key(secret) == csrf_key(Access(csrf_secret="configured-csrf-secret"))
    shared = Access(users=users, shared=Credentials(bearer_token="shared-tok"))
    assert csrf_key(shared) == Csrf.key_for("shared-tok") != csrf_key(secret)
    # users only: the same configuration gives the same key (replicas, restarts) ...
    assert csrf_key(Access(users=users)) == csrf_key(Access(users=users))
    # ... and it is not one a guesser could compute without the users' salted hashes
    assert csrf_key(Access(users=users)) != csrf_key(Access(users=_users("ana", "bob")))
    assert csrf_key(Access(users=users)) != Csrf.key_for("")
    # nothing configured: random per process
    assert csrf_key(Access()) != csrf_key(Access())
