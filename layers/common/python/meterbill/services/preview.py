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
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Final

from meterbill.billing.allocation import AllocationError, AllocationMethod, share_of_series
from meterbill.billing.bill import Bill, LineItem
from meterbill.billing.residual import residual_of, split_by_weights
from meterbill.domain import Assignment, Customer, Meter, assignments_for
from meterbill.errors import InvalidInputError
from meterbill.ports import CatalogStore, ReadingStore
from meterbill.services import catalog as catalog_service
from meterbill.services.billing_inputs import CustomerCatalog, read_customer_catalog
from meterbill.services.common import require_in_calendar
from meterbill.services.usage import validated_intervals
from meterbill.tariffs.engine import BillPeriod, ScopedAttributes, TariffError, rate_monthly
from meterbill.tariffs.model import Tariff
from meterbill.tariffs.versions import NoTariffInForceError, in_force
from meterbill.timeutil import local_midnight
from meterbill.usage import IntervalSeries, Usage, busy_sessions

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

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
    # What the bill was rated from, for views that take it apart (``services.charges``' hours and sessions).
    rated_from: RatedFrom | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class RatedFrom:
    """The engine's inputs for one preview bill: its tariff version, usage, the site's holidays and the
    formulas' attributes."""

    tariff: Tariff
    period: BillPeriod
    usage: Usage
    holidays: frozenset[date]
    attributes: ScopedAttributes


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
    customer_catalog: CustomerCatalog | None = None,
    under: Sequence[Tariff] | None = None,
) -> list[PreviewBill]:
    """``bill_preview``'s bills, each meter's ratchets reading ``demand_history[meter_id]`` (earlier months'
    peaks, oldest first; none when the meter is not in it). ``customer_catalog``: the customer's part of the
    catalog when the caller has read it already (``billing_inputs.read_customer_catalog``; the account's
    other assignments and meters are read only for a residual). ``under``: the versions of one tariff to
    price every assignment under instead of its own (``compare_tariff``). Raises as ``bill_preview``."""
    check_period(start, end)
    own = customer_catalog or read_customer_catalog(account, customer_id, catalog)
    customer = own.customer
    mine = list(own.assignments)
    # A residual splits a main meter among every customer sharing it: only then the account's assignments.
    residual = any(a.basis == "residual" for a in mine)
    everyone = list(catalog_service.all_of(account, Assignment, catalog)) if residual else mine
    bills: list[PreviewBill] = []
    for meter_id in sorted({a.meter_id for a in mine}):
        try:
            active = assignments_for(mine, meter_id, start, end)  # (the catalog checks them all)
        except ValueError as err:  # the catalog refuses such assignments; one stored before that rule
            raise InvalidInputError("assignment.share", str(err)) from None
        for assignment in active:
            history = () if demand_history is None else demand_history.get(meter_id, ())
            bills += _assignment_bills(
                account,
                customer,
                assignment,
                start,
                end,
                catalog,
                readings,
                history,
                series_source,
                everyone,
                own,
                under,
            )
    return bills


def check_period(start: date, end: date) -> None:
    """A preview's period: days within the calendar, the end after the start, at most 366 days."""
    require_in_calendar(start, "from")
    require_in_calendar(end, "to")
    if end <= start:
        raise InvalidInputError("to", f"{end} is not after from {start}")
    if end - start > MAX_PERIOD:
        raise InvalidInputError("to", f"more than {MAX_PERIOD.days} days after from")


@dataclass(frozen=True, slots=True)
class TariffComparison:
    """A customer's usage over [start, end) priced under one tariff (``under``) and under the tariffs its
    assignments have (``current``): the same assignments, those whose meter measures the tariff's unit."""

    tariff_id: str
    start: date
    end: date
    under: tuple[PreviewBill, ...]
    current: tuple[PreviewBill, ...]
    left_out: tuple[str, ...]  # the customer's assignments active in the period measuring another unit


