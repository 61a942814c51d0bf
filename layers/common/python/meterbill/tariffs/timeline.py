"""The bill period on the site's local calendar, and a usage series laid over its days (``Timeline``): whole
days as runs of hours for the hot loops, every other day (DST days, the data's edges) cut on the wall clock.
The tariff engine prices from it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from zoneinfo import ZoneInfo

from meterbill.timeutil import (
    local_midnight,
    midnight_seconds,
    month_segments,
    utc_seconds,
    wall_clock_hours,
)
from meterbill.usage import IntervalSeries

SECONDS_PER_HOUR = 3600
SECONDS_PER_DAY = 86400


@dataclass(frozen=True, slots=True)
class BillPeriod:
    """[start, end) as local calendar days of the site's time zone."""

    start: date
    end: date
    tz: ZoneInfo

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError(f"bill period: end {self.end} must be after start {self.start}")

    @property
    def start_instant(self) -> datetime:
        return local_midnight(self.start, self.tz)

    @property
    def end_instant(self) -> datetime:
        return local_midnight(self.end, self.tz)

    def months(self) -> Iterator[BillPeriod]:
        for seg_start, seg_end in month_segments(self.start, self.end):
            yield BillPeriod(seg_start, seg_end, self.tz)


class Timeline:
    """The usage series laid over the local calendar days of the bill period.

    Whole days (24 hours of interval-aligned data, the common case) are kept as (day index, first interval
    index) and handled by runs of hours, so hot loops do one C-level sum or max per run. Every other day (a
    DST day, the edges of the data) is cut into slots on the wall clock (``wall_clock_hours``): (first index,
    end index, local hour, day index, UTC second that hour began on the clock) of the intervals that start in
    that run of the local hour. After a half-hour DST shift the slots start at the shift and on the half hour.
    """

    def __init__(
        self, series: IntervalSeries | None, period: BillPeriod, weekend_days: frozenset[date]
    ) -> None:
        self.series = series
        self.days: list[tuple[date, bool]] = []
        self.whole_days: list[tuple[int, int]] = []
        self.slots: list[tuple[int, int, int, int, int]] = []
        self.first = self.last = 0
        if series is None:
            return
        tz = period.tz
        self._step = series.interval_minutes * 60
        self._origin = utc_seconds(series.start)
        self.per_hour = SECONDS_PER_HOUR // self._step
        index_at = self._index_at
        per_day = SECONDS_PER_DAY // self._step
        origin, step = self._origin, self._step
        day = period.start
        day_start = midnight_seconds(day, tz)
        self.first = index_at(day_start)
        slots = self.slots
        while day < period.end:
            following = day + timedelta(days=1)
            day_end = midnight_seconds(following, tz)
            day_index = len(self.days)
            self.days.append((day, day.weekday() >= 5 or day in weekend_days))
            day_first, day_last = index_at(day_start), index_at(day_end)
            length = day_end - day_start
            whole = length == SECONDS_PER_DAY and (day_start - origin) % step == 0
            if whole and day_last - day_first == per_day:
                self.whole_days.append((day_index, day_first))
            elif day_first < day_last:
                if length == SECONDS_PER_DAY:
                    runs = [
                        (day_start + h * SECONDS_PER_HOUR, h, day_start + h * SECONDS_PER_HOUR)
                        for h in range(24)
                    ]
                else:
                    runs = wall_clock_hours(day_start, day_end, tz)
                run_ends = [run[0] for run in runs[1:]]
                run_ends.append(day_end)
                for (run_start, hour, clock_hour_start), run_end in zip(runs, run_ends, strict=True):
                    a, b = index_at(run_start), index_at(run_end)
                    if a < b:
                        slots.append((a, b, hour, day_index, clock_hour_start))
            day, day_start = following, day_end
        self.last = index_at(day_start)

    @property
    def has_usage(self) -> bool:
        return self.last > self.first

    def _index_at(self, instant: int) -> int:
        """The first interval starting at or after ``instant``, clipped to the series."""
        assert self.series is not None
        return min(max(-((self._origin - instant) // self._step), 0), len(self.series.values))

    def missing_intervals(self, period: BillPeriod) -> int:
        """Intervals of the bill period with no data: outside the series, or inside it but marked missing."""
        if self.series is None:
            return 0
        seconds = utc_seconds(period.end_instant) - utc_seconds(period.start_instant)
        uncovered = seconds // (self.series.interval_minutes * 60) - (self.last - self.first)
        return uncovered + sum(1 for i in self.series.missing if self.first <= i < self.last)

    def usage_totals(self) -> tuple[Decimal, Decimal]:
        series = self.series
        if series is None:
            return Decimal(0), Decimal(0)
        values = series.values
        estimated = sum(values[i] for i in series.estimated if self.first <= i < self.last)
        return series.quantity(sum(values[self.first : self.last])), series.quantity(estimated)

    def day_rows(
        self, weekday: Sequence[Sequence[int]], weekend: Sequence[Sequence[int]]
    ) -> list[Sequence[int]]:
        """Each day's 24-hour row of a month x hour schedule."""
        return [(weekend if off else weekday)[d.month - 1] for d, off in self.days]

    def _day_runs(self, rows: list[Sequence[int]]) -> Iterator[tuple[int, int, list[tuple[int, int, int]]]]:
        """(day index, first interval index, hour runs of the day's schedule row) for every whole day."""
        by_row: dict[int, list[tuple[int, int, int]]] = {}
        for day_index, first in self.whole_days:
            row = rows[day_index]
            runs = by_row.get(id(row))
            if runs is None:
                runs = by_row[id(row)] = hour_runs(row, self.per_hour)
            yield day_index, first, runs

    def totals_by_period(self, rows: list[Sequence[int]] | None, periods: int) -> list[int]:
        assert self.series is not None
        values = self.series.values
        if rows is None:
            return [sum(values[self.first : self.last])]
        totals = [0] * periods
        for _, first, hour_runs in self._day_runs(rows):
            for a, b, p in hour_runs:
                totals[p] += sum(values[first + a : first + b])
        for a, b, hour, day_index, _ in self.slots:
            totals[rows[day_index][hour]] += sum(values[a:b])
        return totals

    def peaks(
        self, window_minutes: int, rows: list[Sequence[int]] | None
    ) -> tuple[dict[tuple[int, int], int], int]:
        """Highest window energy per (month key, period), and the minutes that energy was averaged over.

        Windows are aligned to the local clock. With intervals at least as long as the window, each interval's
        own average counts.
        """
        series = self.series
        assert series is not None
        values = series.values
        interval = series.interval_minutes
        group = window_minutes // interval if interval < window_minutes else 1

        def highest(a: int, b: int) -> int:
            # [a, b) starts on a window boundary and holds whole windows.
            if group == 1:
                return max(values[a:b])
            return max(map(sum, zip(*[iter(values[a:b])] * group, strict=True)))

        month_keys = [d.year * 12 + d.month - 1 for d, _ in self.days]
        peaks: dict[tuple[int, int], int] = {}

        def record(key: tuple[int, int], peak: int) -> None:
            if peak > peaks.get(key, -1):
                peaks[key] = peak

        if rows is None:
            for day_index, first in self.whole_days:
                record((month_keys[day_index], 0), highest(first, first + self.per_hour * 24))
        else:
            for day_index, first, hour_runs in self._day_runs(rows):
                month_key = month_keys[day_index]
                for a, b, p in hour_runs:
                    record((month_key, p), highest(first + a, first + b))
        window_seconds = window_minutes * 60
        for a, b, hour, day_index, hour_start in self.slots:
            if group == 1:
                peak = max(values[a:b])
            else:
                cuts = [a]
                for cut in range(hour_start + window_seconds, hour_start + SECONDS_PER_HOUR, window_seconds):
                    c = self._index_at(cut)
                    if a < c < b:
                        cuts.append(c)
                cuts.append(b)
                peak = max(sum(values[s:e]) for s, e in pairwise(cuts))
            record((month_keys[day_index], rows[day_index][hour] if rows is not None else 0), peak)
        return peaks, interval * group


def hour_runs(row: Sequence[int], per_hour: int) -> list[tuple[int, int, int]]:
    """(first, end interval offset from midnight, period) for each run of hours with the same period."""
    runs = []
    start = 0
    for hour in range(1, 25):
        if hour == 24 or row[hour] != row[start]:
            runs.append((start * per_hour, hour * per_hour, row[start]))
            start = hour
    return runs
