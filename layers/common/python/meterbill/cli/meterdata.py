"""`meterbill convert` and `meterbill validate`: a meter data file (NEM12, Green Button, CSV) to interval CSV
on stdout, as the file gives it or validated (``meterdata.metering``, the one validation path)."""

from __future__ import annotations

import argparse
import csv
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Literal, TypeVar, get_args
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, ValidationError

from meterbill.cli.common import EXIT_OK, InputError, json_document, time_zone
from meterbill.cli.progress import ProgressReport, wants_progress
from meterbill.fielderrors import field_path
from meterbill.meterdata.csvio import (
    METER_UNITS,
    CsvFormatError,
    meter_csv_kind,
    meter_unit,
    read_interval_csv,
    read_meter_intervals_csv,
    read_register_reads_csv,
)
from meterbill.meterdata.greenbutton import read_greenbutton
from meterbill.meterdata.importing import (
    FileFormat,
    ImportFormatError,
    ProgressCallback,
    detect_format,
    read_all_or_nothing,
)
from meterbill.meterdata.metering import MeteringError, RawReadings, validate_meter, validation_config
from meterbill.meterdata.nem12 import read_nem12
from meterbill.meterdata.readings import IntervalReading, RegisterRead
from meterbill.meterdata.vee import ValidatedIntervals
from meterbill.metersettings import MeterSettings

if TYPE_CHECKING:
    from meterbill.cli.common import Commands

INTERVAL_CSV_HEADER = ("meter", "start", "end", "value", "unit", "quality")
VALIDATED_CSV_HEADER = (*INTERVAL_CSV_HEADER, "method", "reason")
FILE_FORMATS: tuple[FileFormat, ...] = get_args(FileFormat)
_FILE_FORMAT_NAMED: dict[str, FileFormat] = {name: name for name in FILE_FORMATS}
_SNIFF_BYTES = 8192  # enough of a file to tell its format (detect_format needs a few KiB)


def add_commands(commands: Commands) -> None:
    converting = commands.add_parser(
        "convert", help="meter data file to interval CSV", description=_convert.__doc__
    )
    _meter_data_options(converting)
    converting.set_defaults(run=_convert)

    validating = commands.add_parser(
        "validate", help="meter data file to validated interval CSV", description=_validate.__doc__
    )
    _meter_data_options(validating)
    validating.add_argument(
        "--meter-config", metavar="M.json", help="per-meter validation settings (README: Meter data files)"
    )
    validating.set_defaults(run=_validate)


def _meter_data_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("file", metavar="FILE", help="NEM12 file, Green Button XML feed or meter data CSV")
    command.add_argument(
        "--format",
        choices=("auto", *FILE_FORMATS),
        default="auto",
        help="the file's format (default auto: recognised from the content, whatever the file is named)",
    )
    command.add_argument(
        "--meter",
        metavar="ID",
        help="the meter of a file that names none ('start,value' CSV), or of a one-series Green Button feed",
    )
    command.add_argument(
        "--unit",
        type=_unit,
        default="kWh",
        help="the unit of CSV values where the file gives none (default kWh)",
    )
    command.add_argument(
        "--tz",
        help="the site's IANA time zone: naive CSV times are read in it (default UTC); validate finds like "
        "days and writes times on its clock (default: the file's offsets)",
    )
    command.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        help="report progress on stderr (default: when stderr is a terminal)",
    )


def _unit(text: str) -> str:
    try:
        return meter_unit(text)
    except ValueError:
        expected = ", ".join(METER_UNITS)
        raise argparse.ArgumentTypeError(f"unknown unit {text!r}; expected one of {expected}") from None


CsvContent = Literal["intervals", "registers", "series", "sessions"]
_Reading = TypeVar("_Reading", IntervalReading, RegisterRead)


@dataclass(frozen=True, slots=True)
class MeterDataFile:
    """A meter data file and what it holds: its format and, for a CSV, which of the CSV layouts."""

    path: str
    file_format: FileFormat
    csv_content: CsvContent | None
    total_bytes: int


