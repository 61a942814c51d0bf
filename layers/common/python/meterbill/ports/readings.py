"""The readings store: raw readings in, exactly once, their superseded versions and rating marks."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Literal

ReadingType = Literal["register", "interval"]


@dataclass(frozen=True, slots=True)
class RawReading:
    """A reading as a collector or file sent it, after per-item validation; ``timestamp`` is aware."""

    meter_id: str
    timestamp: datetime
    value: Decimal
    type: ReadingType
    interval_minutes: int | None = None
    quality: str = "A"


@dataclass(frozen=True, slots=True)
class SupersededReading:
    """A version of a reading that a later one replaced (``ReadingStore.put_new``), kept for audit:
    ``superseded_at`` is when the replacing version was received, ``order`` counts the replacements of that
    interval (1 for the first); the replacing version's own receipt time is this ``superseded_at``."""

    reading: RawReading
    superseded_at: datetime
    order: int


@dataclass(frozen=True, slots=True)
class PutResult:
    """What became of each reading passed to ``put_new`` (by position): ``written`` were stored now (new, or
    ``replaced``: an earlier version of their interval was superseded - ``replaced`` is a subset of
    ``written``), ``duplicates`` equal the stored version, ``outranked`` were not stored because the stored
    version has a better quality."""

    written: Sequence[int]
    duplicates: Sequence[int]
    replaced: Sequence[int] = ()
    outranked: Sequence[int] = ()

    def __post_init__(self) -> None:  # lists, so results compare equal however they were built
        for name in ("written", "duplicates", "replaced", "outranked"):
            object.__setattr__(self, name, list(getattr(self, name)))


class ReadingStore(ABC):
    """Raw readings, one current version per interval: an interval (or a register read's instant) is
    (meter, type, interval length, timestamp). A reading for an interval that has none is stored; one equal
    to the stored version (value and quality) is a duplicate; one with another value or quality replaces the
    stored version if its quality ranks the same or higher (``meterbill.meterdata.readings.QUALITY_RANK``) and
    is outranked (not stored) otherwise. "Later" is the order in which the store receives them: within a call,
    the order of ``readings``; across calls, the order their writes land. A replaced version is kept
    (``superseded``), never lost."""

    @abstractmethod
    def put_new(self, account: str, readings: Sequence[RawReading]) -> PutResult:
        """Store what is not stored yet, exactly once even under retries and concurrent resends."""

    @abstractmethod
    def between(self, account: str, meter_id: str, start: datetime, end: datetime) -> Iterator[RawReading]:
        """The current readings of a meter with start <= timestamp < end, in timestamp order."""

    @abstractmethod
    def superseded(
        self, account: str, meter_id: str, start: datetime, end: datetime
    ) -> Iterator[SupersededReading]:
        """The replaced versions of a meter's readings with start <= timestamp < end, in timestamp order and,
        per interval, in the order they were replaced."""

    # Rating marks: ``put_new`` marks each (meter, UTC day) it stored a reading of (new or replacing) after
    # storing it, in the same call; the rating pass reads the marks and clears each one it has rated.

    @abstractmethod
    def mark_for_rating(self, account: str, meter_id: str, *days: date) -> None:
        """Marks each (meter, UTC day) as ``put_new`` does, without a reading: what validates them changed (a
        device exchange recorded on that day, a meter's settings), so the next pass rates them again."""

    @abstractmethod
    def pending_marks(self, *, limit: int) -> Sequence[PendingMark]:
        """Up to ``limit`` marks of every account, oldest day first within a meter."""

    @abstractmethod
    def clear_mark(self, mark: PendingMark) -> bool:
        """Removes the mark if it is unchanged since it was read (same ``changes``); False if a reading
        arrived in between (the mark stays for the next pass) or it is gone."""

    def clear_marks(self, marks: Sequence[PendingMark]) -> list[bool]:
        """``clear_mark`` of each mark (a store may send them side by side); the answers in mark order."""
        return [self.clear_mark(mark) for mark in marks]


@dataclass(frozen=True, slots=True)
class PendingMark:
    """Readings of ``meter_id`` whose timestamps fall on the UTC ``day`` were stored since the last rating
    pass; ``changes`` counts the ``put_new`` calls that marked it (a clear is conditional on it)."""

    account: str
    meter_id: str
    day: date
    changes: int
