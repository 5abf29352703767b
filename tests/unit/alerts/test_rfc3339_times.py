"""RFC 3339 timestamps as Go (Alertmanager) and other monitors write them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from runbookd.alerts.errors import PayloadError
from runbookd.alerts.timeparse import parse_rfc3339


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-05-01T10:00:00Z", datetime(2024, 5, 1, 10, tzinfo=UTC)),
        ("2024-05-01T10:00:00.123456789Z", datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=UTC)),
        ("2024-05-01T10:00:00.999999999Z", datetime(2024, 5, 1, 10, 0, 0, 999999, tzinfo=UTC)),
        ("2024-05-01T10:00:00.5Z", datetime(2024, 5, 1, 10, 0, 0, 500000, tzinfo=UTC)),
        ("2024-05-01t10:00:00z", datetime(2024, 5, 1, 10, tzinfo=UTC)),
        ("2024-05-01 10:00:00+00:00", datetime(2024, 5, 1, 10, tzinfo=UTC)),
        (
            "2018-08-03T09:52:26.739266876+02:00",
            datetime(2018, 8, 3, 9, 52, 26, 739266, tzinfo=timezone(timedelta(hours=2))),
        ),
        (
            "2024-05-01T04:30:00-05:30",
            datetime(2024, 5, 1, 4, 30, tzinfo=timezone(-timedelta(hours=5, minutes=30))),
        ),
        ("0001-01-01T00:00:00Z", datetime(1, 1, 1, tzinfo=UTC)),
    ],
)
def test_valid_times(text: str, expected: datetime) -> None:
    parsed = parse_rfc3339(text, "at")

    assert parsed == expected
    assert parsed.utcoffset() == expected.utcoffset()


def test_offset_is_kept_as_written() -> None:
    parsed = parse_rfc3339("2024-05-01T12:00:00+02:00", "startsAt")

    assert parsed.isoformat() == "2024-05-01T12:00:00+02:00"


@pytest.mark.parametrize(
    "text",
    [
        "2024-05-01T10:00:00",  # naive
        "2024-05-01T10:00:00.123456789",  # naive with nanoseconds
        "2024-05-01",
        "2024-05-01T10:00Z",
        "20240501T100000Z",
        "2024-W18-3T10:00:00Z",
        "2024-05-01T10:00:00+0200",
        "2024-05-01T10:00:00+24:00",
        "2024-05-01T10:00:00.Z",
        "2024-13-01T10:00:00Z",
        "2024-05-01T10:00:60Z",
        "2024-05-01T10:00:00Z ",
        "\uff12\uff10\uff12\uff14-05-01T10:00:00Z",  # fullwidth (non-ASCII) digits
        "",
    ],
)
def test_invalid_times_name_the_field(text: str) -> None:
    with pytest.raises(PayloadError) as info:
        parse_rfc3339(text, "alerts[0].startsAt")

    assert info.value.field == "alerts[0].startsAt"
    assert repr(text)[:20] in info.value.message


def test_naive_time_says_what_is_missing() -> None:
    with pytest.raises(PayloadError, match="no UTC offset"):
        parse_rfc3339("2024-05-01T10:00:00", "at")


@pytest.mark.parametrize("value", [1714557600, None, ["2024-05-01T10:00:00Z"]])
def test_non_strings_are_refused(value: object) -> None:
    with pytest.raises(PayloadError) as info:
        parse_rfc3339(value, "at")

    assert info.value.field == "at"
