"""The engine's exception: ``EngineError``, a request the engine cannot honour.

A module of its own, below every part of the engine: each concern raises it and each caller
(the service, the scenario runner, the simulator) catches it without importing the engine
class. In the old layout ``engine.handling`` imported it from ``engine.runtime`` inside a
function, to hide an import circle.
"""

from __future__ import annotations


class EngineError(Exception):
    """A request the engine cannot honour (unknown incident, approval, call)."""
