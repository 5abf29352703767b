"""Replicas of `runbookd serve` on one PostgreSQL database (cluster.enabled).

Real processes on loopback ports and a real PostgreSQL; the leader is killed (SIGKILL), paused
(SIGSTOP) and stopped cleanly while pages, remediation steps and escalation deadlines are in
flight. What a user must be able to count on: every accepted alert handled, one incident per
problem, each call made once (a call in flight at the kill is re-sent with its original
idempotency key), every due escalation fired, and a paused leader that wakes up does nothing.

PostgreSQL only: these run in the suite's PostgreSQL pass (RUNBOOKD_TEST_DATABASE_URL).
``RUNBOOKD_TEST_FAILOVER_TRIALS`` sets the number of seeded SIGKILL trials (default 2); a
failing trial is re-run exactly with ``-k seed3``. Failover times are printed and published by
bench/failover_bench.py, never asserted here (a shared machine makes times noisy).
"""

from __future__ import annotations

import os
import random
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import make_url

from runbookd.toolchain.testing import am_alert, am_notification
from tests.e2e.harness import (
    HOOK,
    PG_URL,
    REPO,
    T0,
    Alertmanager,
    Database,
    Receiver,
    Server,
    TcpProxy,
    poll,
)

pytestmark = pytest.mark.skipif(
    PG_URL is None, reason="replicas need PostgreSQL (set RUNBOOKD_TEST_DATABASE_URL)"
)
TRIALS = int(os.environ.get("RUNBOOKD_TEST_FAILOVER_TRIALS", "2"))
PREFIXES = ("/page/", "/fix/", "/escalate/")
#: A short lease so a trial takes seconds; the defaults (5 s) are what the benchmark measures.
CLUSTER_ENV = {
    "RUNBOOKD_CLUSTER__ENABLED": "true",
    "RUNBOOKD_CLUSTER__LEASE_TTL": "2s",
    "RUNBOOKD_CLUSTER__CLOCK_MARGIN": "500ms",
    "RUNBOOKD_CLUSTER__LOCK_TIMEOUT": "1s",
    "RUNBOOKD_CLUSTER__IDLE_IN_TRANSACTION_TIMEOUT": "1500ms",
}


def alert(key: str) -> dict[str, object]:
    return am_notification(
        [am_alert({"alertname": "CrashTrial", "key": key}, starts_at=T0)],
        group_labels={"key": key},
    )


def state(server: Server) -> dict[str, Any] | None:
    """The replica's cluster view from /readyz, None when it does not answer."""
    try:
        body = httpx.get(server.url + "/readyz", timeout=2).json()
    except (httpx.TransportError, ValueError):
        return None
    cluster: dict[str, Any] | None = body.get("cluster")
    return cluster


