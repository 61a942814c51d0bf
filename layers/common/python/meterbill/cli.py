"""`meterbill …`: the command line. Bills go to stdout (JSON for scripts, a table for people); meter data goes
to stdout as CSV (`convert`, `validate`); bad input ends with exit code 2 and one line on stderr naming the
file, the line or field, and the reason, and nothing on stdout.
"""

from __future__ import annotations

import argparse
import csv
import importlib
import json
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import Literal, NoReturn, TextIO, TypeVar, get_args
from zoneinfo import ZoneInfo

import holidays
from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError
from rich.console import Console
from rich.table import Table
from rich.text import Text

import meterbill
from meterbill.billing.bill import Bill
from meterbill.domain import AttributeKey, AttributeValue
from meterbill.errors import InvalidInputError, StorageUnavailableError
from meterbill.fielderrors import field_path
from meterbill.meterdata.csvio import (
    METER_UNITS,
    CsvFormatError,
    meter_csv_kind,
    meter_unit,
    read_interval_csv,
    read_meter_intervals_csv,
    read_register_reads_csv,
    read_usage_csv,
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
from meterbill.money import quantum
from meterbill.settings import ApiSettings, StorageSettings
from meterbill.tariffs.engine import BillPeriod, TariffError, Variables, rate, rate_monthly
from meterbill.tariffs.loading import TariffFileError, load_tariff
from meterbill.tariffs.model import Tariff
from meterbill.timeutil import UnknownTimeZoneError, zone
from meterbill.usage import Usage, UsageError

EXIT_OK = 0
EXIT_BAD_INPUT = 2
EXIT_BROKEN_PIPE = 141  # what a shell reports for a process ended by SIGPIPE
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ATTRIBUTES = TypeAdapter(dict[AttributeKey, AttributeValue])


class InputError(ValueError):
    """Input the command cannot use; the message names the file or option, the line or field, the reason."""


INPUT_ERRORS = (InputError, TariffFileError, CsvFormatError, ImportFormatError)
INTERVAL_CSV_HEADER = ("meter", "start", "end", "value", "unit", "quality")
VALIDATED_CSV_HEADER = (*INTERVAL_CSV_HEADER, "method", "reason")
FILE_FORMATS: tuple[FileFormat, ...] = get_args(FileFormat)
_FILE_FORMAT_NAMED: dict[str, FileFormat] = {name: name for name in FILE_FORMATS}
_SNIFF_BYTES = 8192  # enough of a file to tell its format (detect_format needs a few KiB)
_MEBIBYTE = 1 << 20


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help, or a usage error already reported on one line
        return exit_.code if isinstance(exit_.code, int) else EXIT_BAD_INPUT
    command: Callable[[argparse.Namespace], int] = args.run
    try:
        return command(args)
    except INPUT_ERRORS as err:
        message = " ".join(str(err).split())
        print(f"meterbill {args.command}: {message}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except BrokenPipeError:  # the reader left early (`| head`); silence the flush at exit, as Python advises
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="meterbill", description="Metering and billing: price usage with tariffs.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    rating = commands.add_parser("rate", help="price usage with a tariff", description=_rate.__doc__)
    rating.add_argument("--tariff", required=True, metavar="T.json", help="native tariff or URDB rate object")
    rating.add_argument(
        "--usage",
        required=True,
        metavar="U.csv",
        help="'start,value' intervals (in the tariff's unit) or 'id,start,end' sessions",
    )
    rating.add_argument("--start", required=True, metavar="YYYY-MM-DD", help="first day of the bill period")
    rating.add_argument("--end", required=True, metavar="YYYY-MM-DD", help="day after the bill period")
    rating.add_argument("--tz", default="UTC", help="the site's IANA time zone (default UTC)")
    rating.add_argument(
        "--attributes", metavar="A.json", help="JSON object of customer attributes for formulas"
    )
    rating.add_argument("--holidays", metavar="CC[-SUB]", help="public holidays, e.g. DE or DE-BE")
    rating.add_argument("--monthly", action="store_true", help="one bill per calendar month")
    rating.add_argument(
        "--accept-urdb-field",
        action="append",
        default=[],
        metavar="FIELD",
        help="leave out a URDB charge knowingly, named as the refusal named it, e.g. 'demandattrs[0]' "
        "(repeatable; recorded on the tariff)",
    )
    rating.add_argument("--format", choices=("json", "table"), default="json", help="output (default json)")
    rating.set_defaults(run=_rate)

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
    _hosted_api_commands(commands)
    return parser


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


def _rate(args: argparse.Namespace) -> int:
    """Price the usage of a bill period [start, end) on the site's local calendar."""
    tz = _zone(args.tz)
    period = _bill_period(args.start, args.end, tz)
    public_holidays = _holidays(args.holidays, period) if args.holidays else frozenset()
    tariff = load_tariff(args.tariff, accept_urdb_fields=args.accept_urdb_field)
    attributes = _attributes(args.attributes) if args.attributes else {}
    usage = _usage(args.usage, tz, tariff.unit)
    _check_usage_fits(usage, tariff, args.usage, args.tariff)
    try:
        if args.monthly:
            bills = rate_monthly(tariff, period, usage, attributes=attributes, holidays=public_holidays)
        else:
            bills = [rate(tariff, period, usage, attributes=attributes, holidays=public_holidays)]
    except TariffError as err:
        raise InputError(f"{args.tariff}: {err}") from None
    if args.format == "table":
        print_bills(bills, Console())
    else:
        print(json.dumps({"bills": [bill.to_json() for bill in bills]}, indent=2))
    return EXIT_OK


def print_bills(bills: Sequence[Bill], console: Console) -> None:
    """Each bill as a table of its lines, money right-aligned, with subtotal, taxes and total."""
    for bill in bills:
        console.print(_bill_table(bill))


def _bill_table(bill: Bill) -> Table:
    def money(amount: Decimal) -> str:
        return f"{amount.quantize(quantum(bill.currency)):,}"  # 2400 EUR -> 2,400.00

    period = f"{bill.start.date()} to {bill.end.date()} ({bill.start.tzinfo})"
    table = Table(
        title=Text(f"{bill.tariff_id} v{bill.tariff_version}, {period}"), caption=_usage_caption(bill)
    )
    table.add_column("Description", ratio=1)
    table.add_column("Quantity", justify="right", no_wrap=True)
    table.add_column("Unit", no_wrap=True)
    table.add_column("Rate", justify="right", no_wrap=True)
    table.add_column(f"Amount {bill.currency}", justify="right", no_wrap=True)
    for line in bill.lines:
        cells = line.to_json()
        table.add_row(
            Text(line.description), cells["quantity"], Text(line.unit), cells["rate"], money(line.amount)
        )
    table.add_section()
    table.add_row("Subtotal", "", "", "", money(bill.subtotal))
    table.add_row("Taxes", "", "", "", money(bill.taxes))
    table.add_row("Total", "", "", "", money(bill.total), style="bold")
    for memo in bill.memos:
        table.add_row(Text(f"Memo: {memo.description}"), "", "", "", money(memo.amount), style="italic")
    return table


def _usage_caption(bill: Bill) -> str | None:
    if bill.usage.total == 0 and bill.usage.peak_demand is None:
        return None
    used = bill.usage.to_json()
    caption = f"usage {used['total']} {used['unit']}"
    if used["peak_demand"] is not None:
        caption += f", peak demand {used['peak_demand']}"
    if used["missing_intervals"]:
        caption += f"; no data for {used['missing_intervals']} intervals of the period (billed as zero)"
    return caption


def _check_usage_fits(usage: Usage, tariff: Tariff, usage_path: str, tariff_path: str) -> None:
    """Intervals for a tariff that prices only sessions (or the reverse) would silently bill nothing."""
    prices_intervals = bool(tariff.energy or tariff.demand or tariff.savings)
    prices_sessions = bool(tariff.packages or tariff.savings)
    if usage.series is not None and prices_sessions and not prices_intervals:
        raise InputError(
            f"{usage_path}: holds intervals ('start,value') but {tariff_path} prices usage sessions "
            "('id,start,end')"
        )
    if usage.sessions and prices_intervals and not prices_sessions:
        raise InputError(
            f"{usage_path}: holds usage sessions ('id,start,end') but {tariff_path} prices intervals "
            "('start,value')"
        )


def _zone(name: str) -> ZoneInfo:
    try:
        return zone(name)
    except UnknownTimeZoneError as err:
        raise InputError(f"--tz: {err}") from None


def _date(text: str, option: str) -> date:
    try:
        if not _DATE.match(text):
            raise ValueError("expected YYYY-MM-DD")
        return date.fromisoformat(text)
    except ValueError as err:
        raise InputError(f"{option} {text!r} is not a date: {err}") from None


def _bill_period(start_text: str, end_text: str, tz: ZoneInfo) -> BillPeriod:
    start, end = _date(start_text, "--start"), _date(end_text, "--end")
    if end <= start:
        raise InputError(f"--end {end} must be after --start {start} (the period is [start, end))")
    return BillPeriod(start, end, tz)


def _holidays(code: str, period: BillPeriod) -> frozenset[date]:
    """``DE`` or ``DE-BE``: the country's (or its subdivision's) public holidays within the bill period."""
    country, _, subdivision = code.partition("-")
    supported: dict[str, list[str]] = holidays.list_supported_countries(include_aliases=False)
    if country.upper() not in supported:
        raise InputError(f"--holidays {code!r}: no public-holiday calendar for country {country!r}")
    country = country.upper()
    subdivisions = {name.upper(): name for name in supported[country]}
    if subdivision and subdivision.upper() not in subdivisions:
        raise InputError(
            f"--holidays {code!r}: {subdivision!r} is not a subdivision of {country}; "
            f"expected one of: {', '.join(supported[country])}"
        )
    last_day = period.end - timedelta(days=1)
    calendar = holidays.country_holidays(
        country,
        subdiv=subdivisions[subdivision.upper()] if subdivision else None,
        years=range(period.start.year, last_day.year + 1),
    )
    return frozenset(day for day in calendar if period.start <= day < period.end)


def _attributes(path: str) -> Variables:
    """A JSON object of customer attributes: numbers as exact decimals, booleans and text as they are."""
    document = _json_document(path)
    if not isinstance(document, dict):
        raise InputError(f"{path}: expected a JSON object of attributes")
    try:
        return _ATTRIBUTES.validate_python(document)
    except ValidationError as err:
        problem = err.errors(include_url=False)[0]
        where = field_path([part for part in problem["loc"] if part != "[key]"])
        reason = problem["msg"].removeprefix("Value error, ")
        raise InputError(f"{path}: {where}: {reason}") from None


def _json_document(path: str) -> object:
    """A JSON file's content, numbers with a fraction as exact decimals."""
    try:
        with open(path, encoding="utf-8") as file:
            document: object = json.load(file, parse_float=Decimal)
    except OSError as err:
        raise InputError(f"{path}: cannot read the file: {err.strerror or err}") from None
    except UnicodeDecodeError as err:
        raise InputError(f"{path}: not UTF-8 text: {err.reason}") from None
    except json.JSONDecodeError as err:
        raise InputError(f"{path}: invalid JSON at line {err.lineno} column {err.colno}: {err.msg}") from None
    return document


def _usage(path: str, tz: ZoneInfo, unit: str) -> Usage:
    try:
        with open(path, encoding="utf-8", newline="") as file:
            return read_usage_csv(file, tz, unit, path)
    except OSError as err:
        raise InputError(f"{path}: cannot read the file: {err.strerror or err}") from None
    except UnicodeDecodeError as err:
        raise InputError(f"{path}: not UTF-8 text: {err.reason}") from None
    except UsageError as err:
        raise InputError(f"{path}: {err}") from None


# --- meter data ---------------------------------------------------------------------------------------------

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
    with ProgressReport(source.path, _wants_progress(args)) as progress:
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
    return ReadOptions(args.meter, args.unit, _zone(args.tz or "UTC"))


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
        same = start is self.last_end or (start == self.last_end and start.tzinfo is self._last_zone())
        start_text = self.last_end_text if same else start.isoformat()
        self.last_end, self.last_end_text = end, end.isoformat()
        value = str(reading.value)
        if "E" in value:  # str writes 1E+3 and 1E-7 in scientific notation; the CSV has plain decimals
            value = f"{reading.value:f}"
        row = (reading.meter, start_text, self.last_end_text, value, reading.unit, reading.quality)
        if self.validated:
            return (*row, reading.method or "", reading.reason or "")
        return row

    def _last_zone(self) -> tzinfo | None:
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
    clock = _zone(args.tz) if args.tz else None
    with ProgressReport(source.path, _wants_progress(args)) as progress:
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
    document = _json_document(path)
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


def _wants_progress(args: argparse.Namespace) -> bool:
    asked: bool | None = args.progress
    return sys.stderr.isatty() if asked is None else asked


class ProgressReport:
    """Progress for a person on stderr: on a terminal one line rewritten in place, else a line a report."""

    def __init__(self, path: str, enabled: bool, stream: TextIO | None = None) -> None:
        self.path = path
        self.enabled = enabled
        self.stream = sys.stderr if stream is None else stream
        self.in_place = self.stream.isatty()
        self.line_open = False

    def callback(self, doing: str) -> ProgressCallback | None:
        if not self.enabled:
            return None

        def report(done: int, total: int | None) -> None:
            self._write(f"{self.path}: {doing} {_how_far(done, total)}")

        return report

    def _write(self, text: str) -> None:
        if self.in_place:
            self.stream.write(f"\r{text}\x1b[K")
            self.line_open = True
        else:
            self.stream.write(f"{text}\n")
        self.stream.flush()

    def __enter__(self) -> ProgressReport:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self.line_open:  # end the line rewritten in place, so what follows starts on its own
            self.stream.write("\n")
            self.stream.flush()
            self.line_open = False


def _how_far(done: int, total: int | None) -> str:
    """``12.5 of 50.0 MiB (25 %)``: bytes for people (a file under a MiB in KiB)."""
    if not total:
        return _size(done)
    return f"{_size(done)} of {_size(total)} ({done * 100 // total} %)"


def _size(byte_count: int) -> str:
    if byte_count < _MEBIBYTE:
        return f"{-(-byte_count // 1024)} KiB"
    tenths = byte_count * 10 // _MEBIBYTE
    return f"{tenths // 10}.{tenths % 10} MiB"


# --- the hosted API: serve, accounts ------------------------------------------------------------------------

EXIT_UNAVAILABLE = 1
_REGION_VARIABLES = ("AWS_REGION", "AWS_DEFAULT_REGION")
_ENDPOINT_VARIABLE = "DYNAMODB_ENDPOINT_URL"
_STORAGE_VARIABLES = {
    "catalog_table": "CATALOG_TABLE",
    "readings_table": "READINGS_TABLE",
    "region": "AWS_REGION",
}
_API_VARIABLES = {**_STORAGE_VARIABLES, "idempotency_table": "IDEMPOTENCY_TABLE"}
# layers/common/python/meterbill/__init__.py: the checkout holding functions/ and local/ is four levels up.
_REPOSITORY_DEPTH = 4
_CHECKOUT_FILES = (
    "functions/ingest/ingest_handler.py",
    "functions/ingest/authorizer_handler.py",
    "local/serve.py",
)


def _hosted_api_commands(commands: argparse._SubParsersAction[_Parser]) -> None:
    serving = commands.add_parser(
        "serve", help="run the API on 127.0.0.1 (moto, or --aws)", description=_serve.__doc__
    )
    serving.add_argument(
        "--port", type=_port, default=8080, help="the API's port on 127.0.0.1 (default 8080; 0: a free one)"
    )
    serving.add_argument(
        "--aws",
        action="store_true",
        help="use the AWS tables named by CATALOG_TABLE, READINGS_TABLE, IDEMPOTENCY_TABLE and AWS_REGION "
        "instead of moto (nothing is created)",
    )
    serving.add_argument("--verbose", action="store_true", help="log every request on stderr")
    serving.set_defaults(run=_serve)

    accounts = commands.add_parser("accounts", help="manage accounts of the hosted API")
    account_commands = accounts.add_subparsers(dest="accounts_command", required=True, metavar="COMMAND")
    creating = account_commands.add_parser(
        "create", help="create an account and print its first admin key", description=_accounts_create.__doc__
    )
    creating.add_argument("name", metavar="NAME", help="the account's name (at most 100 characters)")
    creating.add_argument(
        "--aws",
        action="store_true",
        help=f"the tables are in AWS (without --aws, {_ENDPOINT_VARIABLE} must name a local server)",
    )
    creating.set_defaults(run=_accounts_create)


def _port(text: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0-65535)")
    return int(text)


def _serve(args: argparse.Namespace) -> int:
    """Serve the API on 127.0.0.1:PORT: every request becomes an API Gateway proxy event for the Lambda
    authorizer and handler of functions/ingest, run in this process. Without --aws the tables live in
    moto's DynamoDB (started on a free port of 127.0.0.1, emptied when the server stops) and a demo
    account is created, its admin and ingest keys printed once. With --aws the handlers use the tables the
    environment names (CATALOG_TABLE, READINGS_TABLE, IDEMPOTENCY_TABLE, AWS_REGION, and
    DYNAMODB_ENDPOINT_URL if set) with the ambient AWS credentials; nothing is created. Ctrl-C or SIGTERM
    stops it. Runs from a checkout of the repository (the handlers are not part of the installed package)."""
    aws_settings = _api_settings_from_environment() if args.aws else None
    _put_checkout_on_path()
    local_server = importlib.import_module("local.serve")  # loads moto: only this command pays for it
    exit_code: int = local_server.run(port=args.port, aws_settings=aws_settings, verbose=args.verbose)
    return exit_code


def _accounts_create(args: argparse.Namespace) -> int:
    """Create an account in the tables the environment names (CATALOG_TABLE, READINGS_TABLE, AWS_REGION) and
    print its id and its first admin key, which is shown this once (only a salted hash is stored). Without
    --aws the tables are those of a local server: DYNAMODB_ENDPOINT_URL must be set (meterbill serve prints
    the variables to export). With --aws they are in AWS, reached with the ambient credentials, and
    DYNAMODB_ENDPOINT_URL must not be set."""
    settings = _storage_settings_from_environment(aws=args.aws)
    from meterbill.adapters.dynamodb import build_stores  # loads pynamodb and botocore: only this command
    from meterbill.services.apikeys import create_account

    stores = build_stores(settings)
    try:
        account, key = create_account(args.name, stores.accounts, stores.keys, datetime.now(UTC))
    except InvalidInputError as err:
        raise InputError(f"NAME {args.name!r}: {err.reason}") from None
    except StorageUnavailableError as err:
        where = settings.endpoint_url or f"AWS {settings.region}"
        print(f"meterbill accounts: DynamoDB at {where}: {err}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    print(f"account:   {account.account_id}")
    print(f"admin key: {key}")
    print("meterbill accounts: the admin key is shown this once; keep it safe", file=sys.stderr)
    return EXIT_OK


def _storage_settings_from_environment(*, aws: bool) -> StorageSettings:
    endpoint = os.environ.get(_ENDPOINT_VARIABLE)
    if aws and endpoint:
        raise InputError(f"--aws: {_ENDPOINT_VARIABLE} is set ({endpoint}); unset it to use the AWS tables")
    if not aws and not endpoint:
        raise InputError(
            f"{_ENDPOINT_VARIABLE} is not set: start meterbill serve and export the variables it prints, "
            "or pass --aws to create the account in the AWS tables the environment names"
        )
    _require_variables(_STORAGE_VARIABLES.values())
    try:
        return StorageSettings.from_env(os.environ)
    except ValidationError as err:
        raise _variable_error(err, _STORAGE_VARIABLES) from None


def _api_settings_from_environment() -> ApiSettings:
    _require_variables(_API_VARIABLES.values(), option="--aws")
    try:
        return ApiSettings.from_env(os.environ)
    except ValidationError as err:
        raise _variable_error(err, _API_VARIABLES) from None


def _require_variables(names: Iterable[str], *, option: str | None = None) -> None:
    """InputError naming every variable that is unset or empty (the region may be AWS_DEFAULT_REGION)."""
    missing: list[str] = []
    for name in names:
        aliases = _REGION_VARIABLES if name in _REGION_VARIABLES else (name,)
        if not any(os.environ.get(alias) for alias in aliases):
            missing.append(" or ".join(aliases))
    if missing:
        needs = f"{option} needs" if option else "needs"
        plural = "s" if len(missing) > 1 else ""
        raise InputError(f"{needs} the environment variable{plural} {', '.join(missing)}")


def _variable_error(err: ValidationError, variables: dict[str, str]) -> InputError:
    problem = err.errors(include_url=False)[0]
    field = str(problem["loc"][-1])
    return InputError(f"{variables.get(field, field)}: {problem['msg']}")


def _put_checkout_on_path() -> None:
    """The handlers (functions/) and the local server (local/) are in the repository, not in the installed
    package: find the checkout this meterbill comes from and let Python import from it."""
    package = Path(meterbill.__file__).resolve().parent
    root = package.parents[_REPOSITORY_DEPTH - 1]
    missing = [name for name in _CHECKOUT_FILES if not (root / name).is_file()]
    if missing:
        raise InputError(
            f"runs from a checkout of the meterbill repository (pip install -e .), but this meterbill is "
            f"installed at {package} and {root / missing[0]} does not exist"
        )
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))


if __name__ == "__main__":
    sys.exit(main())
