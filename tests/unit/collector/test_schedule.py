"""Polling boundaries: local midnight + k × interval on the site's wall clock, returned in UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from meterbill_collector.config import MeterConfig
from meterbill_collector.profiles import eastron_sdm120
from meterbill_collector.schedule import due, is_boundary, next_boundary

BERLIN = ZoneInfo("Europe/Berlin")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")
KOLKATA = ZoneInfo("Asia/Kolkata")


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def boundaries(start: datetime, end: datetime, minutes: int, zone: ZoneInfo) -> list[datetime]:
    """Every boundary strictly after ``start`` and before ``end``."""
    found, at = [], next_boundary(start, minutes, zone)
    while at < end:
        found.append(at)
        at = next_boundary(at, minutes, zone)
    return found


def test_berlin_quarter_hours_on_the_23_hour_spring_day_fall_every_15_real_minutes() -> None:
    # 2026-03-29: 02:00 CET does not exist, the clock goes from 01:59:59 +01:00 to 03:00 +02:00 at 01:00 UTC.
    midnight = datetime(2026, 3, 29, tzinfo=BERLIN)
    next_midnight = datetime(2026, 3, 30, tzinfo=BERLIN)
    found = boundaries(midnight - timedelta(microseconds=1), next_midnight, 15, BERLIN)
    assert len(found) == 23 * 4
    assert found[0] == utc("2026-03-28T23:00")
    assert found[-1] == utc("2026-03-29T21:45")
    assert all(b - a == timedelta(minutes=15) for a, b in pairwise(found))
    # around the change: 01:45 CET, then 03:00 CEST
    assert next_boundary(utc("2026-03-29T00:40"), 15, BERLIN) == utc("2026-03-29T00:45")
    assert next_boundary(utc("2026-03-29T00:45"), 15, BERLIN) == utc("2026-03-29T01:00")
    assert utc("2026-03-29T01:00").astimezone(BERLIN).isoformat() == "2026-03-29T03:00:00+02:00"


def test_berlin_quarter_hours_on_the_25_hour_autumn_day_give_the_repeated_hour_twice() -> None:
    # 2026-10-25: 03:00 CEST becomes 02:00 CET at 01:00 UTC; 02:00–02:45 happen twice.
    midnight = datetime(2026, 10, 25, tzinfo=BERLIN)
    next_midnight = datetime(2026, 10, 26, tzinfo=BERLIN)
    found = boundaries(midnight - timedelta(microseconds=1), next_midnight, 15, BERLIN)
    assert len(found) == 25 * 4
    assert found[0] == utc("2026-10-24T22:00")
    assert found[-1] == utc("2026-10-25T22:45")
    assert all(b - a == timedelta(minutes=15) for a, b in pairwise(found))
    repeated = [b for b in found if b.astimezone(BERLIN).hour == 2]
    assert repeated == [
        utc("2026-10-25T00:00"), utc("2026-10-25T00:15"), utc("2026-10-25T00:30"), utc("2026-10-25T00:45"),
        utc("2026-10-25T01:00"), utc("2026-10-25T01:15"), utc("2026-10-25T01:30"), utc("2026-10-25T01:45"),
    ]  # fmt: skip
    assert [b.astimezone(BERLIN).strftime("%H:%M%z") for b in repeated[3:5]] == ["02:45+0200", "02:00+0100"]


def test_berlin_hours_on_both_dst_days_are_60_real_minutes_apart() -> None:
    spring = boundaries(utc("2026-03-28T22:30"), utc("2026-03-29T03:00"), 60, BERLIN)
    assert spring == [utc("2026-03-28T23:00"), *(utc(f"2026-03-29T0{h}:00") for h in range(3))]
    assert [b.astimezone(BERLIN).hour for b in spring] == [0, 1, 3, 4]
    autumn = boundaries(utc("2026-10-24T21:30"), utc("2026-10-25T03:00"), 60, BERLIN)
    assert autumn == [
        utc("2026-10-24T22:00"),
        utc("2026-10-24T23:00"),
        *(utc(f"2026-10-25T0{h}:00") for h in range(3)),
    ]
    assert [b.astimezone(BERLIN).hour for b in autumn] == [0, 1, 2, 2, 3]


def test_lord_howe_hours_fall_on_its_local_hour_across_its_half_hour_changes() -> None:
    # 2026-04-05 02:00 +11:00 becomes 01:30 +10:30; 2026-10-04 02:00 +10:30 becomes 02:30 +11:00.
    autumn = boundaries(utc("2026-04-04T12:30"), utc("2026-04-04T17:00"), 60, LORD_HOWE)
    assert autumn == [
        utc("2026-04-04T13:00"),
        utc("2026-04-04T14:00"),
        utc("2026-04-04T15:30"),
        utc("2026-04-04T16:30"),
    ]
    assert [b.astimezone(LORD_HOWE).strftime("%H:%M%z") for b in autumn] == [
        "00:00+1100", "01:00+1100", "02:00+1030", "03:00+1030",
    ]  # fmt: skip
    spring = boundaries(utc("2026-10-03T13:00"), utc("2026-10-03T17:30"), 60, LORD_HOWE)
    assert spring == [
        utc("2026-10-03T13:30"),
        utc("2026-10-03T14:30"),
        utc("2026-10-03T16:00"),
        utc("2026-10-03T17:00"),
    ]
    assert [b.astimezone(LORD_HOWE).strftime("%H:%M%z") for b in spring] == [
        "00:00+1030", "01:00+1030", "03:00+1100", "04:00+1100",
    ]  # fmt: skip


def test_kolkata_hours_fall_at_half_past_utc() -> None:
    assert next_boundary(utc("2026-12-04T03:20"), 60, KOLKATA) == utc("2026-12-04T03:30")
    assert next_boundary(utc("2026-12-04T03:30"), 60, KOLKATA) == utc("2026-12-04T04:30")
    assert next_boundary(utc("2026-12-04T03:31"), 30, KOLKATA) == utc("2026-12-04T04:00")
    assert (
        next_boundary(utc("2026-12-04T03:30"), 60, KOLKATA).astimezone(KOLKATA).strftime("%H:%M") == "10:00"
    )


def test_one_minute_boundaries_are_the_next_whole_minute() -> None:
    assert next_boundary(utc("2026-12-04T03:20:30.5"), 1, BERLIN) == utc("2026-12-04T03:21")
    assert next_boundary(utc("2026-12-04T03:20:59.999999"), 1, KOLKATA) == utc("2026-12-04T03:21")


def test_a_boundary_is_strictly_after_the_instant_given() -> None:
    at = utc("2026-12-04T03:15")
    assert next_boundary(at, 15, BERLIN) == utc("2026-12-04T03:30")
    assert next_boundary(at - timedelta(microseconds=1), 15, BERLIN) == at
    assert next_boundary(at, 1, BERLIN) == utc("2026-12-04T03:16")


def test_boundaries_come_back_in_utc_from_any_aware_instant() -> None:
    found = next_boundary(datetime(2026, 12, 4, 4, 7, tzinfo=BERLIN), 5, BERLIN)
    assert found == utc("2026-12-04T03:10")
    assert found.tzinfo is UTC


@pytest.mark.parametrize(
    "zone", ["Europe/Berlin", "Australia/Lord_Howe", "Asia/Kolkata", "Asia/Kathmandu", "America/St_Johns"]
)
@pytest.mark.parametrize("minutes", [1, 5, 15, 30, 60])
def test_no_boundary_is_skipped_or_invented_around_clock_changes(zone: str, minutes: int) -> None:
    tz = ZoneInfo(zone)
    days = [
        (utc("2026-03-27T00:00"), utc("2026-04-07T00:00")),
        (utc("2026-10-02T00:00"), utc("2026-11-03T00:00")),
    ]
    for start, end in days:
        walked = boundaries(start, end, minutes, tz)
        minute, every = start + timedelta(minutes=1), []
        while minute < end:
            if minute.astimezone(tz).minute % minutes == 0:
                every.append(minute)
            minute += timedelta(minutes=1)
        assert walked == every


def test_a_naive_instant_or_an_unknown_interval_is_refused() -> None:
    with pytest.raises(ValueError, match="after must carry a UTC offset"):
        next_boundary(datetime(2026, 12, 4, 3, 0), 15, BERLIN)
    with pytest.raises(ValueError, match="interval 7 min is not one of 1, 5, 15, 30, 60"):
        next_boundary(utc("2026-12-04T03:00"), 7, BERLIN)


def meter(meter_id: str, minutes: int) -> MeterConfig:
    return MeterConfig(meter_id, "line1", 1, eastron_sdm120(), minutes, Decimal(1))


def test_due_lists_the_meters_whose_interval_has_this_boundary_on_the_local_clock() -> None:
    meters = [meter("m1", 1), meter("m15", 15), meter("m60", 60), meter("m30", 30)]
    assert [m.id for m in due(utc("2026-12-04T03:00"), meters, BERLIN)] == ["m1", "m15", "m60", "m30"]
    assert [m.id for m in due(utc("2026-12-04T03:15"), meters, BERLIN)] == ["m1", "m15"]
    assert [m.id for m in due(utc("2026-12-04T03:30"), meters, BERLIN)] == ["m1", "m15", "m30"]
    assert [m.id for m in due(utc("2026-12-04T03:07"), meters, BERLIN)] == ["m1"]
    # Kolkata's hour is at half past UTC
    assert [m.id for m in due(utc("2026-12-04T03:30"), meters, KOLKATA)] == ["m1", "m15", "m60", "m30"]
    assert [m.id for m in due(utc("2026-12-04T03:00"), meters, KOLKATA)] == ["m1", "m15", "m30"]
    assert due(utc("2026-12-04T03:00:30"), meters, BERLIN) == []
    assert is_boundary(utc("2026-04-04T15:30"), 60, LORD_HOWE)
