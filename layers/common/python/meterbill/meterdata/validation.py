"""What a validation of meter readings is asked and what it answers (the rules: ``meterdata.vee``).

``ValidationConfig`` says how one meter's readings are judged and rejects settings that make no sense;
``ValidatedIntervals`` is the answer, one value per interval with its NEM12 flag and, for every value that is
not actual, a ``Substitution`` (method and reason); ``DataQualityEvent`` is what the alerts raise later.
``ReadingsError`` is input that cannot be validated at all (bad data becomes an event instead). ``_Event`` is
an event while the rules work, anchored at an instant in microseconds, before it is put on the span's clock.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Literal, NamedTuple, cast

from meterbill.meterdata.readings import IntervalReading, Quality
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


class _Event(NamedTuple):
    at_us: int
    kind: EventKind
    detail: str
