"""Charts drawn on the server as SVG: an incident's timeline, bars, and weekly trends.

Every piece of text that reaches the SVG goes through ``markupsafe.escape`` (labels, step
names, alert names can carry ``<script>``); numbers are formatted by us. The SVGs scale with
``viewBox`` and carry ``role="img"``, a ``<title>`` for the whole chart and one per mark, so a
screen reader (and a hovering mouse) gets the details the picture cannot show.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from markupsafe import Markup, escape

from runbookd.engine.lang.durations import format_duration

WIDTH = 960
LEFT = 110  # room for lane labels
RIGHT = 20
LANE_H = 44
TOP = 12
AXIS_H = 34
#: Report charts sit beside their table: drawn at about the size they are shown, so their
#: 12 px text stays 12 px on a laptop.
BAR_WIDTH, BAR_LEFT, BAR_RIGHT = 660, 190, 70
TREND_WIDTH = 720
_TICK_STEPS_S = (
    1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 3 * 3600, 6 * 3600,
    12 * 3600, 86400, 2 * 86400, 7 * 86400, 14 * 86400, 28 * 86400,
)  # fmt: skip


@dataclass(frozen=True)
class Mark:
    """A point (``end`` None) or a span on one lane."""

    lane: str
    at: datetime
    title: str
    css: str
    end: datetime | None = None
    label: str = ""


def tick_step(span_s: float, max_ticks: int = 8) -> float:
    """The smallest round step that puts at most ``max_ticks`` ticks on the axis."""
    for step in _TICK_STEPS_S:
        if span_s / step <= max_ticks:
            return float(step)
    return span_s / max_ticks


def timeline_chart(
    marks: Sequence[Mark], lanes: Sequence[str], start: datetime, end: datetime, *, title: str
) -> Markup:
    """Marks on lanes along one time axis from ``start`` to ``end``."""
    span = max((end - start).total_seconds(), 1.0)
    plot_w = WIDTH - LEFT - RIGHT
    height = TOP + LANE_H * len(lanes) + AXIS_H

    def x(moment: datetime) -> float:
        offset = min(max((moment - start).total_seconds(), 0.0), span)
        return LEFT + plot_w * offset / span

    out = [
        f'<svg class="chart timeline" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'xmlns="http://www.w3.org/2000/svg" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    row = {lane: i for i, lane in enumerate(lanes)}
    for lane, i in row.items():
        y = TOP + i * LANE_H
        out.append(
            f'<rect class="lane{i % 2}" x="{LEFT}" y="{y}" width="{plot_w}" height="{LANE_H}"/>'
        )
        out.append(
            f'<text class="lane-label" x="{LEFT - 8}" y="{y + LANE_H / 2 + 4}" '
            f'text-anchor="end">{escape(lane)}</text>'
        )
    axis_y = TOP + LANE_H * len(lanes)
    out.append(f'<line class="axis" x1="{LEFT}" y1="{axis_y}" x2="{WIDTH - RIGHT}" y2="{axis_y}"/>')
    step = tick_step(span)
    k = 0
    while k * step <= span + 1e-9:
        tx = LEFT + plot_w * (k * step) / span
        moment = start + timedelta(seconds=k * step)
        out.append(f'<line class="tick" x1="{tx:.1f}" y1="{TOP}" x2="{tx:.1f}" y2="{axis_y + 5}"/>')
        out.append(
            f'<text class="tick-label" x="{tx:.1f}" y="{axis_y + 20}" text-anchor="middle">'
            f"<title>{moment.strftime('%Y-%m-%d %H:%M:%S')} UTC</title>"
            f"+{format_duration(timedelta(seconds=k * step))}</text>"
        )
        k += 1
    for mark in marks:
        if mark.lane not in row:
            continue
        y = TOP + row[mark.lane] * LANE_H
        x0 = x(mark.at)
        tip = f"<title>{escape(mark.title)}</title>"
        if mark.end is not None:
            w = max(x(mark.end) - x0, 3.0)
            out.append(
                f'<g class="mark {escape(mark.css)}"><rect x="{x0:.1f}" y="{y + 10}" width="{w:.1f}" '
                f'height="{LANE_H - 20}" rx="3"/>{tip}</g>'
            )
        else:
            out.append(
                f'<g class="mark {escape(mark.css)}"><circle cx="{x0:.1f}" cy="{y + LANE_H / 2}" '
                f'r="6"/>{tip}</g>'
            )
        if mark.label:
            out.append(
                f'<text class="mark-label" x="{x0 + 8:.1f}" y="{y + 12}">{escape(mark.label[:40])}</text>'
            )
    out.append("</svg>")
    return Markup("".join(out))


def bar_chart(
    items: Sequence[tuple[str, float]],
    *,
    title: str,
    unit: str = "",
    max_value: float | None = None,
) -> Markup:
    """Horizontal bars, one per (label, value), with the value written beside each bar."""
    bar_h, gap, left, right = 22, 8, BAR_LEFT, BAR_RIGHT
    height = max(len(items), 1) * (bar_h + gap) + gap
    top = max_value if max_value is not None else max((v for _, v in items), default=0.0)
    top = top or 1.0
    plot_w = BAR_WIDTH - left - right
    out = [
        f'<svg class="chart bars" viewBox="0 0 {BAR_WIDTH} {height}" role="img" '
        f'xmlns="http://www.w3.org/2000/svg" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    if not items:
        out.append(f'<text class="empty" x="{left}" y="{gap + bar_h - 6}">no data</text>')
    for i, (label, value) in enumerate(items):
        y = gap + i * (bar_h + gap)
        w = plot_w * max(value, 0.0) / top
        shown = f"{_number(value)}{unit}"
        out.append(
            f'<text class="bar-label" x="{left - 8}" y="{y + bar_h - 6}" text-anchor="end">'
            f"{escape(_clip(label, 24))}</text>"
            f'<g class="bar"><rect x="{left}" y="{y}" width="{w:.1f}" height="{bar_h}" rx="2"/>'
            f"<title>{escape(label)}: {escape(shown)}</title></g>"
            f'<text class="bar-value" x="{left + w + 6:.1f}" y="{y + bar_h - 6}">{escape(shown)}</text>'
        )
    out.append("</svg>")
    return Markup("".join(out))


def trend_chart(
    buckets: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
    *,
    title: str,
    unit: str = "",
) -> Markup:
    """One polyline per series over the buckets (weeks); a missing value breaks the line."""
    height, left, right, top_pad, bottom = 240, 70, 20, 16, 40
    plot_w, plot_h = TREND_WIDTH - left - right, height - top_pad - bottom
    values = [v for _, vs in series for v in vs if v is not None]
    top = max(values, default=0.0) or 1.0
    n = max(len(buckets), 1)

    def px(i: int) -> float:
        return left + (plot_w * (i + 0.5) / n)

    def py(v: float) -> float:
        return top_pad + plot_h * (1 - v / top)

    out = [
        f'<svg class="chart trend" viewBox="0 0 {TREND_WIDTH} {height}" role="img" '
        f'xmlns="http://www.w3.org/2000/svg" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<line class="axis" x1="{left}" y1="{top_pad + plot_h}" x2="{TREND_WIDTH - right}" y2="{top_pad + plot_h}"/>',
        f'<text class="tick-label" x="{left - 6}" y="{top_pad + 4}" text-anchor="end">{escape(_number(top) + unit)}</text>',
        f'<text class="tick-label" x="{left - 6}" y="{top_pad + plot_h}" text-anchor="end">0</text>',
    ]
    every = max(1, -(-len(buckets) // 10))
    for i, bucket in enumerate(buckets):
        if i % every == 0:
            out.append(
                f'<text class="tick-label" x="{px(i):.1f}" y="{height - bottom + 18}" '
                f'text-anchor="middle">{escape(bucket)}</text>'
            )
    if not values:
        out.append(f'<text class="empty" x="{left + 10}" y="{top_pad + plot_h / 2}">no data</text>')
    for s, (name, vs) in enumerate(series):
        segment: list[str] = []
        segments: list[list[str]] = []
        for i, v in enumerate(vs):
            if v is None:
                if segment:
                    segments.append(segment)
                segment = []
                continue
            segment.append(f"{px(i):.1f},{py(v):.1f}")
            out.append(
                f'<g class="point s{s}"><circle cx="{px(i):.1f}" cy="{py(v):.1f}" r="4"/>'
                f"<title>{escape(name)} {escape(buckets[i])}: {escape(_number(v) + unit)}</title></g>"
            )
        if segment:
            segments.append(segment)
        for seg in segments:
            if len(seg) > 1:
                out.append(f'<polyline class="line s{s}" points="{" ".join(seg)}"/>')
        out.append(
            f'<g class="legend s{s}"><rect x="{left + 10 + s * 200}" y="{height - 16}" width="12" height="4"/>'
            f'<text x="{left + 28 + s * 200}" y="{height - 10}">{escape(name)}</text></g>'
        )
    out.append("</svg>")
    return Markup("".join(out))


def _number(value: float) -> str:
    if abs(value - round(value)) < 1e-9:
        return str(round(value))
    return f"{value:.1f}"


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"
