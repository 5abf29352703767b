"""The runbook language: YAML source with positions, strict models, checks."""
