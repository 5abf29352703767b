"""The engine lease and its fence on a real PostgreSQL: one holder at a time, a new epoch on each
change of hands, and a commit from a holder whose lease was taken over is refused.

PostgreSQL only (the lease is a PostgreSQL protocol; SQLite refuses cluster.enabled): these run
in the suite's PostgreSQL pass, RUNBOOKD_TEST_DATABASE_URL.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from runbookd.service.lease import Lease, LeaseLost
from runbookd.store import db
from tests.scratch_db import scratch_database

PG_URL = os.environ.get("RUNBOOKD_TEST_DATABASE_URL")
pytestmark = pytest.mark.skipif(
    PG_URL is None, reason="the engine lease needs PostgreSQL (set RUNBOOKD_TEST_DATABASE_URL)"
)
SESSION = {"lock_timeout": "1000ms", "idle_in_transaction_session_timeout": "1500ms"}


class Clock:
    """A monotonic clock the test moves: the holder's local deadline without waiting for it."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def url() -> Iterator[str]:
    with scratch_database(PG_URL, "", "lease") as (scratch, _schema):
        engine = db.make_engine(scratch)
        db.upgrade(engine)
        engine.dispose()
        yield scratch


@pytest.fixture
def engines(url: str) -> Iterator[list[Engine]]:
    made: list[Engine] = []
    yield made
    for engine in made:
        engine.dispose()


def lease(url: str, engines: list[Engine], name: str, ttl: float = 1.0, **kw: object) -> Lease:
    engine = db.make_engine(url, session=SESSION, pool_size=1)
    engines.append(engine)
    return Lease(engine, name, ttl=ttl, margin=ttl / 4, **kw)  # type: ignore[arg-type]


def wait_for(check: object, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.05)  # a polling interval: the lease expires by the database's clock
    raise AssertionError("timed out")


def test_one_holder_at_a_time_and_a_new_epoch_per_change(url: str, engines: list[Engine]) -> None:
    a, b = lease(url, engines, "a"), lease(url, engines, "b")
    a.step()
    assert a.epoch == 1
    b.step()
    assert b.epoch is None  # a's lease has not expired: b stays a follower
    a.step()  # a renewal keeps the epoch
    assert a.epoch == 1 and a.acquired == 1
    a.stop()  # a clean stop hands over at once, without waiting for the TTL
    b.step()
    assert b.epoch == 2
    assert b.read() is not None and b.read().holder == "b"  # type: ignore[union-attr]


def test_a_taken_over_holder_cannot_commit_and_learns_it_lost(
    url: str, engines: list[Engine]
) -> None:
    clock = Clock()
    a = lease(url, engines, "a", monotonic=clock)
    b = lease(url, engines, "b")
    a.step()
    assert a.epoch == 1
    # a is paused: no renewals. By the database's clock its lease expires after the TTL; b,
    # asking again and again as its loop would, takes it at the next epoch.
    wait_for(lambda: (b.step(), b.epoch)[1] == 2)
    with a._db.begin() as conn, pytest.raises(LeaseLost, match="b at epoch 2"):
        a.check(conn, 1)  # the fence: the commit a would make now is refused
    # a wakes up: its local deadline has passed (its clock moved on while it was paused).
    clock.now += 10
    assert a.epoch is None
    a.step()
    assert a.epoch is None and a.lost == 1  # the renewal is refused: a follows from now on
    with b._db.begin() as conn:
        b.check(conn, 2)  # the new holder's commits go through


def test_a_holder_paused_inside_its_fenced_commit_does_not_block_the_takeover(
    url: str, engines: list[Engine]
) -> None:
    a, b = lease(url, engines, "a"), lease(url, engines, "b")
    a.step()
    conn = a._db.connect()
    tx = conn.begin()
    a.check(conn, 1)  # holds the lease row's lock ... and then the process is paused
    started = datetime.now(UTC)
    # The server ends a's idle transaction after idle_in_transaction_session_timeout, which
    # releases the row; b's attempts meanwhile give up after lock_timeout instead of hanging.
    wait_for(lambda: (b.step(), b.epoch)[1] == 2)
    taken_after = (datetime.now(UTC) - started).total_seconds()
    with pytest.raises(DBAPIError):  # a's late commit fails: its session was terminated
        conn.execute(text("SELECT 1"))
    assert not tx.is_active or conn.invalidated
    conn.invalidate()
    conn.close()
    # Bounded by TTL + idle timeout (plus polling); reported, not asserted as a speed.
    print(f"takeover after a paused commit: {taken_after:.2f} s")


def test_renewal_thread_keeps_the_lease_while_alive(url: str, engines: list[Engine]) -> None:
    a, b = lease(url, engines, "a", ttl=1.0), lease(url, engines, "b", ttl=1.0)
    changes: list[int | None] = []
    got = threading.Event()

    def changed(epoch: int | None) -> None:
        changes.append(epoch)
        got.set()

    a.on_change = changed
    a.start()
    assert got.wait(10)
    # Several TTLs pass while b asks as fast as it can; a renews every ttl/5, so b never gets it.
    end = time.monotonic() + 3.0
    while time.monotonic() < end:
        b.step()
        assert b.epoch is None
    a.stop()
    assert changes == [1, None]
    wait_for(lambda: (b.step(), b.epoch)[1] == 2)
