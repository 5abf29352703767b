"""Realistic webhook payloads for the ingest tests, built fresh on every call so tests may mutate.

Alert names, labels and annotation texts follow the public rule sets in
``shared/reference/prometheus-rules/`` (awesome-prometheus-alerts, kube-prometheus) as Prometheus
renders them: ``{{ $value }}`` and ``{{ $labels }}`` already expanded, so descriptions carry
``VALUE = ...`` and ``LABELS = map[...]`` text.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

RECEIVED_AT = datetime(2024, 5, 1, 10, 2, 7, 250000, tzinfo=UTC)
GO_ZERO_TIME = "0001-01-01T00:00:00Z"
EXTERNAL_URL = "http://alertmanager-0.monitoring.svc:9093"
EXTERNAL_URL_PEER = "http://alertmanager-1.monitoring.svc:9093"


def postgres_too_many_connections(status: str = "firing") -> dict[str, Any]:
    """awesome-prometheus-alerts PostgresqlTooManyConnections, nanosecond ``startsAt`` in UTC."""
    return {
        "status": status,
        "labels": {
            "alertname": "PostgresqlTooManyConnections",
            "instance": "pg-orders-1.db.internal:9187",
            "job": "postgres",
            "server": "pg-orders-1.db.internal:5432",
            "severity": "warning",
        },
        "annotations": {
            "summary": "Postgresql too many connections (instance pg-orders-1.db.internal:9187)",
            "description": (
                "PostgreSQL instance has too many connections (> 80%).\n  VALUE = 84.5\n"
                "  LABELS = map[instance:pg-orders-1.db.internal:9187 job:postgres "
                "server:pg-orders-1.db.internal:5432]"
            ),
        },
        "startsAt": "2024-05-01T09:58:12.481930512Z",
        "endsAt": GO_ZERO_TIME if status == "firing" else "2024-05-01T10:01:42.481930512Z",
        "generatorURL": (
            "http://prometheus-0.monitoring.svc:9090/graph?g0.expr=sum+by+%28instance%2C+job"
            "%2C+server%29+%28pg_stat_activity_count%29+%3E+min+by+%28instance%2C+job%2C+server"
            "%29+%28pg_settings_max_connections+%2A+0.8%29&g0.tab=1"
        ),
        "fingerprint": "4c1d8e2b7f0a9e35",
    }


def mysql_too_many_connections(status: str = "resolved") -> dict[str, Any]:
    """awesome-prometheus-alerts MysqlTooManyConnections(>80%), times with a +02:00 offset."""
    return {
        "status": status,
        "labels": {
            "alertname": "MysqlTooManyConnections(>80%)",
            "instance": "mysql-catalog-0.db.internal:9104",
            "job": "mysqld",
            "severity": "warning",
        },
        "annotations": {
            "summary": (
                "MySQL too many connections (> 80%) (instance mysql-catalog-0.db.internal:9104)"
            ),
            "description": (
                "More than 80% of MySQL connections are in use on "
                "mysql-catalog-0.db.internal:9104\n  VALUE = 91.40625\n"
                "  LABELS = map[instance:mysql-catalog-0.db.internal:9104 job:mysqld]"
            ),
        },
        "startsAt": "2024-05-01T11:41:55.09+02:00",
        "endsAt": GO_ZERO_TIME if status == "firing" else "2024-05-01T11:59:25.09+02:00",
        "generatorURL": "http://prometheus-0.monitoring.svc:9090/graph?g0.tab=1",
        "fingerprint": "a07be3f95d21c6e8",
    }


def node_filesystem_almost_out_of_space() -> dict[str, Any]:
    """kube-prometheus NodeFilesystemAlmostOutOfSpace (critical, < 3%), with a runbook_url."""
    return {
        "status": "firing",
        "labels": {
            "alertname": "NodeFilesystemAlmostOutOfSpace",
            "container": "kube-rbac-proxy",
            "device": "/dev/nvme1n1",
            "endpoint": "https",
            "fstype": "ext4",
            "instance": "ip-10-0-3-17.eu-west-1.compute.internal",
            "job": "node-exporter",
            "mountpoint": "/var/lib/postgresql",
            "namespace": "monitoring",
            "pod": "node-exporter-7xk2p",
            "prometheus": "monitoring/k8s",
            "service": "node-exporter",
            "severity": "critical",
        },
        "annotations": {
            "description": (
                "Filesystem on /dev/nvme1n1, mounted on /var/lib/postgresql, at "
                "ip-10-0-3-17.eu-west-1.compute.internal has only 2.87% available space left."
            ),
            "runbook_url": (
                "https://runbooks.prometheus-operator.dev/runbooks/node/"
                "nodefilesystemalmostoutofspace"
            ),
            "summary": "Filesystem has less than 3% space left.",
        },
        "startsAt": "2024-05-01T09:31:04.7Z",
        "endsAt": GO_ZERO_TIME,
        "generatorURL": "http://prometheus-k8s-0:9090/graph?g0.expr=node_filesystem_avail_bytes",
        "fingerprint": "e1f40b6c2a9d7385",
    }


def blackbox_probe_failed(instance: str = "https://shop.example.com/healthz") -> dict[str, Any]:
    """awesome-prometheus-alerts BlackboxProbeFailed for one probed URL."""
    return {
        "status": "firing",
        "labels": {
            "alertname": "BlackboxProbeFailed",
            "instance": instance,
            "job": "blackbox-http",
            "severity": "critical",
        },
        "annotations": {
            "summary": f"Blackbox probe failed (instance {instance})",
            "description": (
                f"Probe failed\n  VALUE = 0\n  LABELS = map[instance:{instance} job:blackbox-http]"
            ),
        },
        "startsAt": "2024-05-01T10:00:31.003417266Z",
        "endsAt": GO_ZERO_TIME,
        "generatorURL": "http://prometheus-0.monitoring.svc:9090/graph?g0.expr=probe_success+%3D%3D+0",
        "fingerprint": "93d0c4ab51e7f206",
    }


def notification(
    *alerts: dict[str, Any],
    status: str | None = None,
    group_labels: dict[str, str] | None = None,
    external_url: str = EXTERNAL_URL,
    truncated_alerts: int = 0,
) -> dict[str, Any]:
    """A version 4 webhook body around ``alerts``, with common labels/annotations as computed."""
    if status is None:
        status = "firing" if any(a["status"] == "firing" for a in alerts) else "resolved"
    if group_labels is None:
        group_labels = {"alertname": alerts[0]["labels"]["alertname"]}
    group = ", ".join(f'{k}="{v}"' for k, v in sorted(group_labels.items()))
    return {
        "receiver": "runbookd",
        "status": status,
        "alerts": list(alerts),
        "groupLabels": group_labels,
        "commonLabels": _common([a["labels"] for a in alerts]),
        "commonAnnotations": _common([a["annotations"] for a in alerts]),
        "externalURL": external_url,
        "version": "4",
        "groupKey": '{}/{severity=~"warning|critical"}:{' + group + "}",
        "truncatedAlerts": truncated_alerts,
    }


def _common(maps: list[dict[str, str]]) -> dict[str, str]:
    first, *rest = maps
    return {k: v for k, v in first.items() if all(m.get(k) == v for m in rest)}


def ssh_brute_force() -> dict[str, Any]:
    """A generic security event as a log watcher (fail2ban-style) might post it."""
    return {
        "name": "SshBruteForce",
        "status": "firing",
        "labels": {"host": "bastion-1.dmz.internal", "service": "sshd", "severity": "critical"},
        "annotations": {"summary": "57 failed SSH logins from 203.0.113.44 in 60s"},
        "value": 57,
        "at": "2024-05-01T10:01:58.120443Z",
        "source": "fail2ban",
        "fingerprint": "sshd/203.0.113.44",
        "jail": "sshd",
        "banned": True,
        "ban_seconds": 3600,
        "client_ip": "203.0.113.44",
    }


def replication_lag() -> dict[str, Any]:
    """A generic database check (cron script) with only the required field and a metric."""
    return {
        "name": "PostgresqlReplicationLag",
        "labels": {"host": "pg-orders-2.db.internal", "cluster": "orders"},
        "value": 42.7,
    }
