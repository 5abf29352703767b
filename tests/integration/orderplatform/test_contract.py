"""The simulator serves every name docs/order-platform-signals.md lists, and nothing else.

The contract is the document itself: its tables are read here, so a metric, fault or admin
operation added to the doc without the simulator following fails this test.
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.integration.orderplatform.conftest import Sim

DOC = (Path(__file__).resolve().parents[3] / "docs" / "order-platform-signals.md").read_text()
# Chapter 10 (and 11.2) watch infrastructure through standard exporters, not this platform;
# the doc has no tables for them, so the whole document is the platform's contract.
BUSINESS = DOC


def documented_metrics() -> set[str]:
    rows = re.findall(r"^\|\s*`(orders_[a-z0-9_]+)`\s*\|", BUSINESS, flags=re.MULTILINE)
    return set(rows)


def documented_faults() -> set[str]:
    in_tables = re.findall(r"^\|\s*`([a-z_]+)`\s*\|\s*`?\{", BUSINESS, flags=re.MULTILINE)
    in_tables += re.findall(r"^\|\s*`([a-z_]+)`\s*\|\s*—", BUSINESS, flags=re.MULTILINE)
    # Prose lists: a paragraph starting "Faults:" or the paragraph under a "Faults" heading.
    in_prose: list[str] = []
    blocks = [b.strip() for b in re.split(r"\n\s*\n", BUSINESS)]
    for before, block in zip(["", *blocks], blocks, strict=False):
        if block.startswith("Faults:") or re.fullmatch(r"#+ Faults.*", before):
            in_prose += re.findall(r"`([a-z_]+)`(?:\s+`\{[^`]*\}`)?\s+\(", block)
            in_prose += re.findall(r"and `([a-z_]+)` from", block)
    return {name for name in in_tables + in_prose if not name.startswith("orders_")}


def documented_operations() -> set[tuple[str, str]]:
    ops = re.findall(r"^\|\s*`(GET|POST|DELETE) (/admin/[^`?\s]+)", BUSINESS, flags=re.MULTILINE)
    return {(method, re.sub(r"\{[^}]+\}", "{}", path)) for method, path in ops}


def test_every_documented_metric_is_exported(sim: Sim) -> None:
    wanted = documented_metrics()
    assert len(wanted) > 40, "the contract's metric tables were not found"
    exposition = sim.platform.metrics.exposition().decode()
    exported = set(re.findall(r"^# TYPE (orders_[a-z0-9_]+) ", exposition, flags=re.MULTILINE))
    # The client library's creation-time series; `python -m examples.orderplatform` turns them off.
    exported = {name for name in exported if not name.endswith("_created")}
    exported = {
        name if name.endswith("_total") or f"{name}_total" not in wanted else f"{name}_total"
        for name in exported
    }
    assert wanted - exported == set()
    assert exported - wanted == set(), "the simulator exports names the contract does not list"


def test_every_documented_fault_can_be_switched(sim: Sim) -> None:
    wanted = documented_faults()
    assert len(wanted) > 30, "the contract's fault tables were not found"
    catalogue = {f["name"] for f in sim.http.get("/faults").json()["faults"]}
    assert wanted - catalogue == set()
    assert catalogue - wanted == set(), "the simulator offers faults the contract does not list"
    for name in sorted(wanted):
        on = sim.http.post(f"/faults/{name}")
        assert on.status_code == 200, (name, on.text)
        assert sim.http.delete(f"/faults/{name}").json()["was_active"] is True


def test_every_documented_admin_operation_is_served(sim: Sim) -> None:
    wanted = documented_operations()
    assert len(wanted) > 60, "the contract's admin tables were not found"
    served = set()
    for path, methods in sim.app.openapi()["paths"].items():
        if path.startswith("/admin/"):
            for method in methods:
                served.add((method.upper(), re.sub(r"\{[^}]+\}", "{}", path)))
    assert wanted - served == set()
    assert served - wanted == set(), "the simulator serves operations the contract does not list"
