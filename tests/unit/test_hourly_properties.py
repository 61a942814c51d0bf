"""Properties of a day's bill taken apart by hour (``tariffs.hourly``): on any day of any zone, whatever the
usage and the rates, the hours carry the energy lines to the cent and the hours plus ``unallocated`` are the
bill."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from meterbill.tariffs.engine import rate
from meterbill.tariffs.hourly import split_by_hour
from meterbill.tariffs.model import Tariff
from meterbill.tariffs.timeline import BillPeriod
from meterbill.timeutil import local_midnight
from meterbill.usage import IntervalSeries, Usage

DAYS = [
    ("Europe/Berlin", date(2026, 3, 29), 23 * 60),
    ("Europe/Berlin", date(2026, 10, 25), 25 * 60),
    ("Europe/Berlin", date(2026, 6, 10), 24 * 60),
    ("Australia/Lord_Howe", date(2026, 4, 5), 24 * 60 + 30),
    ("Australia/Lord_Howe", date(2026, 10, 4), 23 * 60 + 30),
    ("America/New_York", date(2026, 3, 8), 23 * 60),
]
rates = st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("2"), places=4)


@settings(max_examples=60, deadline=None)
@given(
    day=st.sampled_from(DAYS),
    row=st.lists(st.integers(0, 2), min_size=24, max_size=24),
    period_rates=st.lists(rates, min_size=3, max_size=3),
    tier_size=st.integers(1, 50),
    values=st.lists(st.integers(0, 5000), min_size=100, max_size=100),
)
def test_the_hours_and_unallocated_add_up_to_the_bill(day, row, period_rates, tier_size, values):
    zone_name, first, minutes = day
    tz = ZoneInfo(zone_name)
    period = BillPeriod(first, first + timedelta(days=1), tz)
    tariff = Tariff.model_validate(
        {
            "id": "t",
            "name": "t",
            "currency": "EUR",
            "fixed": [{"description": "Daily", "amount": "0.50", "per": "day"}],
            "energy": {
                "periods": [
                    {
                        "name": f"p{p}",
                        "tiers": [{"rate": str(r), "size": tier_size}, {"rate": str(r * 2)}],
                    }
                    for p, r in enumerate(period_rates)
                ],
                "time_of_use": {"weekday_schedule": [row] * 12, "weekend_schedule": [row] * 12},
            },
            "taxes": [{"name": "VAT", "percent": "19"}],
        }
    )
    count = minutes // 15
    series = IntervalSeries(local_midnight(first, tz), 15, (values * 2)[:count], -3, "kWh")
    bill = rate(tariff, period, Usage(series=series))

    split = split_by_hour(bill, tariff, period, Usage(series=series))

    assert sum(h.end - h.start for h in split.hours) == minutes * 60
    energy = sum(line.amount for line in bill.lines if line.component == "energy")
    assert sum(split.amounts) == energy
    assert all(a == a.quantize(Decimal("0.01")) for a in split.amounts)
    assert sum(split.amounts) + sum(a for _, a in split.unallocated) == bill.total
