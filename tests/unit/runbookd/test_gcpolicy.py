"""The service's collector thresholds space out full collections (runbookd/service/gcpolicy.py); that
`runbookd serve` applies them is tested in test_serve_gc.py."""

from __future__ import annotations

import subprocess
import sys

# Churn like a busy service: short-lived cyclic garbage, and long-lived state that keeps growing
# (open incidents), which is what makes CPython run full collections. Prints how many it ran.
CHURN = """
import gc, sys
from runbookd.service import gcpolicy
if sys.argv[1] == "policy":
    gcpolicy.configure()
full = 0
def count(phase, info):
    global full
    if phase == "stop" and info["generation"] == 2:
        full += 1
gc.callbacks.append(count)
kept = []
for i in range(1_500_000):
    d = {"i": i}
    d["self"] = d  # a reference cycle: only the collector frees it
    if i % 20 == 0:
        kept.append([i])
print(full)
"""


def full_collections(mode: str) -> int:
    out = subprocess.run(
        [sys.executable, "-c", CHURN, mode], capture_output=True, text=True, check=True
    )
    return int(out.stdout)


def test_full_collections_come_far_less_often_under_the_policy() -> None:
    default, policy = full_collections("default"), full_collections("policy")
    assert default >= 5  # the workload does trigger them
    assert policy * 5 <= default
