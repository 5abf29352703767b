"""Hostile and broken webhook bodies: every one is refused with the field named, or kept inert.

A refusal must be a ``PayloadError`` (the API turns it into a 400/422 naming the field); anything
else escaping the parser would be a 500, and Alertmanager retries a 5xx forever. Text no store
holds (NUL, lone surrogates) is not refused but escaped (``alerts.storable``).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from alert_payloads import RECEIVED_AT, node_filesystem_almost_out_of_space, notification
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runbookd.alerts.alertmanager import parse_notification
from runbookd.alerts.errors import PayloadError
from runbookd.alerts.generic import parse_event_batch, parse_events
from runbookd.alerts.storable import storable, unescape
from runbookd.store.codec import dumps

HOSTILE_TEXT = [
    "{{ 7*7 }}",
    "{% for x in range(3) %}boom{% endfor %}",
    "$(rm -rf /)",
    "; rm -rf / #",
    "`reboot`",
    "<script>alert(1)</script>",
    "[click](javascript:alert(1))",
    "line one\nline two\r\n\ttabbed",
    "\u202eevil right-to-left override",
]


def refused(body: bytes | str, parse: Any = parse_notification) -> PayloadError:
    with pytest.raises(PayloadError) as info:
        parse(body, received_at=RECEIVED_AT)
    return info.value


def test_nul_in_a_label_is_escaped_and_recorded_on_the_alert() -> None:
    body = notification(node_filesystem_almost_out_of_space())
    body["alerts"][0]["labels"]["mountpoint"] = "/var\u0000lib"
    note = parse_notification(json.dumps(body).encode(), received_at=RECEIVED_AT)
    [event] = note.alerts
    assert event.labels["mountpoint"] == "/var\\u0000lib"
    assert event.escaped == ("labels.mountpoint",)
    assert unescape(event.labels["mountpoint"]) == "/var\u0000lib"
    assert note.escaped == ["alerts[0].labels.mountpoint"]
    assert "\u0000" not in dumps(event)


def test_lone_surrogate_is_escaped_naming_the_field() -> None:
    body = notification(node_filesystem_almost_out_of_space())
    # json.dumps escapes the surrogate as \ud800, exactly what a buggy sender would put on the wire.
    body["alerts"][0]["annotations"]["summary"] = "disk \ud800 full"
    [event] = parse_notification(json.dumps(body).encode(), received_at=RECEIVED_AT).alerts
    assert event.annotations["summary"] == "disk \\ud800 full"
    assert event.escaped == ("annotations.summary",)
    dumps(event)  # orjson refuses lone surrogates: the escaped form is storable


def test_bad_key_is_escaped_with_its_value() -> None:
    [event] = parse_events(
        b'{"name": "X", "labels": {"a\\ud83d": "b\\\\c"}}', received_at=RECEIVED_AT
    )
    # the pair is escaped together: the key's surrogate, and the value's backslash doubled
    assert event.labels == {"a\\ud83d": "b\\\\c"}
    assert event.escaped == ("labels.a\\ud83d",)
    assert unescape("b\\\\c") == "b\\c"


def test_a_key_that_collides_once_escaped_is_refused_naming_its_object() -> None:
    # "a\\u0000" (six characters) is what "a<NUL>" becomes: both cannot be kept.
    error = refused(b'{"name": "X", "labels": {"a\\u0000": "1", "a\\\\u0000": "2"}}', parse_events)
    assert error.field == "labels"


def test_generic_event_with_nul_is_escaped() -> None:
    ok, odd = parse_events(b'[{"name": "ok"}, {"name": "bad\\u0000name"}]', received_at=RECEIVED_AT)
    assert ok.escaped == ()
    assert odd.name == "bad\\u0000name" and odd.escaped == ("name",)


def test_escaped_backslash_before_u0000_is_ordinary_text() -> None:
    # JSON "\\u0000" is a backslash followed by "u0000": six printable characters, no NUL.
    [event] = parse_events(
        b'{"name": "X", "labels": {"path": "C:\\\\u0000"}}', received_at=RECEIVED_AT
    )
    assert event.labels["path"] == "C:\\u0000"


def test_invalid_utf8_and_deep_nesting_are_refused_as_body_errors() -> None:
    assert refused(b'{"version": "4", "status": "\xff"}').field == "body"
    assert refused(b"[" * 100_000 + b"]" * 100_000).field == "body"


@pytest.mark.parametrize("text", HOSTILE_TEXT)
def test_hostile_text_is_kept_verbatim_and_storable(text: str) -> None:
    alert = node_filesystem_almost_out_of_space()
    alert["labels"]["mountpoint"] = text
    alert["annotations"]["description"] = text
    note = parse_notification(json.dumps(notification(alert)).encode(), received_at=RECEIVED_AT)
    [event] = note.alerts
    assert event.labels["mountpoint"] == text
    assert event.annotations["description"] == text
    # What the inbox will write round-trips: nothing was evaluated, nothing lost.
    assert json.loads(dumps(event.labels)) == event.labels


def test_huge_label_is_kept_whole() -> None:
    alert = node_filesystem_almost_out_of_space()
    alert["labels"]["mountpoint"] = "x" * 500_000
    [event] = parse_notification(json.dumps(notification(alert)), received_at=RECEIVED_AT).alerts
    assert len(event.labels["mountpoint"]) == 500_000


# --- fuzzing: replace any part of a real notification with any JSON value --------------------

#: Any code point JSON can spell, lone surrogates and NUL included (hypothesis leaves surrogates
#: out by default), with the escape's own backslash sequences mixed in.
ANY_TEXT = st.lists(
    st.characters(blacklist_categories=()) | st.sampled_from(["\\", "\\u0000", "\x00", "\ud800"]),
    max_size=12,
).map("".join)
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | ANY_TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(ANY_TEXT, inner, max_size=4),
    max_leaves=12,
)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in [k, *_strings(v)]]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []


def _storable(event: Any) -> None:
    """What was accepted can be written to the journal, and every text of it to any store."""
    dumps(event)
    assert all(storable(s) for s in _strings(event.to_dict()))


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


def _replace(doc: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    *parents, last = path
    target = doc
    for step in parents:
        target = target[step]
    target[last] = new
    return doc


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), value=JSON_VALUES)
def test_any_damaged_notification_parses_or_is_refused_cleanly(
    data: st.DataObject, value: Any
) -> None:
    doc = notification(node_filesystem_almost_out_of_space())
    path = data.draw(st.sampled_from(_paths(doc)))
    body = json.dumps(_replace(doc, path, value), allow_nan=True).encode()
    try:
        note = parse_notification(body, received_at=RECEIVED_AT, partial=True)
    except PayloadError as error:
        field = error.field
        assert field, "a refusal must name the field"
        return
    # every alert is either kept or reported, never lost silently
    assert len(note.alerts) + len(note.rejected) == len(json.loads(body)["alerts"])
    for event in note.alerts:
        _storable(event)
    for rejected in note.rejected:
        assert rejected.field.startswith(f"alerts[{rejected.index}]") and rejected.reason


@settings(max_examples=200, deadline=None)
@given(body=st.binary(max_size=200) | JSON_VALUES.map(lambda v: json.dumps(v).encode()))
def test_any_events_body_parses_or_is_refused_cleanly(body: bytes) -> None:
    try:
        batch = parse_event_batch(body, received_at=RECEIVED_AT)
    except PayloadError as error:
        field = error.field
        assert field, "a refusal must name the field"
        return
    assert batch.events
    for event in batch.events:
        _storable(event)
