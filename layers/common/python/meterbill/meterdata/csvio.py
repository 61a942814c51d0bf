"""Usage from CSV files: an interval series (``start,value``) or usage sessions (``id,start,end``).

Timestamps are ISO 8601. One with an offset (``2026-01-01T00:15:00+01:00``, ``...Z``) is that instant; a
naive one is local time in the site's zone, and is rejected where the local clock is ambiguous or skipped (a
DST change): write the offset there. Readers stream: the text of a row is dropped once it is parsed, so memory
grows with the integer arrays only. Every rejection names the file, the line and the reason.
"""

from __future__ import annotations

import csv
import re
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from itertools import pairwise
from zoneinfo import ZoneInfo

from meterbill.usage import ALLOWED_INTERVAL_MINUTES, MAX_DECIMALS, IntervalSeries, Session, Usage

INTERVAL_COLUMNS = ("start", "value")
SESSION_COLUMNS = ("id", "start", "end")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_GAP_ADVICE = "`meterbill validate` fills gaps"
_PLAIN_DECIMAL = re.compile(r"([0-9]+)(?:\.([0-9]+))?")
_MAX_WHOLE_DIGITS = 15  # values below 10^15 (a petawatt-hour); bounds the integers a hostile file can make


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
        if end < start:
            reason = f"session {session_id!r} ends ({fields['end']}) before it starts ({fields['start']})"
            raise rows.error(reason)
        sessions.append(Session(session_id, start, end))
    if not sessions:
        raise rows.error_at(None, "no sessions after the header")
    sessions.sort(key=lambda s: s.start)
    return sessions


def _duration(seconds: int) -> str:
    return f"{seconds // 60} min" if seconds % 60 == 0 else f"{seconds} s"
