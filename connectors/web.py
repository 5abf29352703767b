"""HTTP plumbing for the connectors that speak it: one request, its answer, and what failed.

Failures are classified once, here: no answer (refused, reset, timed out) and answers 408, 429
and 5xx are retryable; other statuses, bad URLs and TLS verification failures are permanent.
Messages name the connector, the method, the target (the URL without credentials, query or
fragment) and the status. Timeouts are the shared client's and the executor's: a connector adds
none of its own, and never swallows the executor's cancellation.
"""

from __future__ import annotations

import json
import ssl
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import Field, SecretStr, field_validator

from runbookd.connectors.base import ConnectorError, PermanentError, RetryableError, Settings

#: Bytes of a response body kept in results; the rest is read no further.
MAX_BODY = 64 * 1024
#: Characters of a response body quoted in an error message.
SNIPPET = 300
RETRYABLE_STATUS = frozenset({408, 429})


def origin(url: str | httpx.URL) -> str:
    """``scheme://host[:port]``: where a URL points, for URLs whose path is a secret."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return "<invalid URL>"
    port = f":{parsed.port}" if parsed.port is not None else ""
    return f"{parsed.scheme}://{parsed.host}{port}"


def target(url: str | httpx.URL) -> str:
    """``scheme://host[:port]/path``: the URL without credentials, query or fragment."""
    try:
        path = httpx.URL(url).path
    except httpx.InvalidURL:
        return "<invalid URL>"
    return origin(url) + path


def http_url(value: str) -> str:
    """Check that ``value`` is an absolute http(s) URL; the error never repeats credentials."""
    try:
        parsed = httpx.URL(value)
    except httpx.InvalidURL:
        raise ValueError("not a valid URL") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ValueError(f"{target(value)!r} is not an absolute http:// or https:// URL")
    return value


class Endpoint(Settings):
    """Settings of a connector that calls one HTTP service (Prometheus, Alertmanager)."""

    url: str = Field(description="Base URL of the service, e.g. http://alertmanager:9093.")
    headers: dict[str, SecretStr] = Field(
        default_factory=dict,
        description=(
            "Headers sent with every request, e.g. Authorization: Bearer ${env:TOKEN}; "
            "values are secrets."
        ),
    )

    @field_validator("url")
    @classmethod
    def _http(cls, value: str) -> str:
        if httpx.URL(http_url(value)).userinfo:
            # A password in a plain URL would show in logs and reprs; headers are masked.
            raise ValueError("put credentials in headers (Authorization), not in the URL")
        return value.rstrip("/")

    def join(self, path: str) -> str:
        return f"{self.url}/{path.lstrip('/')}"

    def header_values(self) -> dict[str, str]:
        return {name: value.get_secret_value() for name, value in self.headers.items()}


@dataclass(frozen=True)
class Answer:
    """A response as connectors use it: status, decoded (possibly truncated) body."""

    method: str
    shown: str
    status: int
    reason: str
    content_type: str
    text: str
    truncated: bool
    retry_after: str | None = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def json(self) -> Any:
        """The body parsed as JSON, or None when it is not JSON (or was truncated)."""
        if self.truncated or not self.text:
            return None
        try:
            return json.loads(self.text)
        except ValueError:
            return None

    def failure(
        self, connector: str, detail: str | None = None, expected: list[int] | None = None
    ) -> ConnectorError:
        """The error for this answer: retryable for 408, 429 and 5xx, permanent otherwise."""
        status = f"{self.status} {self.reason}".rstrip()
        if expected:
            status += f" (expected {', '.join(map(str, expected))})"
        said = detail if detail is not None else " ".join(self.text[:SNIPPET].split())
        wait = ""
        if self.retry_after:  # seconds, or an HTTP date
            unit = "s" if self.retry_after.isdigit() else ""
            wait = f"; retry after {self.retry_after}{unit}"
        message = f"{connector}: {self.method} {self.shown} answered {status}{wait}"
        message += f": {said}" if said else ""
        retryable = self.status >= 500 or self.status in RETRYABLE_STATUS
        return (RetryableError if retryable else PermanentError)(message)


async def request(
    client: httpx.AsyncClient,
    connector: str,
    method: str,
    url: str,
    *,
    shown: str | None = None,
    max_body: int = MAX_BODY,
    **kwargs: Any,
) -> Answer:
    """Send one request and read at most ``max_body`` bytes of the answer.

    ``shown`` is how messages name the target (by default :func:`target`); ``kwargs`` go to
    ``httpx.AsyncClient.stream`` (headers, json, content, params).
    """
    shown = shown or target(url)
    where = f"{connector}: {method} {shown}"
    try:
        async with client.stream(method, url, **kwargs) as response:
            chunks: list[bytes] = []
            size, truncated = 0, False
            async for chunk in response.aiter_bytes():
                if size + len(chunk) > max_body:
                    chunks.append(chunk[: max_body - size])
                    truncated = True
                    break
                chunks.append(chunk)
                size += len(chunk)
            charset = response.charset_encoding or "utf-8"
            return Answer(
                method=method,
                shown=shown,
                status=response.status_code,
                reason=response.reason_phrase,
                content_type=response.headers.get("content-type", ""),
                text=b"".join(chunks).decode(charset, errors="replace"),
                truncated=truncated,
                retry_after=response.headers.get("retry-after"),
            )
    except httpx.TimeoutException as exc:
        raise RetryableError(f"{where}: timed out ({type(exc).__name__})") from None
    except (httpx.InvalidURL, httpx.UnsupportedProtocol, httpx.LocalProtocolError) as exc:
        raise PermanentError(f"{where}: cannot send: {exc}") from None
    except httpx.TransportError as exc:
        reason = str(exc) or type(exc).__name__
        if "CERTIFICATE_VERIFY_FAILED" in reason:
            raise PermanentError(f"{where}: TLS certificate not trusted: {reason}") from None
        raise RetryableError(f"{where}: no answer: {reason}") from None
    except ssl.SSLError as exc:
        # A TLS alert after the handshake (TLS 1.3 checks a client certificate then, e.g.
        # "certificate required") reaches httpx's read path unwrapped: the server hung up.
        raise RetryableError(f"{where}: no answer: TLS: {exc.reason or exc}") from None
    except httpx.RequestError as exc:  # too many redirects, an undecodable body
        raise PermanentError(f"{where}: {type(exc).__name__}: {exc}") from None
    except LookupError:  # an unknown charset in Content-Type
        raise PermanentError(f"{where}: answer in an unknown character set") from None
