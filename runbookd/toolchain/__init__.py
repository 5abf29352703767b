"""The offline toolchain: load, check and compile runbook files (``library``), run scenario files
on a virtual clock (``scenario``, ``scenario_model``, ``report``), replay recorded events
(``replay``), and build realistic Alertmanager bodies for tests (``testing``).

No database, no network: it imports no other runbookd package (a contract enforces that it never
reaches the store), so ``runbookd check`` and ``runbookd test`` run anywhere, in CI, in seconds.
"""
