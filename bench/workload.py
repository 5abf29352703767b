"""A deterministic, Alertmanager-shaped alert stream for the engine benchmark.

Most alerts are noise: real alert names from public Prometheus rule sets (see
/work/shared/reference/prometheus-rules/) that no loaded runbook uses. The rest carry the names the
loaded runbooks pin in their triggers, spread over many incident keys (``group_by`` labels), so
correlations, incidents, escalations and resolutions all happen. Every alert identity moves
firing -> (repeats) -> resolved -> firing ..., as Alertmanager reports it.

Both sides of the benchmark get the same alerts: runbookd as ``Event``s parsed by
``alerts.alertmanager`` (what the webhook produces), raw durable_rules as the trimmed alert dict
the durable_rules study recommends posting. All parsing happens here, before any timing.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from runbookd.alerts.alertmanager import parse_notification
from runbookd.engine.compiler import CompiledRunbook, trigger_conditions
from runbookd.engine.events import Event
from runbookd.engine.lang.conditions import All, AnyOf, Condition, Leaf, leaves

#: Alert names copied from the reference rule sets (node-exporter, blackbox, MySQL, PostgreSQL,
#: Alertmanager, kube-prometheus). Names a loaded runbook uses are dropped at run time.
NOISE_NAMES: tuple[str, ...] = (
    "NodeFilesystemAlmostOutOfSpace",
    "NodeFilesystemSpaceFillingUp",
    "NodeFilesystemAlmostOutOfFiles",
    "NodeFilesystemFilesFillingUp",
    "HostHighCpuLoad",
    "HostOutOfMemory",
    "HostOutOfDiskSpace",
    "HostOutOfInodes",
    "HostMemoryUnderMemoryPressure",
    "HostUnusualDiskReadLatency",
    "HostUnusualDiskWriteLatency",
    "HostUnusualNetworkThroughputIn",
    "HostUnusualNetworkThroughputOut",
    "HostCpuHighIowait",
    "HostCpuStealNoisyNeighbor",
    "HostContextSwitchingHigh",
    "HostSwapIsFillingUp",
    "HostSystemdServiceCrashed",
    "HostOomKillDetected",
    "HostClockSkew",
    "HostClockNotSynchronising",
    "HostNetworkReceiveErrors",
    "HostNetworkTransmitErrors",
    "HostConntrackLimit",
    "HostDiskMayFillIn24Hours",
    "BlackboxProbeFailed",
    "BlackboxProbeHttpFailure",
    "BlackboxProbeSlowHttp",
    "BlackboxSslCertificateWillExpireSoon",
    "MysqlDown",
    "MysqlHighThreadsRunning",
    "MysqlRestarted",
    "PostgresqlUnusedReplicationSlot",
    "AlertmanagerFailedToSendAlerts",
    "AlertmanagerClusterFailedPeers",
    "AlertmanagerFailedReload",
    "TargetDown",
    "NodeNetworkInterfaceFlapping",
)

START = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
#: Mean alert rate of the stream in virtual time: a busy Alertmanager (100 alerts/s), so 100k
#: alerts span ~17 minutes and the 5-minute correlation windows and escalation timers do expire.
ALERTS_PER_SECOND = 100.0
NOISE_INSTANCES = 200
#: Incident keys per runbook: many channels/instances, so shards and pending joins are spread.
KEYS_PER_RUNBOOK = 300
#: Chance that an alert which is firing is next reported resolved (else: a repeat notification).
RESOLVE_SHARE = 0.5


@dataclass(frozen=True)
class Target:
    """Alerts one runbook reacts to: each pinned name with the labels its trigger pins too."""

    runbook: str
    names: dict[str, dict[str, str]]
    key_labels: tuple[str, ...]


@dataclass
class Workload:
    events: list[Event]
    #: the same alerts as the raw durable_rules side posts them (without ``sid``)
    raw_docs: list[dict[str, Any]]
    noise_names: tuple[str, ...]
    matching: int = 0
    resolved: int = 0
    identities: int = 0
    span: timedelta = field(default_factory=timedelta)


def used_names(compiled: Sequence[CompiledRunbook]) -> set[str]:
    """Every text literal a runbook compares with: noise must never be one of them."""
    out: set[str] = set()
    for item in compiled:
        conds = [c for t in item.runbook.detection.triggers for c in trigger_conditions(t)]
        for cond in conds:
            for leaf in leaves(cond):
                values = leaf.operand if isinstance(leaf.operand, list) else [leaf.operand]
                out.update(str(v) for v in values)
    return out


def targets(compiled: Sequence[CompiledRunbook]) -> list[Target]:
    """What matching alerts to generate for each runbook whose triggers pin alert names."""
    out = []
    for item in compiled:
        names: dict[str, dict[str, str]] = {}
        for trigger in item.runbook.detection.triggers:
            for cond in trigger_conditions(trigger):
                pinned = _pinned(cond)
                for name in _names_in(cond):
                    names.setdefault(name, {}).update(pinned)
        key_labels = tuple(
            f.removeprefix("labels.")
            for f in item.runbook.detection.group_by
            if f.startswith("labels.")
        )
        if names:
            out.append(Target(item.runbook.id, names, key_labels))
    return out


def _names_in(cond: Condition) -> list[str]:
    if isinstance(cond, Leaf):
        if cond.field in ("name", "labels.alertname") and cond.op in ("eq", "in"):
            values = cond.operand if cond.op == "in" else [cond.operand]
            return [str(v) for v in values]
        return []
    if isinstance(cond, All | AnyOf):
        children = cond.all if isinstance(cond, All) else cond.any
        return [n for c in children for n in _names_in(c)]
    return []


def _pinned(cond: Condition) -> dict[str, str]:
    """Labels a condition requires at its top level (``eq``, or the first ``in`` value), so that
    generated alerts satisfy it."""
    out: dict[str, str] = {}
    for leaf in _conjuncts(cond):
        if not isinstance(leaf, Leaf) or not leaf.field.startswith("labels."):
            continue
        if leaf.field == "labels.alertname" or leaf.op not in ("eq", "in"):
            continue
        value = leaf.operand[0] if leaf.op == "in" else leaf.operand
        out[leaf.field.removeprefix("labels.")] = str(value)
    return out


def _conjuncts(cond: Condition) -> list[Condition]:
    """The parts of nested ``all``s: each must hold for the condition to hold."""
    if isinstance(cond, All):
        return [part for child in cond.all for part in _conjuncts(child)]
    return [cond]


def fingerprint(labels: dict[str, str]) -> str:
    """Alertmanager sends a 16-hex-digit hash of the label set; any stable hash will do here."""
    text = ",".join(f"{k}={labels[k]}" for k in sorted(labels))
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def _noise_labels(rng: random.Random, names: Sequence[str]) -> dict[str, str]:
    name = rng.choice(names)
    host = rng.randrange(NOISE_INSTANCES)
    return {
        "alertname": name,
        "instance": f"node-{host:03d}:9100",
        "job": "node" if name.startswith(("Host", "Node")) else name.lower()[:8],
        "severity": rng.choice(("warning", "warning", "critical")),
    }


def _target_labels(rng: random.Random, found: Sequence[Target]) -> dict[str, str]:
    target = rng.choice(found)
    name = rng.choice(sorted(target.names))
    # Skewed like real traffic: a few hot channels/hosts/attackers, a long tail of quiet ones.
    key = int(KEYS_PER_RUNBOOK * rng.random() ** 2)
    labels = {
        "alertname": name,
        "instance": f"{target.runbook[:12]}-{key % 16:02d}:8080",
        "job": target.runbook,
        "severity": "critical",
    }
    labels.update(target.names[name])
    for label in target.key_labels:
        labels[label] = f"{label}-{key:03d}"
    return labels


def _alert(
    labels: dict[str, str], fp: str, status: str, starts: datetime, at: datetime
) -> dict[str, Any]:
    """One alert as Alertmanager's webhook (payload version 4) carries it."""
    name, instance = labels["alertname"], labels["instance"]
    return {
        "status": status,
        "labels": labels,
        "annotations": {
            "summary": f"{name} on {instance}",
            "description": f"{name} has been active on {instance} ({labels['severity']}).",
        },
        "startsAt": starts.isoformat().replace("+00:00", "Z"),
        "endsAt": at.isoformat().replace("+00:00", "Z")
        if status == "resolved"
        else "0001-01-01T00:00:00Z",
        "generatorURL": f"http://prometheus:9090/graph?g0.expr=ALERTS%7Balertname%3D%22{name}%22%7D",
        "fingerprint": fp,
    }


