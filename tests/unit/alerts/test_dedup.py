"""What counts as news for an alert fingerprint."""

from __future__ import annotations

import pytest

from runbookd.alerts.dedup import Seen, judge

T1 = "2026-11-25T09:00:00+00:00"
T2 = "2026-11-25T10:00:00+00:00"


@pytest.mark.parametrize(
    ("seen", "starts_at", "status", "verdict"),
    [
        (None, T1, "firing", "new"),
        (None, T1, "resolved", "new"),
        (Seen(T1, "firing"), T1, "firing", "duplicate"),  # retry, HA copy, repeat notification
        (Seen(T1, "firing"), T1, "resolved", "new"),
        (Seen(T1, "resolved"), T1, "resolved", "duplicate"),
        (Seen(T1, "resolved"), T1, "firing", "stale"),  # clustered pair: firing after resolved
        (Seen(T1, "resolved"), T2, "firing", "new"),  # fired again: a new occurrence
        (Seen(T2, "firing"), T1, "resolved", "stale"),  # the end of an older occurrence
    ],
)
def test_judge(seen: Seen | None, starts_at: str, status: str, verdict: str) -> None:
    assert judge(seen, starts_at, status) == verdict
