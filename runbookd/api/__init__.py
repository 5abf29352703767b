"""The JSON API under ``/api/v1`` for people and tools (ingest routes live in ``alerts.routes``),
and the credentials every route checks (``auth``).

Talks to the running service only through ``runbookd.service.core.Service`` (its public face);
may import ``service.core``, ``postmortem`` and ``store``, never the service's internals (worker,
snapshots, journal, effects), which a contract in pyproject.toml enforces.
"""
