"""HTTP routes for people and tools (ingest routes live in ``alerts.routes``)."""
