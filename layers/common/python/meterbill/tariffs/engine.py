"""The tariff engine: one tariff, one bill period on the site's local calendar, usage in; a Bill out.

Usage stays in integer base units while it is classified and summed (fast and exact); it becomes Decimal per
period and tier, and money is rounded once per line.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import ROUND_CEILING, Decimal

from meterbill.billing.bill import Bill, LineItem, UsageSummary
from meterbill.money import round_money
from meterbill.tariffs.formulas import SCOPES, Formula, FormulaError
from meterbill.tariffs.model import (
    ANY,
    CHARGE_COMPONENTS,
    DemandCharge,
    EnergyCharge,
    Period,
    Tariff,
    TariffFormula,
)
from meterbill.tariffs.timeline import SECONDS_PER_HOUR, Timeline
from meterbill.tariffs.timeline import BillPeriod as BillPeriod  # where callers have always found it
from meterbill.timeutil import (
    day_count,
    days_in_month,
    month_fraction,
    utc_seconds,
)
from meterbill.usage import Session, SharedCost, SharedUsage, Usage

HUNDRED = Decimal(100)
QUANTITY_PLACES = Decimal("0.000001")


class TariffError(ValueError):
    """A tariff that cannot be applied to this bill; ``field`` is the path of the operand at fault."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


Variables = Mapping[str, Decimal | int | bool | str]


@dataclass(frozen=True, slots=True)
class ScopedAttributes:
    """What a tariff's formulas may read besides the bill's calendar and the tariff's own variables: the
    attributes of the customer (``customer.x``, or bare ``x``), of the meter's site (``site.x``) and of the
    meter (``meter.x``)."""

    customer: Variables = field(default_factory=dict)
    site: Variables = field(default_factory=dict)
    meter: Variables = field(default_factory=dict)

    @classmethod
    def of(cls, attributes: Variables | ScopedAttributes | None) -> ScopedAttributes:
        """A plain mapping is the customer's attributes (all ``rate`` took before sites and meters had
        any)."""
        if isinstance(attributes, ScopedAttributes):
            return attributes
        return cls(customer=attributes or {})

    def scopes(self) -> Iterator[tuple[str, Variables]]:
        yield from zip(SCOPES, (self.customer, self.site, self.meter), strict=True)


def rate(
    tariff: Tariff,
    period: BillPeriod,
    usage: Usage,
    *,
    attributes: Variables | ScopedAttributes | None = None,
    holidays: frozenset[date] = frozenset(),
    demand_history: Sequence[Decimal] = (),
) -> Bill:
    """Price one bill period; ``demand_history`` holds earlier months' peaks, oldest first (ratchets).

    ``attributes`` feed the formulas: a ``ScopedAttributes``, or a mapping of the customer's attributes alone.
    The bill records every variable a formula read (and the tariff's own variables), by qualified name."""
    if usage.series is not None and usage.series.unit != tariff.unit:
        raise TariffError("unit", f"tariff prices {tariff.unit!r} but the usage is in {usage.series.unit!r}")
    ops = _Operands(tariff, period, ScopedAttributes.of(attributes))
    timeline = Timeline(usage.series, period, holidays if tariff.holidays_as_weekends else frozenset())
    currency = tariff.currency
    lines: list[LineItem] = []
    memos: list[LineItem] = []
    peak: Decimal | None = None

    lines += _fixed_lines(tariff, period, ops)
    if tariff.energy is not None and usage.series is not None:
        lines += _energy_lines(tariff.energy, timeline, tariff, period, ops)
    if tariff.demand is not None:
        demand_lines, peak = _demand_lines(tariff.demand, timeline, tariff, period, ops, demand_history)
        lines += demand_lines
    lines += _package_lines(tariff, period, usage.sessions, ops)
    lines += _shared_lines(tariff, usage, ops)
    lines += _minimum_lines(tariff, period, ops, lines)
    if tariff.savings is not None:
        saving = _savings_line(tariff, period, usage, ops)
        (lines if tariff.savings.credit else memos).append(saving)
    lines += _adjustment_lines(tariff, ops, lines)
    lines += _tax_lines(tariff, ops, lines)

    total, estimated = timeline.usage_totals()
    return Bill(
        tariff_id=tariff.id,
        tariff_version=tariff.version,
        currency=currency,
        start=period.start_instant,
        end=period.end_instant,
        lines=tuple(line for line in lines if line.amount != 0 or line.component in ("energy", "minimum")),
        usage=UsageSummary(
            total=total,
            estimated=estimated,
            unit=tariff.unit,
            peak_demand=peak,
            missing_intervals=timeline.missing_intervals(period),
        ),
        memos=tuple(memos),
        variables=ops.recorded(),
    )