def compare_tariff(
    account: str,
    customer_id: str,
    tariff_versions: Sequence[Tariff],
    start: date,
    end: date,
    catalog: CatalogStore,
    readings: ReadingStore,
    *,
    now: datetime,
    series_source: SeriesSource | None = None,
) -> TariffComparison:
    """What the customer's bills of [start, end) would come to under ``tariff_versions`` (every version of one
    tariff, any order; the customer may be on another tariff today), beside what they come to under the
    tariffs it has: each of its assignments active in the period whose meter measures the tariff's unit is
    rated twice, with the same usage, holidays and attributes (``period_bills``, no demand history).

    Raises as ``bill_preview`` (NotFoundError for a customer not the account's), and InvalidInputError naming
    ``from`` for a period that starts after ``now`` on a meter's site's clock (no usage yet), ``customer_id``
    for a customer without such an assignment in the period, and ``tariff_id`` for a day of the period no
    version of the tariff is in force on.
    """
    if not tariff_versions or len({t.id for t in tariff_versions}) != 1:
        raise ValueError("tariff_versions: the versions of one tariff")
    check_period(start, end)
    ordered = sorted(tariff_versions, key=lambda v: v.version)
    tariff_id, unit = ordered[-1].id, ordered[-1].unit
    own = read_customer_catalog(account, customer_id, catalog)
    active = [a for a in own.assignments if a.active_days(start, end) is not None]
    priced = tuple(a for a in active if own.meters[a.meter_id].unit == unit)
    left_out = tuple(a.id for a in active if a not in priced)
    if not priced:
        raise InvalidInputError(
            "customer_id",
            f"customer {customer_id!r} has no meter measuring {unit} assigned from {start} to {end}",
        )
    for assignment in priced:
        site = own.sites[own.meters[assignment.meter_id].site_id]
        if local_midnight(start, site.zone()) > now:
            raise InvalidInputError(
                "from", f"{start} has not begun on the clock of site {site.id!r}: no usage to price yet"
            )
    mine = replace(own, assignments=priced)

    def bills(under: Sequence[Tariff] | None) -> tuple[PreviewBill, ...]:
        return tuple(
            period_bills(
                account,
                customer_id,
                start,
                end,
                catalog,
                readings,
                series_source=series_source,
                customer_catalog=mine,
                under=under,
            )
        )

    return TariffComparison(tariff_id, start, end, bills(ordered), bills(None), left_out)


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
    everyone: Sequence[Assignment],
    own: CustomerCatalog,
    under: Sequence[Tariff] | None = None,
) -> list[PreviewBill]:
    span = assignment.active_days(start, end)
    assert span is not None  # assignments_for keeps only the active ones
    first, stop = span
    meter = own.meters[assignment.meter_id]
    site = own.sites[meter.site_id]
    zone = site.zone()
    versions = list(own.tariffs[assignment.tariff_id] if under is None else under)
    try:
        spans = in_force(versions, first, stop)
    except NoTariffInForceError as err:
        if under is None:
            raise InvalidInputError("assignment.tariff_id", f"assignment {assignment.id!r}: {err}") from None
        raise InvalidInputError(
            "tariff_id", f"tariff {versions[0].id!r} (for assignment {assignment.id!r}): {err}"
        ) from None
    span_start, span_end = local_midnight(first, zone), local_midnight(stop, zone)

    def series_of(of: Meter, lo: datetime, hi: datetime) -> IntervalSeries:
        if series_source is None:
            return validated_intervals(account, of, lo, hi, readings).as_interval_series()
        return series_source(of, lo, hi)

    faults: frozenset[int] = frozenset()
    if assignment.basis == "residual":
        series, faults = _residual_part(
            account, assignment, meter, zone, span_start, span_end, start, end, catalog, everyone, series_of
        )
    else:
        series = share_of_series(series_of(meter, span_start, span_end), assignment.share)
    attributes = ScopedAttributes(customer.attributes, site.attributes, meter.attributes)
    bills = []
    for lo, hi, tariff in spans:
        # A compute node's busy time is priced by the tariff's usage packages as sessions.
        sessions = busy_sessions(series, meter.id) if tariff.packages and series.unit in ("s", "h") else ()
        usage, holidays = Usage(series=series, sessions=sessions), site.holiday_dates(lo, hi)
        try:
            monthly = rate_monthly(
                tariff,
                BillPeriod(lo, hi, zone),
                usage,
                attributes=attributes,
                holidays=holidays,
                demand_history=demand_history,
            )
        except TariffError as err:  # the operand at fault, in the tariff version the assignment uses
            where = f"assignment {assignment.id!r}, tariff {tariff.id!r} version {tariff.version}"
            raise InvalidInputError(f"tariff.{err.field}", f"{where}: {err.reason}") from None
        bills += [
            PreviewBill(
                assignment.id,
                meter.id,
                assignment.share,
                _with_faults(bill, series, faults),
                RatedFrom(tariff, _period_of(bill, zone), usage, holidays, attributes),
            )
            for bill in monthly
        ]
    return bills


def _period_of(bill: Bill, zone: ZoneInfo) -> BillPeriod:
    return BillPeriod(bill.start.date(), bill.end.date(), zone)  # the engine's instants are local midnights


# --- shared costs: a main meter minus its sub-meters -------------------------------------------------------


