"""The site's local calendar: zones, local midnights, month segments and day-based proration."""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# The calendar meterbill works in: every date it is given (a period, an assignment, a date-time's own date as
# written) lies in [FIRST_DAY, LAST_DAY]. Far enough for any contract; near enough that a local midnight, a
# month after, or a week of look-back never leaves Python's years 1-9999.
FIRST_DAY: Final = date(2000, 1, 1)
LAST_DAY: Final = date(2100, 1, 1)
CALENDAR_PATTERN: Final = r"^(20[0-9]{2}-[0-9]{2}-[0-9]{2}|2100-01-01)"  # a date or a date-time's start


class UnknownTimeZoneError(ValueError):
    pass


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UnknownTimeZoneError(
            f"unknown time zone {name!r} (expected an IANA name like 'Europe/Berlin')"
        ) from None


def outside_calendar(moment: date | datetime) -> str | None:
    """Why ``moment`` (a date, or a date-time by the date written in it) is outside the calendar, or None."""
    day = moment.date() if isinstance(moment, datetime) else moment
    if FIRST_DAY <= day <= LAST_DAY:
        return None
    return f"{moment.isoformat()} is outside the supported calendar, {FIRST_DAY} to {LAST_DAY}"


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    """The instant a local calendar day starts (zoneinfo resolves a skipped midnight forward)."""
    naive = datetime(day.year, day.month, day.day)
    aware = naive.replace(tzinfo=tz)
    # Round-trip through UTC so a midnight that does not exist (some zones skip 00:00) becomes a real instant.
    return aware.astimezone(UTC).astimezone(tz)


def midnight_seconds(day: date, tz: ZoneInfo) -> int:
    """UTC epoch seconds of the instant a local day starts; the hot-loop twin of ``local_midnight``.

    With fold=0 a skipped midnight takes the offset before the gap, which is exactly the gap's start instant.
    """
    return int(datetime(day.year, day.month, day.day, tzinfo=tz).timestamp())


def next_month(day: date) -> date:
    """The first day of the calendar month after ``day``'s."""
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def days_in_month(year: int, month: int) -> int:
    return calendar.monthrange(year, month)[1]


def month_segments(start: date, end: date) -> Iterator[tuple[date, date]]:
    """[start, end) cut at calendar month boundaries."""
    cursor = start
    while cursor < end:
        nxt = next_month(cursor)
        yield cursor, min(nxt, end)
        cursor = nxt


def month_fraction(start: date, end: date) -> Decimal:
    """How many calendar months [start, end) covers, each partial month counted by its days.

    A whole month is exactly 1 whatever its length; 15 days of a 30-day month are 0.5.
    """
    total = Decimal(0)
    for seg_start, seg_end in month_segments(start, end):
        days = (seg_end - seg_start).days
        dim = days_in_month(seg_start.year, seg_start.month)
        total += Decimal(1) if days == dim else Decimal(days) / Decimal(dim)
    return total


def day_count(start: date, end: date) -> int:
    return (end - start).days


def utc_seconds(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment.isoformat()} where an aware one is required")
    return int((moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(seconds=1))


def wall_clock_hours(start: int, end: int, tz: ZoneInfo) -> list[tuple[int, int, int]]:
    """The runs of [start, end) (UTC epoch seconds) during which the wall clock of ``tz`` shows one hour.

    Each run is (first second, local hour, the second that hour began on the run's clock). A run starts at a
    whole local hour or where the UTC offset changes, so after a half-hour DST shift (Australia/Lord_Howe) or
    one at a quarter to the hour (Pacific/Chatham) every run stays on the wall clock. When clocks go back,
    the repeated hour is a run of its own.
    """
    runs: list[tuple[int, int, int]] = []
    moment = start
    while moment < end:
        local = datetime.fromtimestamp(moment, tz)
        clock_hour_start = moment - local.minute * 60 - local.second
        offset = local.utcoffset()
        following = min(clock_hour_start + 3600, end)
        if datetime.fromtimestamp(following - 1, tz).utcoffset() != offset:
            # The offset changes inside this hour: find the first second on the new offset.
            same, changed = moment, following - 1
            while changed - same > 1:
                middle = (same + changed) // 2
                if datetime.fromtimestamp(middle, tz).utcoffset() == offset:
                    same = middle
                else:
                    changed = middle
            following = changed
        runs.append((moment, local.hour, clock_hour_start))
        moment = following
    return runs
