"""Tariff versions: which version of a tariff is in force on which days of a bill period."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from meterbill.tariffs.model import Tariff


class NoTariffInForceError(ValueError):
    pass


def in_force(
    versions: Sequence[Tariff], period_start: date, period_end: date
) -> list[tuple[date, date, Tariff]]:
    """Cut [period_start, period_end) into the spans each version governs, in order.

    A version runs from its ``effective_from`` (open start when absent) until its ``effective_to`` or the next
    version's start, whichever is first. Days no version covers are an error naming them: billing them on a
    guess would be wrong either way.
    """
    ids = {v.id for v in versions}
    if len(ids) > 1:
        raise ValueError(f"versions of different tariffs: {sorted(ids)}")
    ordered = sorted(versions, key=lambda v: (v.effective_from or date.min, v.version))
    spans: list[tuple[date, date, Tariff]] = []
    for i, version in enumerate(ordered):
        start = version.effective_from or date.min
        end = version.effective_to or date.max
        if i + 1 < len(ordered):
            end = min(end, ordered[i + 1].effective_from or date.max)
        lo, hi = max(start, period_start), min(end, period_end)
        if lo < hi:
            spans.append((lo, hi, version))
    cursor = period_start
    for lo, hi, _ in spans:
        if lo > cursor:
            raise NoTariffInForceError(f"no version of the tariff is in force from {cursor} to {lo}")
        cursor = hi
    if cursor < period_end:
        name = ordered[0].id if ordered else "(none)"
        raise NoTariffInForceError(f"no version of tariff {name} is in force from {cursor} to {period_end}")
    return spans
