"""The dashboard's hourly chart as inline SVG, drawn on the server (pure: numbers in, markup)."""

from __future__ import annotations

from datetime import datetime, timedelta
from html import escape

from app.console.labels import PARIS

WIDTH = 960
HEIGHT = 220
LEFT = 40
BOTTOM = 24
TOP = 10


def _nice_max(value: int) -> int:
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10_000):
        if value <= step * 4:
            return step * 4
    return value


def hourly_svg(start: datetime, accepted: list[int], delivered: list[int]) -> str:
    """Bars of invoices accepted and delivered per hour, with hour ticks and an accessible title."""
    hours = len(accepted)
    top = _nice_max(max([*accepted, *delivered, 1]))
    plot_w = WIDTH - LEFT - 10
    plot_h = HEIGHT - BOTTOM - TOP
    slot = plot_w / hours
    bar = max(1.0, slot / 2 - 1)
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="chart-title" xmlns="http://www.w3.org/2000/svg">',
        '<title id="chart-title">Factures acceptées et déposées par heure, 48 dernières heures'
        f" ({sum(accepted)} acceptées, {sum(delivered)} déposées)</title>",
    ]
    for i in range(5):
        value = top * i // 4
        y = TOP + plot_h - plot_h * i / 4
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - 10}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="axis" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{value}</text>'
        )
    for index in range(hours):
        x = LEFT + index * slot
        for offset, series, css in ((0.0, accepted, "accepted"), (bar, delivered, "delivered")):
            count = series[index]
            if count:
                h = plot_h * count / top
                hour = (start + timedelta(hours=index)).astimezone(PARIS).strftime("%d/%m %Hh")
                label = "acceptées" if css == "accepted" else "déposées"
                parts.append(
                    f'<rect class="{css}" x="{x + offset + 1:.1f}" y="{TOP + plot_h - h:.1f}" '
                    f'width="{bar:.1f}" height="{h:.1f}"><title>{escape(hour)} : {count} '
                    f"{label}</title></rect>"
                )
        at = (start + timedelta(hours=index)).astimezone(PARIS)
        if at.hour % 6 == 0:
            parts.append(
                f'<text class="axis" x="{x + slot / 2:.1f}" y="{HEIGHT - 6}" '
                f'text-anchor="middle">{at.strftime("%d/%m %Hh")}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)
