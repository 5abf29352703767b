"""The runbookd core: runbook language, compiler, durable_rules adapter and incident runtime.

Installed as ``runbookd.engine``; it imports connectors (their specs) and nothing else of ours.
"""