def rate_monthly(
    tariff: Tariff,
    period: BillPeriod,
    usage: Usage,
    *,
    attributes: Variables | ScopedAttributes | None = None,
    holidays: frozenset[date] = frozenset(),
    demand_history: Sequence[Decimal] = (),
) -> list[Bill]:
    """One bill per calendar month of ``period``, each rated on its own; peaks feed later months' ratchets."""
    history = list(demand_history)
    bills = []
    for month in period.months():
        bill = rate(tariff, month, usage, attributes=attributes, holidays=holidays, demand_history=history)
        if bill.usage.peak_demand is not None:
            history.append(bill.usage.peak_demand)
        bills.append(bill)
    return bills


class _Operands:
    """Resolves tariff operands (decimals or formulas) for one bill, and records the variables they read.

    A formula's names: ``customer.x``, ``site.x``, ``meter.x`` are those attributes; a bare name is the bill's
    calendar (``season`` and ``month`` of its first day, ``year``, ``days``, ``months``), else one of the
    tariff's own variables (each may read the ones before it), else the customer's attribute.

    The record keys each value by the name that means exactly it: ``customer.x`` for a customer attribute
    (read bare or qualified), ``site.x``, ``meter.x``, and the bare name for the calendar and the tariff's
    variables; every tariff variable is recorded, since it is computed for every bill.
    """

    def __init__(self, tariff: Tariff, period: BillPeriod, attributes: ScopedAttributes) -> None:
        self.currency = tariff.currency
        self.variables: dict[str, Decimal | int | bool | str] = dict(attributes.customer)
        calendar: dict[str, Decimal | int | bool | str] = {
            "season": tariff.season_of(period.start.month) or "",
            "month": period.start.month,
            "year": period.start.year,
            "days": day_count(period.start, period.end),
            "months": month_fraction(period.start, period.end),
        }
        self.variables.update(calendar)
        for scope, values in attributes.scopes():
            self.variables.update((f"{scope}.{name}", value) for name, value in values.items())
        self.own: set[str] = set(calendar)  # bare names that are not the customer's
        self.used: dict[str, Decimal | bool | str] = {}
        for name, operand in tariff.variables.items():
            self.variables[name] = self.used[name] = self.num(operand, f"variables.{name}")
            self.own.add(name)

    def _hint(self, formula: Formula) -> str:
        """For a bare name no customer has but the site or the meter does: how to write it."""
        for name in sorted(formula.names):
            scoped = [f"{scope}.{name}" for scope in SCOPES[1:] if f"{scope}.{name}" in self.variables]
            if name not in self.variables and scoped:
                return f" (a bare name is the customer's; write {' or '.join(scoped)})"
        return ""

    def recorded(self) -> tuple[tuple[str, Decimal | bool | str], ...]:
        return tuple(sorted(self.used.items()))

    def _record(self, formula: Formula) -> None:
        for name in formula.names:
            value = self.variables[name]
            key = name if "." in name or name in self.own else f"customer.{name}"
            self.used[key] = (
                Decimal(value) if isinstance(value, int) and not isinstance(value, bool) else value
            )

    def num(self, operand: Decimal | Formula, field: str) -> Decimal:
        """A literal operand as it is (the model checked it); a formula's value, held to the bounds a literal
        in its place must keep (a tier size is never negative, a percent at most 100, ...)."""
        if isinstance(operand, Decimal):
            return operand
        try:
            value = operand.evaluate(self.variables)
        except FormulaError as err:
            raise TariffError(field, f"formula {operand.source!r}: {err}{self._hint(operand)}") from None
        self._record(operand)
        bounds = operand.bounds if isinstance(operand, TariffFormula) else ANY
        if reason := bounds.reason(value):
            shown = {name: self.variables[name] for name in sorted(operand.names)}
            given = ", ".join(
                f"{name} = {v!r}" if isinstance(v, str) else f"{name} = {v}" for name, v in shown.items()
            )
            with_given = f" with {given}" if given else ""
            raise TariffError(field, f"formula {operand.source!r} gives {value}{with_given}; {reason}")
        return value

    def money(self, amount: Decimal) -> Decimal:
        return round_money(amount, self.currency)


