"""The ``http`` connector: one request to an HTTP endpoint; a status outside ``expect_status`` fails."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Literal, Self

from pydantic import Field, SecretStr, field_validator, model_validator

from runbookd.connectors import web
from runbookd.connectors.base import (
    CallContext,
    ConnectorSpec,
    Params,
    PermanentError,
    Result,
    Runtime,
)
from runbookd.connectors.base import Settings as BaseSettings
from runbookd.connectors.calls import connector_call, settings_of
from runbookd.connectors.clients import client_for
from runbookd.connectors.tlsconfig import TlsConfig

Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]


class HttpParams(Params):
    """One HTTP request; the body is either ``json`` or ``body``, never both."""

    url: str = Field(description="Absolute http(s) URL to call.")
    method: Method = Field("POST", description="HTTP method; GET, POST, PUT, PATCH or DELETE.")
    headers: dict[str, str] = Field(
        default_factory=dict,
        description="Extra request headers. Put tokens in as ${env:NAME} references, not literals.",
    )
    json_: Any = Field(
        None, alias="json", description="Request body encoded as JSON (sets Content-Type)."
    )
    body: str | None = Field(None, description="Raw request body, for non-JSON payloads.")
    expect_status: list[int] | None = Field(
        None, description="Status codes that count as success; by default any 2xx."
    )

    @field_validator("method", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        # `method: get` in YAML is an obvious intent; accept it rather than fail on case.
        return value.upper() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _one_body(self) -> Self:
        if self.json_ is not None and self.body is not None:
            raise ValueError("give 'json' or 'body', not both")
        return self


class HttpSettings(BaseSettings):
    """``connectors.http`` in config.yaml."""

    headers: dict[str, SecretStr] = Field(
        default_factory=dict,
        description=(
            "Headers sent with every call (a call's own headers win). Values are secrets: "
            "masked in messages and results."
        ),
    )
    max_body_bytes: int = Field(
        web.MAX_BODY, gt=0, description="Bytes of a response body kept in the body result."
    )
    tls_config: TlsConfig | None = Field(
        None, description="TLS for https:// targets: CA, client certificate, server name."
    )


#: Header names whose values are credentials, masked wherever they might be echoed back.
_SECRET_HEADER = re.compile(r"authorization|cookie|token|secret|key|auth|password|signature", re.I)


def _secret_params(params: HttpParams) -> Iterable[str]:
    return [value for name, value in params.headers.items() if _SECRET_HEADER.search(name)]


@connector_call(secrets=_secret_params)
async def run(params: HttpParams, ctx: CallContext, runtime: Runtime) -> Result:
    """Send the request; the result is the status, the body (truncated) and its JSON if any."""
    settings = settings_of(runtime, HttpSettings, "http")
    try:
        web.http_url(params.url)
    except ValueError as exc:
        raise PermanentError(f"http: url: {exc}") from None
    headers = {name: value.get_secret_value() for name, value in settings.headers.items()}
    headers.update(params.headers)
    if ctx.idempotency_key:
        headers["Idempotency-Key"] = ctx.idempotency_key
    body: dict[str, Any] = {}
    if params.json_ is not None:
        body["json"] = params.json_
    elif params.body is not None:
        body["content"] = params.body.encode()
    answer = await web.request(
        client_for(runtime.http, settings.tls_config),
        "http",
        params.method,
        params.url,
        headers=headers,
        max_body=settings.max_body_bytes,
        **body,
    )
    ok = answer.status in params.expect_status if params.expect_status else answer.ok
    if not ok:
        raise answer.failure("http", expected=params.expect_status)
    return {
        "status_code": answer.status,
        "body": answer.text,
        "json": answer.json() if "json" in answer.content_type else None,
    }


SPEC = ConnectorSpec(
    name="http",
    params=HttpParams,
    description="Call an HTTP endpoint; a status outside expect_status is a failure.",
    result_fields=("status_code", "body", "json"),
    run=run,
    settings=HttpSettings,
)
