"""Signatures of Slack's and PagerDuty's requests, checked before anything is read from them.

Slack: ``X-Slack-Signature: v0=<hex HMAC-SHA256(signing secret, "v0:" + timestamp + ":" + raw
body)>`` with ``X-Slack-Request-Timestamp``; a timestamp more than five minutes from now is
refused, and a signature seen before inside that window is a replay. PagerDuty v3 webhooks:
``X-PagerDuty-Signature: v1=<hex HMAC-SHA256(subscription secret, raw body)>``, several
comma-separated while a secret is rotated; one match is enough.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections import OrderedDict

#: Slack's replay window in seconds (its documented five minutes).
SLACK_WINDOW_S = 300
#: How many recent signatures are remembered to refuse replays (far above Slack's rate limits).
REMEMBERED = 10_000


class Refused(Exception):
    """A request whose origin could not be proven; the message names why, never a secret."""


def slack_signature(secret: bytes, timestamp: str, body: bytes) -> str:
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret, base, hashlib.sha256).hexdigest()


def pagerduty_signature(secret: bytes, body: bytes) -> str:
    return "v1=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


class Replays:
    """Signatures already accepted, each kept until its timestamp leaves the window."""

    def __init__(self) -> None:
        self._seen: OrderedDict[str, int] = OrderedDict()
        self._lock = threading.Lock()

    def first_time(self, signature: str, timestamp: int, now: float) -> bool:
        with self._lock:
            while self._seen and (
                len(self._seen) > REMEMBERED
                or next(iter(self._seen.values())) < now - SLACK_WINDOW_S
            ):
                self._seen.popitem(last=False)
            if signature in self._seen:
                return False
            self._seen[signature] = timestamp
            return True


def verify_slack(
    secret: bytes,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    now: float,
    replays: Replays,
) -> None:
    """Raise ``Refused`` unless Slack signed ``body`` within the window and only once."""
    if not timestamp or not signature:
        raise Refused("missing X-Slack-Signature or X-Slack-Request-Timestamp")
    try:
        moment = int(timestamp)
    except ValueError:
        raise Refused("X-Slack-Request-Timestamp is not a Unix time") from None
    if abs(now - moment) > SLACK_WINDOW_S:
        raise Refused("X-Slack-Request-Timestamp is more than 5 minutes from now")
    # compare_digest: the time taken must not tell an attacker how much of a guess was right.
    if not hmac.compare_digest(slack_signature(secret, timestamp, body), signature):
        raise Refused("X-Slack-Signature does not match")
    if not replays.first_time(signature, moment, now):
        raise Refused("this request was already received (replay)")


def verify_pagerduty(secrets: list[bytes], header: str | None, body: bytes) -> None:
    """Raise ``Refused`` unless one of the header's signatures is one of ``secrets``'."""
    if not header:
        raise Refused("missing X-PagerDuty-Signature")
    given = [s.strip() for s in header.split(",") if s.strip()]
    for secret in secrets:
        wanted = pagerduty_signature(secret, body)
        # Every pair is compared (no early exit on a partial match) in constant time.
        if any(hmac.compare_digest(wanted, s) for s in given):
            return
    raise Refused("X-PagerDuty-Signature does not match")
