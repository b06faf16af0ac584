"""Line charts laid out on the server as SVG geometry (templates/partials/line_chart.html draws them).

The run page polls for new points with htmx; drawing on the server keeps it free of a charting library,
of script re-initialisation after each swap, and of anything fetched from a CDN.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

PALETTE = ("#2f5fd0", "#d0612f", "#2f9e5b", "#9a4fd0", "#b88a00", "#0f8b9a", "#b83280", "#5b6472")
WIDTH, HEIGHT = 420, 190
LEFT, RIGHT, TOP, BOTTOM = 52, 12, 10, 26
MAX_MARKERS = 60  # points per line that get a hover marker; longer lines are drawn as a bare polyline


@dataclass(frozen=True)
class Series:
    name: str
    points: list[tuple[float, float]]  # (step, value)


@dataclass(frozen=True)
class Marker:
    x: float
    y: float
    tooltip: str


@dataclass(frozen=True)
class Line:
    name: str
    color: str
    points: str  # an SVG polyline's `points`
    markers: list[Marker]
    last: str


@dataclass(frozen=True)
class Tick:
    position: float
    label: str


@dataclass(frozen=True)
class Chart:
    title: str
    lines: list[Line]
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right: int = WIDTH - RIGHT
    bottom: int = HEIGHT - BOTTOM


def _span(values: list[float]) -> tuple[float, float]:
    low, high = min(values), max(values)
    if low == high:
        pad = abs(low) * 0.1 or 1.0
        return low - pad, high + pad
    return low, high


def nice_ticks(low: float, high: float, count: int = 5, whole: bool = False) -> list[float]:
    """Round tick values (1, 2 or 5 times a power of ten apart) covering [low, high]; `whole`: at least 1
    apart, so that a count such as the training step never gets a fractional tick."""
    raw = (high - low) / max(count - 1, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    if whole:
        step = max(step, 1)
    first = math.ceil(low / step - 1e-9)
    last = math.floor(high / step + 1e-9)
    return [round(i * step, 12) for i in range(first, last + 1)]


def format_value(value: float) -> str:
    if value == int(value) and abs(value) < 1e6:
        return str(int(value))
    return f"{value:.4g}"


def line_chart(
    title: str, series: list[Series], unit: str = "", y_floor: float | None = None
) -> Chart | None:
    """A chart of one or more series over the training step; None when there is nothing to draw.
    `y_floor` is a value the y axis never goes below (0 for accuracies)."""
    series = [s for s in series if s.points]
    if not series:
        return None
    x_low, x_high = _span([x for s in series for x, _ in s.points])
    y_low, y_high = _span([y for s in series for _, y in s.points])
    if y_floor is not None and y_low < y_floor:
        y_low, y_high = y_floor, max(y_high, y_floor + (y_high - y_low) / 2)

    def sx(x: float) -> float:
        return round(LEFT + (x - x_low) / (x_high - x_low) * (WIDTH - RIGHT - LEFT), 1)

    def sy(y: float) -> float:
        return round(HEIGHT - BOTTOM - (y - y_low) / (y_high - y_low) * (HEIGHT - BOTTOM - TOP), 1)

    lines = []
    for i, s in enumerate(series):
        points = sorted(s.points)
        markers = (
            [
                Marker(sx(x), sy(y), f"{s.name} · step {format_value(x)}: {format_value(y)}{unit}")
                for x, y in points
            ]
            if len(points) <= MAX_MARKERS
            else []
        )
        lines.append(
            Line(
                name=s.name,
                color=PALETTE[i % len(PALETTE)],
                points=" ".join(f"{sx(x)},{sy(y)}" for x, y in points),
                markers=markers,
                last=format_value(points[-1][1]) + unit,
            )
        )
    return Chart(
        title=title,
        lines=lines,
        x_ticks=[
            Tick(sx(t), format_value(t))
            for t in nice_ticks(x_low, x_high, whole=True)
            if x_low <= t <= x_high
        ],
        y_ticks=[Tick(sy(t), format_value(t)) for t in nice_ticks(y_low, y_high) if y_low <= t <= y_high],
    )
