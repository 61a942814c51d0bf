"""The demo's usage chart (``local/usage_chart.py``): the value axis on a 1-2-5 scale, and charts it refuses
to draw, naming the field."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from local.usage_chart import DailySeries, axis_scale, render_chart

WEEK = tuple(date(2026, 3, 2) + timedelta(days=n) for n in range(7))


def series(meter_id: str, unit: str = "kWh", days: tuple[date, ...] = WEEK) -> DailySeries:
    return DailySeries(meter_id, unit, tuple((day, Decimal("1.5")) for day in days))


@pytest.mark.parametrize(
    ("largest", "top", "step"),
    [
        ("45", "50", "10"),  # 45 / 10 = 4.5 steps: ceil to 5 steps of 10
        ("42.7", "50", "10"),
        ("6", "6", "1"),  # 6 steps of 1 fit
        ("7", "8", "2"),  # 7 steps of 1 do not: 4 steps of 2
        ("25954", "30000", "5000"),
        ("0.3", "0.3", "0.05"),
        ("0", "1", "0.2"),  # nothing used: an axis to 1
    ],
)
def test_the_value_axis_ends_on_the_first_1_2_5_step_at_or_above_the_largest_day(
    largest: str, top: str, step: str
) -> None:
    assert axis_scale(Decimal(largest)) == (Decimal(top), Decimal(step))
    assert str(axis_scale(Decimal(largest))[0]) == top  # written without an exponent


def test_meters_in_different_units_are_refused_naming_them() -> None:
    with pytest.raises(
        ValueError, match=r"^chart_meters: the meters measure in kWh, m³; one chart shows one unit$"
    ):
        render_chart([series("power"), series("water", "m³")], title="t")


def test_meters_over_different_days_are_refused() -> None:
    with pytest.raises(ValueError, match=r"^chart_meters: b has other days than a$"):
        render_chart([series("a"), series("b", days=WEEK[1:])], title="t")


def test_more_meters_than_colours_are_refused() -> None:
    with pytest.raises(ValueError, match=r"^chart_meters: at most 6 meters fit one chart, not 7$"):
        render_chart([series(f"m{n}") for n in range(7)], title="t")
