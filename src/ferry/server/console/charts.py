"""Inline SVG charts drawn on the server: a line (backlog over time) and stacked bars (rows applied per run)."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from xml.sax.saxutils import escape

from markupsafe import Markup

WIDTH, HEIGHT = 640, 230
LEFT, RIGHT, TOP, BOTTOM = 60, 16, 28, 44
PALETTE = {"inserted": "#2f7d4f", "updated": "#3f6fb5", "deleted": "#8a5a9e", "skipped": "#c99a2e",
           "failed": "#c0392b", "backlog": "#3f6fb5", "read": "#3f6fb5"}


def nice_ceiling(value: float) -> float:
    """The top of the y axis: four equal steps of 1, 2 or 5 times a power of ten (whole steps, at least 1)."""
    raw = max(value, 1.0) / 4
    power = 10 ** math.floor(math.log10(raw))
    for step in (1, 2, 5, 10):
        if raw <= step * power:
            return float(max(1.0, step * power) * 4)
    return float(max(1.0, 10 * power) * 4)


def _fmt(value: float) -> str:
    if value >= 1_000_000:
        return f"{value / 1_000_000:g}M"
    if value >= 10_000:
        return f"{value / 1000:g}k"
    return f"{value:g}"


def _text(x: float, y: float, content: str, anchor: str = "middle", cls: str = "lbl", extra: str = "") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" class="{cls}"{extra}>'
            f"{escape(content)}</text>")


def _frame(title: str, y_label: str, x_label: str, top: float) -> list[str]:
    """Title, axes, y grid with labels, axis titles."""
    plot_h = HEIGHT - TOP - BOTTOM
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" '
        f'role="img" aria-label="{escape(title)}" class="chart">',
        f"<title>{escape(title)}</title>",
        _text(LEFT, 16, title, "start", "ttl"),
    ]
    for i in range(5):
        value = top * i / 4
        y = TOP + plot_h - plot_h * i / 4
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>')
        parts.append(_text(LEFT - 6, y + 4, _fmt(value), "end"))
    parts.append(f'<line x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{TOP + plot_h}" class="axis"/>')
    parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{TOP + plot_h}" y2="{TOP + plot_h}" class="axis"/>')
    parts.append(_text(14, TOP + plot_h / 2, y_label, "middle", "axt",
                       f' transform="rotate(-90 14 {TOP + plot_h / 2:.1f})"'))
    parts.append(_text(LEFT + (WIDTH - LEFT - RIGHT) / 2, HEIGHT - 6, x_label, "middle", "axt"))
    return parts


def _empty(title: str) -> Markup:
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} 80" width="100%" role="img" '
        f'aria-label="{escape(title)}" class="chart"><title>{escape(title)}</title>'
        f'{_text(LEFT, 16, title, "start", "ttl")}{_text(WIDTH / 2, 55, "no runs yet", "middle", "axt")}</svg>')


def _time_label(moment: dt.datetime, span: dt.timedelta) -> str:
    moment = moment.astimezone(dt.UTC)
    return moment.strftime("%m-%d %H:%M") if span > dt.timedelta(hours=20) else moment.strftime("%H:%M:%S")


def line_chart(points: Sequence[tuple[dt.datetime, float]], *, title: str, y_label: str,
               x_label: str = "time (UTC)", series: str = "backlog") -> Markup:
    """Values over time, one dot per point, x proportional to time."""
    if not points:
        return _empty(title)
    top = nice_ceiling(max(value for _, value in points))
    parts = _frame(title, y_label, x_label, top)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    first, last = points[0][0], points[-1][0]
    span = last - first

    def xy(moment: dt.datetime, value: float) -> tuple[float, float]:
        x = LEFT + 8 + (plot_w - 16) * ((moment - first) / span if span > dt.timedelta(0) else 0.5)
        return x, TOP + plot_h - plot_h * value / top

    coords = [xy(moment, value) for moment, value in points]
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
    color = PALETTE.get(series, "#3f6fb5")
    parts.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"/>')
    for (moment, value), (x, y) in zip(points, coords, strict=True):
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{color}">'
                     f"<title>{escape(_time_label(moment, span))}: {value:g}</title></circle>")
    placed: list[float] = []
    for i in (0, len(points) - 1, (len(points) - 1) // 2):
        x, _ = coords[i]
        if all(abs(x - other) > 70 for other in placed):  # no overlapping time labels
            placed.append(x)
            anchor = "start" if x < LEFT + 40 else "end" if x > WIDTH - RIGHT - 40 else "middle"
            parts.append(_text(x, TOP + plot_h + 16, _time_label(points[i][0], span), anchor))
    parts.append("</svg>")
    return Markup("".join(parts))


def bar_chart(labels: Sequence[str], series: dict[str, Sequence[float]], *, title: str, y_label: str,
              x_label: str = "run (start time, UTC)") -> Markup:
    """Stacked bars, one per label, with a legend of the series."""
    if not labels:
        return _empty(title)
    totals = [sum(values[i] for values in series.values()) for i in range(len(labels))]
    top = nice_ceiling(max(totals))
    parts = _frame(title, y_label, x_label, top)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / len(labels)
    bar_w = max(2.0, min(40.0, slot * 0.7))
    for i, label in enumerate(labels):
        x = LEFT + slot * i + (slot - bar_w) / 2
        base = float(TOP + plot_h)
        for name, values in series.items():
            value = values[i]
            if value <= 0:
                continue
            h = plot_h * value / top
            base -= h
            parts.append(f'<rect x="{x:.1f}" y="{base:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                         f'fill="{PALETTE.get(name, "#777")}"><title>{escape(label)} {name}: {value:g}</title></rect>')
    step = max(1, math.ceil(len(labels) / 6))
    for i in range(0, len(labels), step):
        parts.append(_text(LEFT + slot * i + slot / 2, TOP + plot_h + 16, labels[i]))
    legend_x = WIDTH - RIGHT
    for name in reversed(list(series)):
        legend_x -= 8 + 7 * len(name) + 14
        parts.append(f'<rect x="{legend_x:.1f}" y="7" width="10" height="10" fill="{PALETTE.get(name, "#777")}"/>')
        parts.append(_text(legend_x + 14, 16, name, "start"))
    parts.append("</svg>")
    return Markup("".join(parts))