class Cluster:
    def __init__(self, database: Database, tmp_path: Path, receiver: Receiver) -> None:
        self.database = database
        self.tmp_path = tmp_path
        library = tmp_path / "library"
        library.mkdir()
        source = (REPO / "tests" / "runbooks" / "crash-trial.yaml").read_text()
        (library / "crash-trial.yaml").write_text(
            source.replace("http://127.0.0.1:8083", receiver.url)
        )
        self.library = library
        self.servers: list[Server] = []

    def add(
        self, name: str, library: Path | None = None, database: Database | None = None, **env: str
    ) -> Server:
        workdir = self.tmp_path / name
        workdir.mkdir(exist_ok=True)
        server = Server(
            database or self.database,
            [library or self.library],
            workdir,
            env={**CLUSTER_ENV, "RUNBOOKD_CLUSTER__NAME": name, **env},
        )
        self.servers.append(server)
        server.start()
        return server

    def alive(self) -> list[Server]:
        return [s for s in self.servers if s.proc is not None and s.proc.poll() is None]

    def leader(self, among: list[Server] | None = None) -> Server | None:
        for server in among or self.alive():
            view = state(server)
            if view is not None and view.get("state") == "leader":
                return server
        return None

    def wait_leader(self, among: list[Server] | None = None, timeout: float = 30) -> Server:
        return poll(lambda: self.leader(among), timeout, "a replica to lead")

    def post(self, rng: random.Random, body: dict[str, object]) -> None:
        """As Alertmanager behind a load balancer: any live replica; retried until a 2xx."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            server = rng.choice(self.alive())
            try:
                if server.post(HOOK, body).status_code == 202:
                    return
            except httpx.TransportError:
                pass
        raise AssertionError("no replica accepted the alert within 60 s")

    def stop(self) -> None:
        for server in self.servers:
            if server.proc is not None and server.proc.poll() is None:
                server.proc.send_signal(signal.SIGCONT)  # a paused one must hear SIGTERM
            server.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    record = Receiver()
    yield record
    record.close()


@pytest.fixture
def cluster(database: Database, tmp_path: Path, receiver: Receiver) -> Iterator[Cluster]:
    made = Cluster(database, tmp_path, receiver)
    yield made
    made.stop()


def settled(receiver: Receiver, keys: list[str]) -> dict[str, list[str]]:
    """The keys still missing a page, a fix or an escalation."""
    return {
        prefix: sorted(set(keys) - set(receiver.by(prefix)))
        for prefix in PREFIXES
        if set(keys) - set(receiver.by(prefix))
    }


def check_handled_once(receiver: Receiver, server: Server, keys: list[str]) -> int:
    """Every key handled, one incident each, each call with one idempotency key; returns the
    number of re-sent calls (calls in flight at a kill)."""
    poll(lambda: not settled(receiver, keys), 90, f"every key handled; {settled(receiver, keys)}")
    incidents = poll(
        lambda: (found := server.incidents(limit=1000)) and len(found) >= len(keys) and found,
        what="the incidents",
    )
    assert sorted(i["labels"]["key"] for i in incidents) == sorted(keys)  # none lost or doubled
    resent = 0
    for prefix in PREFIXES:
        for key, calls in receiver.by(prefix).items():
            assert len({c.idempotency_key for c in calls}) == 1, (prefix, key, calls)
            resent += len(calls) - 1
    return resent


def test_one_leader_and_alerts_through_every_replica(cluster: Cluster, receiver: Receiver) -> None:
    """Alertmanager sends every notification to all three replicas: each alert is stored
    once, one incident per problem, each page once."""
    replicas = [cluster.add(f"r{i}") for i in range(3)]
    leader = cluster.wait_leader()
    views = [state(s) for s in replicas]
    assert [v["state"] for v in views if v].count("leader") == 1, views
    keys = [f"k{i:02d}" for i in range(10)]
    for key in keys:
        for server in replicas:  # the same notification to each, as an unclustered AM pair does
            assert server.post(HOOK, alert(key)).status_code == 202
    assert check_handled_once(receiver, leader, keys) == 0
    for prefix in PREFIXES:
        assert all(len(calls) == 1 for calls in receiver.by(prefix).values()), prefix
    # Every replica answers reads from the shared store, followers included.
    for server in replicas:
        assert len(server.incidents(limit=100)) == len(keys)
    follower = next(s for s in replicas if s is not leader)
    assert follower.metric("runbookd_cluster_leader") == 0
    assert leader.metric("runbookd_cluster_leader") == 1
    assert leader.metric("runbookd_cluster_lease_epoch") >= 1


def test_an_acknowledgement_through_a_follower(cluster: Cluster, receiver: Receiver) -> None:
    a, b = cluster.add("a"), cluster.add("b")
    leader = cluster.wait_leader()
    follower = b if leader is a else a
    assert follower.post(HOOK, alert("ack1")).status_code == 202
    incident = poll(lambda: follower.incidents(), what="the incident")[0]
    answer = follower.post(f"/api/v1/incidents/{incident['id']}/ack", {"by": "sam"})
    assert answer.status_code == 200, answer.text
    assert poll(lambda: leader.incident(incident["id"])["acknowledged_by"] == "sam")


@pytest.mark.parametrize("seed", [pytest.param(s, id=f"seed{s}") for s in range(TRIALS)])
def test_sigkill_of_the_leader_mid_incident(
    seed: int, cluster: Cluster, receiver: Receiver
) -> None:
    for name in ("r0", "r1", "r2"):
        cluster.add(name)
    rng = random.Random(seed)
    keys = [f"s{seed}k{i:02d}" for i in range(30)]
    kill_at = sorted(rng.sample(range(3, len(keys)), 2))
    failovers: list[float] = []
    for index, key in enumerate(keys):
        cluster.post(rng, alert(key))
        if index in kill_at:
            old = cluster.wait_leader()
            old.kill()
            killed = time.monotonic()
            survivors = cluster.alive()
            cluster.wait_leader(survivors)
            failovers.append(time.monotonic() - killed)
            old.start()  # it comes back as a follower
    resent = check_handled_once(receiver, cluster.wait_leader(), keys)
    print(f"seed {seed}: failovers {[round(f, 2) for f in failovers]} s, re-sent calls {resent}")


def test_a_paused_leader_wakes_up_as_a_follower_and_does_nothing(
    cluster: Cluster, receiver: Receiver
) -> None:
    a, b = cluster.add("a"), cluster.add("b")
    old = cluster.wait_leader()
    other = b if old is a else a
    assert other.post(HOOK, alert("p0")).status_code == 202
    poll(lambda: not settled(receiver, ["p0"]), 60, "p0 handled")
    old_epoch = state(old)["epoch"]  # type: ignore[index]
    assert old.proc is not None
    old.proc.send_signal(signal.SIGSTOP)  # a VM freeze, a long GC pause: for over 2x the TTL
    new = cluster.wait_leader([other])
    new_epoch = state(new)["epoch"]  # type: ignore[index]
    assert new_epoch > old_epoch
    keys = ["p1", "p2", "p3"]
    for key in keys:
        assert other.post(HOOK, alert(key)).status_code == 202
    poll(lambda: not settled(receiver, keys), 60, "p1..p3 handled by the new leader")
    before = {p: {k: len(v) for k, v in receiver.by(p).items()} for p in PREFIXES}
    old.proc.send_signal(signal.SIGCONT)
    woke = time.monotonic()
    poll(lambda: (state(old) or {}).get("state") == "follower", 20, "the old leader to follow")
    print(f"old leader following {time.monotonic() - woke:.2f} s after waking")
    # It made no call after waking: every call is as the new leader left it.
    assert state(other)["epoch"] == new_epoch  # type: ignore[index]
    check_handled_once(receiver, new, ["p0", *keys])
    after = {p: {k: len(v) for k, v in receiver.by(p).items()} for p in PREFIXES}
    assert after == before
    assert "engine lease lost" in old.log()


def test_a_clean_stop_hands_the_lease_over(cluster: Cluster, receiver: Receiver) -> None:
    a, b = cluster.add("a"), cluster.add("b")
    old = cluster.wait_leader()
    other = b if old is a else a
    stopped = time.monotonic()
    old.stop()
    cluster.wait_leader([other])
    print(f"handover after a clean stop: {time.monotonic() - stopped:.2f} s")
    assert "engine lease released" in old.log()
    assert other.post(HOOK, alert("h1")).status_code == 202
    check_handled_once(receiver, other, ["h1"])


def test_an_ingest_only_replica_stores_alerts_and_runs_no_engine(
    cluster: Cluster, receiver: Receiver
) -> None:
    engine = cluster.add("engine1")
    ingest = cluster.add("ingest1", RUNBOOKD_CLUSTER__ROLE="ingest")
    assert state(ingest) == {**(state(ingest) or {}), "role": "ingest", "state": "ingest"}
    assert cluster.wait_leader() is engine
    assert ingest.post(HOOK, alert("i1")).status_code == 202
    check_handled_once(receiver, engine, ["i1"])
    assert ingest.metric("runbookd_cluster_leader") == 0
    incident = ingest.incidents()[0]
    answer = ingest.post(f"/api/v1/incidents/{incident['id']}/ack", {"by": "sam"})
    assert answer.status_code == 200, answer.text
    assert poll(lambda: engine.incident(incident["id"])["acknowledged_by"] == "sam")


def test_the_replica_started_last_sets_the_runbooks(cluster: Cluster, receiver: Receiver) -> None:
    """A rolling deploy with changed runbooks: the new pod's library is what every replica runs."""
    old = cluster.add("old")
    assert cluster.wait_leader() is old
    changed = cluster.tmp_path / "library-v2"
    changed.mkdir()
    text = (cluster.library / "crash-trial.yaml").read_text()
    assert "eq: CrashTrial}" in text
    (changed / "crash-trial.yaml").write_text(text.replace("eq: CrashTrial}", "eq: CrashTrialV2}"))
    new = cluster.add("new", library=changed)
    assert cluster.leader() is old  # the old pod still leads; it runs the new library
    v1 = am_notification([am_alert({"alertname": "CrashTrial", "key": "v1"}, starts_at=T0)])
    v2 = am_notification([am_alert({"alertname": "CrashTrialV2", "key": "v2"}, starts_at=T0)])
    assert new.post(HOOK, v1).status_code == 202
    assert new.post(HOOK, v2).status_code == 202
    # Applied in order: once v2's incident exists, v1 was applied before it and opened nothing.
    incidents = poll(lambda: old.incidents(), what="the v2 incident")
    assert [i["labels"]["key"] for i in incidents] == ["v2"]


