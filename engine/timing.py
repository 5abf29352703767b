"""The engine's fixed time policies: how long settled incidents stay in memory, how often idle
state is swept, when a failed notification is sent again.

Apart from the engine class because several parts read them: the core (the default
retention), ``engine.retention``, ``engine.escalation`` and the service (the default of its
``engine.retention`` setting).
"""

from __future__ import annotations

from datetime import timedelta

#: How long a resolved (or closed) incident stays in memory before only the store keeps it (the
#: default of settings ``engine.retention``). Nothing needs it in memory for long: the API reads
#: rows and timelines from the store; close, reopen and note carry the stored row (``revive``);
#: a call result that comes later is recorded on the timeline (``call_finished``). The window
#: only saves those detours for what usually comes right after a resolution -- the results of
#: the impact queries and last notifications (the executor's timeout is 30 s by default) and a
#: quick close or reopen, which then keeps every step result and alert. Memory is bounded by open
#: incidents plus the incidents resolved within this window.
RETENTION = timedelta(minutes=5)

#: How often idle per-key state (counting windows, safety-rail history) is swept. Sweeping is
#: O(keys), so it runs at most this often, on the engine's clock, whatever the event rate.
SWEEP_EVERY = timedelta(minutes=1)

#: A notification that failed for a reason that may pass (timeout, connection reset, 5xx, 429)
#: is sent again after these delays: a page lost to one dropped connection would otherwise only
#: be made up for by the next level's deadline, minutes later. A permanent failure (bad
#: credentials, 4xx) is not retried; the timeline says why.
NOTIFY_RETRY_DELAYS = (timedelta(seconds=10), timedelta(seconds=30))
