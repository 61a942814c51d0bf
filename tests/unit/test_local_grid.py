"""An interval meter's grid on a site whose clocks change by part of an interval (``meterdata.local_grid``).

On Lord Howe Island (+11:00 in summer, +10:30 in winter) an hourly meter records whole local hours: the hour
in which the clocks go back (2026-04-05, 02:00 +11:00 -> 01:30 +10:30) lasts 90 minutes, the hour they
spring forward into (2026-10-04, 02:00 +10:30 = 02:30 +11:00) 30 minutes. Ingest accepts exactly those hours'
starts; validation spreads each over the 30-minute grid, so no interval is refused or nulled and the days of
the change hold 24.5 and 23.5 hours of data. The meters here run at 1 kW: each hour's value is its length
in hours (1.5 kWh for the long hour, 0.5 kWh for the short one).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from meterbill.domain import Assignment, Customer, Meter, Site
from meterbill.meterdata.local_grid import grid_minutes, interval_end, is_interval_start, spread_onto_grid
from meterbill.meterdata.metering import RawReadings, validate_meter
from meterbill.meterdata.readings import IntervalReading
from meterbill.meterdata.rollups import rated_days
from meterbill.metersettings import MeterSettings
from meterbill.ports import AccountRecord, RatingStores
from meterbill.services import catalog as catalog_service
from meterbill.services.ingest import ReadingIn, Rejection, store_readings
from meterbill.services.metering import validated_intervals
from meterbill.services.preview import bill_preview
from meterbill.services.rating import rating_pass
from meterbill.services.usage import meter_usage
from tests.fakes import (
    FakeAccountStore,
    FakeCatalogStore,
    FakeInvoiceStore,
    FakeMeteringStore,
    FakeReadingStore,
)

A = "acc-a"
D = Decimal
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")
KATHMANDU = ZoneInfo("Asia/Kathmandu")
BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2027, 1, 1, tzinfo=UTC)
HALF_HOUR = timedelta(minutes=30)


def site_catalog(zone: ZoneInfo) -> FakeCatalogStore:
    """A site in ``zone``; kWh meters h60 (hourly), h30 (half-hourly); customer c1 on h60 at 0.30 AUD/kWh."""
    store = FakeCatalogStore()
    catalog_service.create(A, Site, {"id": "s", "name": "Island", "timezone": zone.key}, store)
    meter = {"site_id": "s", "utility": "electricity", "unit": "kWh", "kind": "main"}
    catalog_service.create(A, Meter, {**meter, "id": "h60", "interval_minutes": 60}, store)
    catalog_service.create(A, Meter, {**meter, "id": "h30", "interval_minutes": 30}, store)
    tariff = {
        "id": "flat",
        "name": "Flat",
        "currency": "AUD",
        "energy": {"periods": [{"name": "all", "tiers": [{"rate": "0.30"}]}]},
        "effective_from": "2026-01-01",
    }
    catalog_service.create_tariff(A, tariff, store)
    catalog_service.create(A, Customer, {"id": "c1", "name": "C1"}, store)
    assignment = {"id": "as1", "meter_id": "h60", "customer_id": "c1", "tariff_id": "flat"}
    catalog_service.create(A, Assignment, {**assignment, "effective_from": "2026-01-01"}, store)
    return store


def local_intervals(first: date, stop: date, minutes: int, zone: ZoneInfo) -> list[tuple[datetime, datetime]]:
    """[start, end) of every local interval of [first, stop): the instants where the clock's date and interval
    number change (or a repeated wall time starts one again), on a 15-minute grid of absolute time."""
    moment = datetime(first.year, first.month, first.day, tzinfo=zone).astimezone(UTC)
    end = datetime(stop.year, stop.month, stop.day, tzinfo=zone).astimezone(UTC)
    starts: list[datetime] = []
    previous: tuple[date, int] | None = None
    while moment < end:
        wall = moment.astimezone(zone)
        key = (wall.date(), (wall.hour * 60 + wall.minute) // minutes)
        if key != previous or (wall.hour * 60 + wall.minute) % minutes == 0:  # a new one, or an hour again
            starts.append(moment)
        previous = key
        moment += timedelta(minutes=15)
    return list(zip(starts, [*starts[1:], end], strict=True))


def one_kilowatt(first: date, stop: date, meter: str, minutes: int, zone: ZoneInfo) -> list[ReadingIn]:
    """The meter's readings at 1 kW: each local interval's length in hours, in kWh, stamped with the site's
    UTC offset as a collector sends them."""
    return [
        ReadingIn(meter, _as_sent(start, zone), _hours(end - start), "interval", minutes)
        for start, end in local_intervals(first, stop, minutes, zone)
    ]


def _as_sent(moment: datetime, zone: ZoneInfo) -> datetime:
    return datetime.fromisoformat(moment.astimezone(zone).isoformat())  # a fixed offset, as parsed


def _hours(length: timedelta) -> Decimal:
    return D(length // timedelta(minutes=1)) / 60


def ingest(
    catalog: FakeCatalogStore, readings: FakeReadingStore, items: list[ReadingIn]
) -> tuple[int, list[Rejection]]:
    report = store_readings(A, items, catalog, readings, NOW)
    return report.accepted, report.rejected


# --- the hourly meter on Lord Howe Island -------------------------------------------------------------------


def test_lord_howe_hourly_april_validates_every_local_hour_and_the_day_clocks_go_back_has_24_5_hours() -> (
    None
):
    catalog, readings = site_catalog(LORD_HOWE), FakeReadingStore()
    items = one_kilowatt(date(2026, 4, 1), date(2026, 5, 1), "h60", 60, LORD_HOWE)
    long_hour = [i for i in items if i.value == D("1.5")]
    assert [i.timestamp.isoformat() for i in long_hour] == ["2026-04-05T01:00:00+11:00"]
    assert ingest(catalog, readings, items) == (30 * 24, [])  # every local hour, none refused

    usage = meter_usage(A, "h60", date(2026, 4, 1), date(2026, 5, 1), "day", catalog, readings)

    assert usage.interval_minutes == 30  # validated on the 30-minute grid every local hour lies on
    assert usage.qualities.actual == 30 * 48 + 1  # 720.5 hours of half hours, all actual: none nulled
    assert (usage.qualities.missing, usage.estimated) == (0, D(0))
    assert usage.total == 30 * 24 * D(1) + D("0.5")
    days = {bucket.start.date(): bucket for bucket in usage.buckets}
    assert len(days) == 30
    change = days[date(2026, 4, 5)]
    assert (change.start, change.end) == (
        datetime(2026, 4, 5, tzinfo=LORD_HOWE),
        datetime(2026, 4, 6, tzinfo=LORD_HOWE),
    )
    assert change.end.astimezone(UTC) - change.start.astimezone(UTC) == timedelta(hours=24, minutes=30)
    assert (change.total, change.qualities.actual) == (D("24.5"), 49)
    assert {b.total for d, b in days.items() if d != date(2026, 4, 5)} == {D(24)}


def test_lord_howe_hourly_october_validates_every_local_hour_and_the_day_clocks_spring_has_23_5_hours() -> (
    None
):
    catalog, readings = site_catalog(LORD_HOWE), FakeReadingStore()
    items = one_kilowatt(date(2026, 10, 1), date(2026, 11, 1), "h60", 60, LORD_HOWE)
    short_hour = [i for i in items if i.value == D("0.5")]
    assert [i.timestamp.isoformat() for i in short_hour] == ["2026-10-04T02:30:00+11:00"]  # = 02:00 +10:30
    assert ingest(catalog, readings, items) == (31 * 24, [])  # rejected as off the grid before

    usage = meter_usage(A, "h60", date(2026, 10, 1), date(2026, 11, 1), "day", catalog, readings)

    assert usage.qualities.actual == 31 * 48 - 1  # 743.5 hours of half hours
    assert (usage.qualities.missing, usage.estimated) == (0, D(0))
    assert usage.total == 31 * 24 * D(1) - D("0.5")
    change = next(b for b in usage.buckets if b.start.date() == date(2026, 10, 4))
    assert (change.total, change.qualities.actual) == (D("23.5"), 47)
    hours = meter_usage(A, "h60", date(2026, 10, 4), date(2026, 10, 5), "hour", catalog, readings).buckets
    assert [(h.start.strftime("%H:%M%z"), h.end.strftime("%H:%M%z"), h.total) for h in hours[1:4]] == [
        ("01:00+1030", "02:30+1100", D("1.0")),
        ("02:30+1100", "03:00+1100", D("0.5")),  # the hour of the change: 30 minutes
        ("03:00+1100", "04:00+1100", D("1.0")),
    ]


def test_lord_howe_hourly_rated_days_and_the_bill_hold_every_hour() -> None:
    catalog, readings = site_catalog(LORD_HOWE), FakeReadingStore()
    ingest(catalog, readings, one_kilowatt(date(2026, 3, 1), date(2026, 5, 1), "h60", 60, LORD_HOWE))
    meter = catalog_service.get(A, Meter, "h60", catalog).value
    start, end = datetime(2026, 4, 4, tzinfo=LORD_HOWE), datetime(2026, 4, 7, tzinfo=LORD_HOWE)

    days = rated_days(validated_intervals(A, meter, start, end, readings), LORD_HOWE)
    assert [(d.day.day, len(d.values), d.total().total) for d in days] == [
        (4, 48, D(24)),
        (5, 49, D("24.5")),
        (6, 48, D(24)),
    ]

    (bill,) = bill_preview(A, "c1", date(2026, 4, 1), date(2026, 5, 1), catalog, readings)
    assert bill.bill.total == (30 * 24 * D(1) + D("0.5")) * D("0.30")  # 216.15 AUD


def test_lord_howe_hourly_rating_pass_stores_the_long_day_and_the_month_without_a_failure() -> None:
    catalog, readings = site_catalog(LORD_HOWE), FakeReadingStore()
    ingest(catalog, readings, one_kilowatt(date(2026, 3, 20), date(2026, 4, 10), "h60", 60, LORD_HOWE))
    accounts = FakeAccountStore()
    accounts.create(AccountRecord(A, "Account A", datetime(2026, 1, 1, tzinfo=UTC)))
    metering = FakeMeteringStore()

    report = rating_pass(
        datetime(2026, 4, 10, 0, 10, tzinfo=LORD_HOWE),
        RatingStores(readings, catalog, metering, accounts, FakeInvoiceStore()),
    )

    assert (report.failures, report.days_written) == ([], 21)
    long_day = metering.rated[(A, "h60", date(2026, 4, 5))].total()
    assert (long_day.total, long_day.intervals, long_day.missing) == (D("24.5"), 49, 0)
    april = metering.monthly[(A, "h60", 2026, 4)].total
    assert (april.total, april.intervals, april.missing) == (9 * 24 * D(1) + D("0.5"), 9 * 48 + 1, 0)


def test_lord_howe_hourly_ingest_rejects_exactly_the_readings_off_the_local_hours() -> None:
    catalog, readings = site_catalog(LORD_HOWE), FakeReadingStore()
    stamps = [
        "2026-04-05T01:00:00+11:00",  # the long hour's start: on the grid
        "2026-04-05T02:00:00+10:30",  # the hour after it
        "2026-04-05T02:00:00+11:00",  # = 01:30 +10:30, half an hour into the long hour
        "2026-04-05T02:30:00+10:30",
        "2026-10-04T02:00:00+10:30",  # = 02:30 +11:00: the short hour's start
        "2026-10-04T02:00:00+11:00",  # = 01:30 +10:30
        "2026-10-04T03:30:00+11:00",
        "2026-10-04T03:00:00+11:00",
    ]
    items = [ReadingIn("h60", datetime.fromisoformat(s), D(1), "interval", 60) for s in stamps]

    accepted, rejected = ingest(catalog, readings, items)

    assert accepted == 4
    assert [(r.index, r.field) for r in rejected] == [
        (2, "timestamp"),
        (3, "timestamp"),
        (5, "timestamp"),
        (6, "timestamp"),
    ]
    assert rejected[0].reason == (
        "2026-04-05T02:00:00+11:00 is not on meter 'h60''s 60-minute grid: an interval starts a whole number "
        "of 60 minutes after midnight on the site's clock (Australia/Lord_Howe), with no seconds"
    )


def test_lord_howe_half_hourly_meter_keeps_its_own_grid() -> None:
    catalog, readings = site_catalog(LORD_HOWE), FakeReadingStore()
    items = one_kilowatt(date(2026, 4, 1), date(2026, 5, 1), "h30", 30, LORD_HOWE)
    assert {i.value for i in items} == {D("0.5")}
    assert ingest(catalog, readings, items) == (30 * 48 + 1, [])

    usage = meter_usage(A, "h30", date(2026, 4, 5), date(2026, 4, 6), "day", catalog, readings)

    assert (usage.interval_minutes, usage.total, usage.qualities.actual) == (30, D("24.5"), 49)


# --- Kathmandu: +05:45 all year -----------------------------------------------------------------------------


@pytest.mark.parametrize(("meter", "minutes", "per_day"), [("h60", 60, 24), ("h30", 30, 48)])
def test_kathmandu_meters_count_from_local_midnight_at_a_quarter_hour_of_utc(
    meter: str, minutes: int, per_day: int
) -> None:
    catalog, readings = site_catalog(KATHMANDU), FakeReadingStore()
    items = one_kilowatt(date(2026, 4, 1), date(2026, 5, 1), meter, minutes, KATHMANDU)
    assert items[0].timestamp.astimezone(UTC).isoformat() == "2026-03-31T18:15:00+00:00"
    off_grid = ReadingIn(meter, datetime(2026, 4, 2, tzinfo=UTC), D(1), "interval", minutes)  # 05:45 local
    assert ingest(catalog, readings, [*items, off_grid]) == (
        30 * per_day,
        [
            Rejection(
                len(items),
                meter,
                "timestamp",
                f"2026-04-02T00:00:00+00:00 is not on meter {meter!r}'s {minutes}-minute grid: an interval "
                f"starts a whole number of {minutes} minutes after midnight on the site's clock "
                "(Asia/Kathmandu), with no seconds",
            )
        ],
    )

    usage = meter_usage(A, meter, date(2026, 4, 1), date(2026, 5, 1), "day", catalog, readings)

    assert (usage.interval_minutes, usage.qualities.actual, usage.total) == (
        minutes,
        30 * per_day,
        30 * D(24),
    )


# --- the grid itself ----------------------------------------------------------------------------------------


def test_the_grid_is_finer_than_the_interval_only_where_the_clocks_change_by_part_of_it() -> None:
    assert grid_minutes(60, LORD_HOWE) == 30
    assert grid_minutes(30, LORD_HOWE) == 30
    assert grid_minutes(60, BERLIN) == 60
    assert grid_minutes(60, KATHMANDU) == 60
    assert grid_minutes(60, ZoneInfo("Asia/Pyongyang")) == 30  # +08:30 from 2015 to 2018
    assert grid_minutes(60, datetime.fromisoformat("2026-04-05T00:00+10:30").tzinfo) == 60  # a fixed offset


def test_local_interval_starts_and_ends_around_lord_howes_changes() -> None:
    at = datetime.fromisoformat
    assert is_interval_start(at("2026-10-04T02:30+11:00"), 60, LORD_HOWE)
    assert not is_interval_start(at("2026-10-04T03:30+11:00"), 60, LORD_HOWE)
    assert not is_interval_start(at("2026-04-05T01:30+10:30"), 60, LORD_HOWE)  # the long hour's second 01:30
    assert interval_end(at("2026-04-05T01:00+11:00"), 60, LORD_HOWE) == at("2026-04-05T02:00+10:30")
    assert interval_end(at("2026-10-04T01:00+10:30"), 60, LORD_HOWE) == at("2026-10-04T02:30+11:00")
    assert interval_end(at("2026-10-25T02:00+02:00"), 60, BERLIN) == at("2026-10-25T02:00+01:00")


def test_a_long_hours_value_is_spread_over_its_half_hours_exactly() -> None:
    start = datetime.fromisoformat("2026-04-05T01:00+11:00")
    stored = IntervalReading("h60", start, start + timedelta(hours=1), D("1.000"), "kWh", "E")

    spread = spread_onto_grid([stored], 60, 30, LORD_HOWE)

    assert [(r.start.astimezone(UTC), r.value, r.quality) for r in spread] == [
        (start.astimezone(UTC) + n * HALF_HOUR, value, "E")
        for n, value in enumerate([D("0.3334"), D("0.3333"), D("0.3333")])
    ]
    assert sum(r.value for r in spread) == D("1.000")


def test_a_files_readings_of_the_true_local_hours_validate_on_the_sites_clock() -> None:
    """A file may give each interval's end (Green Button: a start and a duration): the long hour lasts 90
    minutes, the short one 30; validated on Lord Howe's clock they are spread like the stored ones."""
    april = local_intervals(date(2026, 4, 5), date(2026, 4, 6), 60, LORD_HOWE)
    october = local_intervals(date(2026, 10, 4), date(2026, 10, 5), 60, LORD_HOWE)
    raw = RawReadings(
        intervals=[
            IntervalReading("f1", start, end, _hours(end - start), "kWh") for start, end in [*april, *october]
        ]
    )
    assert sorted({end - start for start, end in [*april, *october]}) == [
        HALF_HOUR,
        2 * HALF_HOUR,
        3 * HALF_HOUR,
    ]

    results = validate_meter("f1", raw, MeterSettings(interval_minutes=60), LORD_HOWE)

    (validated,) = results
    days = {day.day: day.total() for day in rated_days(validated, LORD_HOWE)}
    assert (days[date(2026, 4, 5)].total, days[date(2026, 4, 5)].intervals) == (D("24.5"), 49)
    assert (days[date(2026, 10, 4)].total, days[date(2026, 10, 4)].intervals) == (D("23.5"), 47)
    assert validated.qualities[:49] + validated.qualities[-47:] == "A" * (49 + 47)