def test_a_leader_cut_off_from_the_database_is_replaced_and_rejoins_as_a_follower(
    cluster: Cluster, receiver: Receiver
) -> None:
    """The leader's database connections go through a relay that the test cuts (connections
    reset, new ones refused): a follower takes over; when the network is back, the old leader
    follows and repeats nothing."""
    url = make_url(cluster.database.url)
    relay = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    relay.start()
    through_relay = Database(
        url.set(port=relay.port).render_as_string(hide_password=False), cluster.database.schema
    )
    old = cluster.add("cut", database=through_relay)
    assert cluster.wait_leader() is old
    other = cluster.add("direct")
    assert other.post(HOOK, alert("c0")).status_code == 202
    poll(lambda: not settled(receiver, ["c0"]), 60, "c0 handled")
    relay.cut()
    try:
        new = cluster.wait_leader([other])
        keys = ["c1", "c2"]
        for key in keys:
            assert other.post(HOOK, alert(key)).status_code == 202
        poll(lambda: not settled(receiver, keys), 60, "c1, c2 handled by the new leader")
    finally:
        relay.start()
    before = {p: {k: len(v) for k, v in receiver.by(p).items()} for p in PREFIXES}
    poll(lambda: (state(old) or {}).get("state") == "follower", 30, "the old leader to follow")
    check_handled_once(receiver, new, ["c0", "c1", "c2"])
    assert {p: {k: len(v) for k, v in receiver.by(p).items()} for p in PREFIXES} == before
    assert "engine lease lost" in old.log()


