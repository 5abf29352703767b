"""The one error the ingest parsers raise: a payload that does not have the expected shape.

Exception tree::

    ValueError
     └── PayloadError   bad request body; ``field`` is the JSON path of the offending value
          └── AllRejected   (``alerts.outcome``) every alert of the body was unusable;
                            ``rejected`` lists them, ``field`` is the first one's

The HTTP layer maps it to a 4xx whose message names the field, so that whoever reads the sender's
error knows what to fix. Retrying the same body cannot succeed, which is why it must never become
a 5xx (Alertmanager retries those).
"""

from __future__ import annotations

#: Longest ``repr`` of a bad value quoted in a message; payload values can be kilobytes long.
MAX_REPR = 80


def short_repr(value: object, limit: int = MAX_REPR) -> str:
    """``repr(value)``, cut to ``limit`` characters with an ellipsis when longer."""
    text = repr(value)
    if len(text) <= limit:
        return text
    return text[: limit - 3] + "..."


def type_name(value: object) -> str:
    """The JSON name of a decoded value's type, for messages such as ``expected a string``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, str):
        return "string"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


class PayloadError(ValueError):
    """A request body that cannot be normalised; ``field`` is a path like ``alerts[2].labels.job``.

    ``str(error)`` is ``"<field>: <message>"``.
    """

    field: str
    message: str

    def __init__(self, field: str, message: str) -> None:
        # Both go to ``args`` so that the exception survives pickling and copying.
        super().__init__(field, message)
        self.field = field
        self.message = message

    @classmethod
    def expected(cls, field: str, what: str, got: object) -> PayloadError:
        """The common case: ``<field>: expected <what>, got <type> <repr>``."""
        if got is None:
            return cls(field, f"missing (or null); expected {what}")
        return cls(field, f"expected {what}, got {type_name(got)} {short_repr(got)}")

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"
