"""Bill periods on the site's local calendar: bill days, what is due at a moment, and when a draft is issued.

A customer's bill periods run from one bill day to the next, ``[bill day, next bill day)``, as local calendar
dates of its site (bill day 1: calendar months; 15: the 15th to the 14th). ``bill_day`` is 1..28 so every
month has one. A period is due once it has ended, i.e. once the local date at ``now`` has reached the period's
end (the bill day has begun in the site's zone): bill day 15 in Europe/Berlin is due from
2026-02-15T00:00+01:00 (2026-02-14T23:00Z), whatever the offset or a DST change that night.

What the scheduled run bills is the due periods minus what is already invoiced (a move-out settlement
``[from, to)`` issued earlier leaves only the rest of its period), each remaining piece clipped to the days
the customer's assignments cover (move-in, move-out). A draft waits ``grace_days`` after its period ends,
until the local midnight starting ``period_end + grace_days``, so late readings still count.

Time comes in as an aware ``now``; nothing here reads a clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import Final, NamedTuple
from zoneinfo import ZoneInfo

from meterbill.timeutil import local_midnight

MAX_BILL_DAY: Final = 28
DEFAULT_GRACE_DAYS: Final = 2


class DateSpan(NamedTuple):
    """Local calendar days [start, end), end exclusive."""

    start: date
    end: date


# An assignment's days: effective_from and effective_to (exclusive; None while open-ended).
ActiveSpan = tuple[date, date | None]


class PeriodError(ValueError):
    """A bill day, grace or moment that cannot be used; ``field`` names it."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def check_bill_day(bill_day: int) -> int:
    if isinstance(bill_day, bool) or not isinstance(bill_day, int) or not 1 <= bill_day <= MAX_BILL_DAY:
        raise PeriodError("bill_day", f"{bill_day!r} is not a day of the month from 1 to {MAX_BILL_DAY}")
    return bill_day


def local_date(now: datetime, zone: ZoneInfo) -> date:
    """The site's calendar date at the instant ``now``."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise PeriodError("now", f"naive datetime {now.isoformat()} where an aware one is required")
    return now.astimezone(zone).date()


def _add_months(day: date, months: int) -> date:
    """``day`` (a day <= 28) in the month ``months`` later (or earlier)."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, day.day)


def bill_date_on_or_before(day: date, bill_day: int) -> date:
    """The latest bill date not after ``day``: (2026-02-14, 15) -> 2026-01-15; (2026-02-15, 15) ->
    2026-02-15."""
    check_bill_day(bill_day)
    this_month = date(day.year, day.month, bill_day)
    return this_month if day >= this_month else _add_months(this_month, -1)


def period_containing(day: date, bill_day: int) -> DateSpan:
    """The bill period ``day`` falls in: (2026-01-20, 15) -> [2026-01-15, 2026-02-15)."""
    start = bill_date_on_or_before(day, bill_day)
    return DateSpan(start, _add_months(start, 1))


def period_ending(end: date, bill_day: int) -> DateSpan:
    """The period that ends on the bill date ``end``: [previous bill date, end)."""
    check_bill_day(bill_day)
    if end.day != bill_day:
        raise PeriodError("end", f"{end} is not a bill date (bill_day {bill_day})")
    return DateSpan(_add_months(end, -1), end)


def periods(start: date, end: date, bill_day: int) -> list[DateSpan]:
    """[start, end) cut at bill dates: the bill periods it overlaps, the first and last clipped to it."""
    spans = []
    cursor = start
    while cursor < end:
        stop = min(period_containing(cursor, bill_day).end, end)
        spans.append(DateSpan(cursor, stop))
        cursor = stop
    return spans