@dataclass(frozen=True, slots=True)
class ReadOptions:
    """What a file may leave unsaid: its meter, the unit of its values, the time zone of naive timestamps."""

    meter: str | None
    unit: str
    tz: ZoneInfo


def _convert(args: argparse.Namespace) -> int:
    """Write the intervals of a NEM12 file, a Green Button feed or a meter data CSV to stdout as CSV with the
    header meter,start,end,value,unit,quality: one row per interval, times in ISO 8601 with their UTC offset,
    values exact as the file gives them. An invalid file writes nothing: it is checked whole before the
    first row."""
    source = meter_data_file(args.file, args.format)
    options = _read_options(args)
    if source.csv_content == "registers":
        raise InputError(
            f"{source.path}: register reads ('meter,timestamp,register') are not intervals; "
            f"`meterbill validate {source.path}` turns them into validated intervals"
        )
    _check_intervals_readable(source, options)
    with ProgressReport(source.path, wants_progress(args)) as progress:
        passes = iter(("checking", "converting"))

        def read() -> Iterator[IntervalReading]:
            return read_intervals(source, options, progress.callback(next(passes)))

        readings = read_all_or_nothing(read)
        first = next(readings, None)  # the checking pass: raises for an invalid file, before any output
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(INTERVAL_CSV_HEADER)
        if first is not None:
            rows = IntervalRows()
            writer.writerow(rows.row(first))
            writer.writerows(map(rows.row, readings))
    return EXIT_OK


def _read_options(args: argparse.Namespace) -> ReadOptions:
    return ReadOptions(args.meter, args.unit, time_zone(args.tz or "UTC"))


class IntervalRows:
    """Readings as CSV rows (INTERVAL_CSV_HEADER, or VALIDATED_CSV_HEADER with ``validated``).

    An interval usually starts where the one before it ended: its start is then written as that end was,
    which saves formatting a third of the timestamps of a file (a million rows take seconds to write)."""

    def __init__(self, *, validated: bool = False) -> None:
        self.validated = validated
        self.last_end: datetime | None = None
        self.last_end_text = ""

    def row(self, reading: IntervalReading) -> tuple[str, ...]:
        start, end = reading.start, reading.end
        same = start is self.last_end or (start == self.last_end and start.tzinfo is self._lasttime_zone())
        start_text = self.last_end_text if same else start.isoformat()
        self.last_end, self.last_end_text = end, end.isoformat()
        value = str(reading.value)
        if "E" in value:  # str writes 1E+3 and 1E-7 in scientific notation; the CSV has plain decimals
            value = f"{reading.value:f}"
        row = (reading.meter, start_text, self.last_end_text, value, reading.unit, reading.quality)
        if self.validated:
            return (*row, reading.method or "", reading.reason or "")
        return row

    def _lasttime_zone(self) -> tzinfo | None:
        return None if self.last_end is None else self.last_end.tzinfo


def meter_data_file(path: str, requested_format: str) -> MeterDataFile:
    """The file's format: as requested, or (``auto``) recognised from its first bytes."""
    try:
        with open(path, "rb") as file:
            first_bytes = file.read(_SNIFF_BYTES)
            total_bytes = os.fstat(file.fileno()).st_size
    except OSError as err:
        raise InputError(f"{path}: cannot read the file: {err.strerror or err}") from None
    csv_content = _csv_content(first_bytes)
    file_format = _FILE_FORMAT_NAMED.get(requested_format)
    if file_format is None:  # auto; detect_format knows the rating CSV layouts, csvio the meter data ones
        meter_layout = csv_content in ("intervals", "registers")
        file_format = "csv" if meter_layout else detect_format(first_bytes, path)
    return MeterDataFile(path, file_format, csv_content if file_format == "csv" else None, total_bytes)


