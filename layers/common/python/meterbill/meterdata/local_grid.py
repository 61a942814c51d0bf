"""A meter's interval grid on its site's clock, where the clocks change by part of an interval.

The model: an interval meter's intervals are whole intervals of its site's local clock, counted from local
midnight (what ingest accepts and what a meter that keeps local time records); a day always starts an
interval. Almost everywhere every UTC offset differs from the others by whole intervals, so that grid is
uniform in absolute time (the meter's clock never jumps by less than an interval) and validation, rollups and
the tariff engine work on it as it is. Not on a site whose offsets differ by part of an interval: on Lord
Howe Island (Australia/Lord_Howe, +11:00 in summer, +10:30 in winter) an hourly meter's hour of the change
lasts 90 minutes on 2026-04-05 (01:00 +11:00 to 02:00 +10:30) and 30 minutes on 2026-10-04 (it starts when
the clocks jump, 02:00 +10:30 = 02:30 +11:00, and ends at 03:00 +11:00); 30-minute meters there, and any
meter in Asia/Kathmandu (+05:45, no DST), keep a uniform grid.

Validation works on one uniform grid of absolute time, so such a meter is validated on the finest grid that
every local interval boundary lies on (``grid_minutes``: 30 minutes for an hourly meter on Lord Howe Island),
each of its readings spread evenly over the grid intervals its local interval covers (``spread_onto_grid``:
whole units one decimal place finer, the remainder to the earliest, its quality flag kept). Hour, day and
month totals are exactly what the meter recorded (a Lord Howe day has 23.5 or 24.5 hours of data); a half
hour's value is its share of the hour, not a measurement of its own.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta, timezone, tzinfo
from decimal import Decimal
from math import gcd
from typing import Final

from meterbill.meterdata.readings import IntervalReading
from meterbill.timeutil import FIRST_DAY, LAST_DAY

# Every UTC offset in use since 2000 is a whole number of quarter hours (tzdata): grids of 1, 5 and 15 minutes
# are the same on every clock.
_QUARTER_HOUR: Final = 15
_SAMPLE: Final = timedelta(days=1)  # every offset in use since 2000 lasts weeks: daily samples see each one
_FINEST_EXPONENT: Final = -9  # the tariff engine's series hold at most 9 decimal places (usage.MAX_DECIMALS)
_ONE_US: Final = timedelta(microseconds=1)


def grid_minutes(interval_minutes: int, zone: tzinfo | None) -> int:
    """The length of the uniform grid (in absolute time) on which every boundary of ``interval_minutes``
    intervals of ``zone``'s clock lies: the interval itself unless the zone's offsets in meterbill's calendar
    (2000-2100) differ by part of it (30 for an hourly meter on Lord Howe Island, or in Pyongyang, which
    kept +08:30 from 2015 to 2018). A property of the zone, not of a span: a meter's days are always stored
    at one length."""
    if _QUARTER_HOUR % interval_minutes == 0 or zone is None or isinstance(zone, timezone):
        return interval_minutes
    return _zone_grid(interval_minutes, zone)


@functools.lru_cache(maxsize=256)
def _zone_grid(interval_minutes: int, zone: tzinfo) -> int:
    moment = datetime.combine(FIRST_DAY, time(), UTC)
    last = datetime.combine(LAST_DAY, time(), UTC)
    first = moment.astimezone(zone).utcoffset()
    assert first is not None
    step = interval_minutes
    while moment <= last and step > _QUARTER_HOUR:
        offset = moment.astimezone(zone).utcoffset()
        assert offset is not None
        step = gcd(step, abs(offset - first) // timedelta(minutes=1))
        moment += _SAMPLE
    return step


def is_interval_start(moment: datetime, interval_minutes: int, zone: tzinfo) -> bool:
    """Whether an interval of ``interval_minutes`` starts at ``moment`` on ``zone``'s clock: a whole number of
    intervals after local midnight by the clock (no seconds), or the instant the clocks jump into a new
    interval (Lord Howe Island, 2026-10-04 02:00 +10:30: the clock reads 02:30, hour 02 starts)."""
    local = moment.astimezone(zone)
    if local.second or local.microsecond:
        return False
    if (local.hour * 60 + local.minute) % interval_minutes == 0:
        return True
    just_before = moment.astimezone(UTC) - _ONE_US  # in absolute time: zone arithmetic follows the wall clock
    return _interval_of(just_before, interval_minutes, zone) != _interval_of(local, interval_minutes, zone)


def interval_end(start: datetime, interval_minutes: int, zone: tzinfo) -> datetime:
    """Where the local interval starting at ``start`` ends: the next interval start on ``zone``'s clock (on a
    quarter-hour grid of absolute time, where every clock's interval starts lie)."""
    step = timedelta(minutes=min(interval_minutes, _QUARTER_HOUR))
    moment = start.astimezone(UTC) + step
    while not is_interval_start(moment, interval_minutes, zone):
        moment += step
    return moment.astimezone(start.tzinfo)


def spread_onto_grid(
    readings: Iterable[IntervalReading], interval_minutes: int, grid: int, zone: tzinfo
) -> list[IntervalReading]:
    """The readings on a ``grid``-minute grid finer than their ``interval_minutes``: a reading that starts a
    local interval and lasts the meter's interval (as stored: start + interval) or exactly its local interval
    becomes the grid intervals of its local interval, its value spread evenly over them; others are left as
    they are (validation reports them misaligned)."""
    step = timedelta(minutes=grid)
    length = timedelta(minutes=interval_minutes)
    spread: list[IntervalReading] = []
    for reading in readings:
        start = reading.start
        if not reading.value.is_finite() or not is_interval_start(start, interval_minutes, zone):
            spread.append(reading)
            continue
        end = interval_end(start, interval_minutes, zone)
        actual = reading.end.astimezone(UTC) - start.astimezone(UTC)
        if actual != length and reading.end.astimezone(UTC) != end.astimezone(UTC):
            spread.append(reading)
            continue
        pieces = (end.astimezone(UTC) - start.astimezone(UTC)) // step
        origin = start.astimezone(UTC)
        for i, value in enumerate(_shares(reading.value, pieces)):
            spread.append(
                replace(
                    reading,
                    start=(origin + i * step).astimezone(start.tzinfo),
                    end=(origin + (i + 1) * step).astimezone(start.tzinfo),
                    value=value,
                )
            )
    return spread


def _shares(value: Decimal, pieces: int) -> list[Decimal]:
    """``value`` in ``pieces`` equal shares that sum to it exactly: whole units one decimal place finer than
    its own (at most 9 places), the remainder one unit each to the earliest."""
    if pieces == 1:
        return [value]
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)
    finer = min(exponent, max(min(exponent, 0) - 1, _FINEST_EXPONENT))
    units = int(value.scaleb(-finer))
    base, remainder = divmod(units, pieces)
    return [Decimal(base + (1 if i < remainder else 0)).scaleb(finer) for i in range(pieces)]


def _interval_of(moment: datetime, interval_minutes: int, zone: tzinfo) -> tuple[object, int]:
    """The local interval a moment falls in: its local date and the interval's number within the day."""
    wall = moment.astimezone(zone)
    return wall.date(), (wall.hour * 60 + wall.minute) // interval_minutes
