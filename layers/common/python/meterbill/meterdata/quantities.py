"""Integer units: the decimal places a validation counts in, so that every sum is exact.

Decides the register's unit (``10**register_exponent``, fine enough for every read, ``register_max`` and the
resolution) and the values' (``10**exponent``, fine enough for every register difference times any
multiplier and every interval reading), one register step (``register_resolution``, else ``register_max``'s
last decimal place, else the reads'), where the register wraps and what counts as a wrap (rule 3: from the
top ``rollover_margin`` to the bottom one), and the multipliers as integer factors. Raises ReadingsError for
non-finite values and multipliers that are naive or not positive.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, Inexact, Rounded, localcontext
from operator import attrgetter

from meterbill.domain import Meter
from meterbill.meterdata.readings import IntervalReading, MeterExchange
from meterbill.meterdata.validation import ReadingsError, ValidationConfig

_VALUE = attrgetter("value")


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
