"""Usage and meter data from CSV files.

For rating: an interval series (``start,value``) or usage sessions (``id,start,end``). For meter data, files
that name the meter on every row, any number of meters a file (the README's "Meter data files"):

- ``meter,start,value`` interval values, optionally with ``end``, ``unit``, ``quality``, ``method`` and
  ``reason`` columns (what ``meterbill convert`` and ``meterbill validate`` write). Without ``end``, each
  meter's interval length is inferred from its own rows: the most common time between its first
  ``INFERENCE_ROWS`` rows, which must be 1, 5, 15, 30 or 60 minutes; then every later row of the meter must
  start a whole number of intervals after the one before it (a gap is fine, validation fills it; a repeat of
  the same start is a resend). Without ``end``, a meter's rows must be in time order.
- ``meter,timestamp,register`` cumulative register reads, optionally with ``unit``, ``serial`` and
  ``quality``; any order, repeats allowed (validation decides between them).

Values are exact decimals as written (``0.500`` stays ``0.500``), never negative, at most 9 decimal places.

Timestamps are ISO 8601. One with an offset (``2026-01-01T00:15:00+01:00``, ``...Z``) is that instant; a
naive one is local time in the site's zone, and is rejected where the local clock is ambiguous or skipped (a
DST change): write the offset there. Readers stream: the text of a row is dropped once it is parsed, so memory
grows with the integer arrays only; the meter data readers yield readings as they read, holding at most
``INFERENCE_ROWS`` rows a meter. Every rejection names the file, the line and the reason.
"""

from __future__ import annotations

import csv
import re
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from itertools import pairwise
from typing import TYPE_CHECKING, Literal
from zoneinfo import ZoneInfo

from meterbill.meterdata.readings import IntervalReading, Quality, RegisterRead
from meterbill.units import METER_UNITS as METER_UNITS
from meterbill.usage import ALLOWED_INTERVAL_MINUTES, MAX_DECIMALS, IntervalSeries, Session, Usage

if TYPE_CHECKING:
    from meterbill.meterdata.importing import ProgressCallback

INTERVAL_COLUMNS = ("start", "value")
SESSION_COLUMNS = ("id", "start", "end")
METER_INTERVAL_COLUMNS = ("meter", "start", "value")
METER_INTERVAL_OPTIONAL_COLUMNS = ("end", "unit", "quality", "method", "reason")
METER_REGISTER_COLUMNS = ("meter", "timestamp", "register")
METER_REGISTER_OPTIONAL_COLUMNS = ("unit", "serial", "quality")
# The units a meter data file may name (in any letter case): energy, reactive and apparent energy, gas, water,
# heat and time; what NEM12 and Green Button files deliver and what meters in the catalog count.
INFERENCE_ROWS = 8  # without an end column, a meter's interval length is inferred from its first rows
MeterCsvKind = Literal["intervals", "registers"]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SECOND = timedelta(seconds=1)
_GAP_ADVICE = "`meterbill validate` fills gaps"
_PLAIN_DECIMAL = re.compile(r"([0-9]+)(?:\.([0-9]+))?")
_MAX_WHOLE_DIGITS = 15  # values below 10^15 (a petawatt-hour); bounds the integers a hostile file can make
_UNIT_BY_KEY = {unit.lower(): unit for unit in METER_UNITS}
_QUALITY_BY_LETTER: dict[str, Quality] = {"A": "A", "E": "E", "S": "S", "F": "F", "N": "N"}


class CsvFormatError(ValueError):
    """A CSV file that cannot be read as usage; ``line`` is the 1-based line at fault, None for the file."""

    def __init__(self, source: str, line: int | None, reason: str) -> None:
        where = source if line is None else f"{source}, line {line}"
        super().__init__(f"{where}: {reason}")
        self.source = source
        self.line = line
        self.reason = reason


