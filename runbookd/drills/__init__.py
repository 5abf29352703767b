"""Drills (plan 12.1.2): run a runbook end to end on a virtual clock with synthetic signals
(``signals``, ``synth``), score it (``score``), store the results (``store``), and run them on a
schedule in the service (``schedule``).

May import ``store`` and ``config``; independent of ``postmortem`` and ``toolchain``.
"""
