"""Validation, estimation and editing (VEE): a meter's raw readings in, one validated value per interval out.

``validate_readings`` is a pure function of (raw readings, meter, span, config): the raw store stays the
input, so validating again after late data is reproducible and changes only the intervals the new data
touches. The result holds each interval's value with its NEM12 quality flag (A actual, E estimated, S
substituted, F final substitute, N null), the method and reason of every value that is not actual, and the
data-quality events the alerts raise later. The rules, in the order they apply:

1. Duplicates. Readings of one instant (a register read's timestamp, an interval's start) collapse to one: the
   best by QUALITY_RANK (actual beats estimate), then the larger value, then the larger serial. That is a
   total order, so the winner is the same whatever the arrival order; an identical resend is a no-op and two
   different values of the same rank are a "duplicate" event. Null (N) readings count as absent.
2. Registers to intervals. A register is differenced between reads, times the multiplier (CT ratio) in force
   at the earlier read of each pair: ``multipliers`` lists (effective_from, multiplier) changes, the meter's
   own multiplier applies before the first. A change that falls between two reads breaks the count (which
   ratio counted how much is unknown): the usage between them is estimated. An interval is actual when reads
   sit on both its boundaries; reads between boundaries only bound estimates. Interval readings are taken as
   delivered (already in billed units) and win over a register difference unless it ranks higher.
3. Rollover. A decrease from the top ``rollover_margin`` (default 10 %) of ``register_max`` to its bottom
   margin is a wrap, counted modulo ``register_max + resolution``: a 99,999.9 kWh register wraps at 100,000.0,
   so 99,999.5 then 0.3 is 0.8 kWh. The resolution is ``register_resolution`` if configured, else the last
   decimal place of ``register_max`` (99,999.9: 0.1; 99,999: 1).
4. Meter exchange. A MeterExchange record ends the old device's count at its final read and starts the new one
   at its initial read; no delta is ever taken across two devices, so the exchange interval holds
   (old final - old previous) + (new next - new initial). Raw reads at the exchange instant yield to the
   record. A serial that changes without a record breaks the count: the usage between the two devices' reads
   is estimated and an "exchange" event says so.
5. Other decreases ("negative-step" events; nothing is ever billed negative). A read above both its neighbours
   is ignored (a high outlier); a read below the one before it, followed by one back at or above it, is
   ignored (a low outlier); otherwise the register restarted lower and the count restarts there. Either way
   the intervals concerned are estimated.
6. Gaps. A run of intervals without a value is cut at the register reads inside it. A piece that register
   reads bound (on its edges, or the nearest ones around it with only valid values in between, one device)
   adds up exactly to what they show, in whole units with the remainder to the earliest intervals
   ("register-scaled"; a piece longer than ``short_gap`` takes the like days' shape when they cover it). Other
   pieces up to ``short_gap`` (default 2 h) are interpolated between their neighbours ("linear"), longer ones
   take the mean of the same local weekday and time of the previous ``like_day_weeks`` weeks ("like-day").
   With nothing to estimate from: N, with the reason.
7. Plausibility. An actual value above ``max_power`` times the interval's hours ("over-limit") or above
   ``spike_factor`` times the larger of its actual neighbours and ``spike_floor`` ("spike") is substituted (S)
   by interpolation. Identical actual values lasting ``flat_line_after`` are a "flat-line" event; the values
   stay.
8. Sum check. Where interval readings fill the whole stretch between two register reads of one device, their
   sum must match the register difference within ``sum_tolerance``, else a "sum-check" event.

Values are integers of ``10**exponent`` of the meter's unit throughout (Decimal only at the edges), so sums
are exact. Events anchor at an instant (a read, or the start of the first interval they concern); a validation
reports those with start <= at < end. Like days are found on the clock of ``start``'s time zone: pass
site-local times. Readings up to ``like_day_weeks`` weeks and a day before the span and a day after it are
used; others are ignored.
"""

from __future__ import annotations

import functools
import math
import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from decimal import Decimal, Inexact, Rounded, localcontext
from itertools import accumulate, compress, islice, pairwise, repeat
from operator import attrgetter, eq, floordiv, gt, lt, mod, mul, ne, sub
from typing import Literal, NamedTuple, TypeVar, cast

from meterbill.domain import Meter
from meterbill.meterdata.estimation import interpolate, rounded_mean, spread, spread_evenly
from meterbill.meterdata.readings import QUALITY_RANK, IntervalReading, MeterExchange, Quality, RegisterRead
from meterbill.usage import IntervalSeries

EventKind = Literal[
    "duplicate",
    "misaligned",
    "rollover",
    "exchange",
    "negative-step",
    "over-limit",
    "spike",
    "flat-line",
    "sum-check",
    "gap",
]
Method = Literal["reported", "register-scaled", "linear", "like-day"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)
_US_PER_MINUTE = 60_000_000
_LOOKAHEAD = timedelta(days=1)  # a gap at the span's end may be bounded by a read up to a day later
_ACTUAL = ord("A")
_REJECTED = ord("x")  # a value found implausible, to be substituted
_MISSING_RUN = re.compile(rb"[-x]+")
_NO_VALUE = frozenset(b"-xN")  # no value to interpolate from (yet)
_NOT_ACTUAL = re.compile(rb"[^A]+")
_ACTUAL_RUN = re.compile(rb"A+")
_LETTER_OF_RANK = {rank: quality for quality, rank in QUALITY_RANK.items()}
_RANK_OF_LETTER = {ord(quality): rank for quality, rank in QUALITY_RANK.items()}
_ACTUAL_RANK = QUALITY_RANK["A"]
_TIMESTAMP = attrgetter("timestamp")
_TZINFO = attrgetter("tzinfo")
_START = attrgetter("start")
_END = attrgetter("end")
_VALUE = attrgetter("value")
_QUALITY = attrgetter("quality")
_SERIAL = attrgetter("serial")
_METER = attrgetter("meter")
_UNIT = attrgetter("unit")

_Reading = TypeVar("_Reading", RegisterRead, IntervalReading)


class ReadingsError(ValueError):
    """Input that cannot be validated at all (bad data becomes an event instead); ``where`` names it."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"{where}: {reason}")
        self.where = where
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ValidationConfig:
    """How one meter's readings are judged; the defaults suit an electricity meter with no known limits."""

    # Gaps up to this long are interpolated (or spread evenly between register reads); longer ones follow the
    # like days.
    short_gap: timedelta = timedelta(hours=2)
    # How many previous weeks a like-day estimate looks at.
    like_day_weeks: int = 4
    # A wrap goes from the top tenth of register_max to its bottom tenth.
    rollover_margin: Decimal = Decimal("0.1")
    # One step of the register; default: register_max's last decimal place, else the reads' last one.
    register_resolution: Decimal | None = None
    # The most the supply can deliver, in the meter's unit per hour after the multiplier (kW for kWh).
    max_power: Decimal | None = None
    # A value above this many times the larger of its neighbours is a spike; None: no spike test.
    spike_factor: Decimal | None = None
    # Neighbours below this count as this, so that blips on a near-idle load are no spikes.
    spike_floor: Decimal = Decimal(0)
    # Identical actual values lasting this long are reported; None: never.
    flat_line_after: timedelta | None = timedelta(hours=24)
    # Interval readings may differ this much from the register difference; default: one register step times
    # the largest multiplier (a register shows truncated values).
    sum_tolerance: Decimal | None = None

    def __post_init__(self) -> None:
        if self.short_gap < timedelta(0):
            raise ValueError(f"short_gap: {self.short_gap} must not be negative")
        if self.like_day_weeks < 0:
            raise ValueError(f"like_day_weeks: {self.like_day_weeks} must not be negative")
        if not Decimal(0) < self.rollover_margin < Decimal("0.5"):
            raise ValueError(f"rollover_margin: {self.rollover_margin} must be between 0 and 0.5")
        if self.register_resolution is not None and not self.register_resolution > 0:
            raise ValueError(f"register_resolution: {self.register_resolution} must be positive")
        if self.max_power is not None and not self.max_power > 0:
            raise ValueError(f"max_power: {self.max_power} must be positive")
        if self.spike_factor is not None and not self.spike_factor > 1:
            raise ValueError(f"spike_factor: {self.spike_factor} must be more than 1")
        if not self.spike_floor >= 0:
            raise ValueError(f"spike_floor: {self.spike_floor} must not be negative")
        if self.flat_line_after is not None and self.flat_line_after <= timedelta(0):
            raise ValueError(f"flat_line_after: {self.flat_line_after} must be positive")
        if self.sum_tolerance is not None and not self.sum_tolerance >= 0:
            raise ValueError(f"sum_tolerance: {self.sum_tolerance} must not be negative")


