"""Shared cost allocation: a common meter's usage (or a common cost) split among customers.

The common part is a common meter's reading, or what a main meter measured beyond the sum of its sub-meters.
Splits are exact: parts are rounded to a quantum with the largest-remainder method, so they add up to the
rounded whole and nothing is lost or invented by rounding.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from enum import StrEnum

from meterbill.usage import IntervalSeries


class AllocationError(ValueError):
    pass


class AllocationMethod(StrEnum):
    # Weights are the customers' contractual shares (0-1); what they leave unallocated stays with the account.
    FIXED_SHARES = "fixed_shares"
    # Weights are floor areas, or the customers' own usage: each gets weight / sum of weights.
    AREA = "area"
    USAGE = "usage"


def common_usage(main: Decimal, sub_meters: Sequence[Decimal]) -> Decimal:
    """Main minus the sum of its sub-meters; never negative (a negative residual is a metering fault)."""
    return max(main - sum(sub_meters, Decimal(0)), Decimal(0))


def allocate(
    whole: Decimal, weights: Mapping[str, Decimal], method: AllocationMethod, quantum: Decimal
) -> dict[str, Decimal]:
    """Split ``whole`` among the customers in ``weights``, each part a multiple of ``quantum``."""
    if not weights:
        raise AllocationError("weights: no customers to allocate to")
    for customer, weight in weights.items():
        if not weight.is_finite() or weight < 0:
            raise AllocationError(f"weights.{customer}: must be a finite number >= 0, got {weight}")
    total_weight = sum(weights.values(), Decimal(0))
    if method is AllocationMethod.FIXED_SHARES:
        if total_weight > 1:
            raise AllocationError(f"weights: fixed shares add up to {total_weight}, more than 1")
        fractions = dict(weights)
    else:
        if total_weight == 0:
            raise AllocationError(f"weights: all {method.value} weights are zero, nothing to split by")
        fractions = {customer: weight / total_weight for customer, weight in weights.items()}
    exact = {customer: whole * fraction for customer, fraction in fractions.items()}
    allocated_whole = sum(exact.values(), Decimal(0)).quantize(quantum, rounding=ROUND_HALF_UP)
    floors = {customer: part.quantize(quantum, rounding=ROUND_FLOOR) for customer, part in exact.items()}
    leftover = int((allocated_whole - sum(floors.values(), Decimal(0))) / quantum)
    # Largest remainders first; ties go to the customer listed first so the split is deterministic.
    order = sorted(exact, key=lambda c: exact[c] - floors[c], reverse=True)
    for customer in order[:leftover]:
        floors[customer] += quantum
    return floors


def share_of_series(series: IntervalSeries, share: Decimal) -> IntervalSeries:
    """A customer's part of a meter's interval series: every value times ``share`` (in (0, 1]), exactly -
    0.25 multiplies the integers by 25 and moves the exponent by 2. Which intervals are estimated and which
    have no data at all stays as it is: a share of a missing interval is still missing."""
    if not share.is_finite() or not 0 < share <= 1:
        raise AllocationError(f"share: must be in (0, 1], got {share}")
    if share == 1:
        return series
    _, digits, exponent = share.normalize().as_tuple()
    assert isinstance(exponent, int)  # finite
    factor = int("".join(map(str, digits)))
    return replace(
        series, values=[value * factor for value in series.values], exponent=series.exponent + exponent
    )