def _fixed_lines(tariff: Tariff, period: BillPeriod, ops: _Operands) -> Iterator[LineItem]:
    for i, charge in enumerate(tariff.fixed):
        amount = ops.num(charge.amount, f"fixed[{i}].amount")
        if charge.per == "day":
            quantity = Decimal(day_count(period.start, period.end))
        else:
            quantity = month_fraction(period.start, period.end)
        yield LineItem(
            component="fixed",
            description=charge.description,
            quantity=quantity.quantize(QUANTITY_PLACES).normalize() if charge.per == "month" else quantity,
            unit=charge.per,
            rate=amount,
            amount=ops.money(amount * quantity),
        )


def _tier_blocks(quantity: Decimal, sizes: Sequence[Decimal | None], mode: str) -> list[tuple[int, Decimal]]:
    """Split ``quantity`` into (tier index, amount in that tier): graduated fills tier by tier; volume puts it
    all in the tier the quantity reaches."""
    if mode == "volume":
        ceiling = Decimal(0)
        for i, size in enumerate(sizes):
            if size is None:
                return [(i, quantity)]
            ceiling += size
            if quantity <= ceiling:
                return [(i, quantity)]
        return [(len(sizes) - 1, quantity)]
    blocks = []
    remaining = quantity
    for i, size in enumerate(sizes):
        take = remaining if size is None or i == len(sizes) - 1 else min(remaining, size)
        if take > 0 or i == 0:
            blocks.append((i, take))
        remaining -= take
        if remaining <= 0:
            break
    return blocks


def _tier_sizes(period: Period, factor: Decimal, ops: _Operands, field: str) -> list[Decimal | None]:
    return [
        None if tier.size is None else ops.num(tier.size, f"{field}.tiers[{t}].size") * factor
        for t, tier in enumerate(period.tiers)
    ]


def _energy_lines(
    energy: EnergyCharge, timeline: Timeline, tariff: Tariff, period: BillPeriod, ops: _Operands
) -> Iterator[LineItem]:
    series = timeline.series
    assert series is not None
    tou = energy.time_of_use
    rows = timeline.day_rows(tou.weekday_schedule, tou.weekend_schedule) if tou else None
    raw_totals = timeline.totals_by_period(rows, len(energy.periods))
    quantities = [series.quantity(raw) for raw in raw_totals]
    factor = month_fraction(period.start, period.end) if energy.prorate_tiers else Decimal(1)
    grand_total = sum(quantities, Decimal(0))
    for p, (energy_period, quantity) in enumerate(zip(energy.periods, quantities, strict=True)):
        if quantity == 0 and len(energy.periods) > 1:
            continue
        field = f"energy.periods[{p}]"
        sizes = _tier_sizes(energy_period, factor, ops, field)
        if energy.tier_scope == "total_pro_rata" and grand_total > 0:
            share = quantity / grand_total
            blocks = [(t, q * share) for t, q in _tier_blocks(grand_total, sizes, energy.tier_mode)]
        else:
            blocks = _tier_blocks(quantity, sizes, energy.tier_mode)
        season = tariff.season_of_period(tou, p) if tou else None
        many_tiers = len(energy_period.tiers) > 1
        for t, block in blocks:
            unit_rate = ops.num(energy_period.tiers[t].rate, f"{field}.tiers[{t}].rate")
            description = "Energy" if not tou else f"Energy, {energy_period.name}"
            if many_tiers:
                description += f", tier {t + 1}"
            yield LineItem(
                component="energy",
                description=description,
                quantity=block
                if block == block.quantize(QUANTITY_PLACES)
                else block.quantize(QUANTITY_PLACES),
                unit=tariff.unit,
                rate=unit_rate,
                amount=ops.money(block * unit_rate),
                period=energy_period.name,
                tier=t + 1 if many_tiers else None,
                season=season,
            )


