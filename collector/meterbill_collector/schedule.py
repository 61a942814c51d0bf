"""When meters are read: on the boundaries of their interval, aligned to the site's wall clock.

A boundary of an ``N``-minute interval is an instant whose local time (in the site's zone) is local
midnight plus a whole number of ``N`` minutes: 00:00, 00:15, 00:30 … for 15 minutes. Intervals divide the
hour (1, 5, 15, 30, 60), so that is "the local minute is a multiple of ``N``". On a DST day the wall clock
decides, not the elapsed time since midnight: Berlin's hourly boundaries still fall every 60 real minutes on
its 23- and 25-hour days (the repeated autumn hour gives two distinct UTC instants), and Lord Howe's
(+10:30/+11) and India's (+5:30) hourly boundaries fall on their local hour, not on UTC's. Boundaries are
returned in UTC."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from meterbill_collector.config import INTERVALS_MINUTES, MeterConfig
from meterbill_collector.model import require_aware

_MINUTE = timedelta(minutes=1)


def _check_minutes(minutes: int) -> None:
    if minutes not in INTERVALS_MINUTES:
        raise ValueError(f"interval {minutes} min is not one of {', '.join(map(str, INTERVALS_MINUTES))}")


def is_boundary(instant: datetime, minutes: int, zone: ZoneInfo) -> bool:
    """Whether ``instant`` (aware) is a boundary of the ``minutes`` interval on ``zone``'s clock."""
    _check_minutes(minutes)
    local = require_aware(instant, "instant").astimezone(zone)
    return local.minute % minutes == 0 and local.second == 0 and local.microsecond == 0


def next_boundary(after: datetime, minutes: int, zone: ZoneInfo) -> datetime:
    """The first boundary of the ``minutes`` interval on ``zone``'s wall clock strictly after ``after``
    (aware), in UTC."""
    _check_minutes(minutes)
    start = require_aware(after, "after").astimezone(UTC)
    local = start.astimezone(zone)
    into = timedelta(minutes=local.minute % minutes, seconds=local.second, microseconds=local.microsecond)
    guess = start - into + timedelta(minutes=minutes)
    if guess.astimezone(zone).utcoffset() == local.utcoffset():
        return guess  # no clock change in between: the next multiple of the interval on the local clock
    # The clock changes before the guess: walk the local minutes up to the first boundary after the change.
    minute = start - timedelta(seconds=local.second, microseconds=local.microsecond)
    for _ in range(3 * 24 * 60):
        minute += _MINUTE
        wall = minute.astimezone(zone)
        if wall.minute % minutes == 0 and wall.second == 0:
            return minute
    raise ValueError(f"no {minutes}-minute boundary of {zone.key} within 3 days after {after.isoformat()}")


def due(boundary: datetime, meters: Iterable[MeterConfig], zone: ZoneInfo) -> list[MeterConfig]:
    """The meters whose interval has a boundary at ``boundary`` (a 15-minute meter at :00 :15 :30 :45, an
    hourly one at :00 of the site's clock), in the order given."""
    return [meter for meter in meters if is_boundary(boundary, meter.interval_minutes, zone)]
