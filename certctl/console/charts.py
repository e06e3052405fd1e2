"""Stacked bar charts as inline SVG, drawn on the server: no chart library, no script, nothing from a CDN.

Colours are SVG presentation attributes (not `style`), and every text is escaped.
"""

from __future__ import annotations

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from certctl.services.dashboard import Series

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 36, 8, 10, 46
PALETTE = ("#3b7dd8", "#e08a1e", "#2f9e6e", "#9b59b6", "#d9534f", "#17a2b8", "#8c6d31", "#6c757d")
NAMED = {"sent": "#2f9e6e", "failed": "#e08a1e", "dead": "#d9534f", "issued": "#3b7dd8"}


def _colour(name: str, index: int) -> str:
    return NAMED.get(name, PALETTE[index % len(PALETTE)])


def _nice_ceiling(value: int) -> int:
    """A round axis maximum at or above `value` (1, 2, 5 x 10^n)."""
    if value <= 0:
        return 1
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= value:
                return step * factor
        step *= 10


def stacked_bars(series: Series, title: str, label_every: int = 1) -> SafeString:
    """An accessible SVG of `series`: one bar per label, one segment per stack, a y-axis maximum and a legend."""
    count = len(series.labels)
    totals = [sum(values[i] for values in series.stacks.values()) for i in range(count)]
    top = _nice_ceiling(max(totals, default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(count, 1)
    bar = max(slot * 0.7, 1)
    parts = [
        f'<svg class="certctl-chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>',
        f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - RIGHT}" y2="{TOP + plot_h}" stroke="#999"/>',
        f'<text x="{LEFT - 4}" y="{TOP + 8}" text-anchor="end" font-size="10" fill="currentColor">{top}</text>',
        f'<text x="{LEFT - 4}" y="{TOP + plot_h}" text-anchor="end" font-size="10" fill="currentColor">0</text>',
    ]
    for i, label in enumerate(series.labels):
        x = LEFT + i * slot + (slot - bar) / 2
        y = TOP + plot_h
        for index, (name, values) in enumerate(series.stacks.items()):
            value = values[i]
            if not value:
                continue
            height = plot_h * value / top
            y -= height
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{height:.1f}" '
                f'fill="{_colour(name, index)}"><title>{escape(label)}: {escape(name)} {value}</title></rect>'
            )
        if i % label_every == 0:
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{TOP + plot_h + 14}" text-anchor="middle" font-size="10" '
                f'fill="currentColor">{escape(label)}</text>'
            )
    legend_x = LEFT
    for index, name in enumerate(series.stacks):
        parts.append(
            f'<rect x="{legend_x}" y="{HEIGHT - 16}" width="10" height="10" fill="{_colour(name, index)}"/>'
            f'<text x="{legend_x + 14}" y="{HEIGHT - 7}" font-size="11" fill="currentColor">{escape(name)}</text>'
        )
        legend_x += 24 + 7 * len(str(name))
    if not any(totals):
        parts.append(
            f'<text x="{LEFT + plot_w / 2:.0f}" y="{TOP + plot_h / 2:.0f}" text-anchor="middle" font-size="12" '
            f'fill="currentColor">nothing in this period</text>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - built above from numbers and escaped text only
