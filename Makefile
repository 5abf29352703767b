# Two commands for a fresh machine with Python 3.11: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3.12 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint check bench bench-smoke bench-ingest bench-executor bench-failover bench-replicas bench-pages bench-httppool clean demo

LOCK := requirements/lock.txt
RUNTIME_LOCK := requirements/runtime.txt
# How the locks are made: a hash for every file, pip and setuptools pinned too (--allow-unsafe),
# the build backend included (--all-build-deps) so that installing runbookd itself fetches nothing
# unpinned, extras stripped so LOCK also works as a constraints file. No index or find-links
# lines: a lock must not carry one machine's pip configuration.
COMPILE := $(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe --all-build-deps \
	--strip-extras --no-emit-index-url --no-emit-find-links --no-emit-trusted-host

.PHONY: lock lock-upgrade

# The virtualenv holds exactly LOCK (--clear drops whatever an older install left), then
# runbookd itself, editable, with no dependency resolution of its own.
$(STAMP): pyproject.toml $(LOCK)
	$(PYTHON) -m venv --clear $(VENV)
	$(BIN)/pip install -q --require-hashes -r $(LOCK)
	$(BIN)/pip install -q --no-deps --no-build-isolation -e .
	touch $(STAMP)

## lock: re-resolve the locks after a change to pyproject.toml's dependencies, keeping every pin
## that still fits; lock-upgrade: move every pin to the newest release pyproject allows.
## LOCK (every extra) is what make installs; RUNTIME_LOCK (the service and its PostgreSQL driver,
## at LOCK's versions) is what deploy/install.sh installs.
lock: $(STAMP)
	$(COMPILE) --extra dev --extra testing --extra postgres -o $(LOCK) pyproject.toml
	$(COMPILE) --upgrade --extra postgres -c $(LOCK) -o $(RUNTIME_LOCK) pyproject.toml

lock-upgrade: $(STAMP)
	$(COMPILE) --upgrade --extra dev --extra testing --extra postgres -o $(LOCK) pyproject.toml
	$(COMPILE) --upgrade --extra postgres -c $(LOCK) -o $(RUNTIME_LOCK) pyproject.toml

## run: validate the bundled runbooks, then serve them (config.yaml: SQLite in ./data)
run: $(STAMP)
	$(BIN)/runbookd check runbooks/
	$(BIN)/runbookd serve --config config.yaml

## test: the whole test suite
test: $(STAMP)
	$(BIN)/python -m pytest -q

## lint: ruff, mypy --strict, and the import contracts
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

## bench: the whole suite (engine, ingest, latency, burst, memory, restart, offline, httppool), each figure
## against a baseline from the same run and its goal; writes bench/results/<time>.json and appends
## rows to bench/RESULTS.md. Then the executor's and the web pages' own benchmarks.
bench: $(STAMP)
	$(BIN)/python -m bench
	$(BIN)/python bench/executor_bench.py
	$(BIN)/python bench/pages_bench.py

## bench-smoke: the suite at small sizes (about a minute and a half), recording nothing; CI runs it
## as tests/unit/bench/test_suite.py
bench-smoke: $(STAMP)
	$(BIN)/python -m bench --smoke

## bench-ingest: webhook throughput against a bare endpoint, alert-to-incident latency (needs wrk)
bench-ingest: $(STAMP)
	$(BIN)/python bench/ingest_bench.py

## bench-executor: 1,000 connector calls against a 100 ms endpoint, per pool size, against bare httpx
bench-executor: $(STAMP)
	$(BIN)/python bench/executor_bench.py

## bench-failover: SIGKILL of the engine leader among 3 replicas on PostgreSQL (127.0.0.1:5432),
## 20 trials with default settings: time to a new leader and to the first page after the kill
bench-failover: $(STAMP)
	$(BIN)/python bench/failover_bench.py

## bench-replicas: webhook throughput with 1, 2, 3 replicas and an ingest-only one on PostgreSQL,
## each against a bare FastAPI endpoint in the same run (needs wrk)
bench-replicas: $(STAMP)
	$(BIN)/python bench/replicas_ingest_bench.py

## bench-httppool: connector calls at 10, 100, 1,000 calls/s and flat out, our pool against stock httpx
bench-httppool: $(STAMP)
	$(BIN)/python bench/http_pool_bench.py

## bench-pages: p50/p99 of each web page with 10,000 incidents, against a static page of equal size
bench-pages: $(STAMP)
	$(BIN)/python bench/pages_bench.py

## demo: a payment-channel outage on the simulated platform, handled by runbookd end to end
## (needs Debian's prometheus and prometheus-alertmanager; port 8081 free for the platform)
demo: $(STAMP)
	$(BIN)/python -m examples.demo

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
