"""The rating run: every meter with readings stored since its last pass is validated again over the days they
touch (through the one validation path, ``services.metering``) and the result kept in the
``MeteringStore``: rated days (validated intervals with flag, method and reason; hourly and daily rollups)
and monthly rollups; then the running period's usage, cost and projection of every customer of those
meters.

Which meters: ``ReadingStore.put_new`` marks each (meter, UTC day) it stores a reading of; ``rating_pass``
reads the marks and, after rating a meter, clears each one only if it is unchanged since it was read, so a
reading stored during the pass leaves its mark for the next one.

Which days: the local days the marked UTC days overlap, one day before them (validation bounds a gap at the
end of a day with the next day's first reading) and ``like_day_weeks`` weeks after them (a long gap takes the
mean of the same weekday of the weeks before it, so a day's readings change the estimates of those later
days), up to ``now``: the day still running ends where its readings end (the last hour's readings may not
have been sent yet: not a gap to estimate), at the latest at the last whole interval before ``now``. A day
with no data at all is not stored. Validation itself reads the weeks before the span that like days need.

Idempotent: what is computed is compared with what is stored and only what differs is written; a second pass
over the same data writes nothing.

Issued invoices are never touched: before a meter's changed days are written, ``services.rerating`` records a
re-rating candidate on each issued invoice (or note) of a customer of the meter whose period they fall in.

Fan-out: with a ``WorkQueue`` and more than ``fan_out_above`` meters, the pass sends one message per
``batch_size`` meters (``MeterWork`` as JSON) and a worker runs ``rate_message`` on each: the same step.

Running cost (``RunningCost``, one per customer of a meter whose rated days changed): usage so far from the
rated days (each assignment's share of its meter over the days it is active), cost from the bill preview
(``services.preview``, the tariff engine as the invoice uses it) over [period start, today) on the site's
calendar, rated from the rated days rather than by validating the raw readings again, and the projection
``cost * period days / elapsed days`` rounded to the currency's minor unit (a straight line through the days
so far: no seasonality, no fixed-charge special case). A pass that changes nothing leaves it as it is.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Final
from zoneinfo import ZoneInfo

from meterbill.billing.periods import period_containing
from meterbill.domain import Assignment, Customer, Meter, Site
from meterbill.errors import InvalidInputError, NotFoundError
from meterbill.meterdata.metering import validation_config
from meterbill.meterdata.rollups import month_rollup, rated_days, rated_series
from meterbill.money import round_money
from meterbill.ports import (
    CatalogStore,
    PendingMark,
    RatedDay,
    RatingStores,
    ReadingStore,
    RunningCost,
    UsageSoFar,
    WorkQueue,
)
from meterbill.services import catalog as catalog_service
from meterbill.services import rerating
from meterbill.services.billing_settings import settings_of
from meterbill.services.common import require_aware
from meterbill.services.invoicing import customer_calendar
from meterbill.services.metering import (
    meter_settings,
    settings_digest,
    settled_end,
    validated_intervals,
)
from meterbill.services.preview import bill_preview
from meterbill.tariffs.versions import NoTariffInForceError, in_force
from meterbill.timeutil import local_midnight, next_month
from meterbill.usage import IntervalSeries

DEFAULT_FAN_OUT_ABOVE: Final = 20  # meters a pass rates itself; above that it sends them to the queue
DEFAULT_BATCH_SIZE: Final = 10  # meters per message
DEFAULT_MARK_LIMIT: Final = 10_000  # marks one pass reads (the rest wait for the next pass)
MESSAGE_KIND: Final = "rate-meters"


@dataclass(frozen=True, slots=True)
class MeterWork:
    """One meter to rate and the marks that say which days."""

    account: str
    meter_id: str
    marks: tuple[PendingMark, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "account": self.account,
            "meter_id": self.meter_id,
            "marks": [{"day": m.day.isoformat(), "changes": m.changes} for m in self.marks],
        }

    @classmethod
    def from_json(cls, data: Any, where: str) -> MeterWork:
        """InvalidInputError naming the field (below ``where``) for anything that is not a MeterWork."""
        if not isinstance(data, Mapping):
            raise InvalidInputError(where, "must be an object")
        account, meter_id, marks = data.get("account"), data.get("meter_id"), data.get("marks")
        for name, value in (("account", account), ("meter_id", meter_id)):
            if not isinstance(value, str) or not value:
                raise InvalidInputError(f"{where}.{name}", "must be a non-empty string")
        if not isinstance(marks, list) or not marks:
            raise InvalidInputError(f"{where}.marks", "must be a non-empty list")
        parsed = []
        for i, mark in enumerate(marks):
            try:
                day = date.fromisoformat(mark["day"])
                changes = mark["changes"]
                if isinstance(changes, bool) or not isinstance(changes, int) or changes < 1:
                    raise ValueError
            except (TypeError, KeyError, ValueError):
                raise InvalidInputError(
                    f"{where}.marks[{i}]", "must be {day: YYYY-MM-DD, changes: a positive integer}"
                ) from None
            parsed.append(PendingMark(str(account), str(meter_id), day, changes))
        return cls(str(account), str(meter_id), tuple(parsed))


@dataclass(frozen=True, slots=True)
class Failure:
    """What could not be rated: ``subject`` is ``meter <id>`` or ``customer <id>``; ``field`` and ``reason``
    say why (a meter's marks stay, so the pass after a fix rates it)."""

    account: str
    subject: str
    field: str
    reason: str


@dataclass(slots=True)
class PassReport:
    """What a pass (or a worker's message) did: meters rated, items written, marks cleared or kept (a reading
    arrived during the pass), messages sent to workers, re-rating candidates recorded on issued invoices
    (``services.rerating``), meters and customers that could not be rated."""

    meters: int = 0
    days_written: int = 0
    months_written: int = 0
    costs_written: int = 0
    marks_cleared: int = 0
    marks_kept: int = 0
    messages_sent: int = 0
    rerating_candidates: int = 0
    failures: list[Failure] = field(default_factory=list)

    def add(self, other: PassReport) -> None:
        for name in (
            "meters",
            "days_written",
            "months_written",
            "costs_written",
            "marks_cleared",
            "marks_kept",
            "messages_sent",
            "rerating_candidates",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.failures += other.failures


def rating_pass(
    now: datetime,
    ports: RatingStores,
    queue: WorkQueue | None = None,
    *,
    fan_out_above: int = DEFAULT_FAN_OUT_ABOVE,
    batch_size: int = DEFAULT_BATCH_SIZE,
    mark_limit: int = DEFAULT_MARK_LIMIT,
) -> PassReport:
    """One scheduled pass at ``now``: rate every marked meter here, or send them to ``queue`` in batches when
    there are more than ``fan_out_above``."""
    require_aware(now, "now")
    work = meter_work(ports.readings.pending_marks(limit=mark_limit))
    if queue is not None and len(work) > fan_out_above:
        messages = [
            {
                "kind": MESSAGE_KIND,
                "at": now.isoformat(),
                "meters": [w.to_json() for w in work[i : i + batch_size]],
            }
            for i in range(0, len(work), batch_size)
        ]
        queue.send(messages)
        return PassReport(messages_sent=len(messages))
    return rate_meters(work, now, ports)


def rate_message(message: Any, ports: RatingStores) -> PassReport:
    """A worker's step: the meters of one message the pass sent, rated as of the pass's time (``at``).
    InvalidInputError naming the field for a message that is not one."""
    if not isinstance(message, Mapping) or message.get("kind") != MESSAGE_KIND:
        raise InvalidInputError("kind", f"must be {MESSAGE_KIND!r}")
    try:
        now = datetime.fromisoformat(message["at"])
    except (KeyError, TypeError, ValueError):
        raise InvalidInputError("at", "must be the pass's time, ISO 8601 with its UTC offset") from None
    require_aware(now, "at")
    meters = message.get("meters")
    if not isinstance(meters, list) or not meters:
        raise InvalidInputError("meters", "must be a non-empty list")
    work = [MeterWork.from_json(item, f"meters[{i}]") for i, item in enumerate(meters)]
    return rate_meters(work, now, ports)


def meter_work(marks: Iterable[PendingMark]) -> list[MeterWork]:
    by_meter: dict[tuple[str, str], list[PendingMark]] = {}
    for mark in marks:
        by_meter.setdefault((mark.account, mark.meter_id), []).append(mark)
    return [
        MeterWork(a, m, tuple(sorted(ms, key=lambda x: x.day))) for (a, m), ms in sorted(by_meter.items())
    ]


def rate_meters(work: Sequence[MeterWork], now: datetime, ports: RatingStores) -> PassReport:
    """Rates each meter, then updates the running cost of each of their customers."""
    report = PassReport()
    customers: set[tuple[str, str]] = set()
    for item in work:
        try:
            customers |= {(item.account, c) for c in _rate_meter(item, now, ports, report)}
        except (InvalidInputError, NotFoundError) as err:  # its marks stay: the pass after a fix rates it
            report.failures.append(_failure(item.account, f"meter {item.meter_id}", err))
    for account, customer_id in sorted(customers):
        try:
            report.costs_written += update_running_cost(account, customer_id, now, ports)
        except (InvalidInputError, NotFoundError) as err:
            report.failures.append(_failure(account, f"customer {customer_id}", err))
    return report


def _failure(account: str, what: str, err: InvalidInputError | NotFoundError) -> Failure:
    if isinstance(err, InvalidInputError):
        return Failure(account, what, err.field, err.reason)
    return Failure(account, what, err.kind, str(err))


def _rate_meter(work: MeterWork, now: datetime, ports: RatingStores, report: PassReport) -> set[str]:
    """Rates one meter's marked days; the ids of its customers (whose running cost may have changed)."""
    account = work.account
    try:
        meter = catalog_service.get(account, Meter, work.meter_id, ports.catalog).value
    except NotFoundError:  # deleted since: nothing to rate
        _clear(work.marks, ports.readings, report)
        return set()
    zone = catalog_service.get(account, Site, meter.site_id, ports.catalog).value.zone()
    first, stop = affected_days(work.marks, zone, validation_config(meter_settings(meter)).like_day_weeks)
    start = local_midnight(first, zone)
    end = settled_end(account, meter, local_midnight(stop, zone), now, zone, ports.readings)
    report.meters += 1
    written_before = report.days_written
    assignments: list[Assignment] = []
    if end > start:
        validated = validated_intervals(account, meter, start, end, ports.readings)
        stored = {d.day: d for d in ports.metering.days(account, meter.id, first, stop)}
        changed = [
            day
            for day in rated_days(validated, zone)
            if not _same_day(stored.get(day.day), day)
            # no data at all that day (before the meter's first reading): nothing to keep
            and (day.day in stored or day.qualities.count("N") != len(day.values))
        ]
        if changed:  # candidates first: a pass that dies before the days are written finds them again
            assignments = list(catalog_service.all_of(account, Assignment, ports.catalog))
            report.rerating_candidates += rerating.record_candidates(
                account, meter, zone, (day.day for day in changed), assignments, now, ports
            )
        ports.metering.put_days(account, changed)
        report.days_written += len(changed)
        months = {(day.day.year, day.day.month) for day in changed}
        for year, month in sorted(months):
            month_start = date(year, month, 1)
            month_end = next_month(month_start)
            rollup = month_rollup(
                meter.id,
                year,
                month,
                ports.metering.days(account, meter.id, month_start, month_end),
                rated_with=settings_digest(meter),
            )
            if rollup is not None and ports.metering.month(account, meter.id, year, month) != rollup:
                ports.metering.put_month(account, rollup)
                report.months_written += 1
    _clear(work.marks, ports.readings, report)
    if report.days_written == written_before:  # nothing changed: its customers' running costs stand
        return set()
    return {a.customer_id for a in assignments if a.meter_id == meter.id}


def _same_day(stored: RatedDay | None, day: RatedDay) -> bool:
    """The stored day holds the same intervals, flags and substitutions, its values perhaps written with
    another exponent: the span is validated at the finest exponent of its readings, so one reading of 2.5
    among whole kWh writes the weeks around it in tenths - the same quantities, not a change to write (nor
    to record as a re-rating candidate)."""
    if stored is None or stored == day:
        return stored is not None
    if replace(stored, exponent=day.exponent, values=day.values) != day:
        return False
    finest = min(stored.exponent, day.exponent)
    return _scaled(stored, finest) == _scaled(day, finest)


def _scaled(day: RatedDay, exponent: int) -> tuple[int, ...]:
    factor = 10 ** (day.exponent - exponent)
    return tuple(value * factor for value in day.values)


def affected_days(marks: Iterable[PendingMark], zone: ZoneInfo, like_day_weeks: int) -> tuple[date, date]:
    """[first, stop) local days to validate again for the marked UTC days (see the module's docstring)."""
    days = [m.day for m in marks]
    first_utc, last_utc = min(days), max(days)
    first_local = datetime.combine(first_utc, time(), UTC).astimezone(zone).date()
    last_end = datetime.combine(last_utc + timedelta(days=1), time(), UTC) - timedelta(microseconds=1)
    last_local = last_end.astimezone(zone).date()
    return first_local - timedelta(days=1), last_local + timedelta(weeks=like_day_weeks, days=1)


def _clear(marks: Iterable[PendingMark], readings: ReadingStore, report: PassReport) -> None:
    for cleared in readings.clear_marks(list(marks)):
        if cleared:
            report.marks_cleared += 1
        else:
            report.marks_kept += 1


def _tariff_currency(account: str, mine: Sequence[Assignment], today: date, catalog: CatalogStore) -> str:
    """The currency of the first tariff version in force today for an assignment active today ("" if none)."""
    for assignment in mine:
        if assignment.active_days(today, today + timedelta(days=1)) is None:
            continue
        try:
            entries = catalog_service.tariff_versions(account, assignment.tariff_id, catalog)
            spans = in_force([e.value for e in entries], today, today + timedelta(days=1))
        except (NotFoundError, NoTariffInForceError):  # the day's bill preview will name what is wrong
            continue
        return spans[0][2].currency
    return ""


def update_running_cost(account: str, customer_id: str, now: datetime, ports: RatingStores) -> int:
    """Computes the customer's running period and writes it if it differs from the stored one (1 write or
    0). The period and today are on the customer's calendar as the bill run keeps it
    (``invoicing.customer_calendar``: its zone, its bill day, colocation billed on the 1st)."""
    catalog = ports.catalog
    customer = catalog_service.get(account, Customer, customer_id, catalog).value
    mine = sorted(
        (e.value for e in catalog_service.assignments_of(account, catalog, customer_id=customer.id)),
        key=lambda a: (a.meter_id, a.effective_from),
    )
    if not mine:
        return 0
    meters = {a.meter_id: catalog_service.get(account, Meter, a.meter_id, catalog).value for a in mine}
    sites = {
        site_id: catalog_service.get(account, Site, site_id, catalog).value
        for site_id in {meter.site_id for meter in meters.values()}
    }
    calendar = customer_calendar(customer, mine, meters, sites, settings_of(account, ports.accounts))
    assert calendar is not None  # the customer has assignments
    zone = calendar.zone
    today = now.astimezone(zone).date()
    period = period_containing(today, calendar.bill_day)
    elapsed = (today - period.start).days
    usage: dict[str, list[Decimal]] = {}
    for assignment in mine:
        span = assignment.active_days(period.start, today) if elapsed else None
        if span is None or assignment.basis == "residual":  # a residual's usage: from its bills, below
            continue
        meter = meters[assignment.meter_id]
        totals = usage.setdefault(meter.unit, [Decimal(0), Decimal(0)])
        for day in ports.metering.days(account, meter.id, span[0], span[1]):
            rollup = day.total()
            totals[0] += rollup.total * assignment.share
            totals[1] += rollup.estimated * assignment.share

    def from_rated_days(meter: Meter, start: datetime, end: datetime) -> IntervalSeries:
        days = ports.metering.days(account, meter.id, start.date(), end.date())
        try:
            return rated_series(days, start, end, meter.interval_minutes, meter.unit)
        except ValueError:  # a day rated at another interval length (the meter's changed): validate
            return validated_intervals(account, meter, start, end, ports.readings).as_interval_series()

    cost, currency = Decimal(0), ""
    if elapsed:
        bills = bill_preview(
            account, customer.id, period.start, today, catalog, ports.readings, series_source=from_rated_days
        )
        currency = bills[0].bill.currency if bills else ""
        cost = sum((b.bill.total for b in bills), Decimal(0))
        residuals = {a.id for a in mine if a.basis == "residual"}
        for b in bills:
            if b.assignment_id in residuals:  # the customer's part of a main meter minus its sub-meters
                totals = usage.setdefault(b.bill.usage.unit, [Decimal(0), Decimal(0)])
                totals[0] += b.bill.usage.total
                totals[1] += b.bill.usage.estimated
    if not currency:  # day 1 of the period: nothing priced yet, but the cost is in the tariff's currency
        currency = _tariff_currency(account, mine, today, catalog)
    period_days = (period.end - period.start).days
    projected = round_money(cost * period_days / elapsed, currency) if elapsed and currency else cost
    running = RunningCost(
        customer_id=customer.id,
        period_start=period.start,
        period_end=period.end,
        as_of=today,
        currency=currency,
        usage=tuple(UsageSoFar(unit, t[0], t[1]) for unit, t in sorted(usage.items())),
        cost=cost,
        projected=projected,
        computed_at=now,
    )
    stored = ports.metering.running_cost(account, customer.id)
    if stored is not None and replace(stored, computed_at=now) == running:
        return 0
    ports.metering.put_running_cost(account, running)
    return 1
