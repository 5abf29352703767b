"""RFC 3339 timestamps as Go and other monitors write them, parsed to aware ``datetime``.

Go's ``time.RFC3339Nano`` (what Alertmanager emits) writes up to nine fractional digits and ``Z``
or ``±hh:mm``. Python 3.11's ``datetime.fromisoformat`` reads those (older Pythons did not), but
it also accepts what RFC 3339 does not (dates alone, week dates, basic format, missing offsets),
so a strict pattern decides what is valid and ``fromisoformat`` only builds the value.
"""

from __future__ import annotations

import re
from datetime import datetime

from runbookd.alerts.errors import PayloadError, short_repr

_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?P<offset>[Zz]|[+-]\d{2}:\d{2})?",
    re.ASCII,
)


def parse_rfc3339(text: object, field: str) -> datetime:
    """Parse an RFC 3339 date-time into a timezone-aware ``datetime``.

    Fractions beyond microseconds are truncated (not rounded, so a value never moves into the next
    second). The offset is kept as written. A value without ``Z`` or ``±hh:mm`` is rejected:
    guessing a zone for an incident timeline is worse than asking the sender to fix it.
    """
    if not isinstance(text, str):
        raise PayloadError.expected(field, "an RFC 3339 time string", text)
    match = _RFC3339.fullmatch(text)
    if match is None:
        raise PayloadError(
            field, f"not an RFC 3339 time (like 2024-05-01T10:00:00Z): {short_repr(text)}"
        )
    offset = match["offset"]
    if offset is None:
        raise PayloadError(
            field, f"time has no UTC offset (add 'Z' or '+hh:mm'): {short_repr(text)}"
        )
    try:
        # fromisoformat takes "Z" and any separator character, but not a lower-case "z"
        return datetime.fromisoformat(text if offset != "z" else text[:-1] + "Z")
    except ValueError as exc:  # month 13, second 60, offset +24:00, ...
        raise PayloadError(field, f"not a valid time ({exc}): {short_repr(text)}") from None