def _csv_content(first_bytes: bytes) -> CsvContent | None:
    text = first_bytes.removeprefix(b"\xef\xbb\xbf").lstrip().decode("utf-8", "replace")
    header = text.split("\n", 1)[0].strip()
    content = meter_csv_kind(header)
    if content is not None:
        return content
    names = {name.strip().lower() for name in header.split(",")}
    if names == {"start", "value"}:
        return "series"
    if names == {"id", "start", "end"}:
        return "sessions"
    return None


def _check_intervals_readable(source: MeterDataFile, options: ReadOptions) -> None:
    """Refuse, before reading, a CSV that holds no meter's intervals."""
    if source.csv_content == "sessions":
        raise InputError(f"{source.path}: usage sessions ('id,start,end') are not meter data")
    if source.csv_content == "series" and options.meter is None:
        raise InputError(
            f"{source.path}: a 'start,value' file names no meter; give --meter ID, or write the file as "
            "'meter,start,value'"
        )


def read_intervals(
    source: MeterDataFile, options: ReadOptions, progress: ProgressCallback | None
) -> Iterator[IntervalReading]:
    """One streaming pass over the file's interval readings; faults raise with the file, line and reason."""
    path, total = source.path, source.total_bytes
    try:
        if source.file_format == "greenbutton":
            with open(path, "rb") as stream:
                yield from read_greenbutton(
                    stream, path, meter=options.meter, progress=progress, total_bytes=total
                )
            return
        with open(path, encoding="utf-8", newline="") as lines:
            if source.file_format == "nem12":
                yield from read_nem12(lines, path, progress=progress, total_bytes=total)
            elif source.csv_content == "series":
                yield from _series_readings(lines, path, options)
            else:
                yield from _located(
                    read_meter_intervals_csv(
                        lines, options.tz, path, unit=options.unit, progress=progress, total_bytes=total
                    )
                )
    except OSError as err:
        raise InputError(f"{path}: cannot read the file: {err.strerror or err}") from None
    except UnicodeDecodeError as err:
        raise InputError(f"{path}: not UTF-8 text: {err.reason}") from None


def _series_readings(lines: Iterable[str], path: str, options: ReadOptions) -> Iterator[IntervalReading]:
    """A rating file's 'start,value' intervals as the readings of the meter ``--meter`` names."""
    assert options.meter is not None  # _check_intervals_readable refused the file otherwise
    try:
        series = read_interval_csv(lines, options.tz, options.unit, path)
    except CsvFormatError as err:
        raise _located_error(err) from None
    step = series.interval
    for index, raw in enumerate(series.values):
        start = series.start + index * step  # the series starts in UTC: absolute time
        yield IntervalReading(
            options.meter,
            start.astimezone(options.tz),
            (start + step).astimezone(options.tz),
            series.quantity(raw),
            series.unit,
        )


def _located(readings: Iterator[_Reading]) -> Iterator[_Reading]:
    try:
        yield from readings
    except CsvFormatError as err:
        raise _located_error(err) from None


def _located_error(err: CsvFormatError) -> ImportFormatError | InputError:
    """A CSV fault said the way the other meter data formats say theirs: ``file:line: reason``."""
    if err.line is None:
        return InputError(f"{err.source}: {err.reason}")
    return ImportFormatError(err.source, err.line, err.reason)


# --- validate -----------------------------------------------------------------------------------------------