def _demand_unit(energy_unit: str) -> str:
    return energy_unit[:-1] if energy_unit.endswith("h") else f"{energy_unit}/h"


def _demand_charge(
    kw: Decimal, demand_period: Period, fraction: Decimal, ops: _Operands, field: str
) -> Iterator[tuple[int, Decimal, Decimal, Decimal]]:
    """(tier, kW in tier, rate, amount): graduated over the period's tiers, prorated by ``fraction``."""
    sizes = _tier_sizes(demand_period, Decimal(1), ops, field)
    for t, block in _tier_blocks(kw, sizes, "graduated"):
        unit_rate = ops.num(demand_period.tiers[t].rate, f"{field}.tiers[{t}].rate")
        yield t, block, unit_rate, ops.money(block * unit_rate * fraction)


def _demand_lines(
    demand: DemandCharge,
    timeline: Timeline,
    tariff: Tariff,
    period: BillPeriod,
    ops: _Operands,
    history: Sequence[Decimal],
) -> tuple[list[LineItem], Decimal | None]:
    """Demand lines per calendar month of the bill, and the highest demand measured (for later ratchets).

    A month without interval data has no demand to measure, but a ratchet still bills its share of the
    history; its line says the data is missing (and the bill's usage counts the missing intervals).
    """
    series = timeline.series
    ratchet = demand.flat.ratchet if demand.flat is not None else None
    if not (timeline.has_usage or (ratchet is not None and history)):
        return [], None
    unit = _demand_unit(tariff.unit)
    month_days: dict[int, int] = {}
    for segment in period.months():
        month_days[segment.start.year * 12 + segment.start.month - 1] = day_count(segment.start, segment.end)
    months = sorted(month_days)
    lines: list[LineItem] = []
    measured: list[Decimal] = []

    def kw(raw: int, minutes: int) -> Decimal:
        assert series is not None
        return series.quantity(raw) * 60 / minutes

    def charge(key: int, period: Period, field: str, billed: Decimal, note: str, season: str | None) -> None:
        year, month0 = divmod(key, 12)
        dim = days_in_month(year, month0 + 1)
        share = Decimal(1) if month_days[key] == dim else Decimal(month_days[key]) / Decimal(dim)
        description = f"Demand, {period.name}{note}"
        if len(months) > 1:
            description += f", {year}-{month0 + 1:02d}"
        if share != 1:
            description += f", prorated {month_days[key]} days"
        tiered = len(period.tiers) > 1
        for t, block, unit_rate, amount in _demand_charge(billed, period, share, ops, field):
            lines.append(
                LineItem(
                    "demand",
                    description,
                    block,
                    unit,
                    unit_rate,
                    amount,
                    period.name,
                    t + 1 if tiered else None,
                    season,
                )
            )

    if demand.flat is not None:
        flat = demand.flat
        peaks, minutes = timeline.peaks(demand.window_minutes, None) if timeline.has_usage else ({}, 1)
        recent = list(history)
        for key in months:
            actual = kw(peaks[(key, 0)], minutes) if (key, 0) in peaks else None
            if actual is None and (flat.ratchet is None or not recent):
                continue
            billed, note = actual or Decimal(0), ""
            if flat.ratchet is not None and recent:
                pct = ops.num(flat.ratchet.percent, "demand.flat.ratchet.percent")
                highest = max(recent[-flat.ratchet.months :])
                if actual is None or highest * pct / HUNDRED > actual:
                    billed, note = highest * pct / HUNDRED, f"ratchet: {pct}% of {highest} {unit}"
            if actual is None:
                note = f" ({note}; no interval data this month)"
            else:
                note = f" ({note})" if note else ""
                measured.append(actual)
                recent.append(actual)
            p = flat.months[key % 12]
            charge(
                key,
                flat.periods[p],
                f"demand.flat.periods[{p}]",
                billed,
                note,
                tariff.season_of(key % 12 + 1),
            )
    if demand.time_of_use is not None and timeline.has_usage:
        tou = demand.time_of_use
        rows = timeline.day_rows(tou.time_of_use.weekday_schedule, tou.time_of_use.weekend_schedule)
        peaks, minutes = timeline.peaks(demand.window_minutes, rows)
        for key in months:
            for p, tou_period in enumerate(tou.periods):
                if (key, p) in peaks:
                    actual = kw(peaks[(key, p)], minutes)
                    measured.append(actual)
                    season = tariff.season_of_period(tou.time_of_use, p)
                    charge(key, tou_period, f"demand.time_of_use.periods[{p}]", actual, "", season)
    return lines, max(measured) if measured else None


