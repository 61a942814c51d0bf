"""A bill preview of a shared meter: each customer's part of the usage, and all of the missing data."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from meterbill.billing.allocation import AllocationError, share_of_series
from meterbill.domain import Assignment, Customer, Meter, Site
from meterbill.errors import InvalidInputError
from meterbill.ports import RawReading
from meterbill.services import catalog as catalog_service
from meterbill.services.preview import bill_preview
from meterbill.usage import IntervalSeries
from tests.builders import UTC
from tests.fakes import FakeCatalogStore, FakeReadingStore

A = "acc-a"
D = Decimal
FLAT = {
    "id": "flat",
    "name": "Flat",
    "currency": "EUR",
    "effective_from": "2026-01-01",
    "energy": {"periods": [{"name": "all", "tiers": [{"rate": "0.30"}]}]},
}


def shared_meter(*shares: str) -> FakeCatalogStore:
    """Site berlin, hourly meter m1, one customer per share (c0, c1, ...) from 2026-01-01."""
    store = FakeCatalogStore()
    catalog_service.create(A, Site, {"id": "berlin", "name": "Plant", "timezone": "Europe/Berlin"}, store)
    meter = {"id": "m1", "site_id": "berlin", "utility": "electricity", "unit": "kWh", "kind": "main"}
    catalog_service.create(A, Meter, {**meter, "interval_minutes": 60}, store)
    catalog_service.create_tariff(A, FLAT, store)
    for i, share in enumerate(shares):
        catalog_service.create(A, Customer, {"id": f"c{i}", "name": f"C{i}"}, store)
        assignment = {
            "id": f"as-c{i}",
            "meter_id": "m1",
            "customer_id": f"c{i}",
            "tariff_id": "flat",
            "share": share,
            "effective_from": "2026-01-01",
        }
        catalog_service.create(A, Assignment, assignment, store)
    return store


@pytest.fixture
def first_six_hours() -> FakeReadingStore:
    """1.5 kWh in each of the first 6 hours of 2026-03-01 in Berlin, nothing after."""
    store = FakeReadingStore()
    start = datetime(2026, 2, 28, 23, tzinfo=UTC)  # 2026-03-01 00:00 in Berlin
    store.put_new(
        A, [RawReading("m1", start + i * timedelta(hours=1), D("1.5"), "interval", 60) for i in range(6)]
    )
    return store


@pytest.mark.parametrize("share", ["1", "0.5", "0.25", "0.333"])
def test_a_shared_assignments_bill_counts_every_missing_interval(
    first_six_hours: FakeReadingStore, share: str
) -> None:
    catalog = shared_meter(share)

    (preview,) = bill_preview(A, "c0", date(2026, 3, 1), date(2026, 3, 2), catalog, first_six_hours)

    assert preview.share == D(share)
    assert (preview.bill.usage.total, preview.bill.usage.missing_intervals) == (
        6 * D("1.5") * D(share),
        24 - 6,
    )


def test_both_halves_of_a_shared_meter_see_the_same_gap(first_six_hours: FakeReadingStore) -> None:
    catalog = shared_meter("0.5", "0.5")

    halves = [
        bill_preview(A, customer, date(2026, 3, 1), date(2026, 3, 2), catalog, first_six_hours)[0].bill.usage
        for customer in ("c0", "c1")
    ]

    assert [(u.total, u.missing_intervals) for u in halves] == [
        (6 * D("1.5") / 2, 18),
        (6 * D("1.5") / 2, 18),
    ]


def test_a_share_of_a_series_keeps_its_estimated_and_missing_intervals() -> None:
    series = IntervalSeries(
        start=datetime(2026, 3, 1, tzinfo=UTC),
        interval_minutes=60,
        values=[1500, 2000, 0, 0],
        exponent=-3,
        unit="kWh",
        estimated=frozenset({1}),
        missing=frozenset({2, 3}),
    )

    part = share_of_series(series, D("0.25"))

    assert (part.values, part.exponent, part.estimated, part.missing) == (
        [1500 * 25, 2000 * 25, 0, 0],
        -3 - 2,
        frozenset({1}),
        frozenset({2, 3}),
    )
    assert part.total() == (D("1.5") + D("2.0")) * D("0.25")


@pytest.mark.parametrize("share", ["0", "1.5", "-0.5", "NaN"])
def test_a_share_outside_zero_to_one_is_refused(share: str) -> None:
    series = IntervalSeries(datetime(2026, 3, 1, tzinfo=UTC), 60, [1], 0, "kWh")

    with pytest.raises(AllocationError, match="share: must be in"):
        share_of_series(series, D(share))


def test_shares_stored_over_one_before_the_rule_name_the_assignments_share(
    first_six_hours: FakeReadingStore,
) -> None:
    catalog = shared_meter("0.6")
    older = {"id": "as-c9", "account_id": A, "meter_id": "m1", "customer_id": "c0", "tariff_id": "flat"}
    catalog.create(A, "assignment", "as-c9", {**older, "share": "0.6", "effective_from": "2026-01-01"})

    with pytest.raises(InvalidInputError) as err:
        bill_preview(A, "c0", date(2026, 3, 1), date(2026, 3, 2), catalog, first_six_hours)

    assert (err.value.field, err.value.reason) == (
        "assignment.share",
        "meter 'm1': assignments 'as-c0', 'as-c9' overlap from 2026-03-01 with total share 1.2 > 1",
    )
