"""The working window's interval grid, and where instants fall on it.

Decides which intervals a validation looks at: the span, plus ``like_day_weeks`` weeks and a day before it
(like days, bounds) and a day after it (bounds), counted in absolute time across DST; which grid boundary a
reading's instant sits on (-1 between boundaries); which intervals a stretch of time overlaps; and which
interval is a like day of another (the same local weekday and time on the clock of ``start``'s zone).
Raises ReadingsError for naive timestamps and a span that is not a whole number of intervals.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from itertools import accumulate, compress, islice, repeat
from operator import attrgetter, floordiv, mod, ne, sub
from typing import NamedTuple

from meterbill.meterdata.validation import ReadingsError, ValidationConfig

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)
_US_PER_MINUTE = 60_000_000
_LOOKAHEAD = timedelta(days=1)  # a gap at the span's end may be bounded by a read up to a day later
_TZINFO = attrgetter("tzinfo")


@dataclass(frozen=True, slots=True)
class _Grid:
    """The working window's intervals: boundary i at ``origin + i * step``; the span is [first, stop)."""

    origin_us: int
    step_us: int
    count: int
    first: int
    stop: int
    zone: tzinfo
    interval_minutes: int

    @classmethod
    def around(cls, start: datetime, end: datetime, interval_minutes: int, config: ValidationConfig) -> _Grid:
        zone = start.tzinfo
        if zone is None or start.utcoffset() is None:
            raise ReadingsError("start", f"{start.isoformat()} has no time zone")
        if end.tzinfo is None or end.utcoffset() is None:
            raise ReadingsError("end", f"{end.isoformat()} has no time zone")
        step = timedelta(minutes=interval_minutes)
        start_us, end_us = (start - _EPOCH) // _ONE_US, (end - _EPOCH) // _ONE_US  # absolute, across DST
        step_us = interval_minutes * _US_PER_MINUTE
        span, remainder = divmod(end_us - start_us, step_us)
        if span <= 0 or remainder:
            raise ReadingsError("end", f"[{start}, {end}) is not a positive whole number of {step} intervals")
        lookback = (timedelta(weeks=config.like_day_weeks) + timedelta(days=1)) // step
        lookahead = _LOOKAHEAD // step
        return cls(
            origin_us=start_us - lookback * step_us,
            step_us=step_us,
            count=lookback + span + lookahead,
            first=lookback,
            stop=lookback + span,
            zone=zone,
            interval_minutes=interval_minutes,
        )

    @property
    def end_us(self) -> int:
        return self.origin_us + self.count * self.step_us

    def us(self, boundary: int) -> int:
        return self.origin_us + boundary * self.step_us

    def at(self, us: int) -> datetime:
        seconds, microseconds = divmod(us, 1_000_000)
        moment = datetime.fromtimestamp(seconds, self.zone)  # an int: exact
        return moment.replace(microsecond=microseconds) if microseconds else moment

    def time(self, boundary: int) -> datetime:
        return self.at(self.us(boundary))

    def covering(self, from_us: int, to_us: int) -> range:
        """The intervals of the window that overlap (from, to)."""
        first = (from_us - self.origin_us) // self.step_us
        stop = -((self.origin_us - to_us) // self.step_us)  # ceiling
        return range(max(first, 0), min(stop, self.count))

    def like_day(self, boundary: int, weeks_back: int) -> int | None:
        """The interval at the same local weekday and time ``weeks_back`` weeks earlier, if in the window."""
        if isinstance(self.zone, timezone):  # a fixed offset: a week is always the same number of intervals
            index = boundary - weeks_back * (7 * 24 * 60 // self.interval_minutes)
        else:
            earlier = self.time(boundary) - timedelta(weeks=weeks_back)  # wall-clock arithmetic in the zone
            index, off_grid = divmod((earlier - _EPOCH) // _ONE_US - self.origin_us, self.step_us)
            if off_grid:
                return None
        return index if 0 <= index < self.count else None

    def duration(self, intervals: int) -> str:
        return _duration(intervals * self.interval_minutes)


@functools.lru_cache(maxsize=1024)
def _duration(minutes: int) -> str:
    """``3 h``, ``1 h 45 min``, ``2 days 3 h``."""
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    parts = (
        f"{days} day{'s' * (days != 1)}" * bool(days),
        f"{hours} h" * bool(hours),
        f"{minutes} min" * bool(minutes),
    )
    return " ".join(part for part in parts if part) or "0 min"


class _Instants(NamedTuple):
    us: list[int]  # microseconds since the epoch
    boundary: list[int]  # the grid boundary at each, -1 between boundaries (empty without a grid)
    increasing: bool | None  # strictly, if known (then there are no duplicates and no need to sort)


def _microseconds(stamps: list[datetime], what: str) -> list[int]:
    """Microseconds since the epoch of each (aware) timestamp."""
    return _instants(stamps, what, None).us


def _instants(stamps: list[datetime], what: str, grid: _Grid | None) -> _Instants:
    """Microseconds since the epoch of each (aware) timestamp and, given a grid, the boundary each one is on.

    Converting one timestamp costs about as much as validating it, so where all share one fixed offset (UTC,
    as collectors send them) only the first is converted and the rest follow from their differences, which are
    exact there and mostly one and the same step: the meter's interval, one boundary further."""
    if not stamps:
        return _Instants([], [], True)
    zone = stamps[0].tzinfo
    if isinstance(zone, timezone) and list(map(_TZINFO, stamps)).count(zone) == len(stamps):
        steps = list(map(sub, islice(stamps, 1, None), stamps))
        sample = steps[:64]
        usual = max(sample, key=sample.count) if sample else _ONE_US
        increments = [usual // _ONE_US] * len(steps)
        unusual = list(compress(range(len(steps)), map(ne, steps, repeat(usual))))
        for position in unusual:
            increments[position] = steps[position] // _ONE_US
        us = list(accumulate(increments, initial=(stamps[0] - _EPOCH) // _ONE_US))
        increasing = usual > timedelta(0) and all(increments[p] > 0 for p in unusual)
        if grid is None:
            return _Instants(us, [], increasing)
        first, off_grid = divmod(us[0] - grid.origin_us, grid.step_us)
        if (
            usual // _ONE_US == grid.step_us
            and not off_grid
            and all(increments[p] % grid.step_us == 0 for p in unusual)
        ):
            moves = [1] * len(steps)
            for position in unusual:
                moves[position] = increments[position] // grid.step_us
            return _Instants(us, list(accumulate(moves, initial=first)), increasing)
    else:
        try:
            us = list(map(floordiv, map(sub, stamps, repeat(_EPOCH)), repeat(_ONE_US)))
        except TypeError:
            naive = next(s for s in stamps if s.tzinfo is None or s.utcoffset() is None)
            raise ReadingsError(f"{what} at {naive.isoformat()}", "timestamp has no time zone") from None
        increasing = None
        if grid is None:
            return _Instants(us, [], increasing)
    return _Instants(us, _boundaries(us, grid), increasing)


def _boundaries(us: list[int], grid: _Grid) -> list[int]:
    """The boundary of the grid at each instant, -1 for an instant between boundaries."""
    offsets = list(map(sub, us, repeat(grid.origin_us)))
    boundaries = list(map(floordiv, offsets, repeat(grid.step_us)))
    for position in compress(range(len(us)), map(mod, offsets, repeat(grid.step_us))):
        boundaries[position] = -1
    return boundaries
