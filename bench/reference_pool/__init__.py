"""The connectors' own HTTP pool as it was until 2026-12-08, kept only as bench/http_pool_bench.py's
reference: the service uses stock httpx (docs/decisions.md, "The connectors' HTTP pool is
httpx's"). Nothing in runbookd imports it; it is not installed. Delete it with the benchmark if
nobody needs to re-measure the decision."""
