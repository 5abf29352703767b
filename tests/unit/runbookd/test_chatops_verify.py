"""Slack and PagerDuty request signatures: genuine requests pass, forged/stale/replayed ones are refused."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from runbookd.api.chatops_verify import Refused, Replays, verify_pagerduty, verify_slack

SECRET = b"8f742231b10e8888abcd99yyyzzz85a5"
BODY = b"command=%2Frunbookd&text=ack+INC-12&user_id=U2147483697"
NOW = 1_531_420_618.0


def signed_by_slack(secret: bytes, timestamp: str, body: bytes) -> str:
    # Built as Slack documents it, independently of the module under test.
    base = "v0:" + timestamp + ":" + body.decode()
    return "v0=" + hmac.new(secret, base.encode(), hashlib.sha256).hexdigest()


def test_a_genuine_slack_request_is_accepted_once_and_its_replay_refused() -> None:
    ts = str(int(NOW))
    sig = signed_by_slack(SECRET, ts, BODY)
    replays = Replays()
    verify_slack(SECRET, ts, sig, BODY, NOW, replays)
    with pytest.raises(Refused, match="replay"):
        verify_slack(SECRET, ts, sig, BODY, NOW + 1, replays)


@pytest.mark.parametrize(
    ("timestamp", "signature", "body", "why"),
    [
        (None, "v0=00", BODY, "missing"),
        ("1531420618", None, BODY, "missing"),
        ("yesterday", "v0=00", BODY, "Unix time"),
        ("1531420618", "v0=" + "0" * 64, BODY, "does not match"),
    ],
)
def test_a_forged_slack_request_is_refused(
    timestamp: str | None, signature: str | None, body: bytes, why: str
) -> None:
    with pytest.raises(Refused, match=why):
        verify_slack(SECRET, timestamp, signature, body, NOW, Replays())


def test_a_tampered_body_or_wrong_secret_is_refused() -> None:
    ts = str(int(NOW))
    sig = signed_by_slack(SECRET, ts, BODY)
    with pytest.raises(Refused, match="does not match"):
        verify_slack(SECRET, ts, sig, BODY.replace(b"ack", b"resolve"), NOW, Replays())
    with pytest.raises(Refused, match="does not match"):
        verify_slack(b"another secret", ts, sig, BODY, NOW, Replays())


@pytest.mark.parametrize("skew", [301, -301])
def test_a_slack_timestamp_more_than_five_minutes_away_is_refused(skew: int) -> None:
    ts = str(int(NOW) + skew)
    sig = signed_by_slack(SECRET, ts, BODY)
    with pytest.raises(Refused, match="5 minutes"):
        verify_slack(SECRET, ts, sig, BODY, NOW, Replays())


def test_a_slack_request_near_the_window_edge_is_accepted() -> None:
    ts = str(int(NOW) - 299)
    verify_slack(SECRET, ts, signed_by_slack(SECRET, ts, BODY), BODY, NOW, Replays())


def test_the_refusal_never_contains_the_secret() -> None:
    with pytest.raises(Refused) as caught:
        verify_slack(SECRET, str(int(NOW)), "v0=bad", BODY, NOW, Replays())
    assert SECRET.decode() not in str(caught.value)


PD_BODY = b'{"event":{"event_type":"incident.acknowledged","data":{"id":"Q1"}}}'


def signed_by_pagerduty(secret: bytes, body: bytes) -> str:
    return "v1=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def test_a_genuine_pagerduty_webhook_is_accepted_also_among_rotated_signatures() -> None:
    verify_pagerduty([SECRET], signed_by_pagerduty(SECRET, PD_BODY), PD_BODY)
    rotating = (
        signed_by_pagerduty(b"old secret", PD_BODY) + "," + signed_by_pagerduty(SECRET, PD_BODY)
    )
    verify_pagerduty([SECRET], rotating, PD_BODY)
    verify_pagerduty([b"old secret", b"unrelated"], rotating, PD_BODY)


@pytest.mark.parametrize(
    "header",
    [None, "", "v1=" + "0" * 64, signed_by_pagerduty(b"someone else", PD_BODY)],
)
def test_a_forged_pagerduty_webhook_is_refused(header: str | None) -> None:
    with pytest.raises(Refused):
        verify_pagerduty([SECRET], header, PD_BODY)


def test_a_tampered_pagerduty_body_is_refused() -> None:
    header = signed_by_pagerduty(SECRET, PD_BODY)
    with pytest.raises(Refused, match="does not match"):
        verify_pagerduty([SECRET], header, PD_BODY.replace(b"acknowledged", b"resolved"))
