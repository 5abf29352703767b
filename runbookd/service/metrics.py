"""Every metric runbookd exports, in one place (Prometheus naming: unit suffixes, _total).

Each app gets its own registry, so two apps in one process (tests) never share counters.
"""

from __future__ import annotations

import platform
from importlib import metadata

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.alerts_received = Counter(
            "runbookd_alerts_received_total",
            "Alerts and events received, by source and outcome "
            "(accepted, duplicate, stale, rejected).",
            ["source", "outcome"],
            registry=r,
        )
        self.alerts_unmatched = Counter(
            "runbookd_alerts_unmatched_total",
            "Firing alerts and events no runbook did anything with (the fallback runbook, when "
            "configured, still takes them), by alertname; past 200 distinct names the rest are "
            'counted under alertname="__other__".',
            ["alertname"],
            registry=r,
        )
        self.requests_rejected = Counter(
            "runbookd_ingest_requests_rejected_total",
            "Ingest requests refused, by reason (malformed, too_large, unauthorized, unavailable).",
            ["source", "reason"],
            registry=r,
        )
        self.chatops_requests = Counter(
            "runbookd_chatops_requests_total",
            "Requests from chat and paging tools (source pagerduty), by outcome: applied, "
            "unchanged, duplicate, unknown_incident, ignored, refused, denied, unauthorized, "
            "malformed, unavailable.",
            ["source", "outcome"],
            registry=r,
        )
        self.alerts_rejected = Counter(
            "runbookd_alerts_rejected_total",
            "Single alerts and events refused while the rest of their body was stored, by the "
            "field at fault (labels, annotations, status, startsAt, endsAt, generatorURL, "
            "fingerprint, name, value, at, source, not_an_object, other).",
            ["source", "reason"],
            registry=r,
        )
        self.values_escaped = Counter(
            "runbookd_alert_values_escaped_total",
            "Label, annotation and other values received with text no store holds (U+0000, lone "
            "surrogates) and stored in escaped form; counted at every receipt.",
            ["source"],
            registry=r,
        )
        self.truncated_alerts = Counter(
            "runbookd_alertmanager_truncated_alerts_total",
            "Alerts Alertmanager reported as cut from notifications (truncatedAlerts).",
            registry=r,
        )
        self.truncated_fetched = Counter(
            "runbookd_alertmanager_truncated_fetched_total",
            "Alerts fetched from Alertmanager's API because a notification was truncated.",
            registry=r,
        )
        self.inbox_depth = Gauge(
            "runbookd_inbox_depth",
            "Journal entries accepted but not yet applied by the engine.",
            registry=r,
        )
        self.engine_lag = Gauge(
            "runbookd_engine_lag_seconds",
            "Age of the oldest journal entry the engine has not applied yet.",
            registry=r,
        )
        self.engine_batch_seconds = Histogram(
            "runbookd_engine_batch_duration_seconds",
            "Time to apply one batch of journal entries.",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.incidents = Gauge(
            "runbookd_incidents",
            "Incidents by status and severity.",
            ["status", "severity"],
            registry=r,
        )
        self.incidents_opened = Counter(
            "runbookd_incidents_opened_total",
            "Incidents opened, by runbook.",
            ["runbook"],
            registry=r,
        )
        self.escalations = Counter(
            "runbookd_escalations_total",
            "Escalations to a next level, by runbook.",
            ["runbook"],
            registry=r,
        )
        self.notifications = Counter(
            "runbookd_connector_calls_total",
            "Connector calls finished, by connector and outcome (ok, failed).",
            ["connector", "outcome"],
            registry=r,
        )
        self.timer_lateness = Histogram(
            "runbookd_timer_lateness_seconds",
            "How late timers (escalation deadlines, for:, windows) fired after they came due.",
            buckets=LATENCY_BUCKETS + (30.0, 60.0, 300.0),
            registry=r,
        )
        self.alert_to_incident = Histogram(
            "runbookd_alert_to_incident_seconds",
            "From receiving the alert that opened an incident to the incident being stored.",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.replayed = Gauge(
            "runbookd_engine_replayed_entries",
            "Journal entries replayed to rebuild the engine at the last start.",
            registry=r,
        )
        # What meta-monitoring alerts on (deploy/prometheus/rules/runbookd.yml): the service's
        # own health, readable without the database or the HTTP probes.
        self.applied_seq = Gauge(
            "runbookd_engine_applied_seq",
            "The engine's watermark: the last journal sequence number it applied.",
            registry=r,
        )
        self.silences_active = Gauge(
            "runbookd_silences_active",
            "Silences muting alerts now (made with the API or the CLI).",
            registry=r,
        )
        self.writer_queue = Gauge(
            "runbookd_writer_queue_depth",
            "Jobs waiting for the journal writer thread (webhook batches, acknowledgements, "
            "connector results).",
            registry=r,
        )
        self.circuit_open = Gauge(
            "runbookd_connector_circuit_open",
            "1 while a circuit breaker is open (calls refused), 0 once closed; by connector and "
            "target (scheme://host:port for URL connectors, else empty).",
            ["connector", "target"],
            registry=r,
        )
        self.leader = Gauge(
            "runbookd_cluster_leader",
            "Replicas: 1 while this replica holds the engine lease and runs the engine, executor, "
            "polls and drills; 0 while it follows (or has the ingest role). 1 without replicas.",
            registry=r,
        )
        self.lease_epoch = Gauge(
            "runbookd_cluster_lease_epoch",
            "Replicas: the engine lease's epoch as last read (grows by one per change of leader).",
            registry=r,
        )
        self.failovers = Counter(
            "runbookd_cluster_leaderships_total",
            "Replicas: times this replica became the engine leader at a new epoch.",
            registry=r,
        )
        self.follower_lag = Gauge(
            "runbookd_cluster_follower_lag_entries",
            "Replicas: journal entries the leader has stored as applied that this follower has "
            "not applied yet (0 on the leader).",
            registry=r,
        )
        self.ready = Gauge(
            "runbookd_ready",
            "1 when /readyz would answer 200 (store reachable and writable, schema current, "
            "engine running), else 0; refreshed every 5 seconds.",
            registry=r,
        )
        # Reloads (SIGHUP, POST /-/reload): named as Prometheus and Alertmanager name theirs, so
        # the rules people already have for those read the same way for runbookd.
        self.reload_ok = Gauge(
            "runbookd_config_last_reload_successful",
            "1 when the last reload of config.yaml and the runbooks (or the start) succeeded, 0 "
            "when it was refused and the previous version keeps running.",
            registry=r,
        )
        self.reload_time = Gauge(
            "runbookd_config_last_reload_success_timestamp_seconds",
            "Unix time of the last successful reload (or of the start).",
            registry=r,
        )
        self.build_info = Gauge(
            "runbookd_build_info",
            "Always 1; the labels say which runbookd, Python and durable_rules run.",
            ["version", "python", "durable_rules"],
            registry=r,
        )
        self.build_info.labels(
            _version("runbookd"), platform.python_version(), _version("durable-rules")
        ).set(1)
        # The client library's standard process_* and python_info series, in this registry
        # (the default registry's copies are global and shared by every app of a process).
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"
