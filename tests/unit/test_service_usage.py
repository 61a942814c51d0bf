"""A meter's validated usage in buckets of its site's local calendar, with quality counts."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from meterbill.domain import Meter, Site
from meterbill.errors import InvalidInputError, NotFoundError
from meterbill.ports import RawReading
from meterbill.services import catalog as catalog_service
from meterbill.services.usage import QualityCounts, UsageBucket, meter_usage
from tests.builders import BERLIN, UTC
from tests.fakes import FakeCatalogStore, FakeReadingStore

A, B = "acc-a", "acc-b"
D = Decimal
HOUR = timedelta(hours=1)


@pytest.fixture
def catalog() -> FakeCatalogStore:
    """Account A: site berlin (Europe/Berlin), the hourly interval meter m1 and the quarter-hourly q1."""
    store = FakeCatalogStore()
    catalog_service.create(A, Site, {"id": "berlin", "name": "Plant", "timezone": "Europe/Berlin"}, store)
    meter = {"id": "m1", "site_id": "berlin", "utility": "electricity", "unit": "kWh", "kind": "main"}
    catalog_service.create(A, Meter, {**meter, "interval_minutes": 60}, store)
    catalog_service.create(A, Meter, {**meter, "id": "q1", "interval_minutes": 15}, store)
    return store


def hourly(readings: FakeReadingStore, start: datetime, end: datetime, value: str, *, skip: int = 0) -> None:
    """Hourly interval readings of ``value`` from ``start`` to ``end`` (absolute hours), but for the ``skip``
    hours from the middle on."""
    hours = int((end - start) / HOUR)
    middle = hours // 2
    readings.put_new(
        A,
        [
            RawReading("m1", (start + i * HOUR).astimezone(UTC), D(value), "interval", 60)
            for i in range(hours)
            if not middle <= i < middle + skip
        ],
    )


def local(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_a_spring_forward_day_has_23_hours(catalog: FakeCatalogStore) -> None:
    readings = FakeReadingStore()
    hourly(readings, local("2026-03-28T00:00+01:00"), local("2026-03-31T00:00+02:00"), "1.5")
    report = meter_usage(A, "m1", date(2026, 3, 28), date(2026, 3, 31), "day", catalog, readings)
    assert report.buckets == [
        UsageBucket(
            local("2026-03-28T00:00+01:00"), local("2026-03-29T00:00+01:00"), D("36.0"), QualityCounts(24)
        ),
        UsageBucket(
            local("2026-03-29T00:00+01:00"), local("2026-03-30T00:00+02:00"), D("34.5"), QualityCounts(23)
        ),
        UsageBucket(
            local("2026-03-30T00:00+02:00"), local("2026-03-31T00:00+02:00"), D("36.0"), QualityCounts(24)
        ),
    ]
    assert (report.total, report.estimated, report.qualities) == (D("106.5"), D(0), QualityCounts(actual=71))
    assert (report.unit, report.timezone, report.interval_minutes) == ("kWh", "Europe/Berlin", 60)
    assert (report.start, report.end) == (local("2026-03-28T00:00+01:00"), local("2026-03-31T00:00+02:00"))


def test_hours_follow_the_local_clock_and_the_hour_repeated_in_autumn_is_two_buckets(
    catalog: FakeCatalogStore,
) -> None:
    readings = FakeReadingStore()
    hourly(readings, local("2026-10-25T00:00+02:00"), local("2026-10-26T00:00+01:00"), "1")
    report = meter_usage(A, "m1", date(2026, 10, 25), date(2026, 10, 26), "hour", catalog, readings)
    starts = [bucket.start.isoformat() for bucket in report.buckets]
    assert len(starts) == 25
    assert starts[:5] == [
        "2026-10-25T00:00:00+02:00",
        "2026-10-25T01:00:00+02:00",
        "2026-10-25T02:00:00+02:00",
        "2026-10-25T02:00:00+01:00",
        "2026-10-25T03:00:00+01:00",
    ]
    assert {bucket.total for bucket in report.buckets} == {D(1)}
    assert report.total == D(25)


def test_days_count_their_intervals_by_quality(catalog: FakeCatalogStore) -> None:
    readings = FakeReadingStore()
    hourly(readings, local("2026-03-30T00:00+02:00"), local("2026-03-31T00:00+02:00"), "1.5", skip=2)
    report = meter_usage(A, "m1", date(2026, 3, 30), date(2026, 3, 31), "day", catalog, readings)
    (day,) = report.buckets
    assert (day.total, day.qualities) == (D("36.0"), QualityCounts(actual=22, estimated=2))
    assert (report.estimated, [event.kind for event in report.events]) == (D("3.0"), ["gap"])


def test_months_run_from_the_first_to_the_first_on_the_local_calendar(catalog: FakeCatalogStore) -> None:
    readings = FakeReadingStore()
    hourly(readings, local("2026-03-30T00:00+02:00"), local("2026-04-02T00:00+02:00"), "2")
    report = meter_usage(A, "m1", date(2026, 3, 30), date(2026, 4, 2), "month", catalog, readings)
    assert [(b.start.isoformat(), b.end.isoformat(), b.total, b.qualities) for b in report.buckets] == [
        ("2026-03-30T00:00:00+02:00", "2026-04-01T00:00:00+02:00", D(96), QualityCounts(actual=48)),
        ("2026-04-01T00:00:00+02:00", "2026-04-02T00:00:00+02:00", D(48), QualityCounts(actual=24)),
    ]


def test_interval_resolution_shows_each_interval_and_hours_without_data_as_missing(
    catalog: FakeCatalogStore,
) -> None:
    readings = FakeReadingStore()
    readings.put_new(A, [RawReading("m1", datetime(2026, 3, 2, 9, tzinfo=UTC), D("0.7"), "interval", 60)])
    report = meter_usage(
        A,
        "m1",
        local("2026-03-02T10:00+01:00"),
        local("2026-03-02T12:00+01:00"),
        "interval",
        catalog,
        readings,
    )
    assert [(b.start.isoformat(), b.total, b.qualities) for b in report.buckets] == [
        ("2026-03-02T10:00:00+01:00", D("0.7"), QualityCounts(actual=1)),
        ("2026-03-02T11:00:00+01:00", D("0"), QualityCounts(missing=1)),
    ]


def test_another_accounts_meter_is_not_found(catalog: FakeCatalogStore) -> None:
    with pytest.raises(NotFoundError, match="meter 'm1' not found"):
        meter_usage(B, "m1", date(2026, 3, 1), date(2026, 3, 2), "day", catalog, FakeReadingStore())


@pytest.mark.parametrize(
    ("start", "end", "resolution", "field", "reason"),
    [
        (
            date(2026, 3, 1),
            date(2026, 3, 2),
            "week",
            "resolution",
            "'week' is not one of: interval, hour, day, month",
        ),
        (
            datetime(2026, 3, 1),
            date(2026, 3, 2),
            "day",
            "from",
            "2026-03-01T00:00:00 has no UTC offset or time zone",
        ),
        (
            date(2026, 3, 2),
            date(2026, 3, 2),
            "day",
            "to",
            "2026-03-02T00:00:00+01:00 is not after from 2026-03-02T00:00:00+01:00",
        ),
        (date(2025, 1, 1), date(2026, 1, 3), "month", "to", "more than 366 days after from"),
        (
            datetime(2026, 3, 1, 0, 30, tzinfo=BERLIN),
            date(2026, 3, 2),
            "hour",
            "to",
            "not a whole number of meter 'm1''s 60-minute intervals",
        ),
        (
            date(2026, 1, 1),
            date(2026, 5, 1),
            "interval",
            "to",
            "more than 10000 intervals; choose a coarser resolution",
        ),
    ],
)
def test_a_request_the_service_cannot_answer_names_the_field(
    catalog: FakeCatalogStore, start: date, end: date, resolution: str, field: str, reason: str
) -> None:
    with pytest.raises(InvalidInputError) as err:
        meter_id = "q1" if resolution == "interval" else "m1"
        meter_usage(A, meter_id, start, end, resolution, catalog, FakeReadingStore())
    assert (err.value.field, err.value.reason) == (field, reason)
