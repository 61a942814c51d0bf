"""What a customer's bill for any period comes to now: a move-out settlement, or "what will this month cost".

For each of the customer's assignments active in the period: the meter's validated usage on its site's clock,
times the assignment's share; the tariff version(s) in force on each day (a version change mid-period splits
it); the site's public holidays; the attributes of the customer, the meter's site and the meter for the
tariff's formulas (each bill records the values its formulas read). The tariff engine rates each calendar
month on its own, as the monthly bill will. Nothing is stored.

``period_bills`` is the one computation: the preview calls it without demand history, the invoice run
(``services/invoicing.py``) with the meters' peaks from the customer's earlier invoices (ratchets).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Final

from meterbill.billing.allocation import share_of_series
from meterbill.billing.bill import Bill
from meterbill.domain import Assignment, Customer, Meter, Site, assignments_for
from meterbill.errors import InvalidInputError
from meterbill.ports import CatalogStore, ReadingStore
from meterbill.services import catalog as catalog_service
from meterbill.services.common import require_in_calendar
from meterbill.services.usage import validated_intervals
from meterbill.tariffs.engine import BillPeriod, ScopedAttributes, TariffError, rate_monthly
from meterbill.tariffs.versions import NoTariffInForceError, in_force
from meterbill.timeutil import local_midnight
from meterbill.usage import IntervalSeries, Usage

MAX_PERIOD: Final = timedelta(days=366)
# A meter's usage over [start, end) (site-local midnights), for a caller that has it already (the rating run's
# rated days); None: validate the meter's raw readings (``services.metering``).
SeriesSource = Callable[[Meter, datetime, datetime], IntervalSeries]


@dataclass(frozen=True, slots=True)
class PreviewBill:
    """One bill of the preview: a calendar month (or part) of one assignment under one tariff version."""

    assignment_id: str
    meter_id: str
    share: Decimal
    bill: Bill


def bill_preview(
    account: str,
    customer_id: str,
    start: date,
    end: date,
    catalog: CatalogStore,
    readings: ReadingStore,
    *,
    series_source: SeriesSource | None = None,
) -> list[PreviewBill]:
    """The bills of [start, end) (local calendar days of each meter's site), by assignment, then in time,
    without demand history (see ``period_bills``). ``series_source``: where the meters' usage comes from
    (default: validating their raw readings).

    Raises NotFoundError for a customer that is not the account's, and InvalidInputError for a day outside
    2000-01-01 ... 2100-01-01, an end not after the start, a period longer than 366 days, or a tariff that
    cannot be applied. Those name what is at fault: ``assignment.tariff_id`` (no version in force on some
    day), ``assignment.share`` (shares over 1), ``tariff.<operand>`` (a unit the meter does not measure, a
    formula that fails, e.g. on a customer, site or meter attribute it needs), with the assignment and version
    in the reason.
    """
    return period_bills(account, customer_id, start, end, catalog, readings, series_source=series_source)


def period_bills(
    account: str,
    customer_id: str,
    start: date,
    end: date,
    catalog: CatalogStore,
    readings: ReadingStore,
    *,
    demand_history: Mapping[str, Sequence[Decimal]] | None = None,
    series_source: SeriesSource | None = None,
) -> list[PreviewBill]:
    """``bill_preview``'s bills, each meter's ratchets reading ``demand_history[meter_id]`` (earlier months'
    peaks, oldest first; none when the meter is not in it). Raises as ``bill_preview``."""
    require_in_calendar(start, "from")
    require_in_calendar(end, "to")
    if end <= start:
        raise InvalidInputError("to", f"{end} is not after from {start}")
    if end - start > MAX_PERIOD:
        raise InvalidInputError("to", f"more than {MAX_PERIOD.days} days after from")
    customer = catalog_service.get(account, Customer, customer_id, catalog).value
    mine = [a for a in catalog_service.all_of(account, Assignment, catalog) if a.customer_id == customer.id]
    bills: list[PreviewBill] = []
    for meter_id in sorted({a.meter_id for a in mine}):
        try:
            active = assignments_for(mine, meter_id, start, end)
        except ValueError as err:  # the catalog refuses such assignments; one stored before that rule
            raise InvalidInputError("assignment.share", str(err)) from None
        for assignment in active:
            history = () if demand_history is None else demand_history.get(meter_id, ())
            bills += _assignment_bills(
                account, customer, assignment, start, end, catalog, readings, history, series_source
            )
    return bills


def _assignment_bills(
    account: str,
    customer: Customer,
    assignment: Assignment,
    start: date,
    end: date,
    catalog: CatalogStore,
    readings: ReadingStore,
    demand_history: Sequence[Decimal],
    series_source: SeriesSource | None,
) -> list[PreviewBill]:
    span = assignment.active_days(start, end)
    assert span is not None  # assignments_for keeps only the active ones
    first, stop = span
    meter = catalog_service.get(account, Meter, assignment.meter_id, catalog).value
    site = catalog_service.get(account, Site, meter.site_id, catalog).value
    zone = site.zone()
    versions = [
        entry.value for entry in catalog_service.tariff_versions(account, assignment.tariff_id, catalog)
    ]
    try:
        spans = in_force(versions, first, stop)
    except NoTariffInForceError as err:
        raise InvalidInputError("assignment.tariff_id", f"assignment {assignment.id!r}: {err}") from None
    span_start, span_end = local_midnight(first, zone), local_midnight(stop, zone)
    if series_source is None:
        usage = validated_intervals(account, meter, span_start, span_end, readings).as_interval_series()
    else:
        usage = series_source(meter, span_start, span_end)
    series = share_of_series(usage, assignment.share)
    attributes = ScopedAttributes(customer.attributes, site.attributes, meter.attributes)
    bills = []
    for lo, hi, tariff in spans:
        try:
            monthly = rate_monthly(
                tariff,
                BillPeriod(lo, hi, zone),
                Usage(series=series),
                attributes=attributes,
                holidays=site.holiday_dates(lo, hi),
                demand_history=demand_history,
            )
        except TariffError as err:  # the operand at fault, in the tariff version the assignment uses
            where = f"assignment {assignment.id!r}, tariff {tariff.id!r} version {tariff.version}"
            raise InvalidInputError(f"tariff.{err.field}", f"{where}: {err.reason}") from None
        bills += [PreviewBill(assignment.id, meter.id, assignment.share, bill) for bill in monthly]
    return bills
