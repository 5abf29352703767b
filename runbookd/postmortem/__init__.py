"""Post-incident summaries computed from what happened: model, computation, rendering, edits.

- ``model``: the typed ``Summary``.
- ``compute``: ``compute(incident, timeline, ...)``, a pure function of stored records.
- ``load``: ``load_summary(service_or_engine, incident_id)`` reads the records and computes.
- ``render``: ``render_markdown``/``render_html`` (Jinja2, sandboxed; per-runbook templates).
- ``markdown``: escaping that keeps alert text inert in Markdown.
- ``edits``: follow-up items and lessons, each change recorded in the timeline.
"""
