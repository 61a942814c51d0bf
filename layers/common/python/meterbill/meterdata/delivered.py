"""Interval readings as delivered: which of them a validation takes, in output units on the grid.

Interval readings are taken as delivered (already in billed units). Decides which count: one per interval
(rule 1), nulls (N) as absent, those on the window's grid and exactly one interval long (others are a
"misaligned" event), none negative (a "negative-step" event; the interval is estimated). A reading not flagged
A keeps its flag, with its reason or "delivered as" its flag as the substitution ("reported"). Whether it
wins over a register difference is the worksheet's call.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from operator import attrgetter

from meterbill.domain import Meter
from meterbill.meterdata.duplicates import _check_belongs, _distinct_in_time_order, _interval_rank
from meterbill.meterdata.grid import _Grid, _microseconds
from meterbill.meterdata.quantities import _Units
from meterbill.meterdata.readings import IntervalReading
from meterbill.meterdata.validation import Substitution, _Event

_START = attrgetter("start")
_END = attrgetter("end")


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
