"""The per-interval working state of a validation, and the rules that judge values already there.

``_Worksheet`` holds the window's intervals as integers with a quality letter each ('-' no value yet, 'x'
rejected, else the NEM12 flag), the substitutions, and why intervals have no value. It decides: register
differences between reads on consecutive boundaries are actual values (rule 2, flagged as the lower-ranked
read); an interval reading wins over a register difference unless that ranks higher (rule 1 across sources);
values above ``max_power`` ("over-limit") or spiking above their neighbours ("spike") are rejected, to be
substituted, and long runs of identical values are a "flat-line" event (rule 7); interval readings that fill
the stretch between two register reads must sum to their difference (rule 8, "sum-check"). It also writes
the estimates ``meterdata.gaps`` makes (rule 6) and turns the span into ValidatedIntervals.
"""

from __future__ import annotations

import math
import re
from datetime import timedelta
from decimal import Decimal
from itertools import compress, islice, repeat
from operator import eq, gt, lt, mul, sub

from meterbill.domain import Meter
from meterbill.meterdata.delivered import _Delivered
from meterbill.meterdata.estimation import spread_evenly
from meterbill.meterdata.grid import _Grid
from meterbill.meterdata.quantities import _Units
from meterbill.meterdata.readings import QUALITY_RANK
from meterbill.meterdata.registers import _Bounds
from meterbill.meterdata.validation import (
    DataQualityEvent,
    EventKind,
    Method,
    Substitution,
    ValidatedIntervals,
    ValidationConfig,
    _Event,
)

_ACTUAL = ord("A")
_REJECTED = ord("x")  # a value found implausible, to be substituted
_NOT_ACTUAL = re.compile(rb"[^A]+")
_ACTUAL_RUN = re.compile(rb"A+")
_LETTER_OF_RANK = {rank: quality for quality, rank in QUALITY_RANK.items()}
_RANK_OF_LETTER = {ord(quality): rank for quality, rank in QUALITY_RANK.items()}
_ACTUAL_RANK = QUALITY_RANK["A"]


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
