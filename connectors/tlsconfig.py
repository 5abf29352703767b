"""``tls_config`` of the HTTP connectors, as Prometheus and Alertmanager write it: the CA that signs
the target's certificate, a client certificate and key, the name to check, or no check at all.

The SSL context is built once, when the settings are validated, so an unreadable file or a key
that does not match its certificate fails ``runbookd check-config`` and the start (or a reload)
with the key named, instead of every call at run time. Everything, the server name included, is
in that one context: it is handed to a stock ``httpx.AsyncClient`` as ``verify=``
(``connectors.clients``), which uses it for direct connections and for tunnels through a proxy
alike.
"""

from __future__ import annotations

import ssl
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator


class _NamedContext(ssl.SSLContext):
    """A client context that sends and checks ``server_name`` whatever host it is asked for.

    httpcore passes the URL's host as the TLS server name; its ``sni_hostname`` request
    extension changes that for direct connections only, not through a proxy's CONNECT tunnel.
    Every TLS connection asyncio makes goes through ``wrap_bio``, so the name is set there.
    """

    server_name: str | None = None

    def wrap_bio(
        self,
        incoming: ssl.MemoryBIO,
        outgoing: ssl.MemoryBIO,
        server_side: bool = False,
        server_hostname: str | bytes | None = None,
        session: ssl.SSLSession | None = None,
    ) -> ssl.SSLObject:
        name = self.server_name or server_hostname
        return super().wrap_bio(incoming, outgoing, server_side, name, session)

    def wrap_socket(self, sock: Any, *args: Any, **kwargs: Any) -> ssl.SSLSocket:
        if self.server_name:
            kwargs["server_hostname"] = self.server_name
        return super().wrap_socket(sock, *args, **kwargs)


class TlsConfig(BaseModel):
    """How calls to ``https://`` targets set up TLS."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ca_file: str | None = Field(
        None,
        description="PEM file of the CA(s) that sign the targets' certificates; unset = the "
        "system's trusted CAs.",
    )
    cert_file: str | None = Field(
        None, description="PEM client certificate, for targets that ask for one (mutual TLS)."
    )
    key_file: str | None = Field(None, description="PEM private key of cert_file.")
    insecure_skip_verify: bool = Field(
        False,
        description="Accept any certificate and name. Only for tests: anyone in the path "
        "can read and change the calls.",
    )
    server_name: str | None = Field(
        None,
        description="Name sent (SNI) and checked in the certificate instead of the URL's host.",
    )

    _context: ssl.SSLContext | None = PrivateAttr(None)

    @model_validator(mode="after")
    def _load(self) -> Self:
        if (self.cert_file is None) != (self.key_file is None):
            given, missing = (
                ("cert_file", "key_file")
                if self.cert_file is not None
                else ("key_file", "cert_file")
            )
            raise ValueError(f"{given} is set but {missing} is not; set both or neither")
        # As ssl.create_default_context() makes it: the system's CAs, names checked.
        context = _NamedContext(ssl.PROTOCOL_TLS_CLIENT)
        context.load_default_certs(ssl.Purpose.SERVER_AUTH)
        context.server_name = self.server_name or None
        if self.ca_file is not None:
            try:
                context.load_verify_locations(cafile=self.ca_file)
            except (OSError, ssl.SSLError) as exc:
                raise ValueError(f"ca_file {self.ca_file!r}: cannot load: {_reason(exc)}") from None
        if self.cert_file is not None and self.key_file is not None:
            try:
                context.load_cert_chain(self.cert_file, self.key_file)
            except (OSError, ssl.SSLError) as exc:
                raise ValueError(
                    f"cert_file {self.cert_file!r} and key_file {self.key_file!r}: cannot load: "
                    f"{_reason(exc)}"
                ) from None
        if self.insecure_skip_verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        self._context = context
        return self

    @property
    def context(self) -> ssl.SSLContext:
        """The SSL context for clients that call with these settings."""
        assert self._context is not None  # set by the validator
        return self._context


def _reason(exc: Exception) -> str:
    if isinstance(exc, ssl.SSLError):
        return exc.reason or str(exc)
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc)
