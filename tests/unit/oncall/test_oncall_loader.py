"""Schedule files with mistakes: each is one PATH:LINE:COL line naming the field and value."""

from __future__ import annotations

from runbookd.oncall.loader import load_texts

GOOD_PEOPLE = "people:\n  alice: {}\n  bob: {}\n"


def errors(text: str, extra: list[tuple[str, str]] | None = None) -> list[str]:
    lib = load_texts([("p.yaml", GOOD_PEOPLE), ("s.yaml", text), *(extra or [])])
    return [str(d) for d in lib.diagnostics]


def schedule(layer_lines: str, head: str = "    time_zone: Europe/Berlin\n") -> str:
    return "schedules:\n  - id: s\n" + head + "    layers:\n" + layer_lines


LAYER = (
    "      - id: l\n"
    '        rotation: {length: daily, handoff: "09:00", start: "2026-01-05"}\n'
    "        members: [alice, bob]\n"
)


def test_a_good_file_has_no_errors() -> None:
    assert errors(schedule(LAYER)) == []


def test_unknown_member_points_at_the_member_and_suggests() -> None:
    text = schedule(LAYER.replace("[alice, bob]", "[alice, bbo]"))
    assert errors(text) == ["s.yaml:7:26: schedule 's': unknown person 'bbo' (did you mean 'bob'?)"]


def test_bad_time_zone() -> None:
    text = schedule(LAYER, head="    time_zone: Europe/Berln\n")
    assert errors(text) == [
        "s.yaml:3:16: time_zone: 'Europe/Berln' is not an IANA time zone (e.g. Europe/Berlin)"
    ]


def test_unquoted_time_is_explained() -> None:
    text = schedule(LAYER.replace('handoff: "09:00"', "handoff: 17:30"))
    assert errors(text) == ['s.yaml:6:44: handoff: YAML read 17:30 as a number; quote it: "17:30"']


def test_bad_rotation_length_and_unknown_key() -> None:
    text = schedule(LAYER.replace("length: daily", "length: 5h").replace("members:", "memebers:"))
    assert errors(text) == [
        "s.yaml:5:9: schedules.0.layers.0: missing required field 'members'",
        "s.yaml:6:28: length: '5h': a length in hours must be 2h, 3h, 4h, 6h, 8h or 12h",
        "s.yaml:7:9: unknown field 'memebers' (did you mean 'members'?)",
    ]


def test_override_end_before_start_and_unknown_person() -> None:
    text = schedule(LAYER) + (
        "    overrides:\n"
        '      - {person: carol, start: "2026-02-01T10:00", end: "2026-02-01T09:00"}\n'
    )
    assert errors(text) == [
        "s.yaml:9:18: schedule 's': unknown person 'carol'",
        "s.yaml:9:57: end: must be after start",
    ]


def test_duplicate_schedule_and_person_across_files() -> None:
    again = ("t.yaml", "people:\n  bob: {}\n" + schedule(LAYER))
    assert errors(schedule(LAYER), [again]) == [
        "t.yaml:2:3: person 'bob' is already defined in p.yaml",
        "t.yaml:4:9: schedule 's' is already defined in s.yaml",
    ]


def test_yaml_syntax_and_wrong_top_level() -> None:
    assert errors("schedules: [\n") and errors("schedules: [\n")[0].startswith("s.yaml:2:1: YAML")
    assert errors("- a\n") == [
        "s.yaml:1:1: a schedule file is a mapping (people:, schedules:), this is a list"
    ]
