"""The engine's view of on-call schedules: a lookup it is given, never a file it reads.

The service and the simulator pass a function from (schedule id, instant) to the person on
call; the engine calls it with its own clock's time, so a replay on a virtual clock asks about
the same instant and gets the same person. Returned mappings carry the keys of
``ONCALL_KEYS`` (``oncall`` in a level's templates); None means nobody is on call then.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

ONCALL_KEYS = ("schedule", "person", "name", "via", "email", "slack", "pagerduty", "phone")

OnCallLookup = Callable[[str, datetime], Mapping[str, Any] | None]
