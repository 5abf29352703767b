"""Journal one entry for a request and wait until the engine applied it (read-your-writes).

The store refusing the write is a 503 (nothing kept); an engine that has not applied it within
``APPLY_TIMEOUT_S`` is a 503 too, but the entry is stored and will apply. The caller reads the
engine's verdict from the returned ``Applied`` (``error``: why it refused, for a 409).
"""

from __future__ import annotations

import asyncio

from fastapi import HTTPException

from runbookd.service.core import Service
from runbookd.service.waiters import Applied
from runbookd.store.writer import EntryJob, StoreUnavailable

APPLY_TIMEOUT_S = 10.0


async def submit_applied(service: Service, job: EntryJob) -> Applied:
    try:
        seq = await asyncio.wrap_future(service.writer.submit(job))
    except StoreUnavailable as exc:
        raise HTTPException(503, str(exc)) from None
    try:
        return await asyncio.wait_for(
            asyncio.wrap_future(service.worker.wait_applied(int(seq))), APPLY_TIMEOUT_S
        )
    except TimeoutError:
        raise HTTPException(503, "stored, but the engine has not applied it yet") from None
