"""A bill of one local day taken apart by wall-clock hour: what each hour of the day costs.

Only what is priced by the unit is spread over hours: the ``energy`` lines (each over the hours of its TOU
period, in proportion to the usage of each hour) and the ``package`` lines (over the hours the sessions start
in, in proportion to each session's price). Everything else is a charge of the whole day or month and is not
invented per hour: fixed charges, demand, minimums, shared costs, savings credits, discounts, surcharges and
taxes are returned as the day's ``unallocated`` amounts, by component.

Each line is spread to the minor unit of the currency by largest remainder (every hour gets its exact share
rounded down, the remaining cents go to the hours with the largest remainders, the earlier first on a tie),
so the hours of a line add up to the line to the cent, and the hours plus ``unallocated`` to the bill.

The hours are the runs of the site's wall clock (``timeutil.wall_clock_hours``): 23 on the day clocks go
forward, 25 when they go back (the repeated hour is an hour of its own), and 30 or 90 minutes around Lord
Howe's half-hour shift. An interval belongs to the hour it starts in, as in the engine.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_FLOOR, Decimal

from meterbill.billing.bill import Bill
from meterbill.money import quantum
from meterbill.tariffs.engine import ScopedAttributes, priced_sessions
from meterbill.tariffs.model import Tariff
from meterbill.tariffs.timeline import BillPeriod
from meterbill.timeutil import midnight_seconds, utc_seconds, wall_clock_hours
from meterbill.usage import Usage

HOURLY_COMPONENTS = ("energy", "package")


@dataclass(frozen=True, slots=True)
class ClockHour:
    """[start, end) in UTC epoch seconds, the local clock's hour, and the local day it is part of."""

    start: int
    end: int
    hour: int
    day: date


@dataclass(frozen=True, slots=True)
class HourlySplit:
    hours: tuple[ClockHour, ...]
    amounts: tuple[Decimal, ...]  # one per hour: its share of the energy and package lines
    unallocated: tuple[tuple[str, Decimal], ...]  # (component, amount) of the other lines, by component


def clock_hours(period: BillPeriod) -> list[ClockHour]:
    """The wall-clock hours of the period's local days, in time order."""
    tz = period.tz
    start, end = midnight_seconds(period.start, tz), midnight_seconds(period.end, tz)
    runs = wall_clock_hours(start, end, tz)
    ends = [run[0] for run in runs[1:]] + [end]
    return [
        ClockHour(first, stop, hour, datetime.fromtimestamp(first, tz).date())
        for (first, hour, _), stop in zip(runs, ends, strict=True)
    ]


def split_by_hour(
    bill: Bill,
    tariff: Tariff,
    period: BillPeriod,
    usage: Usage,
    *,
    holidays: frozenset[date] = frozenset(),
    attributes: ScopedAttributes | None = None,
) -> HourlySplit:
    """``bill`` (what ``rate`` gave for these inputs) spread over the period's wall-clock hours."""
    hours = clock_hours(period)
    places = quantum(bill.currency)
    amounts = [Decimal(0)] * len(hours)
    unallocated: dict[str, Decimal] = {}
    energy_weights = _energy_weights(tariff, hours, usage, holidays)
    package_weights = _package_weights(tariff, period, hours, usage, attributes)
    package_total = Decimal(0)
    for line in bill.lines:
        weights: Sequence[Decimal] | None = None
        if line.component == "energy" and line.period is not None:
            weights = energy_weights.get(line.period)
        elif line.component == "package":
            package_total += line.amount
            continue
        spread = None if weights is None else _spread(line.amount, weights, places)
        if spread is None:
            unallocated[line.component] = unallocated.get(line.component, Decimal(0)) + line.amount
        else:
            amounts = [a + s for a, s in zip(amounts, spread, strict=True)]
    if package_total:
        spread = _spread(package_total, package_weights, places)
        if spread is None:
            unallocated["package"] = unallocated.get("package", Decimal(0)) + package_total
        else:
            amounts = [a + s for a, s in zip(amounts, spread, strict=True)]
    rest = tuple(sorted((c, a) for c, a in unallocated.items() if a != 0))  # a 0 minimum line says nothing
    return HourlySplit(tuple(hours), tuple(amounts), rest)


def _energy_weights(
    tariff: Tariff, hours: Sequence[ClockHour], usage: Usage, holidays: frozenset[date]
) -> dict[str, list[Decimal]]:
    """Per energy period name: the usage of each hour that falls in that period (raw integer units)."""
    energy, series = tariff.energy, usage.series
    if energy is None or series is None:
        return {}
    step = series.interval_minutes * 60
    origin = utc_seconds(series.start)
    count = len(series.values)

    def index_at(instant: int) -> int:  # the first interval starting at or after ``instant``
        return min(max(-((origin - instant) // step), 0), count)

    tou = energy.time_of_use
    off_days = holidays if tariff.holidays_as_weekends else frozenset()
    weights = {period.name: [Decimal(0)] * len(hours) for period in energy.periods}
    for h, hour in enumerate(hours):
        raw = sum(series.values[index_at(hour.start) : index_at(hour.end)])
        if not raw:
            continue
        p = 0
        if tou is not None:
            weekend = hour.day.weekday() >= 5 or hour.day in off_days
            p = (tou.weekend_schedule if weekend else tou.weekday_schedule)[hour.day.month - 1][hour.hour]
        weights[energy.periods[p].name][h] += raw
    return weights


def _package_weights(
    tariff: Tariff,
    period: BillPeriod,
    hours: Sequence[ClockHour],
    usage: Usage,
    attributes: ScopedAttributes | None,
) -> list[Decimal]:
    """Per hour: the unrounded price of the sessions starting in it, over all packages."""
    weights = [Decimal(0)] * len(hours)
    if not tariff.packages or not usage.sessions:
        return weights
    for priced in priced_sessions(tariff, period, usage.sessions, attributes=attributes):
        second = priced.session.start_second
        for h, hour in enumerate(hours):
            if hour.start <= second < hour.end:
                weights[h] += priced.amount
                break
    return weights


def _spread(amount: Decimal, weights: Sequence[Decimal], places: Decimal) -> list[Decimal] | None:
    """``amount`` (a multiple of ``places``) in proportion to ``weights``, each part a multiple of
    ``places`` and the parts adding up to ``amount`` exactly (largest remainder); None when all weigh 0."""
    total = sum(weights, Decimal(0))
    if total == 0:
        return None
    exact = [amount * w / total for w in weights]
    parts = [e.quantize(places, rounding=ROUND_FLOOR) for e in exact]
    left = int((amount - sum(parts, Decimal(0))) / places)
    by_remainder = sorted(range(len(parts)), key=lambda i: (-(exact[i] - parts[i]), i))
    for i in by_remainder[:left]:
        parts[i] += places
    return parts