DEFAULT_CONFIG = ValidationConfig()


@dataclass(frozen=True, slots=True)
class Substitution:
    """Why an interval's value is not actual and how it was made (``method`` None for a null)."""

    method: Method | None
    reason: str


@dataclass(frozen=True, slots=True)
class DataQualityEvent:
    """Something wrong with a meter's data, for the alerts; ``at``: the read or first interval concerned."""

    meter: str
    at: datetime
    kind: EventKind
    detail: str


@dataclass(frozen=True, slots=True)
class ValidatedIntervals:
    """One value per interval of [start, end): interval i covers [start + i*interval, start + (i+1)*interval).

    ``values[i] * 10**exponent`` is its quantity in ``unit`` (0 for a null), ``qualities[i]`` its NEM12 flag
    and ``substitutions[i]`` (for every interval not flagged A) the method and the reason.
    """

    meter: str
    start: datetime
    interval_minutes: int
    unit: str
    exponent: int
    values: Sequence[int]
    qualities: str
    substitutions: Mapping[int, Substitution]
    events: tuple[DataQualityEvent, ...]

    def __len__(self) -> int:
        return len(self.values)

    @property
    def interval(self) -> timedelta:
        return timedelta(minutes=self.interval_minutes)

    @property
    def end(self) -> datetime:
        return self.interval_start(len(self.values))

    def interval_start(self, index: int) -> datetime:
        """When interval ``index`` starts, on ``start``'s clock (counted in absolute time across DST)."""
        return (self.start.astimezone(UTC) + index * self.interval).astimezone(self.start.tzinfo)

    def quantity(self, index: int) -> Decimal:
        return Decimal(self.values[index]).scaleb(self.exponent)

    def total(self) -> Decimal:
        return Decimal(sum(self.values)).scaleb(self.exponent)

    def estimated_total(self) -> Decimal:
        """How much of the total is not actual (estimated, substituted or null)."""
        return Decimal(sum(self.values[i] for i in self.substitutions)).scaleb(self.exponent)

    def reading(self, index: int) -> IntervalReading:
        """Interval ``index`` as an IntervalReading with its flag, method and reason."""
        substitution = self.substitutions.get(index)
        return IntervalReading(
            meter=self.meter,
            start=self.interval_start(index),
            end=self.interval_start(index + 1),
            value=self.quantity(index),
            unit=self.unit,
            quality=cast(Quality, self.qualities[index]),  # built from Quality letters only
            method=substitution.method if substitution else None,
            reason=substitution.reason if substitution else None,
        )

    def __iter__(self) -> Iterator[IntervalReading]:
        return (self.reading(i) for i in range(len(self.values)))

    def as_interval_series(self) -> IntervalSeries:
        """What the tariff engine rates; every interval not flagged A counts as estimated, and a null (N)
        interval, which nothing could estimate, as missing."""
        return IntervalSeries(
            start=self.start,
            interval_minutes=self.interval_minutes,
            values=self.values,
            exponent=self.exponent,
            unit=self.unit,
            estimated=frozenset(self.substitutions),
            missing=frozenset(i for i, quality in enumerate(self.qualities) if quality == "N"),
        )


def validate_readings(
    meter: Meter,
    start: datetime,
    end: datetime,
    *,
    registers: Sequence[RegisterRead] = (),
    intervals: Sequence[IntervalReading] = (),
    exchanges: Sequence[MeterExchange] = (),
    multipliers: Sequence[tuple[datetime, Decimal]] = (),
    config: ValidationConfig = DEFAULT_CONFIG,
) -> ValidatedIntervals:
    """The meter's validated intervals over [start, end), from its raw readings in any order and multiplicity.

    Readings up to ``like_day_weeks`` weeks and a day before ``start`` (like days, bounds) and a day after
    ``end`` (bounds) are used; others are ignored. Raises ReadingsError for readings of another meter or unit,
    naive timestamps, non-finite values, and a span that is not a whole number of intervals.
    """
    grid = _Grid.around(start, end, meter.interval_minutes, config)
    register_values = list(map(_VALUE, registers))
    units = _Units.of(meter, register_values, intervals, exchanges, multipliers, config)
    events: list[_Event] = []
    trace = _RegisterTrace(meter, grid, units, multipliers, config, events)
    bounds = trace.trace(registers, register_values, exchanges)
    delivered = _delivered_intervals(intervals, meter, grid, units, events)
    sheet = _Worksheet(grid, units, config, events)
    sheet.take_register_differences(bounds)
    if delivered.indices:
        sheet.check_sums(bounds, delivered)
        sheet.take_delivered(delivered)
    sheet.causes.update(bounds.causes)
    sheet.causes.update(delivered.causes)
    if config.max_power is not None:
        sheet.reject_over_limit(config.max_power)
    if config.spike_factor is not None:
        sheet.reject_spikes(config.spike_factor, config.spike_floor)
    if config.flat_line_after is not None:
        sheet.report_flat_lines(config.flat_line_after)
    sheet.fill_gaps(bounds)
    return sheet.result(meter)


