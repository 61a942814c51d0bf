"""One meter's raw readings and settings in, its validated intervals out: the one validation path that
`meterbill validate`, the API (usage, bill preview) and the rating run share.

``validate_span`` validates over a span the caller chooses (a bill period, the range a request asks for);
``validate_meter`` over the span the readings cover, as a file gives them: it finds the meter's interval
from its readings where the settings give none, and validates a meter whose interval length changes (a NEM12
channel from 30 to 15 minutes) run by run, each at its own length (``meterdata.interval_runs``). Both make
the settings (``meterbill.metersettings``) into what ``meterdata.vee`` reads, and raise MeteringError for
readings that cannot be validated at all.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, tzinfo
from itertools import pairwise
from typing import Any

from meterbill.domain import Meter
from meterbill.meterdata.interval_runs import IntervalRun, interval_runs
from meterbill.meterdata.local_grid import grid_minutes, spread_onto_grid
from meterbill.meterdata.readings import IntervalReading, MeterExchange, RegisterRead
from meterbill.meterdata.vee import (
    DEFAULT_CONFIG,
    ReadingsError,
    ValidatedIntervals,
    ValidationConfig,
    validate_readings,
)
from meterbill.metersettings import INTERVAL_MINUTES, IntervalMinutes, MeterSettings, ValidationLimits


class MeteringError(ValueError):
    """A meter whose readings cannot be validated: ``meter`` names it, ``where`` (if any) the reading or
    value at fault, ``reason`` says why."""

    def __init__(self, meter: str, reason: str, where: str | None = None) -> None:
        self.meter = meter
        self.reason = reason
        self.where = where
        self.detail = reason if where is None else f"{where}: {reason}"
        super().__init__(f"meter {meter!r}: {self.detail}")


@dataclass(slots=True)
class RawReadings:
    """One meter's readings as they came: register reads and interval values, in any order."""

    registers: list[RegisterRead] = field(default_factory=list)
    intervals: list[IntervalReading] = field(default_factory=list)


def validation_config(limits: ValidationLimits) -> ValidationConfig:
    """The limits (a meter's settings) as validation's config; ValueError (``name: reason``) for a
    combination it refuses (a rollover margin of half the register or more, a spike factor of 1 or less)."""
    minutes = limits.flat_line_after_minutes
    changes: dict[str, Any] = {
        "flat_line_after": None if minutes is None else timedelta(minutes=minutes),
        "register_resolution": limits.register_resolution,
        "max_power": limits.max_power,
        "spike_factor": limits.spike_factor,
        "sum_tolerance": limits.sum_tolerance,
    }
    if limits.short_gap_minutes is not None:
        changes["short_gap"] = timedelta(minutes=limits.short_gap_minutes)
    for name in ("like_day_weeks", "rollover_margin", "spike_floor"):
        if getattr(limits, name) is not None:
            changes[name] = getattr(limits, name)
    return replace(DEFAULT_CONFIG, **changes)


def meter_exchanges(meter_id: str, settings: MeterSettings) -> list[MeterExchange]:
    """The settings' device exchanges as validation reads them."""
    return [
        MeterExchange(meter_id, e.timestamp, e.old_serial, e.old_final, e.new_serial, e.new_initial)
        for e in settings.exchanges
    ]


def validate_span(
    meter_id: str, unit: str, raw: RawReadings, settings: MeterSettings, start: datetime, end: datetime
) -> ValidatedIntervals:
    """The meter's validated intervals over [start, end) (site-local times: like days follow their clock) at
    the settings' interval (absent: its readings'). Readings up to ``like_day_weeks`` weeks and a day before
    the span and a day after it are used."""
    interval_minutes = settings.interval_minutes or infer_interval_minutes(meter_id, raw)
    return _validate(meter_id, unit, interval_minutes, raw, settings, start, end)


def validate_meter(
    meter_id: str, raw: RawReadings, settings: MeterSettings, clock: tzinfo | None = None
) -> list[ValidatedIntervals]:
    """The meter's validated intervals over the span its readings cover, on ``clock`` (default: theirs):
    from the first interval boundary at or after its first reading to the last at or before its last.

    Interval readings whose length changes are validated run by run, each at its own length, unless the
    settings give ``interval_minutes``: one result per run, else one."""
    if settings.interval_minutes is None and not raw.registers:
        runs = interval_runs(raw.intervals, INTERVAL_MINUTES)
        if len(runs) > 1:
            return [
                _validate_run(meter_id, RawReadings([], run.readings), settings, run, clock) for run in runs
            ]
    return [_validate_run(meter_id, raw, settings, None, clock)]


