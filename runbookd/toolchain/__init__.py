"""The offline toolchain: load, check and compile runbook files (``library``), run scenario files
on a virtual clock (``scenario``, ``scenario_model``, ``report``), replay recorded events
(``replay``), build realistic Alertmanager bodies for tests (``testing``), and measure which
Prometheus alerting rules the runbooks handle (``rules_files``, ``promql_labels``, ``coverage``,
``coverage_report``) and write a first runbook from one (``scaffold``).

No database, no network: it imports no other runbookd package (a contract enforces that it never
reaches the store), so ``runbookd check`` and ``runbookd test`` run anywhere, in CI, in seconds.
"""
