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

The rules live in their own modules: ``meterdata.validation`` (the config, the result and its events),
``meterdata.grid`` (the window's intervals and where instants fall), ``meterdata.quantities`` (the integer
units), ``meterdata.duplicates`` (rule 1), ``meterdata.registers`` (rules 2 to 5), ``meterdata.delivered``
(interval readings), ``meterdata.worksheet`` (the per-interval state; rules 2, 7 and 8) and
``meterdata.gaps`` (rule 6). This module runs them in order.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from operator import attrgetter

from meterbill.domain import Meter
from meterbill.meterdata.delivered import _delivered_intervals
from meterbill.meterdata.gaps import fill_gaps
from meterbill.meterdata.grid import _Grid as _Grid
from meterbill.meterdata.quantities import _Units
from meterbill.meterdata.readings import IntervalReading, MeterExchange, RegisterRead
from meterbill.meterdata.registers import _RegisterTrace
from meterbill.meterdata.validation import (
    DEFAULT_CONFIG,
    DataQualityEvent,
    EventKind,
    Method,
    ReadingsError,
    Substitution,
    ValidatedIntervals,
    ValidationConfig,
    _Event,
)
from meterbill.meterdata.worksheet import _Worksheet

__all__ = [
    "DEFAULT_CONFIG",
    "DataQualityEvent",
    "EventKind",
    "Method",
    "ReadingsError",
    "Substitution",
    "ValidatedIntervals",
    "ValidationConfig",
    "validate_readings",
]

_VALUE = attrgetter("value")


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
    fill_gaps(sheet, bounds)
    return sheet.result(meter)
