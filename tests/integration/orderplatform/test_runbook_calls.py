"""Every call a bundled runbook makes to the platform is one the simulator serves.

The runbooks' ``http`` steps (and their rollbacks and checks) name a method, a URL under
``http://127.0.0.1:8081/admin/`` and a JSON body. A path the platform does not serve, or a body
key its operation does not accept, would fail at 3 a.m.; here it fails in CI.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from tests.integration.orderplatform.conftest import Sim

RUNBOOKS = Path(__file__).resolve().parents[3] / "runbooks"
BASE = "http://127.0.0.1:8081"


def calls(node: Any, where: str) -> Iterator[tuple[str, str, str, dict[str, Any] | None]]:
    """(where, method, path, json body) of every platform call in a parsed runbook."""
    if isinstance(node, dict):
        url = node.get("url")
        if isinstance(url, str) and url.startswith(BASE):
            path = url[len(BASE) :].split("?")[0]
            path = re.sub(r"\{\{[^}]*\}\}", "{}", path)
            body = node.get("json")
            yield (
                where,
                str(node.get("method", "GET")).upper(),
                path,
                body if isinstance(body, dict) else None,
            )
        for key, value in node.items():
            yield from calls(value, f"{where}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from calls(value, f"{where}[{i}]")


def body_keys(spec: dict[str, Any], operation: dict[str, Any]) -> set[str] | None:
    """The JSON keys an operation's body accepts (None when it takes any object)."""
    schema = (
        operation.get("requestBody", {})
        .get("content", {})
        .get("application/json", {})
        .get("schema")
    )
    if schema is None:
        return set()
    for option in schema.get("anyOf", [schema]):
        ref = option.get("$ref")
        if ref:
            properties = spec["components"]["schemas"][ref.rsplit("/", 1)[1]].get("properties", {})
            return set(properties)
    return None


def test_runbook_calls_match_the_platform(sim: Sim) -> None:
    spec = sim.app.openapi()
    served = {re.sub(r"\{[^}]+\}", "{}", path): ops for path, ops in spec["paths"].items()}
    found = []
    problems = []
    for file in sorted(RUNBOOKS.rglob("*.yaml")):
        for where, method, path, body in calls(yaml.safe_load(file.read_text()), file.stem):
            found.append(path)
            operation = served.get(path, {}).get(method.lower())
            if operation is None:
                problems.append(f"{file.name}: {where}: {method} {path} is not served")
                continue
            accepted = body_keys(spec, operation)
            if body is not None and accepted is not None and set(body) - accepted:
                problems.append(
                    f"{file.name}: {where}: {method} {path}: unknown keys {sorted(set(body) - accepted)}"
                )
    assert len(found) > 20, "the runbooks' platform calls were not found"
    assert problems == []