def _sessions_in(period: BillPeriod, sessions: Sequence[Session]) -> list[Session]:
    start, end = utc_seconds(period.start_instant), utc_seconds(period.end_instant)
    return [s for s in sessions if start <= s.start_second < end]


def on_seconds(sessions: Sequence[Session], start: int, end: int) -> int:
    """Seconds of [start, end) (UTC epoch seconds) covered by at least one session: the union, so overlapping
    sessions of one node count their common time once."""
    spans = sorted((max(s.start_second, start), min(s.end_second, end)) for s in sessions)
    covered = 0
    reach = start
    for lo, hi in spans:
        lo = max(lo, reach)
        if hi > lo:
            covered += hi - lo
            reach = hi
    return covered


def started_units(seconds: int, threshold: Decimal, unit_seconds: Decimal) -> int:
    """Indivisible units beyond the package threshold: every started unit counts whole."""
    over = Decimal(seconds) - threshold
    # Decimal // truncates toward zero, so round the quotient up explicitly.
    return int((over / unit_seconds).to_integral_value(rounding=ROUND_CEILING)) if over > 0 else 0


def session_charge(
    seconds: int, threshold: Decimal, fare: Decimal, unit_seconds: Decimal, unit_rate: Decimal
) -> Decimal:
    """What one session costs under a usage package, unrounded (lines round the sum of their sessions)."""
    return fare + started_units(seconds, threshold, unit_seconds) * unit_rate


@dataclass(frozen=True, slots=True)
class PricedSession:
    """A session one usage package bills (``packages[package]``): the started units beyond its threshold and
    what it costs, unrounded (the package's line rounds the sum of its sessions)."""

    session: Session
    package: int
    threshold_seconds: Decimal
    units: int
    unit_seconds: Decimal
    amount: Decimal


def priced_sessions(
    tariff: Tariff,
    period: BillPeriod,
    sessions: Sequence[Session],
    *,
    attributes: Variables | ScopedAttributes | None = None,
) -> list[PricedSession]:
    """Each session that starts in ``period`` as each of the tariff's packages prices it (what the package
    lines of ``rate`` sum), in order of start."""
    ops = _Operands(tariff, period, ScopedAttributes.of(attributes))
    billed = sorted(_sessions_in(period, sessions), key=lambda s: (s.start_second, s.id))
    return [
        PricedSession(session, i, threshold, units, unit_seconds, fare + units * unit_rate)
        for i, threshold, fare, unit_seconds, unit_rate in _package_terms(tariff, ops)
        for session in billed
        for units in [started_units(session.seconds, threshold, unit_seconds)]
    ]


