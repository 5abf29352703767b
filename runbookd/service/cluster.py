"""How a replica takes part in a cluster: its role, its name, its lease and its sessions.

Only PostgreSQL can be shared (the settings refuse cluster.enabled on SQLite). Every connection
of a replica carries two server-side limits so that a peer that was paused (SIGSTOP, a VM
freeze) or cut off while holding a lock cannot hold up the others for long: ``lock_timeout``
bounds every wait for a lock, ``idle_in_transaction_session_timeout`` makes the server end a
transaction whose client went quiet, releasing its locks (the lease row's above all).
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from runbookd.service.lease import Lease
from runbookd.service.worker import Worker
from runbookd.store import db


@dataclass(frozen=True)
class ClusterOptions:
    enabled: bool = False
    role: str = "all"  # all | ingest | engine
    name: str | None = None
    lease_ttl: float = 5.0
    clock_margin: float = 1.0
    lock_timeout: float = 2.0
    idle_in_transaction_timeout: float = 3.0

    @property
    def runs_engine(self) -> bool:
        """Whether this process stands for the engine lease (and so keeps an engine)."""
        return self.role != "ingest"

    def session(self) -> dict[str, str]:
        """PostgreSQL settings for every connection of this replica (empty: not clustered)."""
        if not self.enabled:
            return {}
        return {
            "lock_timeout": f"{int(self.lock_timeout * 1000)}ms",
            "idle_in_transaction_session_timeout": f"{int(self.idle_in_transaction_timeout * 1000)}ms",
        }

    def holder(self) -> str:
        """This replica's name in the lease: the configured one, or host:pid, made unique by a
        suffix per start, so a restarted replica never mistakes its predecessor's lease for its own."""
        base = self.name or f"{socket.gethostname()}:{os.getpid()}"
        return f"{base}/{uuid.uuid4().hex[:8]}"


def make_lease(url: str, options: ClusterOptions) -> Lease | None:
    """The lease this replica stands for, on its own one-connection engine; None when it does
    not run the engine (not clustered, or the ingest role)."""
    if not (options.enabled and options.runs_engine):
        return None
    engine: Engine = db.make_engine(url, session=options.session(), pool_size=1)
    return Lease(engine, options.holder(), ttl=options.lease_ttl, margin=options.clock_margin)


def cluster_view(options: ClusterOptions, lease: Lease | None, worker: Worker) -> dict[str, Any]:
    """What /readyz shows of this replica's part in the cluster."""
    view: dict[str, Any] = {
        "role": options.role,
        "state": "ingest" if lease is None else worker.role,
        "applied_seq": worker.applied_seq,
    }
    if lease is not None:
        view["holder"] = lease.holder
        view["epoch"] = worker.leading
        view["lease_remaining_s"] = round(lease.remaining(), 3)
    return view
