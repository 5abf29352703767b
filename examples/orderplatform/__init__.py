"""A simulated e-commerce order platform for runbookd's demo and end-to-end tests.

It serves the signals of ``docs/order-platform-signals.md``: business metrics on ``/metrics``,
events posted to runbookd, the admin operations the runbooks call, and a fault-injection API
that makes each failure mode of the emergency plan (chapters 2-11) show up in those signals.
Run it with ``python -m examples.orderplatform``.
"""
