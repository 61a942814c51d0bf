"""What every meter-data importer shares: the format a file is in, the error a bad file raises, progress for a
person, and the all-or-nothing import.

Readers stream: ``read_nem12`` and ``read_greenbutton`` yield readings while they read and raise
:class:`ImportFormatError` at the first fault, so a caller that stores as it goes may have stored part of a
bad file. Where that must not happen, read the file twice (files are re-readable): a first pass that checks
everything and keeps nothing but counts (:func:`summarize`), then a second pass that streams the readings
(:func:`read_all_or_nothing` does both). Memory stays flat either way; the price is reading the file twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Literal

from meterbill.meterdata.csvio import INTERVAL_COLUMNS, SESSION_COLUMNS
from meterbill.meterdata.readings import IntervalReading

FileFormat = Literal["nem12", "greenbutton", "csv"]
# progress(bytes_read, total_bytes): total_bytes is None where the size is not known (a pipe, a stream).
ProgressCallback = Callable[[int, int | None], None]

PROGRESS_EVERY_BYTES = 1 << 20
PROGRESS_EVERY_SECONDS = 1.0
ATOM_NAMESPACE = b"http://www.w3.org/2005/Atom"
ESPI_NAMESPACE = b"http://naesb.org/espi"


class ImportFormatError(ValueError):
    """A file that cannot be imported: ``line`` is the 1-based line at fault, ``reason`` says why."""

    def __init__(self, source: str, line: int, reason: str) -> None:
        super().__init__(f"{source}:{line}: {reason}")
        self.source = source
        self.line = line
        self.reason = reason


def detect_format(first_bytes: bytes, source: str = "input") -> FileFormat:
    """The format of a file from its first bytes (a few KiB), whatever its name says.

    AEMO files often have no extension or end in .V01, .mdff or .txt: NEM12 is recognised by its ``100,NEM12``
    header record (or, headerless, by a first ``200`` record, so the NEM12 reader can say what is missing);
    Green Button by the Atom or ESPI namespace of its XML; a meterbill CSV by its header. Anything else
    raises :class:`ImportFormatError` on line 1.
    """
    text = first_bytes.removeprefix(b"\xef\xbb\xbf").lstrip()
    first_line = text.split(b"\n", 1)[0].strip().decode("utf-8", "replace")
    fields = [part.strip().lower() for part in first_line.split(",")]
    if fields[:2] == ["100", "nem12"] or (fields[0] == "200" and len(fields) >= 9):
        return "nem12"
    if fields[:2] == ["100", "nem13"]:
        reason = "a NEM13 file (accumulated meter reads); only NEM12 interval data can be imported"
        raise ImportFormatError(source, 1, reason)
    if text.startswith(b"<"):
        if ATOM_NAMESPACE in text or ESPI_NAMESPACE in text:
            return "greenbutton"
        reason = "XML, but not a Green Button feed: no Atom or ESPI (http://naesb.org/espi) namespace"
        raise ImportFormatError(source, 1, reason)
    if "start" in fields and set(fields) <= {*INTERVAL_COLUMNS, *SESSION_COLUMNS}:
        return "csv"
    expected = (
        f"a NEM12 file (100,NEM12,...), a Green Button XML feed or a CSV with the header "
        f"{','.join(INTERVAL_COLUMNS)!r}"
    )
    raise ImportFormatError(source, 1, f"unknown format: expected {expected}, got {first_line[:60]!r}")


class ProgressMeter:
    """Tells ``callback`` how far a read has got: after about every MiB or second, whichever comes first, and
    once at the end. Without a callback it does nothing."""

    def __init__(
        self,
        callback: ProgressCallback | None,
        total_bytes: int | None,
        *,
        every_bytes: int = PROGRESS_EVERY_BYTES,
        every_seconds: float = PROGRESS_EVERY_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._callback = callback
        self._total = total_bytes
        self._every_bytes = every_bytes
        self._every_seconds = every_seconds
        self._clock = clock
        self.bytes_read = 0
        self._reported_bytes = 0
        self._reported_at = clock()

    def advance(self, byte_count: int) -> None:
        if self._callback is None:
            return
        self.bytes_read += byte_count
        enough_bytes = self.bytes_read - self._reported_bytes >= self._every_bytes
        if enough_bytes or self._clock() - self._reported_at >= self._every_seconds:
            self._report()

    def finish(self) -> None:
        if self._callback is not None and self.bytes_read != self._reported_bytes:
            self._report()

    def _report(self) -> None:
        assert self._callback is not None
        self._reported_bytes = self.bytes_read
        self._reported_at = self._clock()
        self._callback(self.bytes_read, self._total)


@dataclass
class ImportSummary:
    """What a checking pass saw: how many readings, their total per (meter, unit), and the time they span."""

    readings: int = 0
    totals: dict[tuple[str, str], Decimal] = field(default_factory=dict)
    first_start: datetime | None = None
    last_end: datetime | None = None


def summarize(readings: Iterable[IntervalReading]) -> ImportSummary:
    """Every reading read, only counts and totals kept: the checking pass of an all-or-nothing import."""
    summary = ImportSummary()
    totals = summary.totals
    for reading in readings:
        summary.readings += 1
        key = (reading.meter, reading.unit)
        totals[key] = totals.get(key, Decimal(0)) + reading.value
        if summary.first_start is None or reading.start < summary.first_start:
            summary.first_start = reading.start
        if summary.last_end is None or reading.end > summary.last_end:
            summary.last_end = reading.end
    return summary


def read_all_or_nothing(read: Callable[[], Iterator[IntervalReading]]) -> Iterator[IntervalReading]:
    """The readings of a file, only if all of it is valid.

    ``read`` opens the file and starts a streaming reader, e.g.
    ``lambda: read_nem12(open(path, newline=""), path)``; it is called twice, once to check the whole file and
    once to stream. Nothing is yielded before the check has passed: a bad file raises at the first ``next()``.
    """
    summarize(read())
    yield from read()
