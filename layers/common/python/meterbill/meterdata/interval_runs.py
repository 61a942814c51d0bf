"""A meter whose intervals change length: its readings cut into runs of one length, to validate one by one.

A NEM12 channel may change its interval length between two 200 records (30 minutes, then 15), and any file
may do the same. Validation works on one grid of one length, so a meter's readings are cut where the length
changes: each run is validated at its own length and every actual value is kept at the resolution the file
gives (none is summed into a coarser interval or dropped as misaligned).

A run starts at a reading of another allowed length that begins at or after the end of every reading before
it; a reading of a length that is not allowed, or one that overlaps the run before it, stays in that run
(where validation reports it misaligned, as it would without runs). ``until`` is where the next run starts:
a gap between two runs belongs to the run before it and is filled at that run's length.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from meterbill.meterdata.readings import IntervalReading

_MINUTE = timedelta(minutes=1)


@dataclass(slots=True)
class IntervalRun:
    """Readings of one interval length, in time order; the next run (if any) starts at ``until``."""

    interval_minutes: int
    readings: list[IntervalReading] = field(default_factory=list)
    until: datetime | None = None


def interval_runs(readings: Iterable[IntervalReading], allowed_minutes: Collection[int]) -> list[IntervalRun]:
    """The readings cut into runs of one interval length, in time order (one run if the length never changes,
    none without a reading of an allowed length)."""
    in_order = sorted(readings, key=lambda reading: reading.start.astimezone(UTC))
    runs: list[IntervalRun] = []
    before_first: list[IntervalReading] = []  # readings of no allowed length before the first run
    latest_end: datetime | None = None
    for reading in in_order:
        minutes = _minutes(reading, allowed_minutes)
        if minutes is not None and (not runs or _changes_length(runs[-1], minutes, reading, latest_end)):
            if runs:
                runs[-1].until = reading.start
            runs.append(IntervalRun(minutes, before_first))
            before_first = []
        (runs[-1].readings if runs else before_first).append(reading)
        if latest_end is None or reading.end > latest_end:
            latest_end = reading.end
    return runs


def _changes_length(
    run: IntervalRun, minutes: int, reading: IntervalReading, latest_end: datetime | None
) -> bool:
    """Whether ``reading`` (``minutes`` long) starts a new run after ``run``: another length, no overlap."""
    return minutes != run.interval_minutes and latest_end is not None and reading.start >= latest_end


def _minutes(reading: IntervalReading, allowed_minutes: Collection[int]) -> int | None:
    """The reading's length in minutes (absolute time), if it is an allowed interval length."""
    length = reading.end.astimezone(UTC) - reading.start.astimezone(UTC)
    minutes, rest = divmod(length, _MINUTE)
    return minutes if not rest and minutes in allowed_minutes else None
