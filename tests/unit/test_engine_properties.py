"""Properties every bill has, whatever the tariff and the usage."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from meterbill.meterdata.csvio import read_interval_csv
from meterbill.tariffs.engine import BillPeriod, rate
from meterbill.usage import IntervalSeries, Session, Usage
from tests.builders import schedule, tariff

ZONES = st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata"])
RATES = st.decimals(min_value=Decimal("0"), max_value=Decimal("2"), places=4)
KWH = st.decimals(min_value=Decimal("0"), max_value=Decimal("50"), places=3)


def tou_tariff(off: Decimal, peak: Decimal, fixed: Decimal, vat: Decimal, discount: Decimal, **extra: object):  # type: ignore[no-untyped-def]
    return tariff(
        fixed=[{"amount": fixed}, {"amount": fixed / 30, "per": "day"}],
        energy={
            "periods": [
                {"name": "off", "tiers": [{"rate": off}]},
                {"name": "peak", "tiers": [{"rate": peak}]},
            ],
            "time_of_use": {
                "weekday_schedule": schedule({range(7, 21): 1}),
                "weekend_schedule": schedule({range(17, 19): 1}),
            },
        },
        adjustments=[{"kind": "discount", "description": "d", "percent": discount, "applies_to": ["energy"]}],
        taxes=[{"name": "VAT", "percent": vat}],
        **extra,
    )


@st.composite
def year_slices(draw: st.DrawFn) -> tuple[str, date, int, list[Decimal]]:
    zone = draw(ZONES)
    start = date(2026, 1, 1) + timedelta(days=draw(st.integers(0, 360)))
    days = draw(st.integers(2, 31))
    values = draw(st.lists(KWH, min_size=days * 24, max_size=days * 24))
    return zone, start, days, values


@settings(max_examples=40, deadline=None)
@given(year_slices(), RATES, RATES, RATES, st.decimals(0, 25, places=2), st.decimals(0, 30, places=1))
def test_the_total_is_the_sum_of_the_rounded_lines(
    data: tuple[str, date, int, list[Decimal]],
    off: Decimal,
    peak: Decimal,
    fixed: Decimal,
    vat: Decimal,
    discount: Decimal,
) -> None:
    zone_name, start, days, values = data
    tz = ZoneInfo(zone_name)
    usage = Usage(
        series=IntervalSeries.from_decimals(
            datetime(start.year, start.month, start.day, tzinfo=tz), 60, values, "kWh"
        )
    )
    bill = rate(
        tou_tariff(off, peak, fixed, vat, discount),
        BillPeriod(start, start + timedelta(days=days), tz),
        usage,
    )
    assert bill.total == sum(line.amount for line in bill.lines)
    assert bill.subtotal + bill.taxes == bill.total
    assert all(line.amount == line.amount.quantize(Decimal("0.01")) for line in bill.lines)


@settings(max_examples=40, deadline=None)
@given(year_slices(), st.data(), RATES, RATES, RATES, st.decimals(0, 25, places=2))
def test_billing_a_period_in_two_parts_costs_the_same_within_rounding(
    data: tuple[str, date, int, list[Decimal]],
    split: st.DataObject,
    off: Decimal,
    peak: Decimal,
    fixed: Decimal,
    vat: Decimal,
) -> None:
    zone_name, start, days, values = data
    tz = ZoneInfo(zone_name)
    middle = start + timedelta(days=split.draw(st.integers(1, days - 1)))
    end = start + timedelta(days=days)
    t = tou_tariff(off, peak, fixed, vat, Decimal(0))
    usage = Usage(
        series=IntervalSeries.from_decimals(
            datetime(start.year, start.month, start.day, tzinfo=tz), 60, values, "kWh"
        )
    )
    whole = rate(t, BillPeriod(start, end, tz), usage)
    parts = [rate(t, BillPeriod(start, middle, tz), usage), rate(t, BillPeriod(middle, end, tz), usage)]
    lines = len(whole.lines) + sum(len(p.lines) for p in parts)
    assert abs(whole.total - sum(p.total for p in parts)) <= Decimal("0.01") * lines
    assert whole.usage.total == sum(p.usage.total for p in parts)
    energy = [sum(line.quantity for line in b.lines if line.component == "energy") for b in (whole, *parts)]
    assert energy[0] == energy[1] + energy[2]


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(0, 20000), min_size=1, max_size=60), st.randoms(use_true_random=False))
def test_the_order_in_which_sessions_arrive_does_not_change_the_bill(
    durations: list[int], rnd: random.Random
) -> None:
    t = tariff(
        packages=[{"threshold_seconds": "1800", "fare": "0.01", "unit_seconds": "300", "unit_rate": "0.0089"}]
    )
    start = datetime(2026, 5, 1, tzinfo=ZoneInfo("UTC"))
    sessions = [
        Session(f"s{i}", start + timedelta(hours=i), start + timedelta(hours=i, seconds=d))
        for i, d in enumerate(durations)
    ]
    shuffled = list(sessions)
    rnd.shuffle(shuffled)
    period = BillPeriod(date(2026, 5, 1), date(2026, 6, 1), ZoneInfo("UTC"))
    assert rate(t, period, Usage(sessions=sessions)) == rate(t, period, Usage(sessions=shuffled))


@settings(max_examples=30, deadline=None)
@given(year_slices(), st.randoms(use_true_random=False), RATES, RATES)
def test_the_order_in_which_readings_arrive_does_not_change_the_bill(
    data: tuple[str, date, int, list[Decimal]], rnd: random.Random, off: Decimal, peak: Decimal
) -> None:
    zone_name, start, days, values = data
    tz = ZoneInfo(zone_name)
    first = datetime(start.year, start.month, start.day, tzinfo=tz)
    # Aware datetime + timedelta is wall-clock arithmetic: step in UTC so DST days have 23 or 25 rows.
    first_utc = first.astimezone(ZoneInfo("UTC"))
    rows = [
        f"{(first_utc + timedelta(hours=i)).astimezone(tz).isoformat()},{v}" for i, v in enumerate(values)
    ]
    shuffled = list(rows)
    rnd.shuffle(shuffled)
    t = tou_tariff(off, peak, Decimal("5"), Decimal("19"), Decimal("0"))
    period = BillPeriod(start, start + timedelta(days=days), tz)
    in_order = read_interval_csv(["start,value", *rows], tz, "kWh", "in-order.csv")
    out_of_order = read_interval_csv(["start,value", *shuffled], tz, "kWh", "shuffled.csv")
    assert rate(t, period, Usage(series=in_order)) == rate(t, period, Usage(series=out_of_order))
