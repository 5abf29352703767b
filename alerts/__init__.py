"""Ingest: vendor payloads (Alertmanager webhook v4, generic JSON) -> ``engine.events.Event``.

Parsing does no I/O: an ingest route hands the request body to
:func:`alerts.alertmanager.parse_notification` or :func:`alerts.generic.parse_events` and persists
what comes back. A bad payload raises :class:`alerts.errors.PayloadError`, which names the field;
for the webhook only a body that is no notification, or has no usable alert, is bad: single
unusable alerts are listed (:mod:`alerts.outcome`), and text no store holds is escaped
(:mod:`alerts.storable`).
"""
