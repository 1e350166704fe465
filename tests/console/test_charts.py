"""The server-side SVG charts: well-formed, labelled axes, escaped text, whole-number y steps."""

from __future__ import annotations

import datetime as dt

from lxml import etree

from ferry.server.console.charts import bar_chart, line_chart, nice_ceiling

SVG = "{http://www.w3.org/2000/svg}"


def _texts(svg: str) -> list[str]:
    root = etree.fromstring(svg.encode())
    return ["".join(node.itertext()) for node in root.iter(f"{SVG}text")]


def test_nice_ceiling_gives_four_whole_steps() -> None:
    for value in (0, 1, 2, 3, 5, 17, 99, 1234, 250_000):
        top = nice_ceiling(value)
        assert top >= max(value, 1)
        assert top % 4 == 0


def test_line_chart_has_title_axis_labels_and_one_dot_per_point() -> None:
    start = dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC)
    points = [(start + dt.timedelta(minutes=i), float(v)) for i, v in enumerate((5, 12, 0))]
    svg = str(line_chart(points, title="Backlog <rows>", y_label="rows"))
    root = etree.fromstring(svg.encode())
    assert len(list(root.iter(f"{SVG}circle"))) == 3
    texts = _texts(svg)
    assert "Backlog <rows>" in texts  # escaped in the markup, intact once parsed
    assert {"rows", "time (UTC)", "12:00:00", "12:02:00", "20"} <= set(texts)


def test_bar_chart_stacks_series_and_has_a_legend() -> None:
    svg = str(bar_chart(["a", "b"], {"inserted": [3, 0], "failed": [1, 2]}, title="Applied", y_label="rows"))
    root = etree.fromstring(svg.encode())
    bars = [rect for rect in root.iter(f"{SVG}rect") if rect.find(f"{SVG}title") is not None]
    assert len(bars) == 3  # zero-height parts are left out
    assert {"inserted", "failed", "rows", "a", "b"} <= set(_texts(svg))


def test_charts_without_data_say_so() -> None:
    assert "no runs yet" in _texts(str(line_chart([], title="t", y_label="y")))
    assert "no runs yet" in _texts(str(bar_chart([], {}, title="t", y_label="y")))