# --- time and units -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Grid:
    """The working window's intervals: boundary i at ``origin + i * step``; the span is [first, stop)."""

    origin_us: int
    step_us: int
    count: int
    first: int
    stop: int
    zone: tzinfo
    interval_minutes: int

    @classmethod
    def around(cls, start: datetime, end: datetime, interval_minutes: int, config: ValidationConfig) -> _Grid:
        zone = start.tzinfo
        if zone is None or start.utcoffset() is None:
            raise ReadingsError("start", f"{start.isoformat()} has no time zone")
        if end.tzinfo is None or end.utcoffset() is None:
            raise ReadingsError("end", f"{end.isoformat()} has no time zone")
        step = timedelta(minutes=interval_minutes)
        start_us, end_us = (start - _EPOCH) // _ONE_US, (end - _EPOCH) // _ONE_US  # absolute, across DST
        step_us = interval_minutes * _US_PER_MINUTE
        span, remainder = divmod(end_us - start_us, step_us)
        if span <= 0 or remainder:
            raise ReadingsError("end", f"[{start}, {end}) is not a positive whole number of {step} intervals")
        lookback = (timedelta(weeks=config.like_day_weeks) + timedelta(days=1)) // step
        lookahead = _LOOKAHEAD // step
        return cls(
            origin_us=start_us - lookback * step_us,
            step_us=step_us,
            count=lookback + span + lookahead,
            first=lookback,
            stop=lookback + span,
            zone=zone,
            interval_minutes=interval_minutes,
        )

    @property
    def end_us(self) -> int:
        return self.origin_us + self.count * self.step_us

    def us(self, boundary: int) -> int:
        return self.origin_us + boundary * self.step_us

    def at(self, us: int) -> datetime:
        seconds, microseconds = divmod(us, 1_000_000)
        moment = datetime.fromtimestamp(seconds, self.zone)  # an int: exact
        return moment.replace(microsecond=microseconds) if microseconds else moment

    def time(self, boundary: int) -> datetime:
        return self.at(self.us(boundary))

    def covering(self, from_us: int, to_us: int) -> range:
        """The intervals of the window that overlap (from, to)."""
        first = (from_us - self.origin_us) // self.step_us
        stop = -((self.origin_us - to_us) // self.step_us)  # ceiling
        return range(max(first, 0), min(stop, self.count))

    def like_day(self, boundary: int, weeks_back: int) -> int | None:
        """The interval at the same local weekday and time ``weeks_back`` weeks earlier, if in the window."""
        if isinstance(self.zone, timezone):  # a fixed offset: a week is always the same number of intervals
            index = boundary - weeks_back * (7 * 24 * 60 // self.interval_minutes)
        else:
            earlier = self.time(boundary) - timedelta(weeks=weeks_back)  # wall-clock arithmetic in the zone
            index, off_grid = divmod((earlier - _EPOCH) // _ONE_US - self.origin_us, self.step_us)
            if off_grid:
                return None
        return index if 0 <= index < self.count else None

    def duration(self, intervals: int) -> str:
        return _duration(intervals * self.interval_minutes)


@dataclass(frozen=True, slots=True)
class _Units:
    """Integer units: register reads count ``10**register_exponent``, validated values ``10**exponent``."""

    unit: str
    register_exponent: int
    exponent: int
    resolution: int  # one register step, in register units
    modulus: int | None  # where the register wraps, in register units
    top: int | None  # a wrap starts at or above this read...
    bottom: int | None  # ... and ends at or below this one
    default_factor: int  # output units per register unit under the meter's own multiplier
    largest_factor: int

    @classmethod
    def of(
        cls,
        meter: Meter,
        register_values: list[Decimal],
        intervals: Sequence[IntervalReading],
        exchanges: Sequence[MeterExchange],
        multipliers: Sequence[tuple[datetime, Decimal]],
        config: ValidationConfig,
    ) -> _Units:
        read_values = [e.old_final for e in exchanges] + [e.new_initial for e in exchanges]
        register_exponent = min(
            _finest_exponent(register_values + read_values, "register read"),
            0 if meter.register_max is None else _exponent(meter.register_max),
        )
        if config.register_resolution is not None:
            resolution = config.register_resolution
        elif meter.register_max is not None:
            resolution = Decimal(1).scaleb(min(0, _exponent(meter.register_max.normalize())))
        else:  # the reads' own last decimal place
            resolution = Decimal(1).scaleb(register_exponent)
        register_exponent = min(register_exponent, _exponent(resolution))
        for when, multiplier in multipliers:
            if when.tzinfo is None or when.utcoffset() is None:
                raise ReadingsError(f"multiplier from {when.isoformat()}", "has no time zone")
            if not (multiplier.is_finite() and multiplier > 0):
                raise ReadingsError(f"multiplier from {when.isoformat()}", f"{multiplier} is not positive")
        all_multipliers = [meter.multiplier, *(m for _, m in multipliers)]
        multiplier_exponent = min(0, *(_exponent(m) for m in all_multipliers))
        exponent = min(
            register_exponent + multiplier_exponent,
            _finest_exponent(list(map(_VALUE, intervals)), "interval reading"),
        )
        scale = Decimal(1).scaleb(-register_exponent)
        modulus = top = bottom = None
        if meter.register_max is not None:
            modulus = int((meter.register_max + resolution) * scale)
            top = math.ceil(meter.register_max * (1 - config.rollover_margin) * scale)
            bottom = math.floor(meter.register_max * config.rollover_margin * scale)
        factors = [int(m.scaleb(register_exponent - exponent)) for m in all_multipliers]
        return cls(
            unit=meter.unit,
            register_exponent=register_exponent,
            exponent=exponent,
            resolution=int(resolution * scale),
            modulus=modulus,
            top=top,
            bottom=bottom,
            default_factor=factors[0],
            largest_factor=max(factors),
        )

    def factor(self, multiplier: Decimal) -> int:
        return int(multiplier.scaleb(self.register_exponent - self.exponent))

    def register(self, units: int) -> str:
        return f"{Decimal(units).scaleb(self.register_exponent)}"

    def quantity(self, units: int) -> str:
        return _quantity(units, self.exponent, self.unit)

    def is_wrap(self, previous: int, current: int) -> bool:
        return (
            self.top is not None
            and self.bottom is not None
            and previous >= self.top
            and current <= self.bottom
        )


@functools.lru_cache(maxsize=1024)
def _duration(minutes: int) -> str:
    """``3 h``, ``1 h 45 min``, ``2 days 3 h``."""
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    parts = (
        f"{days} day{'s' * (days != 1)}" * bool(days),
        f"{hours} h" * bool(hours),
        f"{minutes} min" * bool(minutes),
    )
    return " ".join(part for part in parts if part) or "0 min"


@functools.lru_cache(maxsize=4096)
def _quantity(units: int, exponent: int, unit: str) -> str:
    return f"{Decimal(units).scaleb(exponent)} {unit}"


def _exponent(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)
    return exponent


def _finest_exponent(values: list[Decimal], what: str) -> int:
    """The finest decimal place among ``values`` (0 at most): an exact sum keeps its finest addend's."""
    try:
        with localcontext() as context:
            context.prec = 200
            context.traps[Inexact] = context.traps[Rounded] = True
            total = sum(values, Decimal(0))
    except (Inexact, Rounded):  # astronomically many digits: look at each value
        total = Decimal(0).scaleb(min((_exponent(v) for v in values if v.is_finite()), default=0))
    if not total.is_finite():
        bad = next(v for v in values if not v.is_finite())
        raise ReadingsError(what, f"value {bad} is not a finite number")
    return min(0, _exponent(total))


class _Instants(NamedTuple):
    us: list[int]  # microseconds since the epoch
    boundary: list[int]  # the grid boundary at each, -1 between boundaries (empty without a grid)
    increasing: bool | None  # strictly, if known (then there are no duplicates and no need to sort)


def _microseconds(stamps: list[datetime], what: str) -> list[int]:
    """Microseconds since the epoch of each (aware) timestamp."""
    return _instants(stamps, what, None).us


def _instants(stamps: list[datetime], what: str, grid: _Grid | None) -> _Instants:
    """Microseconds since the epoch of each (aware) timestamp and, given a grid, the boundary each one is on.

    Converting one timestamp costs about as much as validating it, so where all share one fixed offset (UTC,
    as collectors send them) only the first is converted and the rest follow from their differences, which are
    exact there and mostly one and the same step: the meter's interval, one boundary further."""
    if not stamps:
        return _Instants([], [], True)
    zone = stamps[0].tzinfo
    if isinstance(zone, timezone) and list(map(_TZINFO, stamps)).count(zone) == len(stamps):
        steps = list(map(sub, islice(stamps, 1, None), stamps))
        sample = steps[:64]
        usual = max(sample, key=sample.count) if sample else _ONE_US
        increments = [usual // _ONE_US] * len(steps)
        unusual = list(compress(range(len(steps)), map(ne, steps, repeat(usual))))
        for position in unusual:
            increments[position] = steps[position] // _ONE_US
        us = list(accumulate(increments, initial=(stamps[0] - _EPOCH) // _ONE_US))
        increasing = usual > timedelta(0) and all(increments[p] > 0 for p in unusual)
        if grid is None:
            return _Instants(us, [], increasing)
        first, off_grid = divmod(us[0] - grid.origin_us, grid.step_us)
        if (
            usual // _ONE_US == grid.step_us
            and not off_grid
            and all(increments[p] % grid.step_us == 0 for p in unusual)
        ):
            moves = [1] * len(steps)
            for position in unusual:
                moves[position] = increments[position] // grid.step_us
            return _Instants(us, list(accumulate(moves, initial=first)), increasing)
    else:
        try:
            us = list(map(floordiv, map(sub, stamps, repeat(_EPOCH)), repeat(_ONE_US)))
        except TypeError:
            naive = next(s for s in stamps if s.tzinfo is None or s.utcoffset() is None)
            raise ReadingsError(f"{what} at {naive.isoformat()}", "timestamp has no time zone") from None
        increasing = None
        if grid is None:
            return _Instants(us, [], increasing)
    return _Instants(us, _boundaries(us, grid), increasing)


def _boundaries(us: list[int], grid: _Grid) -> list[int]:
    """The boundary of the grid at each instant, -1 for an instant between boundaries."""
    offsets = list(map(sub, us, repeat(grid.origin_us)))
    boundaries = list(map(floordiv, offsets, repeat(grid.step_us)))
    for position in compress(range(len(us)), map(mod, offsets, repeat(grid.step_us))):
        boundaries[position] = -1
    return boundaries


def _check_belongs(
    readings: Sequence[RegisterRead] | Sequence[IntervalReading], meter: Meter, what: str
) -> None:
    for attribute, getter, expected in (("meter", _METER, meter.id), ("unit", _UNIT, meter.unit)):
        found = set(map(getter, readings))
        if found != {expected} and found:
            other = sorted(str(x) for x in found - {expected})[0]
            raise ReadingsError(
                f"{what} {attribute} {other!r}", f"validating meter {meter.id!r} in {expected!r}"
            )


# --- events -------------------------------------------------------------------------------------------------


class _Event(NamedTuple):
    at_us: int
    kind: EventKind
    detail: str


# --- rule 1: duplicates -------------------------------------------------------------------------------------


def _distinct_in_time_order(
    readings: Sequence[_Reading],
    us: list[int],
    best_first: Callable[[_Reading], tuple[object, ...]],
    describe: Callable[[_Reading, _Reading], str],
    events: list[_Event],
    increasing: bool | None = None,
) -> tuple[list[_Reading], list[int] | None]:
    """One reading per instant, in time order, and the positions kept (None: all, as they came).

    The winner of an instant is the largest by ``best_first``, a total order, so arrival order does not
    matter. Two of the same rank with different values are a "duplicate" event."""
    if increasing is None:
        increasing = all(map(lt, us, islice(us, 1, None)))
    if increasing:
        return list(readings), None
    order = sorted(range(len(us)), key=us.__getitem__)
    kept: list[int] = []
    position = 0
    while position < len(order):
        stop = position + 1
        moment = us[order[position]]
        while stop < len(order) and us[order[stop]] == moment:
            stop += 1
        group = order[position:stop]
        best = max(group, key=lambda i: best_first(readings[i]))
        winner = readings[best]
        rivals = [readings[i] for i in group if readings[i].quality == winner.quality]
        loser = max((r for r in rivals if r.value != winner.value), key=best_first, default=None)
        if loser is not None:
            events.append(_Event(moment, "duplicate", describe(winner, loser)))
        kept.append(best)
        position = stop
    return [readings[i] for i in kept], kept


def _register_rank(read: RegisterRead) -> tuple[object, ...]:
    return (QUALITY_RANK[read.quality], read.value, read.serial or "")


def _interval_rank(reading: IntervalReading) -> tuple[object, ...]:
    return (
        QUALITY_RANK[reading.quality],
        reading.value,
        reading.end,
        reading.method or "",
        reading.reason or "",
    )


def _exchange_rank(exchange: MeterExchange) -> tuple[object, ...]:
    return (exchange.old_final, exchange.new_initial, exchange.old_serial or "", exchange.new_serial or "")


# --- rules 2 to 5: registers --------------------------------------------------------------------------------


@dataclass(slots=True)
class _Bounds:
    """Register reads on interval boundaries, as cumulative usage in output units.

    ``used`` is continuous within one chain (one device, or devices joined by exchange records); positions
    ``chain_starts[c]`` up to the next start form chain c. ``boundary`` increases strictly.
    """

    boundary: list[int] = field(default_factory=list)
    used: list[int] = field(default_factory=list)
    rank: list[int] = field(default_factory=list)  # parallel to boundary; empty when every read is actual
    chain_starts: list[int] = field(default_factory=list)
    causes: dict[int, str] = field(default_factory=dict)  # interval -> why the registers give it no value

    def chain_of(self, position: int) -> int:
        return bisect_right(self.chain_starts, position) - 1

    def chains(self) -> Iterator[tuple[int, int]]:
        ends = [*self.chain_starts[1:], len(self.boundary)][: len(self.chain_starts)]
        return (pair for pair in zip(self.chain_starts, ends, strict=True) if pair[0] < pair[1])


@dataclass(slots=True)
class _Track:
    """Register reads as parallel lists, in time order: instant, boundary (-1 off the grid), value in register
    units, and quality rank (None when all are actual)."""

    us: list[int]
    boundary: list[int]
    value: list[int]
    rank: list[int] | None

    def __len__(self) -> int:
        return len(self.us)

    def part(self, begin: int, end: int) -> _Track:
        rank = None if self.rank is None else self.rank[begin:end]
        return _Track(self.us[begin:end], self.boundary[begin:end], self.value[begin:end], rank)

    def only(self, positions: Sequence[int]) -> _Track:
        rank = None if self.rank is None else [self.rank[i] for i in positions]
        return _Track(
            [self.us[i] for i in positions],
            [self.boundary[i] for i in positions],
            [self.value[i] for i in positions],
            rank,
        )

    def add(self, at_end: bool, us: int, boundary: int, value: int) -> None:
        """An exchange record's read, actual: at the start (the new device's initial) or the end (final)."""
        position = len(self.us) if at_end else 0
        self.us.insert(position, us)
        self.boundary.insert(position, boundary)
        self.value.insert(position, value)
        if self.rank is not None:
            self.rank.insert(position, _ACTUAL_RANK)


class _RegisterTrace:
    """Registers differenced into cumulative usage: device by device, wraps counted, no decrease billed."""

    def __init__(
        self,
        meter: Meter,
        grid: _Grid,
        units: _Units,
        multipliers: Sequence[tuple[datetime, Decimal]],
        config: ValidationConfig,
        events: list[_Event],
    ) -> None:
        self.meter, self.grid, self.units, self.events = meter, grid, units, events
        changes = sorted(((when - _EPOCH) // _ONE_US, units.factor(m)) for when, m in multipliers)
        self.factor_from = [when for when, _ in changes]
        self.factors = [units.default_factor] + [factor for _, factor in changes]
        self.bounds = _Bounds()

    def trace(
        self, registers: Sequence[RegisterRead], values: list[Decimal], exchanges: Sequence[MeterExchange]
    ) -> _Bounds:
        """``values`` are the registers' values, in the same order."""
        if not registers and not exchanges:
            return self.bounds
        _check_belongs(registers, self.meter, "register read")
        grid = self.grid
        us, boundary, increasing = _instants(list(map(_TIMESTAMP, registers)), "register read", grid)
        reads, order = _distinct_in_time_order(
            registers, us, _register_rank, self._describe_duplicate, self.events, increasing
        )
        if order is not None:
            us, boundary, values = (
                [us[i] for i in order],
                [boundary[i] for i in order],
                [values[i] for i in order],
            )
        records = self._exchange_records(exchanges)
        record_us = [(e.timestamp - _EPOCH) // _ONE_US for e in records]
        qualities = list(map(_QUALITY, reads))
        all_actual = qualities.count("A") == len(qualities)
        # Keep the window; drop nulls and raw reads at an exchange instant (the record says what they were).
        low, high = bisect_left(us, grid.origin_us), bisect_right(us, grid.end_us)
        drop = set()
        for moment in record_us:
            position = bisect_left(us, moment, low, high)
            if position < high and us[position] == moment:
                drop.add(position)
        if not all_actual:
            drop.update(i for i in range(low, high) if qualities[i] == "N")
        scale = Decimal(1).scaleb(-self.units.register_exponent)
        track = _Track(us, boundary, list(map(int, map(scale.__mul__, values))), None)
        if not all_actual:
            track.rank = [QUALITY_RANK[q] for q in qualities]
        if drop:
            track = track.only([i for i in range(low, high) if i not in drop])
        elif low > 0 or high < len(us):
            track = track.part(low, high)
        serials = list(map(_SERIAL, reads))
        if drop or low > 0 or high < len(us):
            serials = [serials[i] for i in range(low, high) if i not in drop]
        self._trace_devices(track, serials, records, record_us)
        return self.bounds

    def _describe_duplicate(self, winner: RegisterRead, loser: RegisterRead) -> str:
        values = f"{winner.value} and {loser.value} ({winner.quality})"
        return f"register reads {values} of one instant; kept the larger"

    def _exchange_records(self, exchanges: Sequence[MeterExchange]) -> list[MeterExchange]:
        for record in exchanges:
            if record.meter != self.meter.id:
                raise ReadingsError(f"exchange meter {record.meter!r}", f"validating meter {self.meter.id!r}")
        by_instant: dict[int, list[MeterExchange]] = {}
        instants = _microseconds([e.timestamp for e in exchanges], "exchange")
        for record, moment in zip(exchanges, instants, strict=True):
            if self.grid.origin_us <= moment <= self.grid.end_us:
                by_instant.setdefault(moment, []).append(record)
        records = []
        for moment in sorted(by_instant):
            best = max(by_instant[moment], key=_exchange_rank)
            if any(_exchange_rank(r) != _exchange_rank(best) for r in by_instant[moment]):
                detail = (
                    f"conflicting exchange records of one instant; kept the one ending at {best.old_final}"
                )
                self.events.append(_Event(moment, "duplicate", detail))
            records.append(best)
        return records

    def _trace_devices(
        self, track: _Track, serials: list[str | None], records: list[MeterExchange], record_us: list[int]
    ) -> None:
        """Cut the reads into pieces at exchanges (the count carries over) and at unrecorded serial changes
        (the count breaks), then count each piece."""
        us = track.us
        cuts: list[tuple[int, int, MeterExchange | None]] = []  # (position, instant, record or None)
        for exchange, moment in zip(records, record_us, strict=True):
            cuts.append((bisect_left(us, moment), moment, exchange))
        recorded = {position for position, _, _ in cuts}
        cuts.extend((p, us[p], None) for p in self._serial_changes(serials) if p not in recorded)
        cuts.sort(key=lambda cut: (cut[1], cut[2] is None))
        if not cuts:  # one device throughout
            self._count_piece(track, None, fixed_first=False)
            return
        carry: int | None = None  # the count at the last exchange, for the new device to continue
        initial: MeterExchange | None = None
        begin = 0
        for position, moment, record in [*cuts, (len(us), 0, None)]:
            piece = track.part(begin, position)
            if initial is not None:
                at = (initial.timestamp - _EPOCH) // _ONE_US
                piece.add(False, at, self._boundary(at), self._register_units(initial.new_initial))
            if record is not None:
                piece.add(True, moment, self._boundary(moment), self._register_units(record.old_final))
            carry = self._count_piece(piece, carry, initial is not None)
            if record is not None:
                self.events.append(_Event(moment, "exchange", self._describe_exchange(record)))
            elif position < len(us):  # a serial changed without a record: the count breaks here
                carry = None
                self._serial_change(us[position - 1], us[position], serials, position)
            initial = record
            begin = position

    def _boundary(self, us: int) -> int:
        boundary, off_grid = divmod(us - self.grid.origin_us, self.grid.step_us)
        return -1 if off_grid else boundary

    def _serial_changes(self, serials: list[str | None]) -> list[int]:
        """Positions where a read names another device than the last read that named one."""
        if not serials:
            return []
        first, last, count = serials[0], serials[-1], len(serials)
        head = serials.count(first)
        if head == count:  # one device
            return []
        if None not in (first, last) and serials.index(last) == head and head + serials.count(last) == count:
            return [head]  # one device, then another: a swap
        distinct = set(serials)
        if len(distinct) <= 1:
            return []
        blocks = sorted((serials.index(s), serials.count(s), s) for s in distinct)
        if all(
            serials[first : first + count].count(s) == count for first, count, s in blocks
        ):  # one run each
            starts = [first for first, _, s in blocks if s is not None]
            return starts[1:] if None not in distinct else self._named_changes(serials, starts)
        return self._named_changes(serials, range(1, len(serials)))

    @staticmethod
    def _named_changes(serials: list[str | None], candidates: Iterable[int]) -> list[int]:
        changes = []
        current = None
        for position in candidates:
            if position > 0 and serials[position] == serials[position - 1]:
                continue
            serial = serials[position]
            if serial is None:
                continue
            if current is None:
                current = next((s for s in reversed(serials[:position]) if s is not None), serial)
            if serial != current:
                changes.append(position)
            current = serial
        return changes

    def _serial_change(self, before_us: int, after_us: int, serials: list[str | None], position: int) -> None:
        old = next((s for s in reversed(serials[:position]) if s is not None), None)
        new = serials[position]
        why = (
            f"serial changed from {old} to {new} between {self.grid.at(before_us).isoformat()} and "
            f"{self.grid.at(after_us).isoformat()} without an exchange record"
        )
        self.events.append(_Event(after_us, "exchange", f"{why}; usage in between estimated"))
        self._explain(before_us, after_us, why)

    def _describe_exchange(self, record: MeterExchange) -> str:
        return (
            f"meter exchanged: {record.old_serial or 'old device'} final read {record.old_final}, "
            f"{record.new_serial or 'new device'} initial read {record.new_initial}; "
            "usage counted on each device"
        )

    def _register_units(self, value: Decimal) -> int:
        return int(value.scaleb(-self.units.register_exponent))

    def _explain(self, from_us: int, to_us: int, why: str) -> None:
        for interval in self.grid.covering(from_us, to_us):
            self.bounds.causes[interval] = why

    def _count_piece(self, piece: _Track, carry: int | None, fixed_first: bool) -> int | None:
        """Count one device's reads into chains; return the count at its last read (None if it has none).

        ``fixed_first``: the first read is an exchange record's initial read, never to be ignored."""
        if not piece:
            return carry
        values = piece.value
        wraps: set[int] = set()
        restarts: list[int] = []
        deltas = list(map(sub, islice(values, 1, None), values))
        decreases = _negative_positions(deltas)
        if decreases:
            kept, wraps, restarts = self._decreases(piece, deltas, decreases, fixed_first)
            if len(kept) < len(piece):
                piece = piece.only(kept)
                wraps = {bisect_left(kept, w) for w in wraps}
                restarts = [bisect_left(kept, r) for r in restarts]
                deltas = list(map(sub, islice(piece.value, 1, None), piece.value))
            for w in wraps:
                assert self.units.modulus is not None
                deltas[w - 1] += self.units.modulus
        restarts = sorted({*restarts, *self._unread_ratio_changes(piece.us)})
        used_at_end: int | None = None
        for begin, end in zip([0, *restarts], [*restarts, len(piece)], strict=True):
            continues = begin == 0 and carry is not None
            used = self._accumulate(
                piece.us, begin, end, deltas, carry if continues and carry is not None else 0
            )
            used_at_end = used[-1]
            whole = (begin, end) == (0, len(piece))
            self._add_bounds(piece if whole else piece.part(begin, end), used, new_chain=not continues)
        return used_at_end

    def _unread_ratio_changes(self, us: list[int]) -> list[int]:
        """Reads after a CT ratio change that fell between two reads: how much of the difference was counted
        under each ratio is unknown, so the count restarts there and the usage in between is estimated."""
        restarts = []
        for change in self.factor_from[
            bisect_right(self.factor_from, us[0]) : bisect_left(self.factor_from, us[-1])
        ]:
            after = bisect_left(us, change)
            if us[after] != change:
                restarts.append(after)
                self._explain(
                    us[after - 1],
                    us[after],
                    f"CT ratio changed at {self.grid.at(change).isoformat()}, between register reads",
                )
        return restarts

    def _decreases(
        self, piece: _Track, deltas: list[int], decreases: list[int], fixed_first: bool
    ) -> tuple[list[int], set[int], list[int]]:
        """Rules 3 and 5: decide every decrease (``deltas[k] < 0`` for k in ``decreases``). Returns the
        positions kept, the wraps and the restarts (each a position of the later read)."""
        us, values, units = piece.us, piece.value, self.units
        count = len(values)
        kept = bytearray(b"\x01") * count
        wraps: set[int] = set()
        restarts: list[int] = []
        chain_start = 0

        def kept_before(position: int) -> int | None:
            before = position - 1
            while before >= chain_start and not kept[before]:
                before -= 1
            return before if before >= chain_start else None

        def shown(position: int) -> str:
            return f"{units.register(values[position])} at {self.grid.at(us[position]).isoformat()}"

        for pair in decreases:
            current = pair + 1
            previous = kept_before(current)
            if previous is None or values[current] >= values[previous]:
                continue
            if units.is_wrap(values[previous], values[current]):
                assert units.modulus is not None
                wraps.add(current)
                counted = units.register(units.modulus - values[previous] + values[current])
                why = f"register passed its maximum: {shown(previous)}, then {shown(current)}; "
                why += f"counted {counted}"
                self.events.append(_Event(us[current], "rollover", why))
                continue
            earlier = kept_before(previous)
            if (
                earlier is not None
                and previous not in wraps
                and not (previous == 0 and fixed_first)
                and values[current] >= values[earlier]
            ):  # the read before was too high
                kept[previous] = 0
                why = f"register read {shown(previous)} is above the reads around it; ignored"
                self.events.append(_Event(us[previous], "negative-step", why))
                self._explain(us[earlier], us[current], why)
                continue
            following = current + 1
            if following < count and values[following] >= values[previous]:  # this read is too low
                kept[current] = 0  # (never an exchange record's final read: that one is last)
                why = f"register read {shown(current)} fell below the reads around it; ignored"
                self.events.append(_Event(us[current], "negative-step", why))
                self._explain(us[previous], us[following], why)
                continue
            why = (
                f"register fell from {shown(previous)} to {shown(current)}, not a rollover; counting restarts"
            )
            self.events.append(_Event(us[current], "negative-step", f"{why}, usage in between estimated"))
            self._explain(us[previous], us[current], why)
            restarts.append(current)
            chain_start = current
        return list(compress(range(count), kept)), wraps, restarts

    def _accumulate(
        self, us: list[int], begin: int, end: int, deltas: list[int], start_count: int
    ) -> list[int]:
        """The count at reads [begin, end): each delta times the multiplier in force at its earlier read."""
        in_force = bisect_right(self.factor_from, us[begin])  # self.factors[in_force] applies at us[begin]
        scaled: list[int] = []
        position, last = begin, end - 1  # deltas[k] is from read k to read k + 1
        while position < last:
            factor = self.factors[in_force]
            if in_force < len(self.factor_from):  # the next change: deltas from reads at or after it
                stop = bisect_left(us, self.factor_from[in_force], position, last)
            else:
                stop = last
            if (position, stop) == (begin, last):  # one multiplier throughout: no copy
                part: Iterable[int] = islice(deltas, begin, last)
                return list(
                    accumulate(part if factor == 1 else map(mul, part, repeat(factor)), initial=start_count)
                )
            part = deltas[position:stop]
            scaled.extend(part if factor == 1 else map(mul, part, repeat(factor)))
            position = stop
            in_force += 1
        return list(accumulate(scaled, initial=start_count))

    def _add_bounds(self, piece: _Track, used: list[int], new_chain: bool) -> None:
        """The piece's reads on boundaries join the bounds (``piece`` and ``used`` are spent here)."""
        bounds = self.bounds
        boundary = piece.boundary
        ranks = piece.rank
        off_grid = boundary.count(-1)  # reads between boundaries count, but bound nothing
        if off_grid > 16:
            on_grid = list(map(ne, boundary, repeat(-1)))
            boundary, used = list(compress(boundary, on_grid)), list(compress(used, on_grid))
            ranks = None if ranks is None else list(compress(ranks, on_grid))
        elif (
            off_grid
        ):  # usually an exchange record's read, first or last: delete in place (the lists are ours)
            positions = [boundary.index(-1)]
            while len(positions) < off_grid:
                positions.append(boundary.index(-1, positions[-1] + 1))
            for position in reversed(positions):
                del boundary[position], used[position]
                if ranks is not None:
                    del ranks[position]
        if new_chain:
            bounds.chain_starts.append(len(bounds.boundary))
        elif boundary and bounds.boundary and boundary[0] == bounds.boundary[-1]:
            boundary, used = boundary[1:], used[1:]  # an exchange on a boundary: one count, two reads
            ranks = None if ranks is None else ranks[1:]
        bounds.boundary.extend(boundary)
        bounds.used.extend(used)
        if ranks is not None:  # ranks come with every piece or with none
            bounds.rank.extend(ranks)


def _negative_positions(deltas: list[int], chunk: int = 4096) -> list[int]:
    """Where ``deltas`` are negative: rare, so only the chunks whose minimum is negative are looked into."""
    found: list[int] = []
    for low in range(0, len(deltas), chunk):
        part = deltas[low : low + chunk]
        if min(part) < 0:
            found.extend(compress(range(low, low + len(part)), map(lt, part, repeat(0))))
    return found


def _equal_runs(values: list[int], length: int) -> list[tuple[int, int]]:
    """The maximal runs [start, stop) of one repeated value, ``length`` long or longer.

    Such a run holds two neighbouring samples of the values taken every ``(length - 1) // 2`` positions, and
    they are equal: only around equal neighbouring samples is every value looked at."""
    stride = max(1, (length - 1) // 2)
    samples = values[::stride]
    runs: list[tuple[int, int]] = []
    for sample in compress(range(len(samples) - 1), map(eq, samples, islice(samples, 1, None))):
        at = sample * stride
        if runs and at < runs[-1][1]:
            continue  # inside the run just found
        start, stop = _same_around(values, at)
        if stop - start >= length:
            runs.append((start, stop))
    return runs


def _same_around(values: list[int], at: int, chunk: int = 256) -> tuple[int, int]:
    """The run [start, stop) of values equal to ``values[at]`` around ``at``, compared a chunk at a time."""
    value, stop, start = values[at], at, at + 1
    while stop < len(values):
        different = bytes(map(eq, values[stop : stop + chunk], repeat(value))).find(0)
        if different != -1:
            stop += different
            break
        stop = min(stop + chunk, len(values))
    while start > 0:
        low = max(start - chunk, 0)
        different = bytes(map(eq, values[low:start], repeat(value))).rfind(0)
        if different != -1:
            start = low + different + 1
            break
        start = low
    return start, stop


def _consecutive_until(boundary: list[int], start: int, stop: int) -> int:
    """The first position after ``start`` (``stop`` at most) whose boundary does not follow its predecessor's.

    Boundaries increase strictly, so ``boundary[k] - k`` never decreases and stays the same exactly along a
    run of consecutive boundaries: gallop, then halve, instead of looking at every read."""
    level = boundary[start] - start
    if boundary[stop - 1] - (stop - 1) == level:
        return stop
    low, step = start, 1  # boundary[low] is in the run
    while low + step < stop and boundary[low + step] - (low + step) == level:
        low, step = low + step, step * 2
    high = min(low + step, stop)  # boundary[high] is not (or high == stop)
    while high - low > 1:
        middle = (low + high) // 2
        if boundary[middle] - middle == level:
            low = middle
        else:
            high = middle
    return high


# --- interval readings --------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Delivered:
    """Interval readings on the grid: value and quality letter by interval, in output units."""

    indices: list[int] = field(default_factory=list)
    values: dict[int, int] = field(default_factory=dict)
    qualities: dict[int, int] = field(default_factory=dict)
    substitutions: dict[int, Substitution] = field(default_factory=dict)
    causes: dict[int, str] = field(default_factory=dict)


def _delivered_intervals(
    readings: Sequence[IntervalReading], meter: Meter, grid: _Grid, units: _Units, events: list[_Event]
) -> _Delivered:
    delivered = _Delivered()
    if not readings:
        return delivered
    _check_belongs(readings, meter, "interval reading")
    us = _microseconds(list(map(_START, readings)), "interval reading")
    readings, order = _distinct_in_time_order(
        readings,
        us,
        _interval_rank,
        lambda a, b: (
            f"interval values {a.value} and {b.value} ({a.quality}) of one interval; kept the larger"
        ),
        events,
    )
    if order is not None:
        us = [us[i] for i in order]
    end_us = _microseconds(list(map(_END, readings)), "interval reading")
    scale = Decimal(1).scaleb(-units.exponent)
    for reading, start, end in zip(readings, us, end_us, strict=True):
        if reading.quality == "N" or not grid.origin_us <= start < grid.end_us:
            continue
        index, off_grid = divmod(start - grid.origin_us, grid.step_us)
        if off_grid or end - start != grid.step_us:
            events.append(
                _Event(
                    start,
                    "misaligned",
                    f"interval reading {grid.at(start).isoformat()} to {grid.at(end).isoformat()} is not one "
                    f"{grid.interval_minutes}-minute interval of the meter; ignored",
                )
            )
            continue
        value = int(reading.value * scale)
        if value < 0:
            why = (
                f"interval value {reading.value} {reading.unit} from {grid.at(start).isoformat()} is negative"
            )
            events.append(_Event(start, "negative-step", f"{why}; estimated"))
            delivered.causes[index] = why
            continue
        delivered.indices.append(index)
        delivered.values[index] = value
        delivered.qualities[index] = ord(reading.quality)
        if reading.quality != "A":
            delivered.substitutions[index] = Substitution(
                "reported", reading.reason or f"delivered as {reading.quality}" + _method_note(reading.method)
            )
    return delivered


def _method_note(method: str | None) -> str:
    return f" (method {method})" if method else ""


# --- the worksheet: rules 2 and 6 to 8 over the grid --------------------------------------------------------


class _Worksheet:
    """The window's intervals as integers with a quality letter each ('-' no value yet, 'x' rejected)."""

    def __init__(self, grid: _Grid, units: _Units, config: ValidationConfig, events: list[_Event]) -> None:
        self.grid, self.units, self.config, self.events = grid, units, config, events
        self.short_gap = config.short_gap // timedelta(minutes=grid.interval_minutes)  # in intervals
        self.values = [-1] * grid.count
        self.quality = bytearray(b"-") * grid.count
        self.substitutions: dict[int, Substitution] = {}
        self.rejected: dict[int, str] = {}
        self.causes: dict[int, str] = {}
        self._substitutions: dict[tuple[Method | None, str, str], Substitution] = {}
        self._spread_evenly: dict[tuple[str, int, str], Substitution] = {}

    # rule 2: register differences between reads on consecutive boundaries are actual values
    def take_register_differences(self, bounds: _Bounds) -> None:
        values, quality, boundary, used = self.values, self.quality, bounds.boundary, bounds.used
        for low, high in bounds.chains():
            run = low
            while run < high - 1:  # reads run..end-1 sit on consecutive boundaries
                end = _consecutive_until(boundary, run, high)
                first, count = boundary[run], end - 1 - run
                if count:
                    values[first : first + count] = map(sub, used[run + 1 : end], used[run : end - 1])
                    quality[first : first + count] = b"A" * count
                run = end
            if bounds.rank:
                ranks = bounds.rank
                for k in compress(
                    range(low, high - 1),
                    map(lt, map(min, ranks[low:high], ranks[low + 1 : high]), repeat(_ACTUAL_RANK)),
                ):
                    if boundary[k + 1] - boundary[k] == 1:
                        letter = _LETTER_OF_RANK[min(ranks[k], ranks[k + 1])]
                        quality[boundary[k]] = ord(letter)
                        self.substitutions[boundary[k]] = Substitution(
                            "reported", f"difference of register reads, one of them flagged {letter}"
                        )

    # rule 8: interval readings against register differences
    def check_sums(self, bounds: _Bounds, delivered: _Delivered) -> None:
        tolerance = self._sum_tolerance()
        actual = bytearray(self.grid.count)
        for index, letter in delivered.qualities.items():
            actual[index] = letter == _ACTUAL
        for low, high in bounds.chains():
            for k in range(low, high - 1):
                first, stop = bounds.boundary[k], bounds.boundary[k + 1]
                if actual.find(0, first, stop) != -1:
                    continue
                intervals = sum(delivered.values[i] for i in range(first, stop))
                registers = bounds.used[k + 1] - bounds.used[k]
                if abs(intervals - registers) > tolerance:
                    self.events.append(
                        _Event(
                            self.grid.us(first),
                            "sum-check",
                            f"intervals from {self.grid.time(first).isoformat()} to "
                            f"{self.grid.time(stop).isoformat()} sum to {self.units.quantity(intervals)}, "
                            f"the register reads differ by {self.units.quantity(registers)}",
                        )
                    )

    def substitution(self, method: Method | None, why: str, how: str) -> Substitution:
        """One shared object per distinct method and reason (a year of estimates repeats a few hundred)."""
        key = (method, why, how)
        found = self._substitutions.get(key)
        if found is None:
            found = self._substitutions[key] = Substitution(method, f"{why}; {how}")
        return found

    def _sum_tolerance(self) -> int:
        if self.config.sum_tolerance is None:
            return self.units.resolution * self.units.largest_factor
        return math.floor(self.config.sum_tolerance.scaleb(-self.units.exponent))

    # rule 1 across sources: an interval reading wins unless the register difference ranks higher
    def take_delivered(self, delivered: _Delivered) -> None:
        for index in delivered.indices:
            letter = delivered.qualities[index]
            if _RANK_OF_LETTER.get(self.quality[index], -1) > _RANK_OF_LETTER[letter]:
                continue
            self.values[index] = delivered.values[index]
            self.quality[index] = letter
            self.substitutions.pop(index, None)
            if index in delivered.substitutions:
                self.substitutions[index] = delivered.substitutions[index]

    # rule 7: plausibility
    def reject_over_limit(self, max_power: Decimal) -> None:
        limit_quantity = max_power * self.grid.interval_minutes / 60
        limit = math.floor(limit_quantity.scaleb(-self.units.exponent))
        if max(self.values) <= limit:
            return
        for index in compress(range(self.grid.count), map(gt, self.values, repeat(limit))):
            if self.quality[index] != _ACTUAL:
                continue
            why = (
                f"{self.units.quantity(self.values[index])} in {self.grid.interval_minutes} min is over the "
                f"limit of {limit_quantity.normalize():f} {self.units.unit} (max_power {max_power})"
            )
            self._reject(index, "over-limit", why)

    def reject_spikes(self, factor: Decimal, floor: Decimal) -> None:
        numerator, denominator = factor.as_integer_ratio()
        floor_units = math.ceil(floor.scaleb(-self.units.exponent))
        actual = self._actual_values()
        middle = islice(actual, 1, len(actual) - 1)
        references = list(map(max, actual, islice(actual, 2, None), repeat(floor_units)))
        above = map(gt, map(mul, middle, repeat(denominator)), map(mul, references, repeat(numerator)))
        for index in compress(range(1, len(actual) - 1), above):
            if actual[index - 1] < 0 and actual[index + 1] < 0:
                continue  # no actual neighbour to compare with
            neighbours = max(actual[index - 1], actual[index + 1])
            why = (
                f"spike: {self.units.quantity(actual[index])} is more than {factor} times its neighbours' "
                f"{self.units.quantity(neighbours)}"
            )
            self._reject(index, "spike", why)

    def _reject(self, index: int, kind: EventKind, why: str) -> None:
        self.quality[index] = _REJECTED
        self.rejected[index] = why
        self.events.append(_Event(self.grid.us(index), kind, f"{why}; substituted"))

    def _actual_values(self) -> list[int]:
        """The values, with -1 for every interval not flagged A."""
        actual = list(self.values)
        for run in _NOT_ACTUAL.finditer(self.quality):
            start, stop = run.span()
            actual[start:stop] = repeat(-1, stop - start)
        return actual

    def report_flat_lines(self, after: timedelta) -> None:
        length = max(2, -(-after // timedelta(minutes=self.grid.interval_minutes)))
        values, grid = self.values, self.grid
        for position, stop in _equal_runs(values, length):
            for run in _ACTUAL_RUN.finditer(self.quality, position, stop):
                first, last = run.start(), run.end() - 1
                if last + 1 - first >= length and first < grid.stop and last >= grid.first:
                    self.events.append(
                        _Event(
                            grid.us(max(first, grid.first)),
                            "flat-line",
                            f"{grid.duration(last + 1 - first)} of identical values "
                            f"{self.units.quantity(values[first])} from {grid.time(first).isoformat()} to "
                            f"{grid.time(last + 1).isoformat()}",
                        )
                    )

    # rule 6: gaps
    def fill_gaps(self, bounds: _Bounds) -> None:
        before = bytes(self.quality)  # what was there before any estimate: estimates never feed estimates
        boundary, used, chain_starts = bounds.boundary, bounds.used, bounds.chain_starts
        first, last, short, last_edge = self.grid.first, self.grid.stop, self.short_gap, len(boundary) - 2
        explained, rejected = bool(self.causes), bool(self.rejected)
        plain: dict[int, tuple[str, str]] = {}  # by length: why a plain gap has no values, its event's detail
        for run in _MISSING_RUN.finditer(before):
            start, stop = run.span()
            if stop <= first or start >= last:
                continue
            edge = bisect_right(boundary, start) - 1
            # The usual gap, a few reads lost: short, in the span, reads on both edges, nothing else wrong.
            if (
                0 <= edge <= last_edge
                and boundary[edge] == start
                and boundary[edge + 1] == stop
                and stop - start <= short
                and first <= start
                and stop <= last
                and not explained
                and not (rejected and before.find(b"x", start, stop) != -1)
                and bisect_right(chain_starts, edge) == bisect_right(chain_starts, edge + 1)  # one chain
            ):
                known = plain.get(stop - start)
                if known is None:
                    why = self.no_readings(start, stop)
                    known = plain[stop - start] = (why, self.gap_detail(why, "register-scaled"))
                self.spread_register_total(start, stop, used[edge + 1] - used[edge], known[0])
                self.events.append(_Event(self.grid.us(start), "gap", known[1]))
            else:
                self._fill_run(bounds, before, start, stop)

    def _fill_run(self, bounds: _Bounds, before: bytes, start: int, stop: int) -> None:
        """A run of intervals without values, cut at the register reads inside it (sparse reads, or reads off
        the grid around them): the pieces between two reads get the reads' difference first, the others are
        estimated after, next to them."""
        inside = bounds.boundary[bisect_right(bounds.boundary, start) : bisect_left(bounds.boundary, stop)]
        cuts = [start, *inside, stop]
        pieces = [_Gap(self, bounds, before, low, high) for low, high in pairwise(cuts)]
        for piece in [piece for piece in pieces if not piece.fill_from_registers()]:
            piece.fill_otherwise()

    def no_readings(self, start: int, stop: int) -> str:
        """Why the intervals [start, stop) of the window had no value, when no rule took it away."""
        grid = self.grid
        if stop == grid.count:  # nothing after it in the window: how long it lasts is not known yet
            return f"no readings after {grid.time(start).isoformat()}"
        if start == 0:
            return f"no readings before {grid.time(stop).isoformat()}"
        return f"no readings for {grid.duration(stop - start)}"

    def spread_register_total(
        self, start: int, stop: int, total: int, why: str, source: str = "the register reads around it"
    ) -> None:
        """Rule 6 on a gap bounded by register reads: their difference spread evenly (the shown part)."""
        key = (why, total, source)
        substitution = self._spread_evenly.get(key)
        if substitution is None:
            how = f"{self.units.quantity(total)} from {source}, spread evenly"
            substitution = self._spread_evenly[key] = self.substitution("register-scaled", why, how)
        self.put(start, stop, spread_evenly(total, stop - start), substitution)

    def put(self, start: int, stop: int, estimates: list[int], substitution: Substitution) -> None:
        """Estimates for window intervals [start, stop), of which only those in the span are kept."""
        low, high = max(start, self.grid.first), min(stop, self.grid.stop)
        if low < high:
            self.values[low:high] = estimates[low - start : high - start]
            self.quality[low:high] = b"E" * (high - low)
            self.substitutions.update(dict.fromkeys(range(low, high), substitution))

    def report_gap(self, start: int, why: str, methods: str) -> None:
        at = self.grid.us(max(start, self.grid.first))
        self.events.append(_Event(at, "gap", self.gap_detail(why, methods)))

    @staticmethod
    def gap_detail(why: str, methods: str) -> str:
        return f"{why}; filled: {methods}"

    def result(self, meter: Meter) -> ValidatedIntervals:
        first, stop, grid = self.grid.first, self.grid.stop, self.grid
        span_from, span_to = grid.us(first), grid.us(stop)
        events = sorted(e for e in self.events if span_from <= e.at_us < span_to)
        return ValidatedIntervals(
            meter=meter.id,
            start=grid.time(first),
            interval_minutes=grid.interval_minutes,
            unit=meter.unit,
            exponent=self.units.exponent,
            values=self.values[first:stop],
            qualities=self.quality[first:stop].decode("ascii"),
            substitutions={i - first: s for i, s in self.substitutions.items() if first <= i < stop},
            events=tuple(DataQualityEvent(meter.id, grid.at(e.at_us), e.kind, e.detail) for e in events),
        )


class _Gap:
    """One run of intervals without a usable value, [start, stop) of the window, and how it gets filled.

    A run may hold intervals that had no value ('-') and values rejected as implausible ('x'); the first are
    estimated (E), the second substituted (S), by the same method. Reasons name the gap's length, not its
    times: each interval has its own time, and the "gap" event starts at the gap."""

    def __init__(self, sheet: _Worksheet, bounds: _Bounds, before: bytes, start: int, stop: int) -> None:
        self.sheet, self.bounds, self.before = sheet, bounds, before
        self.start, self.stop = start, stop
        self.grid = grid = sheet.grid
        self.shown = range(max(start, grid.first), min(stop, grid.stop))
        self.rejected = before.find(b"x", start, stop) != -1
        self.missing = not self.rejected or before.find(b"-", start, stop) != -1
        causes = sheet.causes
        cause = next((causes[i] for i in range(start, stop) if i in causes), None) if causes else None
        self.explained = cause is not None
        self.why = sheet.no_readings(start, stop) if cause is None else cause

    def fill_from_registers(self) -> bool:
        """Fill the gap to the register difference around it, if register reads bound it."""
        bounded = None if self.rejected else self._register_total()
        if bounded is None:
            return False
        self._report(self._fill_to_total(*bounded))
        return True

    def fill_otherwise(self) -> None:
        """Interpolate a short gap, take like days for a long one."""
        self._report(
            self._interpolate() if self.stop - self.start <= self.sheet.short_gap else self._like_days()
        )

    def _report(self, methods: str) -> None:
        if self.missing and not self.explained and self.shown:
            self.sheet.report_gap(self.start, self.why, methods)

    def _register_total(self) -> tuple[int, int, int] | None:
        """What register reads say was used in the gap, and the reads that say it; None if they do not.

        The bounds are the nearest reads at or around the gap on one device, with only valid values between
        them and the gap (whose sum is taken off the register difference)."""
        bounds, values, before = self.bounds, self.sheet.values, self.before
        boundary, start, stop = bounds.boundary, self.start, self.stop
        first = bisect_right(boundary, start) - 1
        last = first + 1
        if last >= len(boundary) or first < 0 or bounds.chain_of(first) != bounds.chain_of(last):
            return None
        read_from, read_to = boundary[first], boundary[last]
        if read_to < stop:  # (a read inside the gap: the run was cut there, so this does not happen)
            return None
        if _MISSING_RUN.search(before, read_from, start) or _MISSING_RUN.search(before, stop, read_to):
            return None
        total = (
            bounds.used[last] - bounds.used[first] - sum(values[read_from:start]) - sum(values[stop:read_to])
        )
        return (total, read_from, read_to) if total >= 0 else None

    def _fill_to_total(self, total: int, read_from: int, read_to: int) -> Method:
        """Estimates that add up to ``total`` exactly (no rejected value here: such runs are not bounded)."""
        sheet, grid, start, stop = self.sheet, self.grid, self.start, self.stop
        if (read_from, read_to) == (start, stop):
            source = "the register reads around it"
        else:
            reads = f"{grid.time(read_from).isoformat()} and {grid.time(read_to).isoformat()}"
            source = f"the register reads at {reads}"
        profile = self._profile(range(start, stop)) if stop - start > sheet.short_gap else None
        if profile is None or None in profile or not any(profile):
            sheet.spread_register_total(start, stop, total, self.why, source)
            return "register-scaled"
        how = f"{sheet.units.quantity(total)} from {source}, shaped like the same times of the previous weeks"
        sheet.put(
            start,
            stop,
            spread(total, [p or 0 for p in profile]),
            sheet.substitution("like-day", self.why, how),
        )
        return "like-day"

    def _interpolate(self) -> str:
        values, quality = self.sheet.values, self.sheet.quality
        before = (
            values[self.start - 1] if self.start > 0 and quality[self.start - 1] not in _NO_VALUE else None
        )
        after = (
            values[self.stop] if self.stop < self.grid.count and quality[self.stop] not in _NO_VALUE else None
        )
        if before is None and after is None:
            for index in self.shown:
                self._set(index, 0, None, "no neighbouring value to interpolate from")
            return "null"
        line = interpolate(before, after, self.stop - self.start)
        for index in self.shown:
            self._set(
                index, line[index - self.start], "linear", "interpolated between the neighbouring intervals"
            )
        return "linear"

    def _like_days(self) -> str:
        weeks = self.sheet.config.like_day_weeks
        profile = self._profile(self.shown)
        for index, value in zip(self.shown, profile, strict=True):
            if value is None:
                self._set(index, 0, None, f"no like day in the previous {weeks} weeks")
            else:
                self._set(index, value, "like-day", f"mean of the same times of the previous {weeks} weeks")
        found = sum(v is not None for v in profile)
        return "like-day" if found == len(profile) else "null" if found == 0 else "like-day, partly null"

    def _profile(self, indices: range) -> list[int | None]:
        """The mean of the actual values at the same local weekday and time of the previous weeks."""
        values, before, grid = self.sheet.values, self.before, self.grid
        if not indices or before.find(_ACTUAL, 0, indices[-1]) < 0:
            return [None] * len(indices)  # no actual value before them: no like day to look up
        weeks = range(1, self.sheet.config.like_day_weeks + 1)
        profile: list[int | None] = []
        for index in indices:
            samples = [
                values[j]
                for w in weeks
                if (j := grid.like_day(index, w)) is not None and before[j] == _ACTUAL
            ]
            profile.append(rounded_mean(samples) if samples else None)
        return profile

    def _set(self, index: int, value: int, method: Method | None, how: str) -> None:
        """Estimated (E) where there was no value, substituted (S) where one was rejected, null (N) without
        a method."""
        sheet = self.sheet
        rejected = self.before[index] == _REJECTED
        letter = ("S" if rejected else "E") if method else "N"
        sheet.values[index] = value
        sheet.quality[index] = ord(letter)
        why = sheet.rejected[index] if rejected else self.why
        sheet.substitutions[index] = sheet.substitution(method, why, how)