def infer_interval_minutes(meter_id: str, raw: RawReadings) -> IntervalMinutes:
    """The meter's interval: that of its interval readings, else the most common time between its reads
    (the shorter on a tie)."""
    if raw.intervals:
        lengths = [(r.end.astimezone(UTC) - r.start.astimezone(UTC)) for r in raw.intervals]
        what = "interval readings last"
    else:
        moments = sorted({r.timestamp.astimezone(UTC) for r in raw.registers})
        lengths = [later - earlier for earlier, later in pairwise(moments)]
        what = "register reads are"
    if not lengths:
        reason = (
            "a single register read: its interval cannot be inferred; give interval_minutes in --meter-config"
        )
        raise MeteringError(meter_id, reason)
    counts = Counter(lengths)
    length = min(counts, key=lambda step: (-counts[step], step))  # the most common; the shorter on a tie
    minutes, rest = divmod(length, timedelta(minutes=1))
    interval_minutes = None if rest else INTERVAL_MINUTES.get(minutes)
    if interval_minutes is None:
        allowed = ", ".join(map(str, INTERVAL_MINUTES))
        reason = (
            f"its {what} mostly {length} apart, not an interval length ({allowed} min); give "
            "interval_minutes in --meter-config"
        )
        raise MeteringError(meter_id, reason)
    return interval_minutes


def _validate_run(
    meter_id: str, raw: RawReadings, settings: MeterSettings, run: IntervalRun | None, clock: tzinfo | None
) -> ValidatedIntervals:
    unit = raw.registers[0].unit if raw.registers else raw.intervals[0].unit
    if run is not None:
        interval_minutes = INTERVAL_MINUTES[run.interval_minutes]
    else:
        interval_minutes = settings.interval_minutes or infer_interval_minutes(meter_id, raw)
    step = timedelta(minutes=interval_minutes)
    start, end = _span(raw, step, clock)
    if run is not None and run.until is not None:  # a gap before the next run is this run's to fill
        end = max(end, _boundary_at_or_before(run.until, step).astimezone(end.tzinfo), key=_instant_of)
    if _instant_of(end) <= _instant_of(start):
        raise MeteringError(meter_id, f"its readings span no whole {interval_minutes}-minute interval")
    return _validate(meter_id, unit, interval_minutes, raw, settings, start, end)


def _validate(
    meter_id: str,
    unit: str,
    interval_minutes: IntervalMinutes,
    raw: RawReadings,
    settings: MeterSettings,
    start: datetime,
    end: datetime,
) -> ValidatedIntervals:
    """The one call into VEE. It reads the meter's id, unit, interval, CT ratio and register maximum; the
    catalog fields are placeholders, and the catalog's checks (units per utility) are the catalog's, not
    validation's: a kVArh channel of a file validates like a kWh one.

    Intervals are whole intervals of ``start``'s clock; where its offsets differ by part of an interval (an
    hourly meter on Lord Howe Island) they are validated on the finer grid every one of them lies on, each
    reading spread over it (``meterdata.local_grid``)."""
    zone = start.tzinfo
    grid = grid_minutes(interval_minutes, zone)
    intervals = raw.intervals
    if grid != interval_minutes:
        assert zone is not None  # grid_minutes keeps the interval of a span without a zone
        intervals = spread_onto_grid(intervals, interval_minutes, grid, zone)
        interval_minutes = INTERVAL_MINUTES[grid]
    meter = Meter.model_construct(
        id=meter_id,
        account_id="-",
        site_id="-",
        utility="electricity",
        unit=unit,
        kind="main",
        multiplier=settings.multiplier,
        register_max=settings.register_max,
        interval_minutes=interval_minutes,
    )
    try:
        return validate_readings(
            meter,
            start,
            end,
            registers=raw.registers,
            intervals=intervals,
            exchanges=meter_exchanges(meter_id, settings),
            multipliers=[(change.effective_from, change.multiplier) for change in settings.multipliers],
            config=validation_config(settings),
        )
    except ReadingsError as err:
        raise MeteringError(meter_id, err.reason, err.where) from None


def _span(raw: RawReadings, step: timedelta, clock: tzinfo | None) -> tuple[datetime, datetime]:
    """From the first interval boundary at or after the first reading to the last at or before the last."""
    starts = [r.start for r in raw.intervals] + [
        _boundary_at_or_after(r.timestamp, step) for r in raw.registers
    ]
    ends = [r.end for r in raw.intervals] + [_boundary_at_or_before(r.timestamp, step) for r in raw.registers]
    start = min(starts, key=_instant_of)
    end = max(ends, key=_instant_of)
    zone = clock or start.tzinfo
    return start.astimezone(zone), end.astimezone(zone)


def _instant_of(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def _boundary_at_or_before(moment: datetime, step: timedelta) -> datetime:
    """Intervals divide the hour, so they start on whole multiples of their length into the local hour."""
    into_hour = timedelta(minutes=moment.minute, seconds=moment.second, microseconds=moment.microsecond)
    return (moment.astimezone(UTC) - into_hour % step).astimezone(moment.tzinfo)


def _boundary_at_or_after(moment: datetime, step: timedelta) -> datetime:
    before = _boundary_at_or_before(moment, step)
    return before if before == moment else (before.astimezone(UTC) + step).astimezone(moment.tzinfo)
