"""The demo: a payment-channel outage on the simulated platform, detected and handled by runbookd.

``python -m examples.demo`` (or ``make demo``) starts the platform, Prometheus, Alertmanager and
runbookd, injects the outage and narrates what runbookd does about it.
"""
