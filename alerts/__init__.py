"""Ingest: vendor payloads (Alertmanager webhook v4, generic JSON) -> ``engine.events.Event``.

Parsing does no I/O: an ingest route hands the request body to
:func:`alerts.alertmanager.parse_notification` or :func:`alerts.generic.parse_events` and persists
what comes back. A bad payload raises :class:`alerts.errors.PayloadError`, which names the field.
"""