def _package_terms(
    tariff: Tariff, ops: _Operands
) -> Iterator[tuple[int, Decimal, Decimal, Decimal, Decimal]]:
    """(index, threshold_seconds, fare, unit_seconds, unit_rate) of each package, its operands resolved."""
    for i, package in enumerate(tariff.packages):
        field = f"packages[{i}]"
        threshold = ops.num(package.threshold_seconds, f"{field}.threshold_seconds")
        fare = ops.num(package.fare, f"{field}.fare")
        unit_seconds = ops.num(package.unit_seconds, f"{field}.unit_seconds")
        unit_rate = ops.num(package.unit_rate, f"{field}.unit_rate")
        if unit_seconds <= 0:
            raise TariffError(f"{field}.unit_seconds", "must be positive")
        yield i, threshold, fare, unit_seconds, unit_rate


def _package_lines(
    tariff: Tariff, period: BillPeriod, sessions: Sequence[Session], ops: _Operands
) -> Iterator[LineItem]:
    billed = _sessions_in(period, sessions)
    if not billed:
        return
    for i, threshold, fare, unit_seconds, unit_rate in _package_terms(tariff, ops):
        package = tariff.packages[i]
        units = sum(started_units(session.seconds, threshold, unit_seconds) for session in billed)
        count = len(billed)
        yield LineItem(
            component="package",
            description=(
                f"{package.description}: {count} sessions x {fare} + {units} started units of "
                f"{unit_seconds} s x {unit_rate}"
            ),
            quantity=Decimal(count),
            unit="session",
            rate=None,
            amount=ops.money(fare * count + unit_rate * units),
        )


def _shared_lines(tariff: Tariff, usage: Usage, ops: _Operands) -> Iterator[LineItem]:
    for i, part in enumerate(usage.shared):
        if isinstance(part, SharedCost):
            yield LineItem("shared", part.description, Decimal(1), "share", None, ops.money(part.amount))
            continue
        assert isinstance(part, SharedUsage)
        if tariff.shared is None:
            raise TariffError(
                "shared", f"usage.shared[{i}] allocates usage but the tariff has no shared rate"
            )
        if part.unit != tariff.unit:
            raise TariffError(
                "shared", f"usage.shared[{i}] is in {part.unit!r}, the tariff prices {tariff.unit!r}"
            )
        unit_rate = ops.num(tariff.shared.rate, "shared.rate")
        yield LineItem(
            "shared",
            f"{tariff.shared.description}: {part.description}",
            part.quantity,
            part.unit,
            unit_rate,
            ops.money(part.quantity * unit_rate),
        )


def _minimum_lines(
    tariff: Tariff, period: BillPeriod, ops: _Operands, lines: Sequence[LineItem]
) -> Iterator[LineItem]:
    if tariff.minimum is None:
        return
    amount = ops.num(tariff.minimum.amount, "minimum.amount")
    if tariff.minimum.per == "day":
        required = amount * day_count(period.start, period.end)
    else:
        required = amount * month_fraction(period.start, period.end)
    required = ops.money(required)
    charged = sum((line.amount for line in lines if line.component in CHARGE_COMPONENTS), Decimal(0))
    if charged < required:
        yield LineItem(
            "minimum",
            f"Minimum charge {required} (charges {charged})",
            Decimal(1),
            "bill",
            required,
            required - charged,
        )


