"""A common area's residual: what a main meter measured beyond the sum of its sub-meters, split among the
customers that share it.

Pure: interval series in, interval series out. The residual of interval i is ``main[i] - sum(subs[i])``, never
below zero: a negative residual is a metering fault (a sub-meter reading more than the main can), counted in
``Residual.faults`` and billed as zero. An interval that is missing on the main or on any sub-meter is missing
in the residual (held as zero, not a fault); one estimated on any of them is estimated.

A customer's part:
- by **share**: the residual times the assignment's share, exactly (``share_of_series``);
- by **area** or **usage**: in every interval, ``allocate`` splits that interval's residual among the
  customers sharing it on that day by their weights (floor areas, or their own sub-metered usage), each part
  a multiple of ``10**PART_EXPONENT`` (a nanounit) or of the residual's own quantum when finer, with the
  largest remainder method (ties to the customer first by id). So in every interval the parts add up exactly
  to the residual: nothing is lost or invented; each part is within one quantum of its exact fraction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

from meterbill.billing.allocation import AllocationError, AllocationMethod, allocate
from meterbill.usage import MAX_DECIMALS, IntervalSeries

PART_EXPONENT = -MAX_DECIMALS


@dataclass(frozen=True, slots=True)
class Residual:
    series: IntervalSeries
    # Intervals (indices) where the sub-meters add up to more than the main meter: billed as 0, worth a look.
    faults: frozenset[int]


def residual_of(main: IntervalSeries, subs: Sequence[IntervalSeries]) -> Residual:
    """``main`` minus the sum of ``subs`` interval by interval, never below zero.

    Raises AllocationError when a sub-meter's series does not line up with the main's (start, interval,
    length, unit)."""
    for k, sub in enumerate(subs):
        for what, mine, theirs in (
            ("start", main.start, sub.start),
            ("interval_minutes", main.interval_minutes, sub.interval_minutes),
            ("intervals", len(main.values), len(sub.values)),
            ("unit", main.unit, sub.unit),
        ):
            if mine != theirs:
                raise AllocationError(f"subs[{k}].{what}: {theirs} does not match the main meter's {mine}")
    exponent = min([main.exponent, *(sub.exponent for sub in subs)])

    def scaled(series: IntervalSeries) -> list[int]:
        factor = 10 ** (series.exponent - exponent)
        return [value * factor for value in series.values]

    main_values = scaled(main)
    sub_values = [scaled(sub) for sub in subs]
    missing = main.missing.union(*(sub.missing for sub in subs))
    estimated = main.estimated.union(*(sub.estimated for sub in subs))
    values: list[int] = []
    faults: set[int] = set()
    for i, whole in enumerate(main_values):
        rest = whole - sum(sub[i] for sub in sub_values)
        if rest < 0:
            if i not in missing:
                faults.add(i)
            rest = 0
        values.append(rest)
    series = IntervalSeries(
        main.start, main.interval_minutes, values, exponent, main.unit, estimated, frozenset(missing)
    )
    return Residual(series, frozenset(faults))


def split_by_weights(
    residual: IntervalSeries,
    weights: Sequence[Mapping[str, Decimal]],
    method: AllocationMethod,
    customer: str,
) -> IntervalSeries:
    """``customer``'s part of ``residual`` when interval i is shared by ``weights[i]`` (customer → floor area
    or usage; empty or without ``customer``: nothing for it). ``method`` is AREA or USAGE.

    Raises AllocationError (from ``allocate``) for negative weights, or weights that are all zero in an
    interval with a residual."""
    if len(weights) != len(residual.values):
        raise AllocationError(f"weights: {len(weights)} intervals for a series of {len(residual.values)}")
    exponent = min(residual.exponent, PART_EXPONENT)
    quantum = Decimal(1).scaleb(exponent)
    values: list[int] = []
    cache: dict[tuple[int, tuple[tuple[str, Decimal], ...]], int] = {}
    for raw, sharing in zip(residual.values, weights, strict=True):
        if customer not in sharing or raw == 0:
            values.append(0)
            continue
        ordered = tuple(sorted(sharing.items()))
        key = (raw, ordered)
        if key not in cache:
            parts = allocate(residual.quantity(raw), dict(ordered), method, quantum)
            cache[key] = int(parts[customer].scaleb(-exponent))
        values.append(cache[key])
    return replace(residual, values=values, exponent=exponent)