def test_a_real_alertmanager_sending_to_every_replica(cluster: Cluster, receiver: Receiver) -> None:
    """Debian's Alertmanager with one webhook per replica (each notification goes to all three):
    every alert stored once, one incident per problem, each page once."""
    replicas = [cluster.add(f"am{i}") for i in range(3)]
    hooks = "".join(f"      - url: {s.url}{HOOK}\n        send_resolved: true\n" for s in replicas)
    config = (
        "route:\n  receiver: runbookd\n  group_by: [key]\n  group_wait: 1s\n"
        "  group_interval: 2s\n  repeat_interval: 1h\n"
        f"receivers:\n  - name: runbookd\n    webhook_configs:\n{hooks}"
    )
    am = Alertmanager(cluster.tmp_path / "am", config)
    am.start()
    try:
        keys = [f"am{i}" for i in range(5)]
        alerts = [
            {"labels": {"alertname": "CrashTrial", "key": key}, "startsAt": T0.isoformat()}
            for key in keys
        ]
        assert httpx.post(am.url + "/api/v2/alerts", json=alerts, timeout=5).status_code == 200
        leader = cluster.wait_leader()
        assert check_handled_once(receiver, leader, keys) == 0
        # Every replica got each notification; all but the first copy were duplicates.
        poll(
            lambda: (
                sum(
                    s.metric("runbookd_alerts_received_total", source="alertmanager", outcome=o)
                    for s in replicas
                    for o in ("accepted", "duplicate")
                )
                >= 3 * len(keys)
            ),
            30,
            "three deliveries of each alert",
        )
        accepted = sum(
            s.metric("runbookd_alerts_received_total", source="alertmanager", outcome="accepted")
            for s in replicas
        )
        assert accepted == len(keys)
        for prefix in PREFIXES:
            assert all(len(calls) == 1 for calls in receiver.by(prefix).values()), prefix
    finally:
        am.stop()


def test_a_rolling_restart_of_every_replica_loses_nothing(
    cluster: Cluster, receiver: Receiver
) -> None:
    replicas = [cluster.add(f"roll{i}") for i in range(3)]
    rng = random.Random(7)
    keys: list[str] = []
    handovers: list[float] = []
    for round_no, server in enumerate(replicas):
        for i in range(3):
            keys.append(f"roll{round_no}k{i}")
            cluster.post(rng, alert(keys[-1]))
        was_leader = cluster.leader() is server
        stopped = time.monotonic()
        server.stop()  # SIGTERM, as a rolling update does
        if was_leader:
            cluster.wait_leader([s for s in replicas if s is not server])
            handovers.append(time.monotonic() - stopped)
        server.start()
    resent = check_handled_once(receiver, cluster.wait_leader(), keys)
    print(f"rolling restart: handovers {[round(h, 2) for h in handovers]} s, re-sent {resent}")


def test_a_reload_through_a_follower_changes_the_runbooks_the_leader_runs(
    cluster: Cluster, receiver: Receiver
) -> None:
    a, b = cluster.add("ra"), cluster.add("rb")
    leader = cluster.wait_leader()
    follower = b if leader is a else a
    runbook = cluster.library / "crash-trial.yaml"
    runbook.write_text(runbook.read_text().replace("eq: CrashTrial}", "eq: CrashTrialV2}"))
    answer = follower.post("/-/reload")
    assert answer.status_code == 200, answer.text
    v2 = am_notification([am_alert({"alertname": "CrashTrialV2", "key": "r2"}, starts_at=T0)])
    assert follower.post(HOOK, v2).status_code == 202
    incidents = poll(lambda: leader.incidents(), what="the incident of the reloaded runbook")
    assert [i["labels"]["key"] for i in incidents] == ["r2"]
