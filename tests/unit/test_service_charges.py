"""A customer's charges by wall-clock hour, and the sessions behind a compute customer's package lines
(``services.charges``), on the fakes. Money is written as the arithmetic that produced it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from meterbill.errors import InvalidInputError
from meterbill.services import catalog as catalog_service
from meterbill.services.charges import customer_charges, customer_sessions
from meterbill.services.preview import bill_preview
from tests.fakes import FakeStores
from tests.unit.charges_support import FARE, UNIT_RATE, add_grid_customer, intervals
from tests.unit.invoicing_support import A, add_customer, add_meter, add_site, assign, new_account

D = Decimal
OFFPEAK, PEAK = D("0.2345"), D("0.40")


def tou_tariff() -> dict[str, Any]:
    """Peak 08:00-20:00 every day at 0.40, off-peak 0.2345, a fixed 1.00 a day and 19 % VAT on all."""
    row = [0] * 8 + [1] * 12 + [0] * 4
    return {
        "id": "tou",
        "name": "TOU",
        "currency": "EUR",
        "effective_from": "2025-01-01",
        "fixed": [{"description": "Daily charge", "amount": "1.00", "per": "day"}],
        "energy": {
            "periods": [
                {"name": "offpeak", "tiers": [{"rate": str(OFFPEAK)}]},
                {"name": "peak", "tiers": [{"rate": str(PEAK)}]},
            ],
            "time_of_use": {"weekday_schedule": [row] * 12, "weekend_schedule": [row] * 12},
        },
        "taxes": [{"name": "VAT", "percent": "19"}],
    }


@pytest.fixture
def berlin() -> FakeStores:
    """c-tou on m-tou (Berlin, hourly, 1 kWh every hour of 29 March 2026, the day clocks go forward)."""
    stores = FakeStores.empty()
    new_account(stores)
    add_site(stores)
    catalog_service.create_tariff(A, tou_tariff(), stores.catalog)
    add_meter(stores, "m-tou")
    add_customer(stores, "c-tou")
    assign(stores, "c-tou", "m-tou", "tou", date(2026, 3, 1))
    midnight = datetime(2026, 3, 28, 23, tzinfo=UTC)  # 29 March 00:00 CET
    stores.readings.put_new(A, intervals("m-tou", midnight, ["1"] * 23, 60))
    return stores


def hourly_day(stores: FakeStores, customer: str, day: date) -> Any:
    report = customer_charges(
        A, customer, day, day + timedelta(days=1), "hour", stores.catalog, stores.readings, None
    )
    assert report.resolution == "hour" and len(report.hourly) == 1
    return report.hourly[0]


def test_the_hours_of_a_spring_forward_day_are_23_and_add_up_to_the_day(berlin):
    day = hourly_day(berlin, "c-tou", date(2026, 3, 29))

    assert [h.hour for h in day.hours] == [0, 1, *range(3, 24)]
    assert [h.start.isoformat() for h in day.hours[1:3]] == [
        "2026-03-29T01:00:00+01:00",
        "2026-03-29T03:00:00+02:00",
    ]
    assert day.hours[-1].end.isoformat() == "2026-03-30T00:00:00+02:00"
    # Off-peak: 11 hours of 1 kWh at 0.2345 = 2.5795, billed 2.58: each hour's exact 0.2345 rounds down to
    # 0.23 and the 5 cents left go to the first 5 off-peak hours (equal remainders: the earlier first).
    offpeak_line = (11 * OFFPEAK).quantize(D("0.01"))
    assert offpeak_line == D("2.58")
    amounts = {h.hour: h.amount for h in day.hours}
    assert [amounts[h] for h in (0, 1, 3, 4, 5, 6, 7, 20, 21, 22, 23)] == [D("0.24")] * 5 + [D("0.23")] * 6
    assert [amounts[h] for h in range(8, 20)] == [1 * PEAK] * 12
    # The fixed charge and the tax are charges of the whole day: not invented per hour.
    subtotal = offpeak_line + 12 * PEAK + D("1.00")
    tax = (subtotal * D("0.19")).quantize(D("0.01"))
    assert day.unallocated == (("fixed", D("1.00")), ("tax", tax))
    assert (day.day.subtotal, day.day.taxes, day.day.total) == (subtotal, tax, subtotal + tax)
    assert subtotal + tax == D("2.58") + D("4.80") + D("1.00") + D("1.59") == D("9.97")
    assert sum(h.amount for h in day.hours) + D("1.00") + tax == day.day.total


def test_the_hourly_days_are_the_days_of_resolution_day(berlin):
    first, stop = date(2026, 3, 28), date(2026, 3, 31)
    by_hour = customer_charges(A, "c-tou", first, stop, "hour", berlin.catalog, berlin.readings, None)
    by_day = customer_charges(A, "c-tou", first, stop, "day", berlin.catalog, berlin.readings, None)

    assert by_hour.buckets == by_day.buckets and by_hour.total == by_day.total
    assert [len(h.hours) for h in by_hour.hourly] == [24, 23, 24]
    # 28 and 30 March have no readings: the energy lines are 0, the day still pays its fixed charge + VAT.
    assert [sum(h.amount for h in d.hours) for d in by_hour.hourly] == [0, D("2.58") + D("4.80"), 0]
    assert by_hour.hourly[0].unallocated == (("fixed", D("1.00")), ("tax", D("0.19")))


def test_hour_resolution_is_refused_beyond_31_days_naming_to(berlin):
    with pytest.raises(InvalidInputError) as err:
        customer_charges(
            A, "c-tou", date(2026, 3, 1), date(2026, 4, 2), "hour", berlin.catalog, berlin.readings, None
        )

    assert (err.value.field, err.value.reason) == ("to", "more than 31 days after from at resolution hour")


def test_lord_howe_hours_follow_the_half_hour_shift_and_add_up_to_the_day():
    """5 April 2026, Lord Howe: at 02:00 (+11) the clock goes back to 01:30 (+10:30); the day lasts 24.5 h."""
    stores = FakeStores.empty()
    new_account(stores)
    add_site(stores, "lhi", "Australia/Lord_Howe")
    flat = {
        "id": "flat",
        "name": "Flat",
        "currency": "AUD",
        "effective_from": "2025-01-01",
        "energy": {"periods": [{"name": "all", "tiers": [{"rate": "0.3333"}]}]},
    }
    catalog_service.create_tariff(A, flat, stores.catalog)
    add_meter(stores, "m-lhi", site_id="lhi", interval_minutes=30)
    add_customer(stores, "c-lhi")
    assign(stores, "c-lhi", "m-lhi", "flat", date(2026, 4, 1))
    midnight = datetime(2026, 4, 4, 13, tzinfo=UTC)  # 5 April 00:00 +11:00
    stores.readings.put_new(A, intervals("m-lhi", midnight, ["0.5"] * 49, 30))

    day = hourly_day(stores, "c-lhi", date(2026, 4, 5))

    minutes = [(h.hour, h.minutes) for h in day.hours]
    assert minutes[:4] == [(0, 60), (1, 60), (1, 30), (2, 60)]
    assert len(minutes) == 25 and sum(m for _, m in minutes) == 24 * 60 + 30
    # 49 half hours of 0.5 kWh = 24.5 kWh at 0.3333 = 8.16585, billed 8.17; a whole hour is 1 kWh = 0.3333
    # and rounds down to 0.33, the 30-minute hour's 0.16665 to 0.16; the 6 cents left go to the hours with
    # the largest remainders: the 30-minute hour (0.00665), then the first 5 whole hours (0.0033 each).
    assert day.day.total == (49 * D("0.5") * D("0.3333")).quantize(D("0.01")) == D("8.17")
    assert [h.amount for h in day.hours[:4]] == [D("0.34"), D("0.34"), D("0.17"), D("0.34")]
    assert sum(h.amount for h in day.hours) == day.day.total and day.unallocated == ()


# --- compute sessions (XtremWeb-HEP) -----------------------------------------------------------------------


@pytest.fixture
def compute() -> FakeStores:
    stores = FakeStores.empty()
    new_account(stores)
    add_site(stores)
    add_grid_customer(stores)
    return stores


JOB_8 = FARE + 3 * UNIT_RATE  # 2,700 s: 900 s beyond the threshold = 3 started units of 300 s
JOB_10 = FARE  # 600 s: within the threshold
JOB_14 = FARE + 2 * UNIT_RATE  # 2,220 s: 420 s beyond = 2 started units


def test_the_package_line_bills_each_run_of_busy_intervals_as_a_session(compute):
    bills = bill_preview(A, "c-grid", date(2026, 1, 1), date(2026, 2, 1), compute.catalog, compute.readings)

    (line,) = bills[0].bill.lines
    assert line.component == "package" and line.quantity == 3
    # 3 sessions x 0.01 + 5 started units x 0.0089 = 0.0745, rounded half up to 0.07
    assert (
        line.amount
        == (3 * FARE + 5 * UNIT_RATE).quantize(D("0.01"))
        == (JOB_8 + JOB_10 + JOB_14).quantize(D("0.01"))
    )


def test_the_sessions_above_the_threshold_with_their_node_duration_units_and_amount(compute):
    page = customer_sessions(
        A, "c-grid", date(2026, 1, 10), date(2026, 1, 11), compute.catalog, compute.readings
    )

    assert page.cursor is None
    assert [
        (s.meter_id, s.start.isoformat(), s.end.isoformat(), s.seconds, s.units, s.amount) for s in page.items
    ] == [
        ("node-1", "2026-01-10T08:00:00+01:00", "2026-01-10T08:45:00+01:00", 2700, 3, JOB_8),
        ("node-1", "2026-01-10T14:00:00+01:00", "2026-01-10T14:37:00+01:00", 2220, 2, JOB_14),
    ]
    assert page.items[0].session_id == "node-1@2026-01-10T07:00:00+00:00"
    assert (page.items[0].threshold_seconds, page.items[0].unit_seconds, page.items[0].currency) == (
        D(1800),
        D(300),
        "EUR",
    )


def test_all_sessions_include_those_within_the_threshold_and_page_by_cursor(compute):
    def sessions(**options: Any) -> Any:
        return customer_sessions(
            A,
            "c-grid",
            date(2026, 1, 1),
            date(2026, 2, 1),
            compute.catalog,
            compute.readings,
            above_threshold=False,
            **options,
        )

    first = sessions(limit=2)
    rest = sessions(limit=2, cursor=first.cursor)

    assert [(s.seconds, s.amount) for s in first.items] == [(2700, JOB_8), (600, JOB_10)]
    assert [(s.seconds, s.amount) for s in rest.items] == [(2220, JOB_14)] and rest.cursor is None
    with pytest.raises(InvalidInputError) as err:
        sessions(cursor="bm90LW91cnM")
    assert err.value.field == "cursor"


def test_the_hours_of_a_compute_day_carry_the_sessions_that_start_in_them(compute):
    day = hourly_day(compute, "c-grid", date(2026, 1, 10))

    amounts = {h.hour: h.amount for h in day.hours if h.amount}
    # 0.07 spread as 0.0367 : 0.0100 : 0.0278 -> exactly 0.0345, 0.0094, 0.0261: rounded down 0.03, 0.00,
    # 0.02 and the 2 cents left to the largest remainders (0.0094, 0.0061): 0.03, 0.01, 0.03.
    assert amounts == {8: D("0.03"), 10: D("0.01"), 14: D("0.03")}
    assert sum(amounts.values()) == day.day.total == D("0.07") and day.unallocated == ()