def _stream(
    count: int, seed: int, noise: Sequence[str], found: Sequence[Target], noise_share: float
) -> Iterator[tuple[datetime, dict[str, Any], bool]]:
    rng = random.Random(seed)
    firing_since: dict[str, datetime] = {}
    at = START
    for _ in range(count):
        at += timedelta(seconds=rng.expovariate(ALERTS_PER_SECOND))
        targeted = bool(found) and rng.random() >= noise_share
        labels = _target_labels(rng, found) if targeted else _noise_labels(rng, noise)
        fp = fingerprint(labels)
        since = firing_since.get(fp)
        if since is not None and rng.random() < RESOLVE_SHARE:
            del firing_since[fp]
            yield at, _alert(labels, fp, "resolved", since, at), targeted
        else:
            firing_since.setdefault(fp, at)
            yield at, _alert(labels, fp, "firing", firing_since[fp], at), targeted


def generate(
    count: int,
    compiled: Sequence[CompiledRunbook],
    *,
    seed: int = 20261125,
    noise_share: float = 0.9,
) -> Workload:
    used = used_names(compiled)
    noise = tuple(n for n in NOISE_NAMES if n not in used)
    found = targets(compiled)
    work = Workload([], [], noise)
    seen: set[str] = set()
    for seq, (at, alert, targeted) in enumerate(_stream(count, seed, noise, found, noise_share)):
        body = {
            "version": "4",
            "status": alert["status"],
            "receiver": "runbookd",
            "alerts": [alert],
        }
        work.events.append(parse_notification(body, received_at=at).alerts[0])
        work.raw_docs.append(_raw_doc(alert, seq))
        work.matching += targeted
        work.resolved += alert["status"] == "resolved"
        seen.add(alert["fingerprint"])
    work.identities = len(seen)
    if work.events:
        work.span = work.events[-1].at - work.events[0].at
    return work


def _raw_doc(alert: dict[str, Any], seq: int) -> dict[str, Any]:
    """What a hand-written service posts: the study's trimmed alert (labels, annotations, status,
    fingerprint) plus ``seq``, because durable_rules refuses a second *pending* event with the same
    content (MessageObservedException) and repeat notifications of one alert are identical."""
    return {
        "status": alert["status"],
        "fingerprint": alert["fingerprint"],
        "labels": alert["labels"],
        "annotations": alert["annotations"],
        "seq": seq,
    }
