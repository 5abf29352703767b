"""What the ingest answer says about single alerts: the ones refused, and why.

One unusable alert must not cost the others of its notification: Alertmanager does not retry a
4xx, so refusing the whole body would lose the group's good alerts for good. The parsers keep the
usable alerts and describe each refused one with a :class:`Rejected`, which the route reports in
its answer, its log and ``runbookd_alerts_rejected_total``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from runbookd.alerts.errors import PayloadError
from runbookd.alerts.storable import escape, storable

#: The ``reason`` label values of the rejection metric: the alert or event field at fault.
#: Anything else is ``other``, so a hostile body cannot create new series.
REASONS = frozenset(
    (
        "labels",
        "annotations",
        "status",
        "startsAt",
        "endsAt",
        "generatorURL",
        "fingerprint",
        "name",
        "value",
        "at",
        "source",
        "not_an_object",
        "other",
    )
)
_ITEM_PREFIX = re.compile(r"(?:alerts)?\[\d+\]\.?")
_HEAD = re.compile(r"[^.\[]*")


@dataclass(frozen=True, slots=True)
class Rejected:
    """One alert (or generic event) of a body that was refused while the others were kept."""

    #: its position in ``alerts`` (or in the events array)
    index: int
    #: the JSON path of the offending value, like ``alerts[1].labels.severity``
    field: str
    #: what is wrong with it, as ``PayloadError`` says it
    message: str
    #: the sender's fingerprint when the item has a string one (to find it in the sender's logs)
    fingerprint: str | None = None

    @property
    def reason(self) -> str:
        """The field at fault as a bounded metric label (``labels``, ``startsAt``, ...)."""
        rest = _ITEM_PREFIX.sub("", self.field, count=1)
        if rest == self.field:
            return "other"
        if not rest:
            return "not_an_object"
        head = _HEAD.match(rest)
        name = head.group() if head else ""
        return name if name in REASONS else "other"

    def to_answer(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "fingerprint": self.fingerprint,
            "field": self.field,
            "reason": self.message,
        }

    @classmethod
    def of(cls, index: int, raw: object, error: PayloadError) -> Rejected:
        fingerprint = raw.get("fingerprint") if isinstance(raw, dict) else None
        if isinstance(fingerprint, str) and not storable(fingerprint):
            fingerprint = escape(fingerprint)  # it goes into the answer, the log and tests
        return cls(
            index=index,
            field=error.field,
            message=error.message,
            fingerprint=fingerprint if isinstance(fingerprint, str) else None,
        )


class AllRejected(PayloadError):
    """Every alert (or event) of a body was unusable: nothing to store, so the body is refused.

    ``field`` and ``message`` are the first refusal's; ``rejected`` lists them all.
    """

    rejected: list[Rejected]

    def __init__(self, rejected: Sequence[Rejected]) -> None:
        first = rejected[0]
        super().__init__(first.field, first.message)
        self.rejected = list(rejected)

    def __reduce__(self) -> tuple[Any, ...]:
        return (AllRejected, (self.rejected,))
