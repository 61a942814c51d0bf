"""Readings in a dict, with their superseded versions and rating marks."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, date, datetime

from meterbill.meterdata.readings import replaces
from meterbill.ports import (
    PendingMark,
    PutResult,
    RawReading,
    ReadingStore,
    SupersededReading,
)
from tests.fakes.common import fixed_clock


def reading_slot(reading: RawReading) -> tuple[object, ...]:
    """What makes two raw readings versions of one interval (ports.ReadingStore): meter, type, interval
    length and instant."""
    return (reading.meter_id, reading.type, reading.interval_minutes, reading.timestamp)


class FakeReadingStore(ReadingStore):
    """``items[account]`` holds the current readings (a replacement takes the place of the version it
    replaces), ``history[account]`` the replaced versions in the order they were replaced; ``put_calls``
    counts the writes. ``clock`` says when a replacing version was received. ``marks[(account, meter, UTC
    day)]`` counts the calls that stored a reading of that meter and day since the mark was last cleared."""

    def __init__(self, clock: Callable[[], datetime] = fixed_clock) -> None:
        self.items: dict[str, list[RawReading]] = {}
        self.history: dict[str, list[SupersededReading]] = {}
        self.marks: dict[tuple[str, str, date], int] = {}
        self._clock = clock
        self.put_calls = 0

    def put_new(self, account: str, readings: Sequence[RawReading]) -> PutResult:
        self.put_calls += 1
        stored = self.items.setdefault(account, [])
        history = self.history.setdefault(account, [])
        position = {reading_slot(reading): i for i, reading in enumerate(stored)}
        received = self._clock()
        written: list[int] = []
        duplicates: list[int] = []
        replaced: list[int] = []
        outranked: list[int] = []
        for index, reading in enumerate(readings):
            if reading.timestamp.tzinfo is None:
                raise ValueError(f"readings[{index}]: naive timestamp {reading.timestamp.isoformat()}")
            slot = reading_slot(reading)
            at = position.get(slot)
            if at is None:
                position[slot] = len(stored)
                stored.append(reading)
                written.append(index)
                continue
            current = stored[at]
            if (current.value, current.quality) == (reading.value, reading.quality):
                duplicates.append(index)
            elif replaces(reading.quality, current.quality):
                order = 1 + sum(reading_slot(old.reading) == slot for old in history)
                history.append(SupersededReading(current, received, order))
                stored[at] = reading
                written.append(index)
                replaced.append(index)
            else:
                outranked.append(index)
        for key in {
            (account, readings[i].meter_id, readings[i].timestamp.astimezone(UTC).date()) for i in written
        }:
            self.marks[key] = self.marks.get(key, 0) + 1
        return PutResult(written=written, duplicates=duplicates, replaced=replaced, outranked=outranked)

    def mark_for_rating(self, account: str, meter_id: str, *days: date) -> None:
        for day in days:
            self.marks[(account, meter_id, day)] = self.marks.get((account, meter_id, day), 0) + 1

    def pending_marks(self, *, limit: int) -> Sequence[PendingMark]:
        return [PendingMark(a, m, d, n) for (a, m, d), n in sorted(self.marks.items())][:limit]

    def clear_mark(self, mark: PendingMark) -> bool:
        key = (mark.account, mark.meter_id, mark.day)
        if self.marks.get(key) != mark.changes:
            return False
        del self.marks[key]
        return True

    def between(self, account: str, meter_id: str, start: datetime, end: datetime) -> Iterator[RawReading]:
        chosen = [
            r for r in self.items.get(account, []) if r.meter_id == meter_id and start <= r.timestamp < end
        ]
        return iter(sorted(chosen, key=lambda r: r.timestamp))

    def superseded(
        self, account: str, meter_id: str, start: datetime, end: datetime
    ) -> Iterator[SupersededReading]:
        chosen = [
            old
            for old in self.history.get(account, [])
            if old.reading.meter_id == meter_id and start <= old.reading.timestamp < end
        ]
        return iter(sorted(chosen, key=lambda old: (old.reading.timestamp, old.order)))