def read_usage_csv(lines: Iterable[str], tz: ZoneInfo, unit: str, source: str) -> Usage:
    """An interval series or sessions, whichever the header announces."""
    rows = _Rows(lines, source)
    header = rows.header()
    if set(header) == set(SESSION_COLUMNS):
        return Usage(sessions=_read_sessions(rows, header, tz))
    return Usage(series=_read_intervals(rows, header, tz, unit))


def read_interval_csv(lines: Iterable[str], tz: ZoneInfo, unit: str, source: str) -> IntervalSeries:
    """A ``start,value`` file: equal, contiguous intervals of 1, 5, 15, 30 or 60 minutes, in any order."""
    rows = _Rows(lines, source)
    return _read_intervals(rows, rows.header(), tz, unit)


def read_sessions_csv(lines: Iterable[str], tz: ZoneInfo, source: str) -> list[Session]:
    """An ``id,start,end`` file: one usage session a row, ids unique; returned in order of start."""
    rows = _Rows(lines, source)
    return _read_sessions(rows, rows.header(), tz)


class _Rows:
    """CSV rows with their line numbers; blank lines are skipped, surrounding spaces dropped."""

    def __init__(self, lines: Iterable[str], source: str) -> None:
        self.source = source
        self._reader = csv.reader(iter(lines), strict=True)
        self.line = 0
        self.header_line = 1

    def error(self, reason: str) -> CsvFormatError:
        """An error on the line just read."""
        return CsvFormatError(self.source, self.line, reason)

    def error_at(self, line: int | None, reason: str) -> CsvFormatError:
        return CsvFormatError(self.source, line, reason)

    def __iter__(self) -> Iterator[list[str]]:
        reader = self._reader
        try:
            for row in reader:
                if row and (len(row) > 1 or row[0].strip()):
                    self.line = reader.line_num
                    yield [cell.strip() for cell in row]
        except csv.Error as err:
            raise self.error_at(reader.line_num, f"not valid CSV: {err}") from None

    def header(self) -> tuple[str, ...]:
        for row in self:
            self.header_line = self.line
            names = [name.lstrip("\ufeff").lower() for name in row]
            if not set(names) & {*INTERVAL_COLUMNS, *SESSION_COLUMNS}:
                raise self.error(
                    f"no header: expected {','.join(INTERVAL_COLUMNS)!r} (or {','.join(SESSION_COLUMNS)!r}) "
                    f"as the first line, got {','.join(row)!r}"
                )
            known = INTERVAL_COLUMNS if "value" in names or "id" not in names else SESSION_COLUMNS
            for name in names:
                if name not in known:
                    raise self.error(f"unknown column {name!r}; expected the header {','.join(known)!r}")
            if len(set(names)) != len(names):
                raise self.error(f"a column is named twice in the header {','.join(names)!r}")
            missing = [name for name in known if name not in names]
            if missing:
                raise self.error(f"the header lacks {', '.join(missing)}; expected {','.join(known)!r}")
            return tuple(names)
        expected = f"{','.join(INTERVAL_COLUMNS)!r} or {','.join(SESSION_COLUMNS)!r}"
        raise self.error_at(None, f"empty file; expected the header {expected}")

    def check_fields(self, row: list[str], header: tuple[str, ...]) -> None:
        if len(row) != len(header):
            raise self.error(f"expected {len(header)} fields ({','.join(header)}), got {len(row)}")


