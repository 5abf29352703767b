"""`runbookd serve` decides itself which peer is a trusted proxy (`auth.trusted_proxies`).

uvicorn, left to its defaults, believes `X-Forwarded-For` from 127.0.0.1 and replaces the peer
address with it before runbookd sees the request. Then any local process could claim to be a
trusted proxy by writing that proxy's address into the header, and a real SSO proxy on the same
host would not be recognised. These tests run the real server and send the headers as a proxy
(or an impostor) would.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from runbookd.auth.tokens import hash_token
from tests.e2e.harness import Server

ANA_TOKEN = "ana-token-for-the-proxy-test"


def _config(tmp_path: Path, proxies: list[str]) -> None:
    # A low scrypt cost: the hash is verified on requests this test does not send.
    digest = hash_token(ANA_TOKEN, log2_n=4)
    (tmp_path / "config.yaml").write_text(
        "auth:\n"
        f"  trusted_proxies: [{', '.join(proxies)}]\n"
        "users:\n"
        f"  - {{name: ana, role: admin, token_hash: '{digest}'}}\n"
    )


def test_a_local_client_cannot_pose_as_a_trusted_proxy(
    make_server: Callable[..., Server], tmp_path: Path
) -> None:
    _config(tmp_path, ["10.9.9.9/32"])
    server = make_server()
    posing = {"X-Forwarded-For": "10.9.9.9", "X-Forwarded-User": "ana"}
    assert server.get("/api/v1/incidents", headers=posing).status_code == 401
    # The user's own token still works, so the 401 above is about the header alone.
    token = {"Authorization": f"Bearer {ANA_TOKEN}"}
    assert server.get("/api/v1/incidents", headers=token).status_code == 200


def test_a_proxy_on_loopback_names_the_user_and_the_client_address(
    make_server: Callable[..., Server], tmp_path: Path
) -> None:
    _config(tmp_path, ["127.0.0.1/32"])
    server = make_server()
    proxied = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-User": "ana"}
    assert server.get("/api/v1/incidents", headers=proxied).status_code == 200
    # Without the header the proxy itself is the client: still trusted to name the user.
    assert server.get("/api/v1/incidents", headers={"X-Forwarded-User": "ana"}).status_code == 200
    # A user the configuration does not have is refused, proxy or not.
    stranger = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-User": "mallory"}
    assert server.get("/api/v1/incidents", headers=stranger).status_code == 401
