"""A common area's residual (main meter minus its sub-meters) and its split, in the pure core."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from meterbill.billing.allocation import AllocationError, AllocationMethod, share_of_series
from meterbill.billing.residual import residual_of, split_by_weights
from meterbill.usage import IntervalSeries

D = Decimal
START = datetime(2026, 3, 2, tzinfo=ZoneInfo("Europe/Berlin"))


def hourly(*values: str, estimated: frozenset[int] = frozenset()) -> IntervalSeries:
    return IntervalSeries.from_decimals(START, 60, [D(v) for v in values], "kWh", estimated)


def day(value: str) -> IntervalSeries:
    return hourly(*[value] * 24)


def test_the_residual_is_the_main_meter_minus_its_sub_meters_interval_by_interval() -> None:
    residual = residual_of(day("10"), [day("4"), day("3")])

    assert residual.series.total() == 24 * (D(10) - D(4) - D(3)) == D(72)
    assert residual.faults == frozenset()


def test_sub_meters_above_the_main_meter_leave_zero_and_count_as_faults() -> None:
    main = hourly("10", "10", "10", "2.5")
    residual = residual_of(main, [hourly("4", "8", "4", "1.25"), hourly("3", "3", "3", "1.5")])

    # 3, 10 - 11 -> 0 (fault), 3, 2.5 - 2.75 -> 0 (fault)
    assert [residual.series.quantity(v) for v in residual.series.values] == [D(3), D(0), D(3), D(0)]
    assert residual.faults == frozenset({1, 3})


def test_an_estimated_sub_interval_makes_the_residual_estimated_and_a_missing_one_is_no_fault() -> None:
    sub = hourly("4", "12", estimated=frozenset({0}))
    main = IntervalSeries(START, 60, [10, 0], 0, "kWh", missing=frozenset({1}))

    residual = residual_of(main, [sub])

    assert (residual.series.estimated, residual.series.missing, residual.faults) == (
        frozenset({0}),
        frozenset({1}),
        frozenset(),
    )


def test_a_sub_meter_on_another_interval_is_refused_by_name() -> None:
    quarter = IntervalSeries.from_decimals(START, 15, [D(1)] * 4, "kWh")

    with pytest.raises(AllocationError, match=r"subs\[0\].interval_minutes: 15 does not match"):
        residual_of(hourly("10"), [quarter])


def test_split_by_share_halves_the_residual_exactly() -> None:
    residual = residual_of(day("10"), [day("4"), day("3")]).series

    assert share_of_series(residual, D("0.5")).total() == D(72) * D("0.5") == D(36)


def test_split_by_area_60_and_40_square_metres() -> None:
    residual = residual_of(day("10"), [day("4"), day("3")]).series
    areas = [{"c-a": D(60), "c-b": D(40)}] * 24

    a = split_by_weights(residual, areas, AllocationMethod.AREA, "c-a")
    b = split_by_weights(residual, areas, AllocationMethod.AREA, "c-b")

    assert (a.total(), b.total()) == (D(72) * 60 / 100, D(72) * 40 / 100) == (D("43.2"), D("28.8"))


def test_split_by_usage_of_96_and_72_kwh_adds_up_to_exactly_the_residual() -> None:
    residual = residual_of(day("10"), [day("4"), day("3")]).series
    usage = [{"c-a": D(96), "c-b": D(72)}] * 24

    a = split_by_weights(residual, usage, AllocationMethod.USAGE, "c-a")
    b = split_by_weights(residual, usage, AllocationMethod.USAGE, "c-b")

    # Each hour's 3 kWh: 3 * 96/168 = 1.714285714|2857... and 3 * 72/168 = 1.285714285|7142... in nanokWh;
    # the floors leave 1 nanokWh, which goes to the larger remainder (c-b): 1.714285714 + 1.285714286 = 3.
    assert a.values[0] * D("1e-9") == D("1.714285714")
    assert b.values[0] * D("1e-9") == D("1.285714286")
    assert a.total() == 24 * D("1.714285714") == D("41.142857136")  # 72 * 96/168 = 41.142857142857...
    assert b.total() == 24 * D("1.285714286") == D("30.857142864")  # 72 * 72/168 = 30.857142857142...
    assert a.total() + b.total() == D(72)


def test_a_customer_not_sharing_an_interval_gets_nothing_of_it_and_the_others_all_of_it() -> None:
    residual = hourly("3", "3")
    weights = [{"c-a": D(60), "c-b": D(40)}, {"c-b": D(40)}]  # c-a moved out after the first hour

    a = split_by_weights(residual, weights, AllocationMethod.AREA, "c-a")
    b = split_by_weights(residual, weights, AllocationMethod.AREA, "c-b")

    assert [a.quantity(v) for v in a.values] == [D("1.8"), D(0)]
    assert [b.quantity(v) for v in b.values] == [D("1.2"), D(3)]
