"""The escape for text no store holds: reversible, unambiguous, and a no-op on ordinary text."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runbookd.alerts.errors import PayloadError
from runbookd.alerts.storable import escape, escape_tree, storable, unescape

#: Every code point, lone surrogates and NUL included, plus the escape's own spellings.
ANY_TEXT = st.lists(
    st.characters(blacklist_categories=()) | st.sampled_from(["\\", "\\u0000", "\\\\", "\x00"]),
    max_size=20,
).map("".join)


@given(ANY_TEXT)
def test_unescape_gives_back_the_exact_original(text: str) -> None:
    assert unescape(escape(text)) == text


@given(ANY_TEXT)
def test_the_escaped_form_is_storable_ascii_escapes_only(text: str) -> None:
    escaped = escape(text)
    assert storable(escaped)
    escaped.encode("utf-8")  # no lone surrogate left
    assert "\x00" not in escaped


@given(ANY_TEXT, ANY_TEXT)
def test_two_different_texts_never_escape_alike(a: str, b: str) -> None:
    if a != b:
        assert escape(a) != escape(b)


def test_a_nul_and_the_six_characters_that_spell_it_stay_apart() -> None:
    sent_nul = "a\x00b"
    sent_literal = "a\\u0000b"  # what a sender may really send: backslash, u, 0, 0, 0, 0
    assert escape(sent_nul) == "a\\u0000b"
    # the literal needs no escape and is kept verbatim; were it escaped, it would differ
    assert storable(sent_literal) and escape(sent_literal) == "a\\\\u0000b"
    # the record beside the text decides: escape_tree marks only the first
    assert escape_tree({"x": sent_nul}) == ({"x": "a\\u0000b"}, ["x"])
    assert escape_tree({"x": sent_literal}) == ({"x": sent_literal}, [])


@pytest.mark.parametrize(
    "text",
    ["\u202eevil", "\ufeffbom", "emoji \U0001f525", "tab\tnew\nline", "\x01\x7f", "C:\\data"],
)
def test_storable_unusual_text_is_kept_verbatim(text: str) -> None:
    assert storable(text)
    assert escape_tree({"labels": {"v": text}}) == ({"labels": {"v": text}}, [])


def test_surrogates_are_escaped_as_json_spells_them() -> None:
    assert escape("x\ud800y\udfff") == "x\\ud800y\\udfff"
    assert unescape("x\\ud800y\\udfff") == "x\ud800y\udfff"


def test_tree_paths_name_keys_and_list_items() -> None:
    tree = {"labels": {"job": "ok", "inst\x00": "v\\1"}, "tags": ["fine", "b\ud800d"]}
    escaped, marks = escape_tree(tree)
    assert escaped == {
        "labels": {"job": "ok", "inst\\u0000": "v\\\\1"},
        "tags": ["fine", "b\\ud800d"],
    }
    assert marks == ["labels.inst\\u0000", "tags[1]"]


def test_an_escaped_key_equal_to_another_key_is_refused_naming_the_object() -> None:
    with pytest.raises(PayloadError) as info:
        escape_tree({"k\x00": "1", "k\\u0000": "2"}, "alerts[3].labels")
    assert info.value.field == "alerts[3].labels"
