"""Rule 6 of validation: how the intervals without a usable value get one.

A run of intervals without a value ('-') or with a rejected one ('x') is cut at the register reads inside it.
A piece that register reads bound (on its edges, or the nearest ones around it with only valid values in
between, one device) adds up exactly to what they show ("register-scaled"; a piece longer than ``short_gap``
takes the like days' shape when they cover it). Other pieces up to ``short_gap`` are interpolated between
their neighbours ("linear"), longer ones take the mean of the same local weekday and time of the previous
``like_day_weeks`` weeks ("like-day"); with nothing to estimate from, null (N) with the reason. Missing values
become estimates (E), rejected ones substitutes (S); each gap in the span the rules did not explain is a
"gap" event. Estimates never feed estimates: every piece looks at the worksheet as it was before any.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from itertools import pairwise

from meterbill.meterdata.estimation import interpolate, rounded_mean, spread
from meterbill.meterdata.registers import _Bounds
from meterbill.meterdata.validation import Method, _Event
from meterbill.meterdata.worksheet import _ACTUAL, _REJECTED, _Worksheet

_MISSING_RUN = re.compile(rb"[-x]+")
_NO_VALUE = frozenset(b"-xN")  # no value to interpolate from (yet)


def fill_gaps(sheet: _Worksheet, bounds: _Bounds) -> None:
    """Give every run of the span's intervals without a usable value one: the usual short gap between two
    register reads at once, any other run piece by piece (``_Gap``)."""
    before = bytes(sheet.quality)  # what was there before any estimate: estimates never feed estimates
    boundary, used, chain_starts = bounds.boundary, bounds.used, bounds.chain_starts
    first, last, short, last_edge = sheet.grid.first, sheet.grid.stop, sheet.short_gap, len(boundary) - 2
    explained, rejected = bool(sheet.causes), bool(sheet.rejected)
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
                why = sheet.no_readings(start, stop)
                known = plain[stop - start] = (why, sheet.gap_detail(why, "register-scaled"))
            sheet.spread_register_total(start, stop, used[edge + 1] - used[edge], known[0])
            sheet.events.append(_Event(sheet.grid.us(start), "gap", known[1]))
        else:
            _fill_run(sheet, bounds, before, start, stop)


def _fill_run(sheet: _Worksheet, bounds: _Bounds, before: bytes, start: int, stop: int) -> None:
    """A run of intervals without values, cut at the register reads inside it (sparse reads, or reads off
    the grid around them): the pieces between two reads get the reads' difference first, the others are
    estimated after, next to them."""
    inside = bounds.boundary[bisect_right(bounds.boundary, start) : bisect_left(bounds.boundary, stop)]
    cuts = [start, *inside, stop]
    pieces = [_Gap(sheet, bounds, before, low, high) for low, high in pairwise(cuts)]
    for piece in [piece for piece in pieces if not piece.fill_from_registers()]:
        piece.fill_otherwise()


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
