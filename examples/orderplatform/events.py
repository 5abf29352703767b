"""Forwarding the platform's events to runbookd's ``POST /api/v1/events``, in batches."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Any

import httpx

log = logging.getLogger("orderplatform.events")

#: Events kept while runbookd is unreachable; the oldest are dropped beyond this.
BACKLOG = 10_000
RETRY_AFTER_S = 1.0


class Forwarder:
    """A queue the platform fills synchronously and one task drains to runbookd."""

    def __init__(
        self, url: str, token: str | None = None, retry_after: float = RETRY_AFTER_S
    ) -> None:
        self.url = url.rstrip("/") + "/api/v1/events"
        self._headers = {"authorization": f"Bearer {token}"} if token else {}
        self._queue: deque[dict[str, Any]] = deque(maxlen=BACKLOG)
        self._wake = asyncio.Event()
        self.sent = 0
        self.failures = 0
        self.retry_after = retry_after

    def put(self, event: dict[str, Any]) -> None:
        self._queue.append(event)
        self._wake.set()

    @property
    def pending(self) -> int:
        return len(self._queue)

    async def run(self, client: httpx.AsyncClient) -> None:
        """Post queued events until cancelled; a failed batch stays queued and is retried."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                batch = list(self._queue)[:500]
                try:
                    response = await client.post(self.url, json=batch, headers=self._headers)
                    response.raise_for_status()
                except httpx.HTTPError as exc:
                    self.failures += 1
                    # A 4xx will not get better by retrying: drop the batch and say why.
                    if isinstance(exc, httpx.HTTPStatusError) and exc.response.status_code < 500:
                        log.error("runbookd refused %d events: %s", len(batch), exc.response.text)
                        self._popleft(len(batch))
                        continue
                    log.warning(
                        "runbookd unreachable (%s); %d events wait",
                        type(exc).__name__,
                        len(self._queue),
                    )
                    await asyncio.sleep(self.retry_after)  # back off before the next attempt
                    continue
                self._popleft(len(batch))
                self.sent += len(batch)

    def _popleft(self, count: int) -> None:
        for _ in range(min(count, len(self._queue))):
            self._queue.popleft()
