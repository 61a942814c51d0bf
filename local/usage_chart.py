"""The demo's usage chart: a few meters' daily usage over a period as a PNG, drawn with Pillow.

``daily_usage`` reads each meter's usage by day from the platform (``services.usage.meter_usage``: the
validated readings in buckets of the site's local calendar, what ``GET /v1/meters/{id}/usage?resolution=day``
answers); ``render_chart`` draws them as grouped bars, one colour per meter (Okabe-Ito, readable by the
colour-blind), with day ticks, kWh values on a 1-2-5 scale, a legend with each meter's total and the weekends
shaded. The text is DejaVu Sans, the TTF bundled with the documents (``meterbill/documents/fonts``).

Heights are geometry, so floats are fine here; the values and the legend's totals are the exact Decimals.
``ChartGeometry`` says where everything went, so a caller (a test) can find a day's bar.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_CEILING, Decimal
from functools import cache
from importlib import resources
from typing import Final

from PIL import Image, ImageDraw, ImageFont

from meterbill.ports import Stores
from meterbill.services.usage import meter_usage

Colour = tuple[int, int, int]

# Okabe-Ito: distinguishable with every common colour-vision deficiency (its yellow is too pale on white).
PALETTE: Final[tuple[Colour, ...]] = (
    (0, 114, 178),  # blue
    (230, 159, 0),  # orange
    (0, 158, 115),  # bluish green
    (204, 121, 167),  # reddish purple
    (213, 94, 0),  # vermillion
    (86, 180, 233),  # sky blue
)
BACKGROUND: Final[Colour] = (255, 255, 255)
WEEKEND: Final[Colour] = (238, 238, 242)
GRID: Final[Colour] = (215, 215, 215)
AXIS: Final[Colour] = (90, 90, 90)
TEXT: Final[Colour] = (40, 40, 40)
WIDTH: Final = 1200
HEIGHT: Final = 600
# The plot's box inside the image: room left for the values, above for the title and the legend, below for
# the days.
PLOT_LEFT: Final = 80
PLOT_TOP: Final = 92
PLOT_RIGHT: Final = WIDTH - 24
PLOT_BOTTOM: Final = HEIGHT - 56
GROUP_SHARE: Final = 0.8  # of a day's width, the bars of its meters take this much; the rest is a gap
MIN_LABEL_SPACING: Final = 56  # pixels between two day labels at least
FONT_FILE: Final = "DejaVuSans.ttf"


@dataclass(frozen=True, slots=True)
class DailySeries:
    """One meter's usage per local day (of its site's ``timezone``), in ``unit``; days in order, one per day
    of the period."""

    meter_id: str
    unit: str
    days: tuple[tuple[date, Decimal], ...]
    timezone: str = "UTC"

    @property
    def total(self) -> Decimal:
        return sum((value for _, value in self.days), Decimal(0))


@dataclass(frozen=True, slots=True)
class ChartGeometry:
    """Where the chart drew: the plot's box (pixels, y down), the top of the value axis, the days shown."""

    left: int
    top: int
    right: int
    bottom: int
    y_max: Decimal
    y_step: Decimal
    days: tuple[date, ...]
    meters: int

    @property
    def day_width(self) -> float:
        return (self.right - self.left) / len(self.days)

    def bar_span(self, day_index: int, meter_index: int) -> tuple[int, int]:
        """The bar's first and last pixel column (inclusive)."""
        bar = self.day_width * GROUP_SHARE / self.meters
        start = self.left + day_index * self.day_width + self.day_width * (1 - GROUP_SHARE) / 2
        first = round(start + meter_index * bar)
        return first, max(first, round(start + (meter_index + 1) * bar) - 1)

    def y_of(self, value: Decimal) -> int:
        """The pixel row of ``value`` on the value axis (0 is the plot's bottom)."""
        return round(self.bottom - float(value / self.y_max) * (self.bottom - self.top))


@dataclass(frozen=True, slots=True)
class Chart:
    png: bytes
    geometry: ChartGeometry


def daily_usage(
    account: str, meter_ids: Sequence[str], start: date, end: date, stores: Stores
) -> list[DailySeries]:
    """The meters' usage per day of [start, end) on their sites' calendars, as the usage API reports it.
    NotFoundError for a meter the account does not have; InvalidInputError for a bad period."""
    series = []
    for meter_id in meter_ids:
        report = meter_usage(account, meter_id, start, end, "day", stores.catalog, stores.readings)
        days = tuple((bucket.start.date(), bucket.total) for bucket in report.buckets)
        series.append(
            DailySeries(meter_id=report.meter_id, unit=report.unit, days=days, timezone=report.timezone)
        )
    return series


def axis_scale(largest: Decimal) -> tuple[Decimal, Decimal]:
    """The value axis's top and step: the step is 1, 2 or 5 times a power of ten giving at most 6 steps,
    the top the first multiple of it at or above ``largest`` (1 and 0.2 when nothing was used)."""
    if largest <= 0:
        return Decimal(1), Decimal("0.2")
    exponent = (largest / 6).adjusted()
    for power in (exponent, exponent + 1):
        for mantissa in (1, 2, 5):
            step = Decimal(mantissa).scaleb(power)
            if largest / step <= 6:
                top = (largest / step).to_integral_value(ROUND_CEILING) * step
                return _plain(top), _plain(step)
    raise AssertionError("a step of ten times the largest value's order always fits")  # pragma: no cover


