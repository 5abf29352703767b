"""The engine's timer queue: cancelled timers do not pile up, and order survives compaction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from runbookd.engine.timers import COMPACT_SLACK, TimerQueue

START = datetime(2026, 12, 3, 6, 0, tzinfo=UTC)


def test_cancelled_timers_leave_memory_before_they_come_due() -> None:
    # Incidents cancel their deadlines (hours ahead) when they resolve; thousands of resolved
    # incidents must not leave thousands of dead entries waiting for their due time.
    q = TimerQueue()
    q.schedule("keep", START + timedelta(hours=1))
    for n in range(10_000):
        q.schedule(f"INC-{n}:ack", START + timedelta(hours=4), incident=f"INC-{n}")
        q.schedule(f"INC-{n}:escalate", START + timedelta(hours=8), incident=f"INC-{n}")
        assert q.cancel_prefix(f"INC-{n}:") == [f"INC-{n}:ack", f"INC-{n}:escalate"]
    assert len(q) == 1
    assert q.held() <= 2 * len(q) + COMPACT_SLACK + 1


def test_replacing_a_timer_does_not_keep_the_old_entries() -> None:
    q = TimerQueue()
    for n in range(1_000):
        q.schedule("quiet", START + timedelta(minutes=n))
    assert len(q) == 1 and q.held() <= 2 + COMPACT_SLACK + 1
    assert q.next_due() == START + timedelta(minutes=999)


def test_timers_fire_in_order_across_compactions() -> None:
    q = TimerQueue()
    for n in range(500):
        q.schedule(f"t{n}", START + timedelta(seconds=(n * 7919) % 500))
    for n in range(0, 500, 3):
        assert q.cancel(f"t{n}")
    assert not q.cancel("t0")  # already cancelled
    fired = []
    while (timer := q.pop_due(START + timedelta(hours=1))) is not None:
        fired.append(timer)
    assert [t.name for t in fired] == [
        f"t{n}" for n in sorted((n for n in range(500) if n % 3), key=lambda n: (n * 7919) % 500)
    ]
    assert [t.due for t in fired] == sorted(t.due for t in fired)
