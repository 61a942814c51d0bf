"""`meterbill rate`: price usage with a tariff, bills to stdout (JSON for scripts, a table for people)."""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import holidays
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table
from rich.text import Text

from meterbill.billing.bill import Bill
from meterbill.cli.common import EXIT_OK, InputError, json_document, time_zone
from meterbill.fielderrors import field_path
from meterbill.meterdata.csvio import read_usage_csv
from meterbill.money import quantum
from meterbill.tariffs.attributes import scoped_attributes
from meterbill.tariffs.engine import BillPeriod, ScopedAttributes, TariffError, rate, rate_monthly
from meterbill.tariffs.loading import load_tariff
from meterbill.tariffs.model import Tariff
from meterbill.usage import Usage, UsageError

if TYPE_CHECKING:
    from meterbill.cli.common import Commands

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def add_commands(commands: Commands) -> None:
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
        "--attributes",
        metavar="A.json",
        help='attributes for formulas: the customer\'s, {"senior_citizen": true}, '
        'or {"customer": {..}, "site": {..}, "meter": {..}}',
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


def _rate(args: argparse.Namespace) -> int:
    """Price the usage of a bill period [start, end) on the site's local calendar."""
    tz = time_zone(args.tz)
    period = _bill_period(args.start, args.end, tz)
    public_holidays = _holidays(args.holidays, period) if args.holidays else frozenset()
    tariff = load_tariff(args.tariff, accept_urdb_fields=args.accept_urdb_field)
    attributes = _attributes(args.attributes) if args.attributes else ScopedAttributes()
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


def _attributes(path: str) -> ScopedAttributes:
    """A JSON object of customer attributes, or of the three scopes (``tariffs.attributes``): numbers as exact
    decimals, booleans and text as they are."""
    document = json_document(path)
    if not isinstance(document, dict):
        raise InputError(f"{path}: expected a JSON object of attributes")
    try:
        return scoped_attributes(document)
    except ValidationError as err:
        problem = err.errors(include_url=False)[0]
        where = field_path([part for part in problem["loc"] if part != "[key]"])
        reason = problem["msg"].removeprefix("Value error, ")
        raise InputError(f"{path}: {where}: {reason}") from None


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
