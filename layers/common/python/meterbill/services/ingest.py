"""Readings in: a collector's batch (``store_readings``) or a meter-data file (``import_file``).

Each item is checked on its own and the valid ones are stored even when others are not; the report lists what
was stored now, what was stored before (an identical resend stores nothing twice: the ReadingStore writes
exactly once), and every rejected item with the field at fault and the reason. An item is rejected when

- its timestamp has no UTC offset, lies before 2000-01-01T00:00Z (``EARLIEST``), or lies more than
  ``future_tolerance`` (5 min) ahead of ``now``, the server's clock (passed in as a value);
- its value is not a finite number, has more than 9 decimal places or 15 whole digits, or is a negative
  interval value;
- its type is not ``register`` or ``interval``; an interval reading's ``interval_minutes`` is not 1, 5, 15,
  30 or 60, or not the meter's interval length; a register read has one;
- its quality flag is not one of NEM12's A, E, S, F, N;
- its meter is not one of the account's meters (another account's meter looks exactly like none);
- an interval reading does not start on its meter's grid: a whole multiple of the interval length after
  midnight on the site's clock, with no seconds (00:07 is not a 15-minute interval's start: validation would
  ignore it), or the instant the clocks jump into a new interval (Lord Howe Island's hour 02 on 2026-10-04
  starts at 02:30+11:00 and lasts 30 minutes; its reading still says ``interval_minutes`` 60, the meter's:
  ``meterdata.local_grid``). Register reads may be taken at any instant;
- the store holds a better-quality version of its interval (an estimate does not replace an actual value).

An interval reading's timestamp is the start of its interval. Raw readings are kept as sent, one current
version per interval: a later version of the same or better quality replaces the stored one (a correction,
counted in ``replaced``; the replaced version is kept for audit), an identical resend is a duplicate (see
``meterbill.ports.ReadingStore``). Validation (``meterbill.meterdata.vee``) turns them into usage later.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta, tzinfo
from decimal import Decimal
from itertools import islice
from typing import Final, cast, get_args

from meterbill.domain import Meter, Site
from meterbill.errors import InvalidInputError, NotFoundError
from meterbill.meterdata.csvio import CsvFormatError, read_interval_csv
from meterbill.meterdata.importing import FileFormat, ImportFormatError
from meterbill.meterdata.local_grid import is_interval_start
from meterbill.meterdata.readings import IntervalReading, Quality
from meterbill.ports import CatalogStore, RawReading, ReadingStore, ReadingType
from meterbill.services.common import require_aware
from meterbill.timeutil import FIRST_DAY
from meterbill.usage import ALLOWED_INTERVAL_MINUTES, MAX_DECIMALS, IntervalSeries

FUTURE_TOLERANCE: Final = timedelta(minutes=5)
EARLIEST: Final = datetime.combine(FIRST_DAY, time(), UTC)  # the calendar meterbill works in starts then
QUALITIES: Final = frozenset[str](get_args(Quality))
READING_TYPES: Final = frozenset[str](get_args(ReadingType))
FILE_FORMATS: Final = frozenset[str](get_args(FileFormat))
MAX_WHOLE_DIGITS: Final = 15  # below 10^15 (a petawatt-hour): bounds the integers validation works with
IMPORT_BATCH: Final = 1000  # readings an import checks and stores at a time
MAX_REPORTED_IMPORT_REJECTIONS: Final = 1000  # a file may hold 100,000s of bad readings; the count says all
UPLOAD: Final = "upload"  # how errors name the file
SHOWN_CHARACTERS: Final = 40  # how much of a bad value a reason repeats
# Every UTC offset in use since 2000 is a whole number of quarter hours (tzdata), so a grid of 1, 5 or 15
# minutes is the same on every site's clock as on UTC's; 30- and 60-minute grids need the site's zone.
_UTC_GRID_MINUTES: Final = frozenset({1, 5, 15})

_METER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")  # domain.Id: nothing else can be a meter


@dataclass(frozen=True, slots=True)
class ReadingIn:
    """One reading as a request sent it (the handler maps its request model into this)."""

    meter_id: str
    timestamp: datetime
    value: Decimal
    type: str  # "register" or "interval"
    interval_minutes: int | None = None
    quality: str = "A"


@dataclass(frozen=True, slots=True)
class Rejection:
    """Item ``index`` of the request (or the file's ``index``-th reading) was not stored: ``field`` is why."""

    index: int
    meter_id: str
    field: str
    reason: str


@dataclass(frozen=True, slots=True)
class NewReadings:
    """The readings a request stored now (new, or replacing an earlier version): whose, and their timestamps'
    span - what the alerts' readings worker is told (``ReadingsArrived``)."""

    meter_ids: tuple[str, ...]  # sorted, each once
    earliest: datetime
    latest: datetime


@dataclass(frozen=True, slots=True)
class IngestReport:
    """``accepted`` readings were stored now - ``replaced`` of them replaced an earlier version of their
    interval (a correction) -, ``duplicates`` had been stored before; ``rejected`` lists the rejected items in
    order (an import lists the first 1,000) and ``rejected_count`` counts them all."""

    accepted: int
    duplicates: int
    rejected: list[Rejection] = field(default_factory=list)
    rejected_count: int = 0
    replaced: int = 0
    # None: nothing was stored now. Not compared: two reports of the same counts and rejections are equal.
    new_readings: NewReadings | None = field(default=None, compare=False)

    @property
    def all_rejected(self) -> bool:
        """Nothing valid came: the API answers 422 (with this same report)."""
        return self.rejected_count > 0 and self.accepted == 0 and self.duplicates == 0


def store_readings(
    account: str,
    items: Sequence[ReadingIn],
    catalog: CatalogStore,
    readings: ReadingStore,
    now: datetime,
    *,
    future_tolerance: timedelta = FUTURE_TOLERANCE,
) -> IngestReport:
    """Store the valid items of a batch; reject the others one by one (see the module's rules)."""
    require_aware(now, "now")
    meters = _meters(account, {item.meter_id for item in items}, catalog)
    batch = _Batch(now, future_tolerance, _SiteZones(account, catalog))
    for index, item in enumerate(items):
        batch.add(index, item.meter_id, item, meters.get(item.meter_id))
    return batch.store(account, readings).report()


def import_file(
    account: str,
    fmt: str,
    data: bytes,
    catalog: CatalogStore,
    readings: ReadingStore,
    now: datetime,
    *,
    meter_id: str | None = None,
    future_tolerance: timedelta = FUTURE_TOLERANCE,
) -> IngestReport:
    """Store the readings of a NEM12 file, a Green Button feed or a CSV of one meter's intervals.

    A file that cannot be read stores nothing: InvalidInputError on ``body`` naming the line. Then each
    reading is checked as in ``store_readings``; the file's meter ids (NEM12 ``<NMI>-<suffix>``, Green Button
    ``<UsagePoint>-<MeterReading>``) are the meters' ``external_id``s, and a reading's unit must be its
    meter's. A CSV file (``start,value``) names no meter: ``meter_id`` says whose it is (naive times are read
    on that meter's site clock); a Green Button feed of one series may be given a ``meter_id`` too.
    """
    require_aware(now, "now")
    if fmt not in FILE_FORMATS:
        raise InvalidInputError("format", f"{fmt!r} is not one of: {', '.join(sorted(FILE_FORMATS))}")
    if fmt == "csv":
        if meter_id is None:
            raise InvalidInputError("meter_id", "a CSV file holds one meter's intervals: say which meter")
        meter = _named_meter(account, meter_id, catalog)
        file_readings = _csv_readings(data, meter, catalog, account)
    elif fmt == "nem12":
        if meter_id is not None:
            raise InvalidInputError("meter_id", "a NEM12 file names its meters (NMI and suffix) itself")
        file_readings = _nem12_readings(data)
    else:
        if meter_id is not None:
            _named_meter(account, meter_id, catalog)
        file_readings = _greenbutton_readings(data, meter_id)
    batch = _Batch(
        now, future_tolerance, _SiteZones(account, catalog), report_limit=MAX_REPORTED_IMPORT_REJECTIONS
    )
    return _store_file_readings(account, file_readings, meter_id, catalog, readings, batch)


# --- checking and storing -----------------------------------------------------------------------------------


class _SiteZones:
    """The time zone of a meter's site, looked up once per site and only for grids that need it."""

    def __init__(self, account: str, catalog: CatalogStore) -> None:
        self._account = account
        self._catalog = catalog
        self._zones: dict[str, tzinfo] = {}

    def grid_zone(self, meter: Meter) -> tzinfo:
        if meter.interval_minutes in _UTC_GRID_MINUTES:
            return UTC
        zone = self._zones.get(meter.site_id)
        if zone is None:
            site = Site.model_validate(self._catalog.get(self._account, "site", meter.site_id).body)
            zone = self._zones[meter.site_id] = site.zone()
        return zone


@dataclass(slots=True)
class _Batch:
    """Readings checked so far: the valid ones (with their input index and name) and the rejections."""

    now: datetime
    future_tolerance: timedelta
    zones: _SiteZones
    valid: list[RawReading] = field(default_factory=list)
    valid_items: list[tuple[int, str]] = field(default_factory=list)  # (index, meter id as named)
    rejected: list[Rejection] = field(default_factory=list)
    rejected_count: int = 0
    report_limit: int | None = None
    accepted: int = 0
    duplicates: int = 0
    replaced: int = 0
    new_meters: set[str] = field(default_factory=set)
    earliest: datetime | None = None
    latest: datetime | None = None

    def add(
        self, index: int, named: str, item: ReadingIn, meter: Meter | None, unit: str | None = None
    ) -> None:
        problem = _problem(item, meter, self.now, self.future_tolerance, unit, self.zones)
        if problem is None:
            assert meter is not None
            self.valid.append(
                RawReading(
                    meter_id=meter.id,
                    timestamp=item.timestamp,
                    value=_decimal(item.value),
                    type=cast(ReadingType, item.type),
                    interval_minutes=item.interval_minutes,
                    quality=item.quality,
                )
            )
            self.valid_items.append((index, named))
        else:
            self._reject(Rejection(index, named, *problem))

    def _reject(self, rejection: Rejection) -> None:
        self.rejected_count += 1
        if self.report_limit is None or len(self.rejected) < self.report_limit:
            self.rejected.append(rejection)

    def store(self, account: str, readings: ReadingStore) -> _Batch:
        if self.valid:
            put = readings.put_new(account, self.valid)
            self.accepted += len(put.written)
            self.duplicates += len(put.duplicates)
            self.replaced += len(put.replaced)
            for position in put.written:
                reading = self.valid[position]
                self.new_meters.add(reading.meter_id)
                self.earliest = min(self.earliest or reading.timestamp, reading.timestamp)
                self.latest = max(self.latest or reading.timestamp, reading.timestamp)
            for position in put.outranked:
                index, named = self.valid_items[position]
                self._reject(Rejection(index, named, "quality", _outranked(self.valid[position])))
            self.rejected.sort(key=lambda rejection: rejection.index)
            self.valid = []
            self.valid_items = []
        return self

    def report(self) -> IngestReport:
        new_readings = None
        if self.new_meters and self.earliest is not None and self.latest is not None:
            new_readings = NewReadings(tuple(sorted(self.new_meters)), self.earliest, self.latest)
        return IngestReport(
            self.accepted,
            self.duplicates,
            list(self.rejected),
            self.rejected_count,
            self.replaced,
            new_readings,
        )


def _outranked(reading: RawReading) -> str:
    return (
        f"a better-quality version of this {reading.type} reading is stored; "
        f"quality {reading.quality} does not replace it (A > F > S > E > N)"
    )


def _problem(
    item: ReadingIn,
    meter: Meter | None,
    now: datetime,
    future_tolerance: timedelta,
    unit: str | None,
    zones: _SiteZones,
) -> tuple[str, str] | None:
    """(field, reason) of the first thing wrong with an item, or None."""
    if item.type not in READING_TYPES:
        return "type", f"{_shown(item.type)} is not 'register' or 'interval'"
    timestamp = item.timestamp
    if timestamp.tzinfo is None or timestamp.utcoffset() is None:
        return "timestamp", f"{timestamp.isoformat()} has no UTC offset"
    # Compared, never converted: 0001-01-01T00:00+14:00 has no UTC equivalent a datetime can hold.
    if timestamp < EARLIEST:
        return "timestamp", f"{timestamp.isoformat()} is before {EARLIEST.isoformat()}, the earliest reading"
    if timestamp > now + future_tolerance:
        ahead = f"more than {future_tolerance} ahead of the server's clock ({now.isoformat()})"
        return "timestamp", f"{timestamp.isoformat()} is in the future: {ahead}"
    value_problem = _value_problem(item.value)
    if value_problem is not None:
        return "value", value_problem
    if item.type == "interval" and _decimal(item.value) < 0:
        return "value", f"negative interval value {_shown(item.value)}"
    if item.type == "interval" and item.interval_minutes not in ALLOWED_INTERVAL_MINUTES:
        allowed = ", ".join(map(str, ALLOWED_INTERVAL_MINUTES))
        return "interval_minutes", f"{_shown(item.interval_minutes)} is not one of {allowed}"
    if item.type == "register" and item.interval_minutes is not None:
        return "interval_minutes", "a register read has no interval length"
    if item.quality not in QUALITIES:
        return "quality", f"{_shown(item.quality)} is not a quality flag (A, E, S, F or N)"
    if meter is None:
        return "meter_id", f"no meter {_shown(item.meter_id)}"
    if unit is not None and unit != meter.unit:
        return "unit", f"the file's {unit!r} is not meter {meter.id!r}'s unit {meter.unit!r}"
    if item.type == "interval" and item.interval_minutes != meter.interval_minutes:
        return "interval_minutes", f"meter {meter.id!r} records {meter.interval_minutes}-minute intervals"
    if item.type == "interval":
        return _grid_problem(timestamp, meter, zones.grid_zone(meter))
    return None


def _grid_problem(timestamp: datetime, meter: Meter, zone: tzinfo) -> tuple[str, str] | None:
    """An interval starts a whole number of intervals after midnight on its site's clock, or where the clocks
    jump into a new interval (Lord Howe Island's 30-minute change: ``meterdata.local_grid``, as validation
    counts them)."""
    minutes = meter.interval_minutes
    if is_interval_start(timestamp, minutes, zone):
        return None
    clock = "UTC or any site's clock" if zone is UTC else f"the site's clock ({zone})"
    return (
        "timestamp",
        f"{timestamp.isoformat()} is not on meter {meter.id!r}'s {minutes}-minute grid: an interval starts "
        f"a whole number of {minutes} minutes after midnight on {clock}, with no seconds",
    )


def _shown(value: object) -> str:
    """A bad value as a reason repeats it: its repr, cut short."""
    number = isinstance(value, Decimal | int | float) and not isinstance(value, bool)
    text = str(value) if number else repr(value)
    return text if len(text) <= SHOWN_CHARACTERS else text[: SHOWN_CHARACTERS - 3] + "..."


def _value_problem(value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, Decimal | int | float):
        return f"{_shown(value)} is not a number"
    if isinstance(value, float) and not math.isfinite(value):
        return f"{_shown(value)} is not a finite number"
    number = _decimal(value)
    if not number.is_finite():
        return f"{_shown(value)} is not a finite number"
    if number.is_zero():
        return None
    if number.adjusted() >= MAX_WHOLE_DIGITS:
        return f"{_shown(value)} is too large (the limit is 10^{MAX_WHOLE_DIGITS})"
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -MAX_DECIMALS:
        return f"{_shown(value)} has more than {MAX_DECIMALS} decimal places"
    return None


def _decimal(value: Decimal | int | float) -> Decimal:
    """JSON numbers that arrive as floats become the decimal their shortest text spells (0.1 -> 0.1)."""
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


def _meters(account: str, meter_ids: Iterable[str], catalog: CatalogStore) -> dict[str, Meter]:
    """The account's meters among ``meter_ids``; ids of no meter (or of another account's) are left out."""
    found: dict[str, Meter] = {}
    for meter_id in meter_ids:
        if not isinstance(meter_id, str) or not _METER_ID.match(meter_id):
            continue
        try:
            found[meter_id] = Meter.model_validate(catalog.get(account, "meter", meter_id).body)
        except NotFoundError:
            continue
    return found


def _named_meter(account: str, meter_id: str, catalog: CatalogStore) -> Meter:
    meter = _meters(account, [meter_id], catalog).get(meter_id)
    if meter is None:
        raise InvalidInputError("meter_id", f"no meter {meter_id!r}")
    return meter


# --- files --------------------------------------------------------------------------------------------------


def _store_file_readings(
    account: str,
    file_readings: Iterator[IntervalReading],
    meter_id: str | None,
    catalog: CatalogStore,
    readings: ReadingStore,
    batch: _Batch,
) -> IngestReport:
    """Check and store a file's readings a batch at a time; the meter of a reading is ``meter_id`` if given,
    else the meter whose external id the file names."""
    meter_by_file_id: dict[str, Meter | None] = {}
    index = 0
    while chunk := list(islice(file_readings, IMPORT_BATCH)):
        new_ids = sorted({r.meter for r in chunk} - meter_by_file_id.keys())
        if meter_id is not None:
            meter_by_file_id.update(_meters(account, new_ids, catalog))
        elif new_ids:
            by_external = catalog.meters_by_external_id(account, new_ids)
            meters = _meters(account, set(by_external.values()), catalog)
            meter_by_file_id.update(
                {file_id: meters.get(by_external.get(file_id, "")) for file_id in new_ids}
            )
        for reading in chunk:
            item = ReadingIn(
                meter_id=reading.meter,
                timestamp=reading.start,
                value=reading.value,
                type="interval",
                interval_minutes=_minutes(reading.end - reading.start),
                quality=reading.quality,
            )
            batch.add(index, reading.meter, item, meter_by_file_id.get(reading.meter), reading.unit)
            index += 1
        batch.store(account, readings)
    return batch.report()


def _minutes(length: timedelta) -> int | None:
    minutes, rest = divmod(length, timedelta(minutes=1))
    return None if rest else minutes


def _text(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise InvalidInputError("body", f"not UTF-8 text: {err.reason} at byte {err.start}") from None


def _unreadable(err: ImportFormatError | CsvFormatError) -> InvalidInputError:
    where = "" if err.line is None else f"line {err.line}: "
    return InvalidInputError("body", where + err.reason)


def _nem12_readings(data: bytes) -> Iterator[IntervalReading]:
    # Loaded by the first import of this format, not by every cold start of the readings route.
    from meterbill.meterdata.nem12 import read_nem12, validate_nem12

    text = _text(data)
    try:
        validate_nem12(io.StringIO(text, newline=""), UPLOAD)  # all or nothing: check the whole file first
    except ImportFormatError as err:
        raise _unreadable(err) from None
    return read_nem12(io.StringIO(text, newline=""), UPLOAD)


def _greenbutton_readings(data: bytes, meter_id: str | None) -> Iterator[IntervalReading]:
    from meterbill.meterdata.greenbutton import read_greenbutton, validate_greenbutton

    try:
        validate_greenbutton(io.BytesIO(data), UPLOAD, meter=meter_id)
    except ImportFormatError as err:
        raise _unreadable(err) from None
    return read_greenbutton(io.BytesIO(data), UPLOAD, meter=meter_id)


def _csv_readings(
    data: bytes, meter: Meter, catalog: CatalogStore, account: str
) -> Iterator[IntervalReading]:
    site = Site.model_validate(catalog.get(account, "site", meter.site_id).body)
    try:
        series = read_interval_csv(io.StringIO(_text(data), newline=""), site.zone(), meter.unit, UPLOAD)
    except CsvFormatError as err:
        raise _unreadable(err) from None
    return _series_readings(meter.id, series)


def _series_readings(meter_id: str, series: IntervalSeries) -> Iterator[IntervalReading]:
    step = series.interval
    for i, raw in enumerate(series.values):
        start = series.start + i * step  # UTC arithmetic: the series starts in UTC
        yield IntervalReading(meter_id, start, start + step, series.quantity(raw), series.unit)
