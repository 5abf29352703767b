"""``require_role``: the request's principal from a user's token, basic auth, the shared token
(an admin) or a trusted proxy's X-Forwarded-User; 401 without credentials, 403 naming the role."""

from __future__ import annotations

import base64
import ipaddress
from typing import Annotated

from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

from runbookd.api.auth import Credentials
from runbookd.api.principals import Access, require_role
from runbookd.auth.roles import Principal, Role
from runbookd.auth.tokens import hash_token, parse_hash
from runbookd.auth.users import Account, Users

Approver = Annotated[Principal, Depends(require_role(Role.APPROVER))]


def _user(name: str, role: Role, token: str) -> Account:
    return Account(name, role, token_hash=parse_hash(hash_token(token, log2_n=4, r=1)))


def _client(access: Access, peer: str = "127.0.0.1") -> TestClient:
    app = FastAPI()
    app.state.access = access

    @app.post("/api/v1/approve")
    async def approve(who: Approver) -> dict[str, str]:
        return {"name": who.name, "role": str(who.role), "via": who.via}

    return TestClient(app, client=(peer, 50000))


USERS = Users([_user("ana", Role.APPROVER, "tok-ana"), _user("vic", Role.VIEWER, "tok-vic")])
ACCESS = Access(
    users=USERS,
    shared=Credentials(bearer_token="shared-tok"),
    trusted_proxies=(ipaddress.ip_network("10.9.0.0/16"),),
)


def _basic(name: str, token: str) -> dict[str, str]:
    return {"authorization": "Basic " + base64.b64encode(f"{name}:{token}".encode()).decode()}


def test_an_approver_passes_a_viewer_gets_403_naming_the_role() -> None:
    client = _client(ACCESS)
    ok = client.post("/api/v1/approve", headers={"authorization": "Bearer tok-ana"})
    assert ok.status_code == 200 and ok.json() == {"name": "ana", "role": "approver", "via": "api"}
    denied = client.post("/api/v1/approve", headers={"authorization": "Bearer tok-vic"})
    assert denied.status_code == 403
    assert "approver" in denied.json()["detail"] and "vic is viewer" in denied.json()["detail"]


def test_no_or_forged_credentials_are_401() -> None:
    client = _client(ACCESS)
    assert client.post("/api/v1/approve").status_code == 401
    forged = client.post("/api/v1/approve", headers={"authorization": "Bearer tok-ana-forged"})
    assert forged.status_code == 401 and "Bearer" in forged.headers["www-authenticate"]
    assert client.post("/api/v1/approve", headers=_basic("ana", "tok-vic")).status_code == 401


def test_basic_auth_with_the_users_token_is_that_user() -> None:
    ok = _client(ACCESS).post("/api/v1/approve", headers=_basic("ana", "tok-ana"))
    assert ok.status_code == 200 and ok.json()["name"] == "ana"


def test_the_shared_token_still_works_as_an_admin() -> None:
    ok = _client(ACCESS).post("/api/v1/approve", headers={"authorization": "Bearer shared-tok"})
    assert ok.status_code == 200 and ok.json() == {"name": "token", "role": "admin", "via": "api"}


def test_forwarded_user_only_from_a_trusted_proxy() -> None:
    header = {"x-forwarded-user": "ana"}
    assert (
        _client(ACCESS, peer="10.9.3.4").post("/api/v1/approve", headers=header).json()["name"]
        == "ana"
    )
    untrusted = _client(ACCESS, peer="192.0.2.7").post("/api/v1/approve", headers=header)
    assert untrusted.status_code == 401
    # From an untrusted peer the header is ignored, also next to a viewer's token.
    vic = {**header, "authorization": "Bearer tok-vic"}
    assert _client(ACCESS, peer="192.0.2.7").post("/api/v1/approve", headers=vic).status_code == 403


def test_nothing_configured_is_open_as_before() -> None:
    ok = _client(Access()).post("/api/v1/approve")
    assert ok.status_code == 200 and ok.json()["role"] == "admin"
