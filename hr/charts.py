"""Charts as SVG drawn on the server, readable without colour: patterns, labels and values.

Each chart carries a ``<title>`` and a ``<desc>`` listing every value, so a screen reader
and a black-and-white print get the same numbers as the eye.
"""

from __future__ import annotations

from markupsafe import Markup, escape

# Fill patterns distinguish the bars without relying on colour.
PATTERNS = ("solid", "hatch", "dots", "cross", "vertical", "horizontal", "backhatch")
_INK = "#1a3d7c"
# name -> (tile size, rotation, the marks drawn on a white tile)
_PATTERN_TILES = {
    "hatch": (8, 45, f'<line x1="0" y1="0" x2="0" y2="8" stroke="{_INK}" stroke-width="3"/>'),
    "dots": (6, 0, f'<circle cx="3" cy="3" r="1.6" fill="{_INK}"/>'),
    "cross": (8, 0, f'<path d="M0 0L8 8M8 0L0 8" stroke="{_INK}" stroke-width="1.5"/>'),
    "vertical": (6, 0, f'<line x1="3" y1="0" x2="3" y2="6" stroke="{_INK}" stroke-width="2"/>'),
    "horizontal": (6, 0, f'<line x1="0" y1="3" x2="6" y2="3" stroke="{_INK}" '
                          'stroke-width="2"/>'),
    "backhatch": (8, -45, f'<line x1="0" y1="0" x2="0" y2="8" stroke="{_INK}" '
                          'stroke-width="1.5"/>'),
}


def _defs(prefix: str) -> str:
    tiles = []
    for name, (size, angle, marks) in _PATTERN_TILES.items():
        rotate = f' patternTransform="rotate({angle})"' if angle else ""
        tiles.append(f'<pattern id="{prefix}-{name}" width="{size}" height="{size}" '
                     f'patternUnits="userSpaceOnUse"{rotate}><rect width="{size}" '
                     f'height="{size}" fill="#fff"/>{marks}</pattern>')
    return "<defs>" + "".join(tiles) + "</defs>"
MARKERS = ("circle", "square", "triangle")
DASHES = ("", "6 3", "2 3")


def _fill(prefix: str, index: int) -> str:
    name = PATTERNS[index % len(PATTERNS)]
    return _INK if name == "solid" else f"url(#{prefix}-{name})"


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def bar_chart(chart_id: str, title: str, items: list[tuple[str, float]], *,
              unit: str = "", maximum: float | None = None) -> Markup:
    """Horizontal bars, one pattern each, the label on the left and the value on the right."""
    chart_id = "".join(c for c in chart_id if c.isalnum() or c == "-") or "chart"
    width, label_w, value_w, bar_h, gap = 560, 190, 90, 22, 10
    height = 40 + len(items) * (bar_h + gap)
    top = max([maximum or 0] + [v for _, v in items]) or 1
    desc = "; ".join(f"{label}: {_fmt(value)}{unit}" for label, value in items) or "no data"
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="hr-chart" role="img" '
             f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
             f'aria-labelledby="{chart_id}-t {chart_id}-d">',
             f'<title id="{chart_id}-t">{escape(title)}</title>',
             f'<desc id="{chart_id}-d">{escape(desc)}</desc>', _defs(chart_id),
             f'<text x="0" y="18" font-size="15" font-weight="bold" fill="#000">'
             f'{escape(title)}</text>']
    span = width - label_w - value_w
    for i, (label, value) in enumerate(items):
        y = 34 + i * (bar_h + gap)
        length = max(1.0, span * value / top) if value else 0
        short = label if len(label) <= 26 else label[:25] + "…"
        parts.append(f'<text x="{label_w - 8}" y="{y + 16}" font-size="13" text-anchor="end" '
                     f'fill="#000">{escape(short)}</text>')
        parts.append(f'<rect x="{label_w}" y="{y}" width="{length:.1f}" height="{bar_h}" '
                     f'fill="{_fill(chart_id, i)}" stroke="#000" stroke-width="1"/>')
        parts.append(f'<text x="{label_w + length + 6:.1f}" y="{y + 16}" font-size="13" '
                     f'fill="#000">{escape(_fmt(value) + unit)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text in parts was escaped


def _marker(shape: str, x: float, y: float) -> str:
    if shape == "square":
        return f'<rect x="{x - 4:.1f}" y="{y - 4:.1f}" width="8" height="8" fill="#000"/>'
    if shape == "triangle":
        return (f'<path d="M{x:.1f} {y - 5:.1f}L{x + 5:.1f} {y + 4:.1f}L{x - 5:.1f} '
                f'{y + 4:.1f}Z" fill="#fff" stroke="#000" stroke-width="1.5"/>')
    return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="#fff" stroke="#000" stroke-width="2"/>'


def line_chart(chart_id: str, title: str, labels: list[str],
               series: list[tuple[str, list[float]]], *, unit: str = "",
               maximum: float | None = None) -> Markup:
    """Lines told apart by marker shape and dash, a legend, and each series' last value."""
    chart_id = "".join(c for c in chart_id if c.isalnum() or c == "-") or "chart"
    width, height, left, right, top, bottom = 600, 270, 48, 64, 60, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = maximum or max([v for _, values in series for v in values] + [0]) or 1
    count = max(1, len(labels) - 1)

    def point(i: int, v: float) -> tuple[float, float]:
        return left + plot_w * i / count, top + plot_h * (1 - v / peak)

    desc = " ".join(
        f"{name}: " + ", ".join(f"{label} {_fmt(v)}{unit}" for label, v in zip(labels, values,
                                                                           strict=False)) + "."
        for name, values in series)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="hr-chart" role="img" '
             f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
             f'aria-labelledby="{chart_id}-t {chart_id}-d">',
             f'<title id="{chart_id}-t">{escape(title)}</title>',
             f'<desc id="{chart_id}-d">{escape(desc or "no data")}</desc>',
             f'<text x="0" y="18" font-size="15" font-weight="bold" fill="#000">'
             f'{escape(title)}</text>',
             f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" '
             f'stroke="#000"/><line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" '
             f'stroke="#000"/>',
             f'<text x="{left - 6}" y="{top + 4}" font-size="11" text-anchor="end">'
             f'{escape(_fmt(peak) + unit)}</text>',
             f'<text x="{left - 6}" y="{top + plot_h + 4}" font-size="11" text-anchor="end">'
             f'0{escape(unit)}</text>']
    step = max(1, len(labels) // 6)
    for i, label in enumerate(labels):
        if i % step == 0 or i == len(labels) - 1:
            x, _ = point(i, 0)
            parts.append(f'<text x="{x:.1f}" y="{height - 18}" font-size="11" '
                         f'text-anchor="middle">{escape(label)}</text>')
    for s, (name, values) in enumerate(series):
        shape, dash = MARKERS[s % len(MARKERS)], DASHES[s % len(DASHES)]
        coords = [point(i, v) for i, v in enumerate(values)]
        if coords:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
            dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
            parts.append(f'<polyline points="{path}" fill="none" stroke="#000" '
                         f'stroke-width="2"{dash_attr}/>')
            parts.extend(_marker(shape, x, y) for x, y in coords)
            x, y = coords[-1]
            parts.append(f'<text x="{x + 8:.1f}" y="{y + 4:.1f}" font-size="12">'
                         f'{escape(_fmt(values[-1]) + unit)}</text>')
        legend_x = left + s * 180
        parts.append(_marker(shape, legend_x, 36))
        parts.append(f'<text x="{legend_x + 10}" y="40" font-size="12">{escape(name)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text in parts was escaped
