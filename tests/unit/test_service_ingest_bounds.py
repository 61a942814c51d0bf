"""Issue 8, items 13 and 14: what validation would ignore is rejected on the way in, not reported
accepted (an interval reading off its meter's grid), and a value that cannot be stored (a timestamp before
2000 or beyond the calendar, a huge or non-finite number) is that item's rejection while the valid items are
stored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from meterbill.domain import Meter, Site
from meterbill.ports import RawReading
from meterbill.services import catalog as catalog_service
from meterbill.services.ingest import IngestReport, ReadingIn, Rejection, store_readings
from tests.fakes import FakeCatalogStore, FakeReadingStore

A = "acc-a"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
D = Decimal


@pytest.fixture
def catalog() -> FakeCatalogStore:
    """Site berlin: 15-minute meter m15, register meter r1; site kolkata (+05:30): hourly meter m60."""
    store = FakeCatalogStore()
    for site, zone in (("berlin", "Europe/Berlin"), ("kolkata", "Asia/Kolkata")):
        catalog_service.create(A, Site, {"id": site, "name": "Plant", "timezone": zone}, store)
    for meter_id, site, minutes in (("m15", "berlin", 15), ("r1", "berlin", 15), ("m60", "kolkata", 60)):
        body = {
            "id": meter_id,
            "site_id": site,
            "utility": "electricity",
            "unit": "kWh",
            "kind": "main",
            "interval_minutes": minutes,
        }
        catalog_service.create(A, Meter, body, store)
    return store


@pytest.fixture
def readings() -> FakeReadingStore:
    return FakeReadingStore()


def interval(at: str, value: Any = "1", meter: str = "m15", minutes: int = 15) -> ReadingIn:
    return ReadingIn(meter, datetime.fromisoformat(at), D(value), "interval", minutes)


def ingest(catalog: FakeCatalogStore, readings: FakeReadingStore, *items: ReadingIn) -> IngestReport:
    return store_readings(A, items, catalog, readings, NOW)


def test_a_15_minute_reading_stamped_00_07_is_rejected_naming_the_grid_not_accepted(
    catalog: FakeCatalogStore, readings: FakeReadingStore
) -> None:
    report = ingest(
        catalog,
        readings,
        interval("2026-03-01T00:07+01:00"),
        interval("2026-03-01T00:15:30+01:00"),
        interval("2026-03-01T00:30+01:00"),
    )

    grid = (
        "is not on meter 'm15''s 15-minute grid: an interval starts a whole number of 15 minutes after "
        "midnight on UTC or any site's clock, with no seconds"
    )
    assert report == IngestReport(
        accepted=1,
        duplicates=0,
        rejected=[
            Rejection(0, "m15", "timestamp", f"2026-03-01T00:07:00+01:00 {grid}"),
            Rejection(1, "m15", "timestamp", f"2026-03-01T00:15:30+01:00 {grid}"),
        ],
        rejected_count=2,
    )
    assert [r.timestamp for r in readings.items[A]] == [datetime(2026, 2, 28, 23, 30, tzinfo=UTC)]


def test_an_hourly_grid_is_the_sites_clock_where_it_is_not_utcs(
    catalog: FakeCatalogStore, readings: FakeReadingStore
) -> None:
    report = ingest(
        catalog,
        readings,
        interval("2026-03-01T01:00+05:30", meter="m60", minutes=60),  # 19:30 UTC: a Kolkata hour
        interval("2026-03-01T01:00Z", meter="m60", minutes=60),  # 06:30 in Kolkata
    )

    assert (report.accepted, report.rejected) == (
        1,
        [
            Rejection(
                1,
                "m60",
                "timestamp",
                "2026-03-01T01:00:00+00:00 is not on meter 'm60''s 60-minute grid: an interval starts a "
                "whole number of 60 minutes after midnight on the site's clock (Asia/Kolkata), with no "
                "seconds",
            )
        ],
    )


def test_register_reads_may_be_taken_at_any_instant(
    catalog: FakeCatalogStore, readings: FakeReadingStore
) -> None:
    at = datetime(2026, 3, 1, 0, 7, 13, 250000, tzinfo=UTC)
    report = ingest(catalog, readings, ReadingIn("r1", at, D("123.4"), "register"))

    assert (report.accepted, report.rejected_count) == (1, 0)
    assert readings.items[A] == [RawReading("r1", at, D("123.4"), "register", None, "A")]


def test_a_timestamp_at_the_calendars_start_is_its_items_rejection_and_the_valid_items_are_stored(
    catalog: FakeCatalogStore, readings: FakeReadingStore
) -> None:
    report = ingest(
        catalog,
        readings,
        interval("2026-03-01T10:00Z", "1.5"),
        interval("0001-01-01T00:00:00+14:00"),  # no UTC equivalent a datetime can hold
        interval("1999-12-31T23:45Z"),
        interval("2000-01-01T00:00Z", "2"),  # the earliest accepted
        interval("9999-12-31T23:45-14:00"),
        interval("2026-03-01T10:15Z", "2.5"),
    )

    assert report.rejected == [
        Rejection(
            1,
            "m15",
            "timestamp",
            "0001-01-01T00:00:00+14:00 is before 2000-01-01T00:00:00+00:00, the earliest reading",
        ),
        Rejection(
            2,
            "m15",
            "timestamp",
            "1999-12-31T23:45:00+00:00 is before 2000-01-01T00:00:00+00:00, the earliest reading",
        ),
        Rejection(
            4,
            "m15",
            "timestamp",
            "9999-12-31T23:45:00-14:00 is in the future: more than 0:05:00 ahead of the server's clock "
            "(2026-03-01T12:00:00+00:00)",
        ),
    ]
    assert [(r.timestamp.isoformat(), r.value) for r in readings.items[A]] == [
        ("2026-03-01T10:00:00+00:00", D("1.5")),
        ("2000-01-01T00:00:00+00:00", D("2")),
        ("2026-03-01T10:15:00+00:00", D("2.5")),
    ]


def test_huge_and_non_finite_values_are_their_items_rejection_with_the_value_cut_short(
    catalog: FakeCatalogStore, readings: FakeReadingStore
) -> None:
    report = ingest(
        catalog,
        readings,
        interval("2026-03-01T10:00Z", "1" * 5000),
        interval("2026-03-01T10:00Z", "1E+400"),
        interval("2026-03-01T10:00Z", "sNaN"),
        interval("2026-03-01T10:00Z", "1E-400"),
        interval("2026-03-01T10:15Z", "0.5"),
    )

    assert report.rejected == [
        Rejection(0, "m15", "value", f"{'1' * 37}... is too large (the limit is 10^15)"),
        Rejection(1, "m15", "value", "1E+400 is too large (the limit is 10^15)"),
        Rejection(2, "m15", "value", "sNaN is not a finite number"),
        Rejection(3, "m15", "value", "1E-400 has more than 9 decimal places"),
    ]
    assert (report.accepted, [r.value for r in readings.items[A]]) == (1, [D("0.5")])


def test_a_long_meter_id_or_quality_is_cut_short_in_the_reason(
    catalog: FakeCatalogStore, readings: FakeReadingStore
) -> None:
    at = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
    report = ingest(
        catalog,
        readings,
        ReadingIn("m" * 100_000, at, D(1), "interval", 15),
        ReadingIn("m15", at, D(1), "interval", 15, "Q" * 100_000),
    )

    assert [(r.field, r.reason) for r in report.rejected] == [
        ("meter_id", f"no meter '{'m' * 36}..."),
        ("quality", f"'{'Q' * 36}... is not a quality flag (A, E, S, F or N)"),
    ]


def test_the_bounds_are_checked_against_the_now_passed_in(
    catalog: FakeCatalogStore, readings: FakeReadingStore
) -> None:
    at = "2026-03-01T12:15Z"
    later = NOW + timedelta(minutes=10)

    assert store_readings(A, [interval(at)], catalog, readings, NOW).rejected_count == 1
    assert store_readings(A, [interval(at)], catalog, readings, later).accepted == 1
