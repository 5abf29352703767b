"""Incident identity: which events make one incident (``incident_key``) and the ids incidents
get (``IncidentIds``).

Apart from the engine class because detection, the service (it restores the id counter) and
the benchmarks use them, and reading them needs none of the engine.
"""

from __future__ import annotations

import functools

from runbookd.engine.compiler import CompiledRunbook
from runbookd.engine.events import EVENT_FIELDS, EVENT_MAPS, Event


class IncidentIds:
    """Incident ids INC-1, INC-2, ...; an object (not a closure) so a snapshot can store it."""

    def __init__(self, issued: int = 0) -> None:
        self.issued = issued

    def __call__(self) -> str:
        self.issued += 1
        return f"INC-{self.issued}"


def incident_key(compiled: CompiledRunbook, event: Event) -> str:
    """The values of the runbook's group_by fields: what makes two alerts one incident."""
    parts = []
    for path, head, rest in _key_paths(tuple(compiled.runbook.detection.group_by)):
        if rest:
            source = getattr(event, head) if head in EVENT_MAPS else None
            value = source.get(rest) if source is not None else None
        else:
            value = getattr(event, head) if head in EVENT_FIELDS else None
        parts.append(f"{path}={'' if value is None else value}")
    return ",".join(parts)


def missing_labels(key: str) -> list[str]:
    """The ``group_by`` labels a key was built without (``labels.service=`` gives ``service``).

    A key whose label the alerts do not carry groups every such alert into one incident (every
    host of a fleet when ``service`` is missing); the API and the incident page show it.
    A label sent with an empty value is the same as one not sent, as in Prometheus.
    """
    return [
        name.removeprefix("labels.")
        for name, _, value in (part.partition("=") for part in key.split(",") if part)
        if name.startswith("labels.") and not value
    ]


@functools.lru_cache(maxsize=1024)
def _key_paths(fields: tuple[str, ...]) -> tuple[tuple[str, str, str], ...]:
    # Split once per runbook, not once per event and runbook: this was 28% of the engine's
    # time in the 100k-event benchmark (bench/RESULTS.md).
    return tuple((f, *f.partition(".")[::2]) for f in fields)
