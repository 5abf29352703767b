"""The labels an alerting rule's expression leaves on its alerts (expressions from real rules)."""

from __future__ import annotations

import pytest

from runbookd.toolchain.promql_labels import output_labels

CLOSED = [
    # awesome-prometheus-alerts keycloak: aggregated to one alert per realm.
    ("sum by (realm) (rate(keycloak_failed_login_attempts_total[5m])) > 0.1", {"realm"}),
    # `by` written after the arguments (traefik).
    ("count(traefik_service_server_up) by (service) == 0", {"service"}),
    # absent() yields the selector's equality matchers only.
    ('absent(up{job="cert-manager", env=~"p.*"})', {"job"}),
    ("vector(1)", set()),
    # one-to-one matching with on(): only the listed labels survive.
    (
        '{__name__=~"pg_settings_.*"} != ON(__name__, instance) {__name__=~"pg_settings_.*"} offset 5m',
        {"instance"},
    ),
    # group_left keeps the many side (and adds its list, here empty).
    (
        "sum by (client, reason) (rate(orders_failed_total[5m])) / on (client) group_left () "
        "(sum by (client) (rate(orders_created_total[5m]))) > 0.05",
        {"client", "reason"},
    ),
    # and/unless keep the left side.
    (
        "group by (namespace) (ALERTS == 1) unless on (namespace) group by (namespace) (x)",
        {"namespace"},
    ),
    ("histogram_quantile(0.99, sum(rate(h_bucket[2m])) by (host, node, le)) > 3", {"host", "node"}),
    ('label_replace(sum by (a) (m), "dst", "$1", "a", "(.*)")', {"a", "dst"}),
    ('count_values("version", build_info)', {"version"}),
    ("sum(rate(x[1m])) / sum(rate(y[1m])) * 100 > 5", set()),
]


@pytest.mark.parametrize(("expr", "labels"), CLOSED)
def test_closed_label_sets(expr: str, labels: set[str]) -> None:
    found = output_labels(expr)
    assert found.kept == frozenset(labels)


def test_a_plain_selector_keeps_whatever_its_series_carry() -> None:
    found = output_labels(
        'node_memory_MemAvailable_bytes{job="node"} / node_memory_MemTotal_bytes < .10'
    )
    assert not found.closed
    assert found.can_carry("service") is None


def test_without_drops_its_labels_and_keeps_the_rest_open() -> None:
    found = output_labels(
        '1 - (avg without (cpu) (rate(node_cpu_seconds_total{mode="idle"}[5m]))) > .80'
    )
    assert found.can_carry("cpu") is False
    assert found.can_carry("instance") is None


def test_keywords_are_case_insensitive() -> None:
    found = output_labels("probe_http_status_code <= 199 OR SUM BY (x) (probe_http_status_code)")
    assert not found.closed  # OR with an open side stays open
    assert output_labels("SUM BY (x) (m) > 1").kept == frozenset({"x"})


def test_a_comment_in_the_expression_is_skipped() -> None:
    expr = '# failed scrapes, see the docs\nmax by (job) (reload_ok{job="am"}) == 0'
    assert output_labels(expr).kept == frozenset({"job"})


def test_what_it_cannot_read_is_open_not_a_guess() -> None:
    assert not output_labels("sum by (a (broken").closed