def render_chart(
    series: Sequence[DailySeries], *, title: str, width: int = WIDTH, height: int = HEIGHT
) -> Chart:
    """The series as grouped daily bars in a ``width`` x ``height`` PNG. ValueError when there is nothing to
    draw, more meters than colours, meters in different units or over different days."""
    if not series:
        raise ValueError("chart_meters: no meter to draw")
    if len(series) > len(PALETTE):
        raise ValueError(f"chart_meters: at most {len(PALETTE)} meters fit one chart, not {len(series)}")
    units = sorted({s.unit for s in series})
    if len(units) > 1:
        raise ValueError(f"chart_meters: the meters measure in {', '.join(units)}; one chart shows one unit")
    days = tuple(day for day, _ in series[0].days)
    if not days:
        raise ValueError("start: the period has no day")
    for other in series[1:]:
        if tuple(day for day, _ in other.days) != days:
            raise ValueError(f"chart_meters: {other.meter_id} has other days than {series[0].meter_id}")
    y_max, y_step = axis_scale(max(value for s in series for _, value in s.days))
    scale_x, scale_y = width / WIDTH, height / HEIGHT
    geometry = ChartGeometry(
        left=round(PLOT_LEFT * scale_x),
        top=round(PLOT_TOP * scale_y),
        right=round(PLOT_RIGHT * scale_x),
        bottom=round(PLOT_BOTTOM * scale_y),
        y_max=y_max,
        y_step=y_step,
        days=days,
        meters=len(series),
    )
    image = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(image)
    _weekends(draw, geometry)
    _value_axis(draw, geometry, units[0])
    _bars(draw, geometry, series)
    _day_axis(draw, geometry)
    _title_and_legend(draw, geometry, series, title, width)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return Chart(png=out.getvalue(), geometry=geometry)


@cache
def _font(size: int) -> ImageFont.FreeTypeFont:
    path = resources.files("meterbill.documents") / "fonts" / FONT_FILE
    return ImageFont.truetype(io.BytesIO(path.read_bytes()), size)


def _weekends(draw: ImageDraw.ImageDraw, g: ChartGeometry) -> None:
    for index, day in enumerate(g.days):
        if day.weekday() >= 5:
            x0 = round(g.left + index * g.day_width)
            x1 = round(g.left + (index + 1) * g.day_width) - 1
            draw.rectangle((x0, g.top, x1, g.bottom), fill=WEEKEND)


def _value_axis(draw: ImageDraw.ImageDraw, g: ChartGeometry, unit: str) -> None:
    font = _font(12)
    tick = Decimal(0)
    while tick <= g.y_max:
        y = g.y_of(tick)
        if tick:
            draw.line((g.left, y, g.right, y), fill=GRID)
        draw.line((g.left - 5, y, g.left, y), fill=AXIS)
        draw.text((g.left - 8, y), _number(tick), font=font, fill=TEXT, anchor="rm")
        tick += g.y_step
    draw.line((g.left, g.top, g.left, g.bottom), fill=AXIS)
    draw.text((g.left, g.top - 12), f"{unit} per day", font=font, fill=TEXT, anchor="ls")


def _bars(draw: ImageDraw.ImageDraw, g: ChartGeometry, series: Sequence[DailySeries]) -> None:
    for meter_index, one in enumerate(series):
        for day_index, (_, value) in enumerate(one.days):
            if value <= 0:
                continue
            first, last = g.bar_span(day_index, meter_index)
            top = g.y_of(value)
            if top < g.bottom:
                draw.rectangle((first, top, last, g.bottom - 1), fill=PALETTE[meter_index])


def _day_axis(draw: ImageDraw.ImageDraw, g: ChartGeometry) -> None:
    font = _font(12)
    draw.line((g.left, g.bottom, g.right, g.bottom), fill=AXIS)
    every = _label_every(g)
    for index, day in enumerate(g.days):
        centre = round(g.left + (index + 0.5) * g.day_width)
        labelled = _labelled(index, day, every)
        draw.line((centre, g.bottom, centre, g.bottom + (6 if labelled else 3)), fill=AXIS)
        if labelled:
            draw.text((centre, g.bottom + 9), f"{day:%d %b}", font=font, fill=TEXT, anchor="mt")
            draw.text((centre, g.bottom + 25), f"{day:%a}", font=font, fill=AXIS, anchor="mt")


def _label_every(g: ChartGeometry) -> int:
    """Label every day, every other day, every Monday or every other Monday, as room allows."""
    for every in (1, 2, 7, 14):
        if g.day_width * every >= MIN_LABEL_SPACING:
            return every
    return 28


def _labelled(index: int, day: date, every: int) -> bool:
    if every < 7:
        return index % every == 0
    # Mondays: the k-th Monday of the period has index // 7 == k
    return day.weekday() == 0 and (index // 7) % (every // 7) == 0


def _title_and_legend(
    draw: ImageDraw.ImageDraw, g: ChartGeometry, series: Sequence[DailySeries], title: str, width: int
) -> None:
    draw.text((g.left, 14), title, font=_font(18), fill=TEXT, anchor="lt")
    font = _font(13)
    x, y = g.left, 46
    for index, one in enumerate(series):
        label = f"{one.meter_id}: {_number(one.total)} {one.unit}"
        size = round(draw.textlength(label, font=font)) + 34
        if x + size > width - 10 and x > g.left:
            x, y = g.left, y + 20
        draw.rectangle((x, y + 1, x + 14, y + 14), fill=PALETTE[index])
        draw.text((x + 20, y + 8), label, font=font, fill=TEXT, anchor="lm")
        x += size


def _plain(value: Decimal) -> Decimal:
    """``5E+2`` as ``500``: the same number, written without an exponent."""
    return Decimal(format(value.normalize(), "f"))


def _number(value: Decimal) -> str:
    """``50``, ``0.2``, ``1234.5``: no exponent, no trailing zeros."""
    return format(value.normalize(), "f")