def _residual_part(
    account: str,
    assignment: Assignment,
    main: Meter,
    zone: ZoneInfo,
    span_start: datetime,
    span_end: datetime,
    start: date,
    end: date,
    catalog: CatalogStore,
    everyone: Sequence[Assignment],
    series_of: Callable[[Meter, datetime, datetime], IntervalSeries],
) -> tuple[IntervalSeries, frozenset[int]]:
    """The customer's part of the main meter's residual over [span_start, span_end), and the intervals
    (indices) where its sub-meters exceeded it."""
    where = f"assignment {assignment.id!r}, meter {main.id!r}"
    subs = sorted(
        (m for m in catalog_service.all_of(account, Meter, catalog) if m.parent_id == main.id),
        key=lambda m: m.id,
    )
    if main.kind != "main" or not subs:
        raise InvalidInputError("assignment.basis", f"{where}: a residual needs a main meter with sub-meters")
    try:
        residual = residual_of(
            series_of(main, span_start, span_end), [series_of(sub, span_start, span_end) for sub in subs]
        )
    except AllocationError as err:
        raise InvalidInputError("assignment.basis", f"{where}: sub-meter {err}") from None
    if assignment.allocation == "share":
        return share_of_series(residual.series, assignment.share), residual.faults
    sharers = [
        a for a in everyone if a.meter_id == main.id and a.basis == "residual" and a.overlaps(start, end)
    ]
    other = sorted({a.allocation for a in sharers} - {assignment.allocation})
    if other:
        raise InvalidInputError(
            "assignment.allocation",
            f"{where}: the residual is split by {assignment.allocation} and by {', '.join(other)}; "
            "customers sharing a main meter need one way to split it",
        )
    if assignment.allocation == "area":
        weight = {c: _floor_area(account, c, main.id, catalog) for c in {a.customer_id for a in sharers}}
        method = AllocationMethod.AREA
    else:
        weight = _sub_metered_usage(sharers, subs, everyone, zone, start, end, series_of)
        method = AllocationMethod.USAGE
    day_of = _local_days(residual.series, zone)
    by_day: dict[date, dict[str, Decimal]] = {}
    for day in sorted(set(day_of)):
        by_day[day] = {a.customer_id: weight[a.customer_id] for a in sharers if a.overlaps(day, day + DAY)}
    try:
        part = split_by_weights(
            residual.series, [by_day[day] for day in day_of], method, assignment.customer_id
        )
    except AllocationError as err:
        raise InvalidInputError("assignment.allocation", f"{where}: {err}") from None
    return part, residual.faults


DAY: Final = timedelta(days=1)


def _floor_area(account: str, customer_id: str, main_id: str, catalog: CatalogStore) -> Decimal:
    sharer = catalog_service.get(account, Customer, customer_id, catalog).value
    area = sharer.attributes.get("floor_area")
    if not isinstance(area, Decimal) or not area.is_finite() or area < 0:
        raise InvalidInputError(
            "customer.attributes.floor_area",
            f"customer {customer_id!r} shares meter {main_id!r}'s residual by area but has no floor_area "
            f"that is a number >= 0 (got {area!r})",
        )
    return area


def _sub_metered_usage(
    sharers: Sequence[Assignment],
    subs: Sequence[Meter],
    everyone: Sequence[Assignment],
    zone: ZoneInfo,
    start: date,
    end: date,
    series_of: Callable[[Meter, datetime, datetime], IntervalSeries],
) -> dict[str, Decimal]:
    """Each sharing customer's own usage in [start, end) on the main meter's sub-meters (its ``meter``
    assignments on them, times their shares)."""
    sub_by_id = {sub.id: sub for sub in subs}
    usage = {a.customer_id: Decimal(0) for a in sharers}
    for a in everyone:
        if a.customer_id not in usage or a.basis != "meter" or a.meter_id not in sub_by_id:
            continue
        span = a.active_days(start, end)
        if span is None:
            continue
        lo, hi = local_midnight(span[0], zone), local_midnight(span[1], zone)
        usage[a.customer_id] += share_of_series(series_of(sub_by_id[a.meter_id], lo, hi), a.share).total()
    return usage


def _local_days(series: IntervalSeries, zone: ZoneInfo) -> list[date]:
    """The local date each interval of ``series`` starts on."""
    first = series.start.astimezone(UTC)
    return [(first + i * series.interval).astimezone(zone).date() for i in range(len(series.values))]


def _with_faults(bill: Bill, series: IntervalSeries, faults: frozenset[int]) -> Bill:
    """The bill with a memo counting its intervals where the sub-meters exceeded the main meter."""
    if not faults:
        return bill
    first = series.start.astimezone(UTC)
    count = sum(1 for i in faults if bill.start <= first + i * series.interval < bill.end)
    if not count:
        return bill
    memo = LineItem(
        component="residual_fault",
        description="Sub-meters exceeded the main meter: residual billed as 0 in these intervals",
        quantity=Decimal(count),
        unit="intervals",
        rate=None,
        amount=Decimal("0.00"),
    )
    return replace(bill, memos=(*bill.memos, memo))
