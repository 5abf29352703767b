"""Durations with Prometheus's grammar: ``30s``, ``5m``, ``1h30m``, ``2d``, ``500ms``, ``1y``.

The one duration parser of runbookd: runbooks (``engine/lang/durations.py`` builds its pydantic
types on it), settings and connector parameters all read a duration the same way Prometheus and
Alertmanager do, so a value copied from an alerting rule or ``amtool silence add --duration``
means the same here. Units ``y w d h m s ms``, each at most once and in that order, whole numbers
only: ``1h30m`` is a duration, ``1.5h``, ``-1m``, ``30`` and ``1m1h`` are not.

It lives in ``connectors`` because that is the bottom layer (imports go ``engine -> connectors``);
connector values are often templates, so they are parsed when the call runs.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

# Prometheus's model.ParseDuration, without its bare "0" (a unit is always required here);
# the lookahead refuses the empty string, also in the JSON Schema that carries this pattern.
DURATION_PATTERN = (
    r"^(?=\d)(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$"
)
_WHOLE = re.compile(DURATION_PATTERN)
# Prometheus counts a year as 365 days and a week as 7.
_UNIT_MS = (365 * 86_400_000, 7 * 86_400_000, 86_400_000, 3_600_000, 60_000, 1000, 1)
HINT = "write e.g. 30s, 5m, 1h30m, 2d"


def parse_duration(text: str) -> timedelta:
    """Parse ``1h30m`` into a positive timedelta; raise ValueError naming the bad text."""
    found = _WHOLE.match(text) if isinstance(text, str) and text else None
    if found is None:
        raise ValueError(f"{text!r} is not a duration; {HINT}")
    ms = sum(int(n) * size for n, size in zip(found.groups(), _UNIT_MS, strict=True) if n)
    if ms <= 0:
        raise ValueError(f"{text!r} is not a positive duration")
    return timedelta(milliseconds=ms)


def _seconds(value: Any) -> Any:
    if isinstance(value, str):
        return parse_duration(value).total_seconds()
    return value


#: A settings value in seconds, written as a number (``30``) or a duration (``30s``).
Seconds = Annotated[float, BeforeValidator(_seconds), Field(gt=0)]
