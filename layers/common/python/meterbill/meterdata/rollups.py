"""Validated intervals cut into local calendar days, and their rollups per hour, day and month: what the
rating run stores (``services.rating``) so usage, charges and invoices read sums instead of validating
again.

A ``RatedDay`` (``meterbill.ports``: the store keeps it) holds one meter's validated intervals of one local
day (from local midnight to the next: 23 or 25 hours on a DST day; a day still running ends where its
validation ended) with each interval's NEM12 flag and, for every interval not flagged A, the method and reason
of its substitution. Its rollups are computed from it: an hour is a local clock hour told apart by its UTC
offset (the hour the clocks go back is two rollups; on Lord Howe Island, where clocks move by 30 minutes, the
hour of the change lasts 30 minutes), a day is the day, a month (``month_rollup``) sums its days. Quantities
are exact: integers times ``10**exponent``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from meterbill.meterdata.vee import ValidatedIntervals
from meterbill.ports import MonthRollup, RatedDay, Rollup
from meterbill.timeutil import local_midnight
from meterbill.usage import IntervalSeries


def rated_days(validated: ValidatedIntervals, zone: ZoneInfo) -> list[RatedDay]:
    """``validated`` cut at the local midnights of ``zone``: one RatedDay per local day it touches (the first
    and last may be partial if the span does not start or end at midnight)."""
    rated: list[RatedDay] = []
    count = len(validated)
    index = 0
    while index < count:
        start = validated.interval_start(index).astimezone(zone)
        day = start.date()
        next_midnight = local_midnight(day + timedelta(days=1), zone).astimezone(UTC)  # compared as instants
        stop = index
        while stop < count and validated.interval_start(stop).astimezone(UTC) < next_midnight:
            stop += 1
        rated.append(
            RatedDay(
                meter_id=validated.meter,
                day=day,
                start=start,
                interval_minutes=validated.interval_minutes,
                unit=validated.unit,
                exponent=validated.exponent,
                values=tuple(validated.values[index:stop]),
                qualities=validated.qualities[index:stop],
                substitutions={
                    i - index: (s.method or "", s.reason)
                    for i, s in validated.substitutions.items()
                    if index <= i < stop
                },
            )
        )
        index = stop
    return rated


def month_rollup(
    meter_id: str, year: int, month: int, days: Iterable[RatedDay], *, rated_with: str = ""
) -> MonthRollup | None:
    """The month's rollup from its rated days (None when it has none); days of other months are ignored.
    ``rated_with``: the digest of the meter settings the days were validated with."""
    mine = sorted((d for d in days if (d.day.year, d.day.month) == (year, month)), key=lambda d: d.day)
    if not mine:
        return None
    totals = [d.total() for d in mine]
    return MonthRollup(
        meter_id=meter_id,
        year=year,
        month=month,
        unit=mine[0].unit,
        days=len(mine),
        total=Rollup(
            start=totals[0].start,
            end=totals[-1].end,
            total=sum((t.total for t in totals), Decimal(0)),
            estimated=sum((t.estimated for t in totals), Decimal(0)),
            intervals=sum(t.intervals for t in totals),
            missing=sum(t.missing for t in totals),
        ),
        digest=days_digest(mine),
        rated_with=rated_with,
    )


def days_digest(days: Iterable[RatedDay]) -> str:
    """A digest of the days' intervals as stored (start, interval length, exponent, values, flags): it
    changes when any of them does. 32 hex digits (128 bits of SHA-256)."""
    digest = hashlib.sha256()
    for day in days:
        start = day.start.astimezone(UTC).isoformat()
        values = ",".join(map(str, day.values))
        digest.update(
            f"{day.day}|{start}|{day.interval_minutes}|{day.exponent}|{values}|{day.qualities}\n".encode()
        )
    return digest.hexdigest()[:32]


def rated_series(
    days: Iterable[RatedDay], start: datetime, end: datetime, interval_minutes: int, unit: str
) -> IntervalSeries:
    """The rated days' intervals over [start, end) as one series for the tariff engine, at the finest exponent
    among them; an interval no rated day holds counts as missing (zero, as validation gives a null). Intervals
    not flagged A count as estimated, null (N) ones as missing too. ValueError for a day at another interval
    length (the caller then validates the raw readings instead)."""
    step = timedelta(minutes=interval_minutes)
    count = (end.astimezone(UTC) - start.astimezone(UTC)) // step  # absolute time, across DST
    chosen = [d for d in days if d.values and d.start < end and d.end > start]
    for day in chosen:
        if day.interval_minutes != interval_minutes:
            raise ValueError(
                f"rated day {day.day} has {day.interval_minutes}-minute intervals, not {interval_minutes}"
            )
    exponent = min((d.exponent for d in chosen), default=0)
    values = [0] * count
    covered = [False] * count
    estimated: set[int] = set()
    missing: set[int] = set()
    origin = start.astimezone(UTC)
    for day in chosen:
        scale = 10 ** (day.exponent - exponent)
        offset = (day.start.astimezone(UTC) - origin) // step
        for i, value in enumerate(day.values):
            at = offset + i
            if 0 <= at < count:
                values[at], covered[at] = value * scale, True
                if day.qualities[i] != "A":
                    estimated.add(at)
                if day.qualities[i] == "N":
                    missing.add(at)
    missing |= {i for i, held in enumerate(covered) if not held}
    return IntervalSeries(
        start=start,
        interval_minutes=interval_minutes,
        values=values,
        exponent=exponent,
        unit=unit,
        estimated=frozenset(estimated | missing),
        missing=frozenset(missing),
    )
