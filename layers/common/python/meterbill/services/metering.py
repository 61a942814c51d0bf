"""A catalog meter's validated intervals from its stored raw readings: the one validation path
(``meterbill.meterdata.metering``) over the reading store, for usage, bill previews and the rating run."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Final

from meterbill.domain import Meter
from meterbill.errors import InvalidInputError
from meterbill.meterdata.metering import MeteringError, RawReadings, validate_span, validation_config
from meterbill.meterdata.readings import IntervalReading, Quality, RegisterRead
from meterbill.meterdata.vee import ValidatedIntervals
from meterbill.metersettings import MeterSettings, ValidationLimits
from meterbill.ports import RawReading, ReadingStore

_LOOKAHEAD: Final = timedelta(days=1)  # validation bounds a gap at the end with a read up to a day later


def meter_settings(meter: Meter) -> MeterSettings:
    """How the catalog says to validate ``meter``: its interval, CT ratio and its changes, register maximum,
    device exchanges and limits (absent limits: validation's defaults)."""
    changes = {"multipliers": meter.multipliers, "exchanges": meter.exchanges}
    return MeterSettings(
        interval_minutes=meter.interval_minutes,
        multiplier=meter.multiplier,
        register_max=meter.register_max,
        **{name: value for name, value in changes.items() if value},
        **meter.limits.model_dump(exclude_unset=True),
    )


def settings_digest(meter: Meter) -> str:
    """A digest of how the catalog says to validate ``meter`` (``meter_settings``): the rated days record it
    (``MonthRollup.rated_with``) so a reader knows whether they were rated with the meter's settings of now.
    32 hex digits (128 bits of SHA-256)."""
    text = meter_settings(meter).model_dump_json()
    return hashlib.sha256(f"{meter.unit}|{text}".encode()).hexdigest()[:32]


def check_limits(limits: ValidationLimits, under: str = "") -> None:
    """InvalidInputError naming the setting (below ``under``) for limits validation refuses together or alone
    (a rollover margin of half the register or more, a spike factor of 1 or less): for the catalog to check a
    meter's settings when they are written, not when its readings are validated."""
    try:
        validation_config(limits)
    except ValueError as err:
        name, _, reason = str(err).partition(": ")
        raise InvalidInputError(f"{under}.{name}" if under else name, reason) from None


def validated_intervals(
    account: str,
    meter: Meter,
    start: datetime,
    end: datetime,
    readings: ReadingStore,
    *,
    settings: MeterSettings | None = None,
) -> ValidatedIntervals:
    """The meter's validated intervals over [start, end) (site-local times) from its stored raw readings,
    including the weeks before that like-day estimates look at and the day after that bounds a last gap.
    ``settings``: how to validate it (default: what its catalog entry says, ``meter_settings``).

    Raises InvalidInputError on ``from`` for readings that cannot be validated over the span."""
    settings = meter_settings(meter) if settings is None else settings
    lookback = timedelta(weeks=validation_config(settings).like_day_weeks, days=1)
    stored = readings.between(account, meter.id, start - lookback, end + _LOOKAHEAD)
    try:
        return validate_span(meter.id, meter.unit, raw_readings(stored, meter), settings, start, end)
    except MeteringError as err:  # stored readings were checked on the way in; this is the span asked for
        raise InvalidInputError("from", err.detail) from None


def raw_readings(stored: Iterable[RawReading], meter: Meter) -> RawReadings:
    """Stored readings as validation reads them, in the meter's unit."""
    raw = RawReadings()
    for reading in stored:
        if reading.type == "register":
            raw.registers.append(_register(reading, meter))
        elif reading.type == "interval" and reading.interval_minutes is not None:
            raw.intervals.append(_interval(reading, meter))
    return raw


def _register(reading: RawReading, meter: Meter) -> RegisterRead:
    return RegisterRead(
        meter=meter.id,
        timestamp=reading.timestamp,
        value=reading.value,
        unit=meter.unit,
        quality=_quality(reading.quality),
    )


def _interval(reading: RawReading, meter: Meter) -> IntervalReading:
    assert reading.interval_minutes is not None
    return IntervalReading(
        meter=meter.id,
        start=reading.timestamp,
        end=reading.timestamp + timedelta(minutes=reading.interval_minutes),
        value=reading.value,
        unit=meter.unit,
        quality=_quality(reading.quality),
    )


def _quality(flag: str) -> Quality:
    if flag in ("A", "E", "S", "F", "N"):
        return flag  # type: ignore[return-value]  # one of Quality's letters
    raise ValueError(f"stored reading with quality {flag!r}")  # ingest lets none in
