"""Estimating missing intervals, in whole units of the validated series (never floats, never lost units).

Everything here works on integers: a quantity is a count of ``10**exponent`` of the meter's unit, so a spread
sums exactly and the same inputs always give the same outputs. ``vee`` decides which estimate a gap gets.
"""

from __future__ import annotations

from collections.abc import Sequence


def spread(total: int, weights: Sequence[int]) -> list[int]:
    """``total`` shared out in proportion to ``weights``, in whole units, summing to exactly ``total``.

    Each share is first rounded down; the units left over go one each to the shares that lost the most in
    that rounding, the earlier share first on a tie. Equal or all-zero weights share evenly (the earliest
    intervals of a gap carry the extra units). ``spread(10, [1, 1, 1]) == [4, 3, 3]``;
    ``spread(10, [1, 2, 2]) == [2, 4, 4]``.
    """
    count = len(weights)
    if count == 0:
        raise ValueError("nothing to spread over")
    if min(weights) < 0:
        raise ValueError(f"weights must not be negative: {list(weights)}")
    weight_sum = sum(weights)
    if weight_sum == 0 or weights.count(weights[0]) == count:
        return spread_evenly(total, count)
    if total < 0:
        raise ValueError(f"cannot spread a negative total {total}")
    shares: list[int] = []
    leftovers: list[tuple[int, int]] = []  # (-remainder, position): the largest remainder sorts first
    for position, weight in enumerate(weights):
        share, remainder = divmod(total * weight, weight_sum)
        shares.append(share)
        leftovers.append((-remainder, position))
    missing = total - sum(shares)  # < count: each share lost less than one unit
    for _, position in sorted(leftovers)[:missing]:
        shares[position] += 1
    return shares


def spread_evenly(total: int, count: int) -> list[int]:
    """``total`` in ``count`` equal shares of whole units, the earliest taking one more until none is left:
    ``spread_evenly(10, 3) == [4, 3, 3]``."""
    if total < 0:
        raise ValueError(f"cannot spread a negative total {total}")
    share, remainder = divmod(total, count)
    return [share + 1] * remainder + [share] * (count - remainder)


def interpolate(before: int | None, after: int | None, count: int) -> list[int]:
    """``count`` values on the line from ``before`` to ``after`` (both outside the run), rounded half up.

    With one side unknown the line is flat at the other: ``interpolate(2, None, 3) == [2, 2, 2]``;
    ``interpolate(0, 10, 4) == [2, 4, 6, 8]``.
    """
    if before is None and after is None:
        raise ValueError("nothing to interpolate from")
    if count < 1:
        raise ValueError(f"count must be positive, got {count}")
    left = after if before is None else before
    right = before if after is None else after
    assert left is not None and right is not None
    steps = count + 1
    return [rounded_ratio(left * (steps - j) + right * j, steps) for j in range(1, count + 1)]


def rounded_mean(samples: Sequence[int]) -> int:
    """The mean of whole units, rounded half up: ``rounded_mean([1, 2]) == 2``."""
    if not samples:
        raise ValueError("no samples to average")
    return rounded_ratio(sum(samples), len(samples))


def rounded_ratio(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` rounded half up, exactly (``denominator`` > 0, ``numerator`` >= 0)."""
    return (2 * numerator + denominator) // (2 * denominator)
