"""AEMO NEM12 interval meter data files (the MDFF "NEM12" format), read as a stream of interval readings.

A NEM12 file is CSV records, one a line::

    100,NEM12,200506081149,UNITEDDP,NEMMCO              header: version, created, from, to
    200,NEM1201009,E1E2,1,E1,N1,01009,kWh,30,20050610    a channel: NMI, ..., NMI suffix, ..., unit, minutes
    300,20050301,0.461,0.810,...,0.231,A,,,20050310121004,   one day: date, 1440/minutes values, quality
    400,1,20,F14,76,                                     quality of intervals 1-20 when the 300's is V
    500,O,S01009,20050310121004,                         B2B details (ignored)
    900                                                  end of data

Every NMI channel (200 record) becomes one meter ``<NMI>-<NMI suffix>`` (``NEM1201009-E1``); each 300
record gives that day's intervals, the first starting at midnight. NEM time is Australian Eastern Standard
Time all year (UTC+10:00, no daylight saving), so every datetime is aware with that fixed offset. Values are
exact Decimals in the 200 record's unit, spelled as the spec spells it (``KWH`` and ``kwh`` read as ``kWh``).

The quality of a 300 record applies to all its intervals (``A``; ``E52``: estimated by method 52; ``S14,79``:
substituted by method 14 for reason 79), except quality ``V`` (variable): then the 400 records that follow
give it per range of intervals, and must cover every interval once, in order. A file needs at least one 200
record: a header and an end alone are refused ("no 200 record"), not read as a file without data.

:func:`read_nem12` streams: a day's readings are yielded once its 400 records are known, and memory holds
one day at a time. The first fault raises :class:`ImportFormatError` with the line and the reason; readings
yielded before it have been yielded, so where a bad file must leave no trace, check it first and read it
again (:func:`validate_nem12`, :func:`meterbill.meterdata.importing.read_all_or_nothing`).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

from meterbill.meterdata.importing import (
    ImportFormatError,
    ImportSummary,
    ProgressCallback,
    ProgressMeter,
    summarize,
)
from meterbill.meterdata.readings import IntervalReading, Quality

NEM_TIME = timezone(timedelta(hours=10), "NEM time (UTC+10:00)")
MINUTES_PER_DAY = 24 * 60
INTERVAL_LENGTHS = (5, 15, 30)
# The units of measure of the MDFF specification, as it spells them; files spell them in any case.
UNITS = (
    "MWh", "kWh", "Wh", "MVArh", "kVArh", "VArh", "MVAh", "kVAh", "VAh",
    "MW", "kW", "W", "MVAr", "kVAr", "VAr", "MVA", "kVA", "VA", "kV", "V", "kA", "A", "pf",
)  # fmt: skip
_UNIT_BY_KEY = {unit.lower(): unit for unit in UNITS}
_QUALITY_FLAGS = frozenset("AEFNSV")
_QUALITY: dict[str, Quality] = {"A": "A", "E": "E", "F": "F", "N": "N", "S": "S"}
_NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)"
_NUMBER_PATTERN = re.compile(_NUMBER)
_NUMBER_LIST_PATTERN = re.compile(rf"{_NUMBER}(?:,{_NUMBER})*")
_RECORDS = "100, 200, 300, 400, 500 and 900"
_NEM13 = "a NEM13 file (accumulated meter reads); only NEM12 interval data can be imported"
NO_CHANNEL = "no 200 record: the file has a header and an end but no NMI channel, so no interval data"
_DATE_TIME_DIGITS = (12, 14)  # DateTime(12) CCYYMMDDhhmm and DateTime(14) CCYYMMDDhhmmss


@dataclass(frozen=True, slots=True)
class _Channel:
    """A 200 record: the NMI channel the 300 records after it belong to."""

    meter: str
    unit: str
    interval_minutes: int
    line: int

    @property
    def interval_count(self) -> int:
        return MINUTES_PER_DAY // self.interval_minutes


@dataclass(slots=True)
class _Day:
    """A 300 record, held until the 400 records after it are known."""

    channel: _Channel
    day: date
    values: list[Decimal]
    quality: Quality | None  # None: V (variable), the 400 records give it per interval
    method: str | None
    reason: str | None
    line: int
    # For quality V: (first interval, last interval, quality, method, reason) of each 400 record, in order.
    events: list[tuple[int, int, Quality, str | None, str | None]] = field(default_factory=list)
    covered: int = 0  # intervals covered by the 400 records so far
    last_event_line: int = 0


def read_nem12(
    lines: Iterable[str],
    source: str,
    *,
    progress: ProgressCallback | None = None,
    total_bytes: int | None = None,
) -> Iterator[IntervalReading]:
    """The interval readings of a NEM12 file, day by day, as its lines are read.

    ``lines`` is any iterable of text lines, e.g. ``open(path, newline="")``; ``source`` names the file in
    errors. ``progress(bytes_read, total_bytes)`` is called about every MiB or second (bytes are counted as
    characters, which they are in an ASCII NEM12 file; open it with ``newline=""`` to count line ends too).
    """
    reader = _Reader(source)
    progress_meter = ProgressMeter(progress, total_bytes)
    for number, line in enumerate(lines, start=1):
        progress_meter.advance(len(line))
        released = reader.release_day_ended_by(line)
        if released:
            yield from released
        reader.record(number, line)
    reader.end()
    progress_meter.finish()


def validate_nem12(
    lines: Iterable[str],
    source: str,
    *,
    progress: ProgressCallback | None = None,
    total_bytes: int | None = None,
) -> ImportSummary:
    """Check a whole NEM12 file, keeping only counts and totals: the first pass of an all-or-nothing import.

    Raises :class:`ImportFormatError` like :func:`read_nem12`; if it returns, a second ``read_nem12`` of the
    same file yields exactly ``summary.readings`` readings without an error.
    """
    return summarize(read_nem12(lines, source, progress=progress, total_bytes=total_bytes))


class _Reader:
    """The state between records: where the header and end are, the current channel, the day being held."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.header_line = 0
        self.end_line = 0
        self.last_line = 0
        self.channel: _Channel | None = None
        self.day: _Day | None = None
        self._interval_starts: dict[int, list[timedelta]] = {
            minutes: [timedelta(minutes=minutes * i) for i in range(MINUTES_PER_DAY // minutes + 1)]
            for minutes in INTERVAL_LENGTHS
        }

    def error(self, line: int, reason: str) -> ImportFormatError:
        return ImportFormatError(self.source, line, reason)

    def release_day_ended_by(self, text: str) -> list[IntervalReading]:
        """The held day's readings if this line ends it: any record but a 400 does (a blank line does not)."""
        if self.day is None:
            return []
        indicator = text.split(",", 1)[0].strip()
        if not indicator or indicator == "400":
            return []
        return self._release()

    def record(self, line: int, text: str) -> None:
        """Take in one line (after :meth:`release_day_ended_by`)."""
        text = text.strip()
        if not text:
            return
        self.last_line = line
        fields = _split(text)
        indicator = fields[0].lstrip("\ufeff").strip()
        if self.end_line:
            raise self.error(line, f"a record after the 900 end-of-data record on line {self.end_line}")
        if not self.header_line and indicator != "100":
            reason = f"the file must start with a 100 header record (100,NEM12,...), got {text[:40]!r}"
            raise self.error(line, reason)
        if indicator == "400":
            self._event(line, fields)
        elif indicator == "300":
            self.day = self._day(line, fields)
        elif indicator == "200":
            self.channel = self._channel(line, fields)
        elif indicator == "500":
            if self.channel is None:
                raise self.error(line, "a 500 B2B details record before any 200 NMI data details record")
        elif indicator == "900":
            self.end_line = line
        elif indicator == "100":
            if self.header_line:
                reason = f"a second 100 header record (the first is on line {self.header_line})"
                raise self.error(line, reason)
            self._header(line, fields)
        elif indicator in ("250", "550"):
            raise self.error(line, f"a NEM13 {indicator} record: only NEM12 interval data can be imported")
        else:
            raise self.error(line, f"unknown record indicator {indicator!r}; NEM12 records are {_RECORDS}")

    def end(self) -> None:
        if not self.header_line:
            raise self.error(1, "empty file: a NEM12 file starts with a 100 header record")
        if not self.end_line:
            raise self.error(self.last_line, "the file ends without a 900 end-of-data record")
        if self.channel is None:
            raise self.error(self.end_line, NO_CHANNEL)

    def _header(self, line: int, fields: list[str]) -> None:
        fields = _trimmed(fields)
        version = fields[1].strip().upper() if len(fields) > 1 else ""
        if version == "NEM13":
            raise self.error(line, _NEM13)
        if version != "NEM12":
            raise self.error(line, f"version header {version!r} in the 100 record; expected NEM12")
        if len(fields) > 5:
            raise self.error(line, f"the 100 record has {len(fields)} fields; expected 5")
        if len(fields) > 2 and fields[2].strip():
            self._date_time(line, fields[2], "DateTime", (12,))
        self.header_line = line

    def _channel(self, line: int, fields: list[str]) -> _Channel:
        fields = [part.strip() for part in _trimmed(fields)]
        if not 9 <= len(fields) <= 10:
            raise self.error(line, f"the 200 record has {len(fields)} fields; expected 9 or 10")
        nmi, suffix, unit_text, minutes_text = fields[1], fields[4], fields[7], fields[8]
        if not nmi:
            raise self.error(line, "the 200 record has no NMI")
        if not suffix:
            raise self.error(line, f"the 200 record for NMI {nmi} has no NMISuffix")
        unit = _UNIT_BY_KEY.get(unit_text.lower())
        if unit is None:
            reason = f"unknown unit of measure {unit_text!r}; NEM12 units are {', '.join(UNITS)}"
            raise self.error(line, reason)
        if not minutes_text.isdigit() or int(minutes_text) not in INTERVAL_LENGTHS:
            allowed = ", ".join(map(str, INTERVAL_LENGTHS))
            raise self.error(line, f"interval length {minutes_text!r}; NEM12 intervals are {allowed} minutes")
        if len(fields) == 10 and fields[9]:
            self._date(line, fields[9], "NextScheduledReadDate")
        return _Channel(f"{nmi}-{suffix}", unit, int(minutes_text), line)

    def _day(self, line: int, fields: list[str]) -> _Day:
        channel = self.channel
        if channel is None:
            raise self.error(line, "a 300 interval data record before any 200 NMI data details record")
        day = self._date(line, fields[1] if len(fields) > 1 else "", "IntervalDate")
        count = channel.interval_count
        quality_at = 2 + count
        if not (len(fields) > quality_at and _is_quality_method(fields[quality_at])):
            found = next((i for i in range(2, len(fields)) if _is_quality_method(fields[i])), None)
            if found is None and len(fields) > quality_at and fields[quality_at].strip()[:1].isalpha():
                self._quality_method(line, fields[quality_at])  # a word where the quality goes: say why
            values = (len(fields) if found is None else found) - 2
            got = f"{values} and no QualityMethod" if found is None else str(values)
            message = (
                f"expected {count} interval values ({channel.interval_minutes}-minute intervals, 200 record "
                f"on line {channel.line}), got {got}"
            )
            raise self.error(line, message)
        trailer = _trimmed(fields[quality_at:])
        if len(trailer) > 5:
            raise self.error(line, f"{len(trailer) - 5} unexpected fields after the MSATSLoadDateTime")
        trailer += [""] * (5 - len(trailer))
        quality, method = self._quality_method(line, trailer[0])
        reason = self._reason(line, trailer[1], trailer[2])
        if trailer[3].strip():
            self._date_time(line, trailer[3], "UpdateDateTime", _DATE_TIME_DIGITS)
        if trailer[4].strip():
            self._date_time(line, trailer[4], "MSATSLoadDateTime", _DATE_TIME_DIGITS)
        return _Day(channel, day, self._values(line, fields[2:quality_at]), quality, method, reason, line)

    def _event(self, line: int, fields: list[str]) -> None:
        day = self.day
        if day is None or day.quality is not None:
            raise self.error(line, "a 400 interval event record must follow a 300 record whose quality is V")
        fields = _trimmed(fields)
        if not 4 <= len(fields) <= 6:
            raise self.error(line, f"the 400 record has {len(fields)} fields; expected 6")
        fields += [""] * (6 - len(fields))
        count = day.channel.interval_count
        first = self._interval_number(line, fields[1], "StartInterval", count)
        last = self._interval_number(line, fields[2], "EndInterval", count)
        if first != day.covered + 1:
            after = ", the one after the previous 400 record" if day.covered else ""
            reason = f"the 400 record starts at interval {first}; expected interval {day.covered + 1}{after}"
            raise self.error(line, reason)
        if last < first:
            reason = f"the 400 record ends (interval {last}) before it starts (interval {first})"
            raise self.error(line, reason)
        quality, method = self._quality_method(line, fields[3])
        if quality is None:
            reason = "quality V (variable) in a 400 record; a 400 record gives its intervals one quality"
            raise self.error(line, reason)
        day.events.append((first, last, quality, method, self._reason(line, fields[4], fields[5])))
        day.covered = last
        day.last_event_line = line

    def _release(self) -> list[IntervalReading]:
        """The held day's readings, now that no more 400 records can follow it."""
        day = self.day
        if day is None:
            return []
        self.day = None
        channel = day.channel
        count = channel.interval_count
        if day.quality is None and day.covered != count:
            if not day.events:
                message = "quality V (variable) but no 400 records follow to give the intervals' quality"
                raise self.error(day.line, message)
            message = f"the 400 records cover intervals 1-{day.covered} of {count}; every interval needs one"
            raise self.error(day.last_event_line, message)
        offsets = self._interval_starts[channel.interval_minutes]
        midnight = datetime(day.day.year, day.day.month, day.day.day, tzinfo=NEM_TIME)
        bounds = [midnight + offset for offset in offsets]
        meter, unit, values = channel.meter, channel.unit, day.values
        if day.quality is not None:
            quality, method, reason = day.quality, day.method, day.reason
            return [
                IntervalReading(meter, bounds[i], bounds[i + 1], values[i], unit, quality, method, reason)
                for i in range(count)
            ]
        return [
            IntervalReading(
                meter, bounds[i], bounds[i + 1], values[i], unit, event_quality, event_method, why
            )
            for first, last, event_quality, event_method, why in day.events
            for i in range(first - 1, last)
        ]

    def _quality_method(self, line: int, text: str) -> tuple[Quality | None, str | None]:
        """The quality flag (None for V, variable) and the method flag of a QualityMethod like ``S14``."""
        text = text.strip()
        if not _is_quality_method(text):
            reason = f"QualityMethod {text!r}: expected a quality flag (A, E, F, N, S or V) and a method"
            raise self.error(line, reason)
        method = text[1:]
        if method and not (len(method) == 2 and method.isdigit()):
            reason = f"QualityMethod {text!r}: the method flag after {text[0]} must be two digits"
            raise self.error(line, reason)
        return _QUALITY.get(text[0]), method or None

    def _reason(self, line: int, code: str, description: str) -> str | None:
        code, description = code.strip(), description.strip()
        if code and not (code.isdigit() and len(code) <= 3):
            raise self.error(line, f"ReasonCode {code!r} is not a number")
        if not code:
            return description or None
        return f"{code}: {description}" if description else code

    def _values(self, line: int, texts: list[str]) -> list[Decimal]:
        """Plain non-negative decimals (``0.5``, ``12``, ``.005``); one pattern checks a whole day at once."""
        if not _NUMBER_LIST_PATTERN.fullmatch(",".join(texts)):
            for interval, text in enumerate(texts, start=1):
                text = text.strip()
                if not _NUMBER_PATTERN.fullmatch(text):
                    if not text:
                        raise self.error(line, f"interval {interval} has no value")
                    if text.startswith("-") and _NUMBER_PATTERN.fullmatch(text[1:]):
                        raise self.error(line, f"interval {interval}: negative value {text}")
                    raise self.error(line, f"interval {interval}: value {text!r} is not a number")
            texts = [text.strip() for text in texts]
        return list(map(Decimal, texts))

    def _interval_number(self, line: int, text: str, name: str, count: int) -> int:
        text = text.strip()
        if not text.isdigit() or not 1 <= int(text) <= count:
            raise self.error(line, f"{name} {text!r} is not an interval number from 1 to {count}")
        return int(text)

    def _date(self, line: int, text: str, name: str) -> date:
        text = text.strip()
        if len(text) != 8 or not text.isdigit():
            raise self.error(line, f"{name} {text!r} is not a date (CCYYMMDD)")
        try:
            return date(int(text[:4]), int(text[4:6]), int(text[6:]))
        except ValueError:
            raise self.error(line, f"{name} {text!r} is not a date (CCYYMMDD)") from None

    def _date_time(self, line: int, text: str, name: str, digits: tuple[int, ...]) -> None:
        text = text.strip()
        shape = " or ".join("CCYYMMDDhhmmss"[:n] for n in digits)
        if len(text) not in digits or not text.isdigit():
            raise self.error(line, f"{name} {text!r} is not a date and time ({shape})")
        try:
            datetime(int(text[:4]), int(text[4:6]), int(text[6:8]), int(text[8:10]), int(text[10:12]),
                     int(text[12:14] or 0))  # fmt: skip
        except ValueError:
            raise self.error(line, f"{name} {text!r} is not a date and time ({shape})") from None


def _split(text: str) -> list[str]:
    if '"' in text:
        return next(csv.reader([text]))
    return text.split(",")


def _trimmed(fields: list[str]) -> list[str]:
    """Without trailing empty fields (some distributors pad every record to the width of the widest)."""
    end = len(fields)
    while end > 1 and not fields[end - 1].strip():
        end -= 1
    return fields[:end]


def _is_quality_method(text: str) -> bool:
    text = text.strip()
    return bool(text) and text[0] in _QUALITY_FLAGS