def _validate(args: argparse.Namespace) -> int:
    """Validate every meter of a NEM12 file, a Green Button feed or a meter data CSV (register reads or
    intervals) and write one row per interval of each meter's span to stdout as CSV with the header
    meter,start,end,value,unit,quality,method,reason: quality A for actual values, else the method and the
    reason of the estimate. The data-quality events and a summary go to stderr."""
    source = meter_data_file(args.file, args.format)
    options = _read_options(args)
    _check_intervals_readable(source, options)
    config = load_meter_config(args.meter_config) if args.meter_config else MeterConfig()
    clock = time_zone(args.tz) if args.tz else None
    with ProgressReport(source.path, wants_progress(args)) as progress:
        readings = read_raw_readings(source, options, progress.callback("reading"))
    results: list[ValidatedIntervals] = []
    for meter, raw in readings.items():
        try:
            results += validate_meter(meter, raw, config.settings_of(meter), clock)
        except MeteringError as err:
            raise InputError(f"{source.path}: {err}") from None
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(VALIDATED_CSV_HEADER)
    rows = IntervalRows(validated=True)
    for result in results:
        writer.writerows(map(rows.row, result))
    for meter in (meter for meter in config.meters if meter not in readings):
        print(
            f"meterbill validate: {args.meter_config}: meter {meter!r} is not in {source.path}",
            file=sys.stderr,
        )
    for result in results:
        for event in result.events:
            print(f"{event.meter} {event.at.isoformat()} {event.kind}: {event.detail}", file=sys.stderr)
    print(f"meterbill validate: {source.path}: {_summary(results)}", file=sys.stderr)
    return EXIT_OK


def _summary(results: Sequence[ValidatedIntervals]) -> str:
    """``2 meters, 96 intervals: 90 actual, 6 estimated; 3 events`` (estimated: every value not actual)."""
    meters = len({result.meter for result in results})  # a meter whose interval length changes has several
    intervals = sum(map(len, results))
    actual = sum(result.qualities.count("A") for result in results)
    events = sum(len(result.events) for result in results)
    return (
        f"{_count(meters, 'meter')}, {_count(intervals, 'interval')}: {actual} actual, "
        f"{intervals - actual} estimated; {_count(events, 'event')}"
    )


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def read_raw_readings(
    source: MeterDataFile, options: ReadOptions, progress: ProgressCallback | None
) -> dict[str, RawReadings]:
    """Every reading of the file, by meter in order of first appearance (validation needs them all)."""
    by_meter: dict[str, RawReadings] = {}
    if source.csv_content == "registers":
        try:
            with open(source.path, encoding="utf-8", newline="") as lines:
                reads = read_register_reads_csv(
                    lines,
                    options.tz,
                    source.path,
                    unit=options.unit,
                    progress=progress,
                    total_bytes=source.total_bytes,
                )
                for read in _located(reads):
                    by_meter.setdefault(read.meter, RawReadings()).registers.append(read)
        except OSError as err:
            raise InputError(f"{source.path}: cannot read the file: {err.strerror or err}") from None
        except UnicodeDecodeError as err:
            raise InputError(f"{source.path}: not UTF-8 text: {err.reason}") from None
        return by_meter
    for reading in read_intervals(source, options, progress):
        by_meter.setdefault(reading.meter, RawReadings()).intervals.append(reading)
    return by_meter


# --- the meter config file (--meter-config) -----------------------------------------------------------------


class MeterConfig(BaseModel):
    """``--meter-config``: settings for every meter (``defaults``) and per meter id (``meters``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    defaults: MeterSettings = MeterSettings()
    meters: dict[str, MeterSettings] = {}

    def settings_of(self, meter: str) -> MeterSettings:
        own = self.meters.get(meter)
        if own is None:
            return self.defaults
        merged = self.defaults.model_dump(exclude_unset=True) | own.model_dump(exclude_unset=True)
        return MeterSettings.model_validate(merged)


def load_meter_config(path: str) -> MeterConfig:
    """The meter config file, every value checked: a fault names the file, the field path and the reason."""
    document = json_document(path)
    try:
        config = MeterConfig.model_validate(document)
        for where, settings in [
            ("defaults", config.defaults),
            *((f"meters.{meter}", settings) for meter, settings in config.meters.items()),
        ]:
            try:
                validation_config(settings)
            except ValueError as err:
                raise InputError(f"{path}: {where}: {err}") from None
        return config
    except ValidationError as err:
        problem = err.errors(include_url=False)[0]
        if not problem["loc"]:
            raise InputError(f"{path}: expected a JSON object of 'defaults' and 'meters'") from None
        reason = "unknown field" if problem["type"] == "extra_forbidden" else problem["msg"]
        raise InputError(f"{path}: {field_path(problem['loc'])}: {reason}") from None
