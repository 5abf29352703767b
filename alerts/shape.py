"""Small checks on decoded JSON shared by the parsers: plain dict walking, no model layer.

The webhook hot path parses every notification (see ``shared/notes/ingest-performance.md``), so
these helpers do one ``isinstance`` per value and build nothing they do not return. In both parsers
a JSON ``null`` in an optional field means the same as the field being absent.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, NamedTuple

import orjson

from runbookd.alerts.errors import PayloadError
from runbookd.engine.events import Status

_STATUSES: dict[str, Status] = {"firing": "firing", "resolved": "resolved"}


class Loaded(NamedTuple):
    """A decoded body, and whether it may hold text no store keeps (``alerts.storable``)."""

    data: Any
    #: False only when no string of ``data`` can hold NUL or a lone surrogate; the parsers then
    #: skip the walk that escapes them (the webhook's hot path)
    suspect: bool


def load_json(body: bytes | str) -> Loaded:
    """Decode a request body; invalid JSON or UTF-8 is a ``PayloadError`` on the field ``body``.

    JSON that spells text no store keeps -- ``\\u0000``, lone surrogates such as ``\\ud800`` --
    decodes; the parsers escape it (``alerts.storable``) and ``suspect`` says when they must look.
    """
    try:
        # orjson: parsing is a quarter of the webhook's cost with the stdlib (shared notes).
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        pass  # the stdlib's messages are the ones documented and tested; it also reads NaN,
        # which the parsers then refuse naming the field rather than the whole body
    else:
        # A cheap byte search keeps the walk off the hot path: orjson has already refused raw
        # control characters and surrogates, so an escaped NUL is the only way one gets in.
        escaped_nul = b"\\u0000" in body if isinstance(body, bytes) else "\\u0000" in body
        return Loaded(data, escaped_nul)
    try:
        data = json.loads(body)
    except json.JSONDecodeError as exc:
        raise PayloadError(
            "body", f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except UnicodeDecodeError as exc:
        raise PayloadError(
            "body", f"bad text encoding (expected UTF-8): {exc.reason} at byte {exc.start}"
        ) from None
    except RecursionError:
        raise PayloadError("body", "JSON nested too deeply") from None
    # orjson refused what the stdlib read: NaN/Infinity (refused later, by field) or surrogates.
    return Loaded(data, True)


def str_map(value: object, field: str) -> dict[str, str]:
    """A JSON object whose values are all strings (labels, annotations), copied."""
    if not isinstance(value, dict):
        raise PayloadError.expected(field, "an object of strings", value)
    for item in value.values():
        if not isinstance(item, str):
            key = next(k for k, v in value.items() if v is item)
            raise PayloadError.expected(f"{field}.{key}", "a string", item)
    return dict(value)


def opt_str_map(obj: Mapping[str, Any], key: str, prefix: str) -> dict[str, str]:
    """``obj[key]`` as a string map, or ``{}`` when absent or null."""
    value = obj.get(key)
    if value is None:
        return {}
    return str_map(value, prefix + key)


def opt_str(obj: Mapping[str, Any], key: str, prefix: str, default: str = "") -> str:
    """``obj[key]`` as a string, or ``default`` when absent or null."""
    value = obj.get(key)
    if value is None:
        return default
    if not isinstance(value, str):
        raise PayloadError.expected(prefix + key, "a string", value)
    return value


def parse_status(value: object, field: str) -> Status:
    """``firing`` or ``resolved``, narrowed to the engine's ``Status`` type."""
    status = _STATUSES.get(value) if isinstance(value, str) else None
    if status is None:
        raise PayloadError.expected(field, "'firing' or 'resolved'", value)
    return status
