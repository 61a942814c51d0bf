"""How one meter is validated: its CT ratio and its changes, device exchanges, register maximum, interval and
the limits of the plausibility checks, as plain data.

One model for every place that holds them: `meterbill validate --meter-config` reads it per meter, and the
catalog's meters carry it (``domain.Meter``: multipliers, exchanges, limits). It sits below the catalog's
domain and the meter-data core so both can use it; what the settings mean (the ValidationConfig they make,
the exchanges and multipliers validation reads) is ``meterbill.meterdata.metering``'s. Its bounds are the
catalog's (numbers below 10^15 with at most 38 digits, times in the calendar, serials of 64 characters).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Final, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from meterbill.timeutil import outside_calendar

_LIMIT = Decimal(10**15)  # what meter data values stay below (a petawatt-hour)
_DIGITS: Final = 38  # what a DynamoDB number holds; the catalog's bound too
Amount = Annotated[Decimal, Field(ge=0, lt=_LIMIT, max_digits=_DIGITS, allow_inf_nan=False)]
PositiveAmount = Annotated[Decimal, Field(gt=0, lt=_LIMIT, max_digits=_DIGITS, allow_inf_nan=False)]
MAX_SERIAL_LENGTH: Final = 64  # the catalog's labels
MAX_NOTE_LENGTH: Final = 200  # the catalog's texts
Serial = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_SERIAL_LENGTH)]


def _in_calendar(moment: datetime) -> datetime:
    reason = outside_calendar(moment)
    if reason is not None:
        raise ValueError(reason)
    return moment


Moment = Annotated[AwareDatetime, AfterValidator(_in_calendar)]  # with an offset, 2000-01-01 ... 2100-01-01
IntervalMinutes = Literal[1, 5, 15, 30, 60]
INTERVAL_MINUTES: Final[dict[int, IntervalMinutes]] = {1: 1, 5: 5, 15: 15, 30: 30, 60: 60}
FLAT_LINE_AFTER_MINUTES: Final = 24 * 60  # validation's default
MAX_MINUTES: Final = 366 * 24 * 60  # a gap or a flat line judged over at most a year
MAX_LIKE_DAY_WEEKS: Final = 53  # like days looked for at most a year back
Minutes = Annotated[int, Field(ge=0, le=MAX_MINUTES)]


class _Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MultiplierChange(_Settings):
    """A CT ratio taking effect at a read: differences from ``effective_from`` on are multiplied by it."""

    effective_from: Moment
    multiplier: PositiveAmount


class ExchangeSettings(_Settings):
    """A device swap: the old device's final read and the new one's initial read at ``timestamp``."""

    timestamp: Moment
    old_serial: Serial | None = None
    old_final: Amount
    new_serial: Serial | None = None
    new_initial: Amount
    note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=MAX_NOTE_LENGTH)] | None = None


class ValidationLimits(_Settings):
    """The limits validation judges a meter's readings by. Absent fields take validation's defaults; null
    turns a check off where validation allows (max_power, spike_factor, flat_line_after_minutes) and means
    the default elsewhere. The same settings dumped and read back judge alike (no field depends on whether
    it was given)."""

    register_resolution: PositiveAmount | None = None
    rollover_margin: PositiveAmount | None = None
    short_gap_minutes: Minutes | None = None
    like_day_weeks: Annotated[int, Field(ge=0, le=MAX_LIKE_DAY_WEEKS)] | None = None
    max_power: PositiveAmount | None = None
    spike_factor: PositiveAmount | None = None
    spike_floor: Amount | None = None
    flat_line_after_minutes: Annotated[int, Field(gt=0, le=MAX_MINUTES)] | None = FLAT_LINE_AFTER_MINUTES
    sum_tolerance: Amount | None = None


class MeterSettings(ValidationLimits):
    """How one meter is validated: its interval (absent: that of its readings), CT ratio and its changes,
    register maximum and device exchanges, and the limits."""

    interval_minutes: IntervalMinutes | None = None
    multiplier: PositiveAmount = Decimal(1)
    register_max: PositiveAmount | None = None
    multipliers: tuple[MultiplierChange, ...] = ()
    exchanges: tuple[ExchangeSettings, ...] = ()
