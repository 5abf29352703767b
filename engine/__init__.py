"""The runbookd core: runbook language, compiler, durable_rules adapter and incident runtime."""