def _instant(text: str, tz: ZoneInfo, rows: _Rows, column: str) -> datetime:
    """An aware datetime from ISO 8601 text; naive text is local time in ``tz`` and must be unambiguous."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        example = "2026-01-01T00:15:00+01:00"
        raise rows.error(f"{column} {text!r} is not an ISO 8601 timestamp (e.g. {example})") from None
    if len(text) <= len("2026-01-01"):
        raise rows.error(f"{column} {text!r} has no time of day")
    if moment.microsecond:
        raise rows.error(f"{column} {text!r} is not on a whole second")
    if moment.tzinfo is not None:
        return moment
    local = moment.replace(tzinfo=tz)
    # Across a change of the UTC offset, fold=0 reads a time with the offset before it and fold=1 with the
    # one after (PEP 495): the offset grows where the clocks skip ahead, and shrinks where they go back.
    before, after = local.utcoffset(), moment.replace(tzinfo=tz, fold=1).utcoffset()
    if before is not None and after is not None and before != after:
        if before < after:
            raise rows.error(f"{column} {text!r} does not exist in {tz.key} (clocks skip it); add the offset")
        raise rows.error(
            f"{column} {text!r} happens twice in {tz.key} (clocks go back); add the offset to say which"
        )
    return local


def _quantity(text: str, rows: _Rows) -> tuple[int, int]:
    """A value as (digits, exponent): '1.250' -> (1250, -3). Plain decimals take a fast path."""
    plain = _PLAIN_DECIMAL.fullmatch(text)
    if plain and len(plain.group(1)) <= _MAX_WHOLE_DIGITS and len(plain.group(2) or "") <= MAX_DECIMALS:
        whole, fraction = plain.group(1), plain.group(2) or ""
        return int(whole + fraction), -len(fraction)
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise rows.error(f"value {text!r} is not a decimal number") from None
    if not value.is_finite():
        raise rows.error(f"value {text!r} is not a finite number")
    if value < 0:
        raise rows.error(f"negative value {text}")
    if value.adjusted() >= _MAX_WHOLE_DIGITS:
        raise rows.error(f"value {text} is too large (the limit is 10^{_MAX_WHOLE_DIGITS})")
    _, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)  # a finite number's is
    if exponent < -MAX_DECIMALS:
        raise rows.error(f"value {text} has more than {MAX_DECIMALS} decimal places")
    mantissa = int("".join(map(str, digits)))
    return (mantissa * 10**exponent, 0) if exponent > 0 else (mantissa, exponent)


def _read_intervals(rows: _Rows, header: tuple[str, ...], tz: ZoneInfo, unit: str) -> IntervalSeries:
    if header == SESSION_COLUMNS or "value" not in header:
        raise rows.error_at(rows.header_line, f"expected the header {','.join(INTERVAL_COLUMNS)!r}")
    start_at, value_at = header.index("start"), header.index("value")
    starts = array("q")  # UTC seconds
    line_numbers = array("q")
    values: list[int] = []  # the value times 10**-exponent
    exponent = 0
    for row in rows:
        rows.check_fields(row, header)
        moment = _instant(row[start_at], tz, rows, "start")
        mantissa, places = _quantity(row[value_at], rows)
        if places < exponent:
            scale = 10 ** (exponent - places)
            values = [v * scale for v in values]
            exponent = places
        starts.append(int(moment.timestamp()))  # exact: whole seconds
        line_numbers.append(rows.line)
        values.append(mantissa * 10 ** (places - exponent))
    if not starts:
        raise rows.error_at(None, "no intervals after the header")
    if len(starts) == 1:
        reason = "a single interval: its length cannot be inferred; give at least two"
        raise rows.error_at(line_numbers[0], reason)
    if any(a > b for a, b in pairwise(starts)):
        order = sorted(range(len(starts)), key=starts.__getitem__)
        starts = array("q", (starts[i] for i in order))
        line_numbers = array("q", (line_numbers[i] for i in order))
        values = [values[i] for i in order]
    step = _interval_seconds(starts, line_numbers, rows, tz)
    return IntervalSeries(_EPOCH + timedelta(seconds=starts[0]), step // 60, values, exponent, unit)


def _interval_seconds(starts: array[int], line_numbers: array[int], rows: _Rows, tz: ZoneInfo) -> int:
    """The one interval length of sorted starts; duplicates, overlaps, gaps and mixed lengths are rejected."""

    def at(i: int) -> str:
        return datetime.fromtimestamp(starts[i], tz).isoformat()

    steps = [b - a for a, b in pairwise(starts)]
    for i, step in enumerate(steps):
        if step == 0:
            reason = f"duplicate interval starting {at(i)} (also on line {line_numbers[i]})"
            raise rows.error_at(line_numbers[i + 1], reason)
    interval = Counter(steps).most_common(1)[0][0]
    if not _allowed(interval):
        allowed = ", ".join(map(str, ALLOWED_INTERVAL_MINUTES))
        reason = f"the intervals are {_duration(interval)} long; allowed lengths: {allowed} min"
        raise rows.error_at(None, reason)
    length = _duration(interval)
    for i, step in enumerate(steps):
        if step == interval:
            continue
        line, previous = line_numbers[i + 1], line_numbers[i]
        if i + 1 < len(steps) and steps[i + 1] == step and _allowed(step):
            reason = (
                f"mixed interval lengths: {_duration(step)} from {at(i)} (line {previous}) on, "
                f"{length} elsewhere; all intervals must have the same length"
            )
        elif step % interval == 0:
            missing = step // interval - 1
            reason = (
                f"gap: {missing} missing interval{'s' if missing > 1 else ''} of {length} between {at(i)} "
                f"(line {previous}) and {at(i + 1)}; {_GAP_ADVICE}"
            )
        elif step < interval:
            reason = (
                f"overlapping intervals: the {length} interval starting {at(i)} (line {previous}) "
                f"overlaps the one starting {at(i + 1)}"
            )
        else:
            reason = (
                f"mixed interval lengths: {at(i + 1)} starts {_duration(step)} after the interval on line "
                f"{previous}, not a multiple of {length}"
            )
        raise rows.error_at(line, reason)
    return interval


def _allowed(seconds: int) -> bool:
    return seconds % 60 == 0 and seconds // 60 in ALLOWED_INTERVAL_MINUTES


def _read_sessions(rows: _Rows, header: tuple[str, ...], tz: ZoneInfo) -> list[Session]:
    if "id" not in header:
        raise rows.error_at(rows.header_line, f"expected the header {','.join(SESSION_COLUMNS)!r}")
    sessions: list[Session] = []
    first_line: dict[str, int] = {}
    for row in rows:
        rows.check_fields(row, header)
        fields = dict(zip(header, row, strict=True))
        session_id = fields["id"]
        if not session_id:
            raise rows.error("empty session id")
        if session_id in first_line:
            raise rows.error(f"session {session_id!r} already appears on line {first_line[session_id]}")
        first_line[session_id] = rows.line
        start = _instant(fields["start"], tz, rows, "start")
        end = _instant(fields["end"], tz, rows, "end")
        if end.astimezone(UTC) < start.astimezone(UTC):  # instants: same-zone datetimes compare wall clocks
            reason = f"session {session_id!r} ends ({fields['end']}) before it starts ({fields['start']})"
            raise rows.error(reason)
        sessions.append(Session(session_id, start, end))
    if not sessions:
        raise rows.error_at(None, "no sessions after the header")
    sessions.sort(key=lambda s: s.start_second)
    return sessions


def _duration(seconds: int) -> str:
    return f"{seconds // 60} min" if seconds % 60 == 0 else f"{seconds} s"


def _span(length: timedelta) -> str:
    return _duration(length // _SECOND)


# --- meter data files: any number of meters, a meter id on every row ----------------------------------------


def meter_csv_kind(header_line: str) -> MeterCsvKind | None:
    """What a meter data CSV holds, from its header line; None when it is no such header (no ``meter``)."""
    names = _names(next(csv.reader([header_line]), []))
    if "meter" not in names:
        return None
    return "registers" if {"timestamp", "register"} & set(names) else "intervals"


def meter_unit(text: str) -> str:
    """The unit as meterbill spells it (``KWH`` -> ``kWh``); ValueError for a unit meter data cannot be in."""
    unit = _UNIT_BY_KEY.get(text.strip().lower())
    if unit is None:
        raise ValueError(f"unknown unit {text!r}; meter data units are {', '.join(METER_UNITS)}")
    return unit


def read_meter_intervals_csv(
    lines: Iterable[str],
    tz: ZoneInfo,
    source: str,
    *,
    unit: str = "kWh",
    progress: ProgressCallback | None = None,
    total_bytes: int | None = None,
) -> Iterator[IntervalReading]:
    """The interval readings of a ``meter,start,value`` file, as its lines are read.

    ``unit`` is the unit of rows without a ``unit`` column (or with it empty); naive timestamps are local
    time in ``tz``. ``progress(characters_read, total_bytes)`` is called about every MiB or second. A reading
    whose length is inferred waits until its meter's first ``INFERENCE_ROWS`` rows are read (or the file
    ends), so readings of different meters may come out in another order than their rows; those of one meter
    keep theirs. The first fault raises :class:`CsvFormatError`, possibly after readings were yielded.
    """
    default_unit = meter_unit(unit)
    rows = _Rows(_counted(lines, progress, total_bytes), source)
    header = _meter_header(rows, METER_INTERVAL_COLUMNS, METER_INTERVAL_OPTIONAL_COLUMNS)
    column = {name: i for i, name in enumerate(header)}
    meter_at, start_at, value_at = column["meter"], column["start"], column["value"]
    end_at, unit_at, quality_at = column.get("end"), column.get("unit"), column.get("quality")
    method_at, reason_at = column.get("method"), column.get("reason")
    units = _UnitOfMeter(rows, default_unit)
    lengths: dict[str, _IntervalLength] = {}
    read_any = False
    for row in rows:
        rows.check_fields(row, header)
        meter = _meter_id(row[meter_at], rows)
        start = _instant(row[start_at], tz, rows, "start")
        reading = IntervalReading(
            meter=meter,
            start=start,
            end=start,
            value=_exact(row[value_at], rows, "value"),
            unit=units.of(meter, "" if unit_at is None else row[unit_at]),
            quality=_quality_flag("" if quality_at is None else row[quality_at], rows),
            method=None if method_at is None else row[method_at] or None,
            reason=None if reason_at is None else row[reason_at] or None,
        )
        read_any = True
        if end_at is None:
            length = lengths.get(meter)
            if length is None:
                length = lengths[meter] = _IntervalLength(meter, rows)
            yield from length.add(reading)
            continue
        end = _instant(row[end_at], tz, rows, "end")
        if end.astimezone(UTC) <= start.astimezone(UTC):
            raise rows.error(f"the interval ends ({row[end_at]}) before or when it starts ({row[start_at]})")
        yield replace(reading, end=end)
    if not read_any:
        raise rows.error_at(None, "no readings after the header")
    for length in lengths.values():
        yield from length.finish()


def read_register_reads_csv(
    lines: Iterable[str],
    tz: ZoneInfo,
    source: str,
    *,
    unit: str = "kWh",
    progress: ProgressCallback | None = None,
    total_bytes: int | None = None,
) -> Iterator[RegisterRead]:
    """The register reads of a ``meter,timestamp,register`` file, as its lines are read, in any order.

    ``unit`` is the unit of rows without a ``unit`` column (or with it empty); naive timestamps are local
    time in ``tz``. The first fault raises :class:`CsvFormatError`, possibly after reads were yielded.
    """
    default_unit = meter_unit(unit)
    rows = _Rows(_counted(lines, progress, total_bytes), source)
    header = _meter_header(rows, METER_REGISTER_COLUMNS, METER_REGISTER_OPTIONAL_COLUMNS)
    column = {name: i for i, name in enumerate(header)}
    meter_at, timestamp_at, register_at = column["meter"], column["timestamp"], column["register"]
    unit_at, serial_at, quality_at = column.get("unit"), column.get("serial"), column.get("quality")
    units = _UnitOfMeter(rows, default_unit)
    read_any = False
    for row in rows:
        rows.check_fields(row, header)
        meter = _meter_id(row[meter_at], rows)
        yield RegisterRead(
            meter=meter,
            timestamp=_instant(row[timestamp_at], tz, rows, "timestamp"),
            value=_exact(row[register_at], rows, "register"),
            unit=units.of(meter, "" if unit_at is None else row[unit_at]),
            serial=None if serial_at is None else row[serial_at] or None,
            quality=_quality_flag("" if quality_at is None else row[quality_at], rows),
        )
        read_any = True
    if not read_any:
        raise rows.error_at(None, "no register reads after the header")


class _IntervalLength:
    """One meter's interval length: its first rows wait until it is inferred, later rows are checked."""

    def __init__(self, meter: str, rows: _Rows) -> None:
        self.meter = meter
        self.rows = rows
        self.length: timedelta | None = None
        self.waiting: list[tuple[IntervalReading, int]] = []  # (reading, line) until the length is known
        self.steps: list[tuple[timedelta, int, int]] = []  # (time after the previous start, line, its line)
        self.last_start: datetime | None = None
        self.last_line = 0

    def add(self, reading: IntervalReading) -> list[IntervalReading]:
        line = self.rows.line
        if self.last_start is not None:
            step = reading.start.astimezone(UTC) - self.last_start.astimezone(UTC)  # not on the wall clock
            if step < timedelta(0):
                reason = (
                    f"meter {self.meter!r} starts {reading.start.isoformat()}, before its row on line "
                    f"{self.last_line} ({self.last_start.isoformat()}); without an end column a meter's rows "
                    "must be in time order"
                )
                raise self.rows.error(reason)
            if step and self.length is not None:
                self._check(self.length, step, line, self.last_line)
            elif step:
                self.steps.append((step, line, self.last_line))
        self.last_start, self.last_line = reading.start, line
        if self.length is not None:
            return [_lasting(reading, self.length)]
        self.waiting.append((reading, line))
        return self._settle() if len(self.steps) >= INFERENCE_ROWS - 1 else []

    def finish(self) -> list[IntervalReading]:
        """The readings still waiting at the end of the file, now that no more rows of the meter can come."""
        if self.length is not None:
            return []
        if not self.steps:
            first_line = self.waiting[0][1]
            reason = (
                f"meter {self.meter!r} has a single interval start: its length cannot be inferred; give at "
                "least two intervals, or an end column"
            )
            raise self.rows.error_at(first_line, reason)
        return self._settle()

    def _settle(self) -> list[IntervalReading]:
        counts = Counter(step for step, _, _ in self.steps)
        length = min(counts, key=lambda step: (-counts[step], step))  # the most common; the shorter on a tie
        if not _allowed(length // _SECOND):
            allowed = ", ".join(map(str, ALLOWED_INTERVAL_MINUTES))
            reason = (
                f"meter {self.meter!r}: its rows are {_span(length)} apart; "
                f"interval lengths are {allowed} min (give an end column for others)"
            )
            raise self.rows.error_at(self.waiting[0][1], reason)
        for step, line, previous_line in self.steps:
            self._check(length, step, line, previous_line)
        self.length = length
        waiting, self.waiting, self.steps = self.waiting, [], []
        return [_lasting(reading, length) for reading, _ in waiting]

    def _check(self, length: timedelta, step: timedelta, line: int, previous_line: int) -> None:
        if step % length:
            reason = (
                f"meter {self.meter!r} starts {_span(step)} after its row on line {previous_line}, not a "
                f"whole number of its {_span(length)} intervals (inferred from its first rows; give an end "
                "column for intervals of other lengths)"
            )
            raise self.rows.error_at(line, reason)


def _lasting(reading: IntervalReading, length: timedelta) -> IntervalReading:
    """The reading ending ``length`` after its start in absolute time (an hour is an hour across DST)."""
    end = (reading.start.astimezone(UTC) + length).astimezone(reading.start.tzinfo)
    return replace(reading, end=end)


class _UnitOfMeter:
    """Each meter's one unit: the first row of a meter sets it, every later row must agree."""

    def __init__(self, rows: _Rows, default_unit: str) -> None:
        self.rows = rows
        self.default_unit = default_unit
        self.first: dict[str, tuple[str, int]] = {}  # meter -> (unit, line)

    def of(self, meter: str, text: str) -> str:
        try:
            unit = meter_unit(text) if text else self.default_unit
        except ValueError as err:
            raise self.rows.error(str(err)) from None
        known = self.first.get(meter)
        if known is None:
            self.first[meter] = (unit, self.rows.line)
        elif known[0] != unit:
            first_unit, first_line = known
            reason = f"meter {meter!r} is in {unit} here but in {first_unit} on line {first_line}"
            raise self.rows.error(f"{reason}; a meter has one unit")
        return unit


def _names(row: list[str]) -> list[str]:
    return [name.strip().lstrip("\ufeff").lower() for name in row]


def _meter_header(rows: _Rows, required: tuple[str, ...], optional: tuple[str, ...]) -> tuple[str, ...]:
    expected = ",".join(required)
    for row in rows:
        rows.header_line = rows.line
        names = _names(row)
        if "meter" not in names:
            raise rows.error(f"no header: expected {expected!r} as the first line, got {','.join(row)!r}")
        for name in names:
            if name not in required and name not in optional:
                also = ", ".join(optional)
                raise rows.error(f"unknown column {name!r}; expected {expected!r} and optionally {also}")
        if len(set(names)) != len(names):
            raise rows.error(f"a column is named twice in the header {','.join(names)!r}")
        missing = [name for name in required if name not in names]
        if missing:
            raise rows.error(f"the header lacks {', '.join(missing)}; expected {expected!r}")
        return tuple(names)
    raise rows.error_at(None, f"empty file; expected the header {expected!r}")


def _meter_id(text: str, rows: _Rows) -> str:
    if not text:
        raise rows.error("empty meter id")
    return text


def _exact(text: str, rows: _Rows, column: str) -> Decimal:
    """A plain decimal exactly as written ('0.500' stays 0.500): no sign, exponent or more than 9 places."""
    plain = _PLAIN_DECIMAL.fullmatch(text)
    if plain is None:
        if text.startswith("-") and _PLAIN_DECIMAL.fullmatch(text[1:]):
            raise rows.error(f"negative {column} {text}")
        raise rows.error(f"{column} {text!r} is not a decimal number (digits, optionally a point and digits)")
    whole, fraction = plain.group(1), plain.group(2) or ""
    if len(fraction) > MAX_DECIMALS:
        raise rows.error(f"{column} {text} has more than {MAX_DECIMALS} decimal places")
    if len(whole.lstrip("0")) > _MAX_WHOLE_DIGITS:
        raise rows.error(f"{column} {text} is too large (the limit is 10^{_MAX_WHOLE_DIGITS})")
    return Decimal(text)


def _quality_flag(text: str, rows: _Rows) -> Quality:
    if not text:
        return "A"
    quality = _QUALITY_BY_LETTER.get(text.upper())
    if quality is None:
        raise rows.error(f"quality {text!r} is not one of the NEM12 flags A, E, S, F, N")
    return quality


def _counted(
    lines: Iterable[str], progress: ProgressCallback | None, total_bytes: int | None
) -> Iterable[str]:
    """The lines, telling ``progress`` how far the read has got (characters stand for bytes)."""
    if progress is None:
        return lines
    # Imported here: importing.py reads this module's column names to recognise a CSV file.
    from meterbill.meterdata.importing import ProgressMeter

    def counted() -> Iterator[str]:
        progress_meter = ProgressMeter(progress, total_bytes)
        for line in lines:
            progress_meter.advance(len(line))
            yield line
        progress_meter.finish()

    return counted()
