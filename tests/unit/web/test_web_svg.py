"""The SVG charts: positions proportional to values and times, and every text escaped."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

from runbookd.web import svg
from runbookd.web.svg import Mark

NS = {"s": "http://www.w3.org/2000/svg"}
T = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
HOSTILE = "<script>alert(1)</script>{{ 7*7 }}&"


def parse(markup: object) -> ET.Element:
    return ET.fromstring(str(markup))  # also proves the SVG is well-formed XML


def test_bars_are_proportional_and_labelled() -> None:
    root = parse(svg.bar_chart([("a", 10), ("b", 5), ("c", 0)], title="t"))
    widths = [float(r.get("width", "0")) for r in root.iterfind(".//s:g[@class='bar']/s:rect", NS)]
    assert widths[0] == 2 * widths[1]
    assert widths[2] == 0
    values = [t.text for t in root.iterfind(".//s:text[@class='bar-value']", NS)]
    assert values == ["10", "5", "0"]


def test_percent_bars_use_the_fixed_maximum() -> None:
    root = parse(svg.bar_chart([("a", 50.0)], title="t", unit="%", max_value=100))
    (rect,) = root.iterfind(".//s:g[@class='bar']/s:rect", NS)
    assert float(rect.get("width", "0")) == (svg.BAR_WIDTH - svg.BAR_LEFT - svg.BAR_RIGHT) / 2


def test_hostile_text_is_escaped_everywhere() -> None:
    charts = [
        svg.bar_chart([(HOSTILE, 1)], title=HOSTILE),
        svg.trend_chart([HOSTILE], [(HOSTILE, [1.0])], title=HOSTILE),
        svg.timeline_chart(
            [Mark("Alerts", T, HOSTILE, "x", label=HOSTILE)], ["Alerts"], T, T, title=HOSTILE
        ),
    ]
    for chart in charts:
        text = str(chart)
        assert "<script>" not in text
        root = parse(chart)
        # The text survives, as text: a reader sees exactly what the alert said.
        assert any(HOSTILE[:40] in (el.text or "") for el in root.iter())


def test_timeline_positions_follow_time() -> None:
    start, end = T, T + timedelta(minutes=10)
    marks = [
        Mark("Alerts", T, "opened", "a"),
        Mark("Steps", T + timedelta(minutes=5), "step", "b", end=T + timedelta(minutes=10)),
        Mark("Nowhere", T, "not drawn", "c"),
    ]
    root = parse(svg.timeline_chart(marks, ["Alerts", "Steps"], start, end, title="x"))
    (circle,) = root.iterfind(".//s:g/s:circle", NS)
    (bar,) = root.iterfind(".//s:g/s:rect", NS)
    plot_w = svg.WIDTH - svg.LEFT - svg.RIGHT
    assert float(circle.get("cx", "0")) == svg.LEFT
    assert float(bar.get("x", "0")) == svg.LEFT + plot_w / 2
    assert float(bar.get("width", "0")) == plot_w / 2
    assert float(bar.get("y", "0")) > float(circle.get("cy", "0"))  # second lane is lower
    titles = [el.text for el in root.iterfind(".//s:g/s:title", NS)]
    assert titles == ["opened", "step"]
    # Each tick reads as an offset; its <title> gives the wall-clock time.
    ticks = [t.find("s:title", NS) for t in root.iterfind(".//s:text[@class='tick-label']", NS)]
    assert [(el.tail, el.text) for el in (ticks[0], ticks[-1]) if el is not None] == [
        ("+0s", "2026-11-25 09:00:00 UTC"),
        ("+10m", "2026-11-25 09:10:00 UTC"),
    ]


def test_tick_step_keeps_the_axis_readable() -> None:
    assert svg.tick_step(600) == 120
    assert svg.tick_step(5) == 1
    assert svg.tick_step(3 * 86400) == 12 * 3600


def test_trend_breaks_at_missing_weeks() -> None:
    root = parse(
        svg.trend_chart(["w1", "w2", "w3", "w4"], [("MTTA", [1.0, 2.0, None, 4.0])], title="t")
    )
    lines = list(root.iterfind(".//s:polyline", NS))
    assert len(lines) == 1  # w1-w2; w4 alone is a point, not joined across the gap
    assert len(re.findall(r"\d,", lines[0].get("points", ""))) == 2
    assert len(list(root.iterfind(".//s:g[@class='point s0']", NS))) == 3
