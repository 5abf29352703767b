"""A small synchronous client for a running runbookd's incidents API (``/api/v1/incidents``).

Errors::

    ClientError             base
    ├── ApiError            the server answered 4xx/5xx (``status``, ``detail``)
    └── Unreachable         no answer from ``url`` (refused, timed out, broken connection)

The token is sent as ``Authorization: Bearer`` and never appears in an error message.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx

DEFAULT_URL = "http://127.0.0.1:8080"
DEFAULT_TIMEOUT_S = 30.0  # above the server's 10 s wait for the engine to apply an action

Json = dict[str, Any]


class ClientError(Exception):
    """Base of the client's errors."""


class ApiError(ClientError):
    """The server refused the request; ``detail`` is its ``{"detail": ...}`` message."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"{status} {detail}")
        self.status = status
        self.detail = detail


class Unreachable(ClientError):
    """Nothing answered at ``url``; ``reason`` says how it failed."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"cannot reach runbookd at {url} ({reason})")
        self.url = url
        self.reason = reason


class Client:
    """``with Client(url, token) as api: api.list_incidents(status=["triggered"])``."""

    def __init__(
        self,
        url: str = DEFAULT_URL,
        token: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT_S,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        headers = {"Accept": "application/json", "User-Agent": "runbookd-cli"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._http = httpx.Client(
            base_url=self.url, headers=headers, timeout=timeout, transport=transport
        )

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def list_incidents(
        self,
        *,
        status: Sequence[str] = (),
        severity: Sequence[str] = (),
        runbook: str | None = None,
        since: str | None = None,
        until: str | None = None,
        limit: int | None = None,
    ) -> Json:
        """``{"incidents": [...]}``, newest first, filtered as given."""
        params: list[tuple[str, str]] = [("status", s) for s in status]
        params += [("severity", s) for s in severity]
        for name, value in (("runbook", runbook), ("since", since), ("until", until)):
            if value is not None:
                params.append((name, value))
        if limit is not None:
            params.append(("limit", str(limit)))
        return self._request("GET", "/api/v1/incidents", params=params)

    def get_incident(self, incident_id: str) -> Json:
        """One incident with its ``timeline``."""
        return self._request("GET", f"/api/v1/incidents/{_segment(incident_id)}")

    def ack(self, incident_id: str, by: str) -> Json:
        return self._action(incident_id, "ack", {"by": by})

    def resolve(self, incident_id: str, by: str, reason: str | None = None) -> Json:
        return self._action(incident_id, "resolve", {"by": by, "reason": reason})

    def note(self, incident_id: str, by: str, text: str) -> Json:
        return self._action(incident_id, "notes", {"by": by, "text": text})

    def close_incident(self, incident_id: str, by: str) -> Json:
        return self._action(incident_id, "close", {"by": by})

    def reopen(self, incident_id: str, by: str, reason: str | None = None) -> Json:
        return self._action(incident_id, "reopen", {"by": by, "reason": reason})

    def approvals(self) -> Json:
        """Steps waiting for a person's decision."""
        return self._request("GET", "/api/v1/approvals")

    def decide(self, approval_id: str, approve: bool, by: str) -> Json:
        return self._request(
            "POST",
            f"/api/v1/approvals/{_segment(approval_id)}",
            json={"approve": approve, "by": by},
        )

    def oncall(self, schedule: str | None = None, at: str | None = None) -> Json:
        params = {k: v for k, v in (("schedule", schedule), ("at", at)) if v is not None}
        return self._request("GET", "/api/v1/oncall", params=params)

    def add_override(self, schedule: str, body: Mapping[str, Any]) -> Json:
        path = f"/api/v1/oncall/{_segment(schedule)}/overrides"
        return self._request("POST", path, json=dict(body))

    def remove_override(self, schedule: str, override_id: str, by: str) -> Json:
        path = f"/api/v1/oncall/{_segment(schedule)}/overrides/{_segment(override_id)}"
        return self._request("DELETE", path, params={"by": by})

    def calendar(self, schedule: str) -> str:
        path = f"/api/v1/oncall/{_segment(schedule)}/calendar.ics"
        return self._send("GET", path, headers={"Accept": "text/calendar"}).text

    def silences(self, state: str | None = None) -> Json:
        return self._request("GET", "/api/v1/silences", params={"state": state} if state else {})

    def add_silence(self, body: Mapping[str, Any]) -> Json:
        return self._request("POST", "/api/v1/silences", json=dict(body))

    def expire_silence(self, silence_id: str) -> Json:
        return self._request("DELETE", f"/api/v1/silences/{_segment(silence_id)}")

    def _action(self, incident_id: str, action: str, body: Mapping[str, Any]) -> Json:
        return self._request(
            "POST", f"/api/v1/incidents/{_segment(incident_id)}/{action}", json=dict(body)
        )

    def postmortem(self, incident_id: str, fmt: str = "md") -> str:
        """The post-mortem as the server renders it: Markdown, HTML or JSON text."""
        response = self._send(
            "GET",
            f"/api/v1/incidents/{_segment(incident_id)}/postmortem",
            params={"format": fmt},
            headers={"Accept": "text/markdown, text/html, application/json"},
        )
        return response.text

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TimeoutException:
            raise Unreachable(self.url, "no answer in time") from None
        except httpx.TransportError as exc:
            raise Unreachable(self.url, _reason(exc)) from None
        if response.is_error:
            raise ApiError(response.status_code, _detail(response))
        return response

    def _request(self, method: str, path: str, **kwargs: Any) -> Json:
        response = self._send(method, path, **kwargs)
        try:
            data = response.json()
        except ValueError:
            raise ApiError(response.status_code, "the answer is not JSON") from None
        if not isinstance(data, dict):
            raise ApiError(response.status_code, "the answer is not a JSON object")
        return data


def _segment(incident_id: str) -> str:
    # An id is one path segment: "a/b" must not reach another route.
    return quote(incident_id, safe="")


def _reason(exc: httpx.TransportError) -> str:
    text = str(exc)
    if isinstance(exc, httpx.ConnectError) and "refused" in text.lower():
        return "connection refused"
    return text or type(exc).__name__


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:200] or response.reason_phrase
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, str):
        return detail
    if detail is not None:
        return str(detail)[:200]
    return response.reason_phrase
