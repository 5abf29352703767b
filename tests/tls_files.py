"""A throwaway CA and a server certificate it signs, as PEM files, for tests that serve HTTPS.

trustme makes the CA in memory; nothing leaves the test's folder and nothing is trusted system-wide.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import trustme


@dataclass(frozen=True)
class ServerCert:
    ca_file: Path  #: the CA's certificate: what a client must trust
    cert_file: Path  #: the server's certificate (for server.tls.cert_file)
    key_file: Path  #: its private key (server.tls.key_file)
    ca: trustme.CA  #: the CA itself, to issue more (a key that does not fit, another host)


def server_cert(folder: Path, host: str = "127.0.0.1") -> ServerCert:
    """A new CA and a certificate for ``host`` in ``folder``: ca.pem, server.pem, server.key."""
    folder.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA()
    made = ServerCert(folder / "ca.pem", folder / "server.pem", folder / "server.key", ca)
    ca.cert_pem.write_to_path(str(made.ca_file))
    issued = ca.issue_cert(host)
    issued.cert_chain_pems[0].write_to_path(str(made.cert_file))
    issued.private_key_pem.write_to_path(str(made.key_file))
    return made