def savings_terms(
    tariff: Tariff, period: BillPeriod, attributes: Variables | ScopedAttributes | None = None
) -> tuple[Decimal, Decimal]:
    """The power rating (W) and price per kWh the tariff's savings component prices ``period`` at, read as
    ``rate`` reads them (a formula may read ``meter.power_rating_w``). TariffError names the operand at
    fault, or ``savings`` when the tariff has no savings component."""
    if tariff.savings is None:
        raise TariffError("savings", f"tariff {tariff.id!r} version {tariff.version} prices no savings")
    ops = _Operands(tariff, period, ScopedAttributes.of(attributes))
    watts = ops.num(tariff.savings.power_rating_w, "savings.power_rating_w")
    price = ops.num(tariff.savings.price_per_kwh, "savings.price_per_kwh")
    return watts, price


def _savings_line(tariff: Tariff, period: BillPeriod, usage: Usage, ops: _Operands) -> LineItem:
    savings = tariff.savings
    assert savings is not None
    start, end = utc_seconds(period.start_instant), utc_seconds(period.end_instant)
    period_hours = Decimal(end - start) / SECONDS_PER_HOUR
    if usage.sessions:
        on_hours = Decimal(on_seconds(usage.sessions, start, end)) / SECONDS_PER_HOUR
    elif usage.series is not None and usage.series.unit in ("h", "s"):
        timeline_total, _ = Timeline(usage.series, period, frozenset()).usage_totals()
        on_hours = timeline_total if usage.series.unit == "h" else timeline_total / SECONDS_PER_HOUR
    else:
        raise TariffError("savings", "needs on-time: sessions, or an on_time series in hours or seconds")
    off_hours = max(period_hours - on_hours, Decimal(0))
    watts = ops.num(savings.power_rating_w, "savings.power_rating_w")
    price = ops.num(savings.price_per_kwh, "savings.price_per_kwh")
    value = ops.money(off_hours * watts * price / 1000)
    return LineItem(
        "savings",
        f"{savings.description}: {watts} W off for {off_hours.normalize():f} h at {price}/kWh",
        off_hours.quantize(QUANTITY_PLACES).normalize(),
        "h",
        price,
        -value if savings.credit else value,
    )


def _adjustment_lines(tariff: Tariff, ops: _Operands, lines: Sequence[LineItem]) -> list[LineItem]:
    """Discounts and surcharges in order, each on the lines of the components it names (earlier adjustments
    included). A discount never takes more than those lines add up to, so it cannot turn a bill negative."""
    added: list[LineItem] = []
    for i, adjustment in enumerate(tariff.adjustments):
        discount = adjustment.kind == "discount"
        base = sum(
            (line.amount for line in [*lines, *added] if line.component in adjustment.applies_to),
            Decimal(0),
        )
        if adjustment.percent is not None:
            pct = ops.num(adjustment.percent, f"adjustments[{i}].percent")
            value = ops.money(base * pct / HUNDRED)
            line = LineItem(
                adjustment.kind,
                f"{adjustment.description} ({pct}%)",
                base,
                tariff.currency,
                pct / HUNDRED,
                value,
            )
        else:
            assert adjustment.amount is not None
            amount = ops.num(adjustment.amount, f"adjustments[{i}].amount")
            value = ops.money(amount)
            line = LineItem(adjustment.kind, adjustment.description, Decimal(1), "bill", amount, value)
        if discount:
            cap = max(base, Decimal(0))
            if value > cap:
                capped = f"capped at {cap}, the amount of {', '.join(adjustment.applies_to)}"
                line = replace(line, description=f"{line.description} ({capped})")
            line = replace(line, amount=Decimal(0) - min(max(value, Decimal(0)), cap))
        added.append(line)
    return added


def _tax_lines(tariff: Tariff, ops: _Operands, lines: Sequence[LineItem]) -> Iterator[LineItem]:
    for i, tax in enumerate(tariff.taxes):
        pct = ops.num(tax.percent, f"taxes[{i}].percent")
        base = sum((line.amount for line in lines if line.component in tax.applies_to), Decimal(0))
        yield LineItem(
            "tax",
            f"{tax.name} ({pct}%)",
            base,
            tariff.currency,
            pct / HUNDRED,
            ops.money(base * pct / HUNDRED),
        )