def subtract(span: DateSpan, covered: Iterable[tuple[date, date]]) -> list[DateSpan]:
    """The parts of ``span`` that no covered span touches, in order: [Jan 1, Feb 1) - [Jan 1, Jan 20) ->
    [[Jan 20, Feb 1)]."""
    pieces = [span]
    for lo, hi in sorted(covered):
        rest = []
        for piece in pieces:
            if hi <= piece.start or lo >= piece.end:
                rest.append(piece)
                continue
            if piece.start < lo:
                rest.append(DateSpan(piece.start, lo))
            if hi < piece.end:
                rest.append(DateSpan(hi, piece.end))
        pieces = rest
    return pieces


def clip(span: DateSpan, active: Iterable[ActiveSpan]) -> DateSpan | None:
    """``span`` narrowed to the days from the first to the last any assignment covers (move-in, move-out);
    None when no assignment is active in it. A gap between two assignments stays inside: one invoice."""
    firsts, stops = [], []
    for effective_from, effective_to in active:
        first = max(span.start, effective_from)
        stop = span.end if effective_to is None else min(span.end, effective_to)
        if first < stop:
            firsts.append(first)
            stops.append(stop)
    if not firsts:
        return None
    return DateSpan(min(firsts), max(stops))


def settled_until(active: Sequence[ActiveSpan], covered: Iterable[tuple[date, date]]) -> date:
    """The first day, from the first assignment's, that may still need an invoice: every day before it is
    invoiced (in a ``covered`` span) or has no assignment active (``date.max`` after a last move-out whose
    days are all invoiced). Passed as ``due_periods``' ``since`` it gives the same periods as the whole
    history does (a due piece is clipped to its assignments, so it never starts on a day without one), and
    a bill run stops walking every period since the customer moved in."""
    spans = sorted(covered)
    starts = sorted(effective_from for effective_from, _ in active)
    day = starts[0]
    while True:
        holding = [hi for lo, hi in spans if lo <= day < hi]
        if holding:
            day = max(holding)
            continue
        if any(lo <= day and (hi is None or day < hi) for lo, hi in active):
            return day
        later = [lo for lo in starts if lo > day]
        if not later:
            return date.max
        day = later[0]


def due_periods(
    now: datetime,
    zone: ZoneInfo,
    bill_day: int,
    *,
    active: Sequence[ActiveSpan],
    invoiced: Iterable[tuple[date, date]],
    since: date | None = None,
) -> list[DateSpan]:
    """What the scheduled run should invoice at ``now``: every bill period from ``since`` that has ended in
    the site's zone, minus the spans already invoiced (drafts and issued, not void), each piece clipped to the
    customer's assignments (``active``: their effective_from and effective_to). Oldest first.

    ``since`` is the first day that may still need an invoice (default: the first assignment's start); a
    caller that keeps every invoice passes the end of the customer's last one to look at fewer periods. A
    period with no assignment in it, or whose uncovered rest has none, yields nothing.
    """
    check_bill_day(bill_day)
    if not active:
        return []
    today = local_date(now, zone)
    ended = bill_date_on_or_before(today, bill_day)  # periods ending on or before it have ended
    first = since if since is not None else min(effective_from for effective_from, _ in active)
    covered = list(invoiced)
    due = []
    for period in periods(first, ended, bill_day):
        for piece in subtract(period, covered):
            billable = clip(piece, active)
            if billable is not None:
                due.append(billable)
    return due


def issue_at(period_end: date, zone: ZoneInfo, grace_days: int = DEFAULT_GRACE_DAYS) -> datetime:
    """When a draft for a period ending ``period_end`` may be issued: the local midnight starting
    ``period_end + grace_days`` (bill day 1, grace 2: 2026-02-03T00:00 local for January)."""
    if isinstance(grace_days, bool) or not isinstance(grace_days, int) or grace_days < 0:
        raise PeriodError("grace_days", f"{grace_days!r} is not a whole number of days >= 0")
    return local_midnight(period_end + timedelta(days=grace_days), zone)


def issue_due(period_end: date, zone: ZoneInfo, grace_days: int, now: datetime) -> bool:
    """True once ``now`` has reached ``issue_at(period_end, zone, grace_days)``."""
    local_date(now, zone)  # rejects a naive moment
    return now >= issue_at(period_end, zone, grace_days)
