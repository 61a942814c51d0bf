"""A catalog meter's validated intervals from its stored raw readings: the one validation path
(``meterbill.meterdata.metering``) over the reading store, for usage, bill previews and the rating run."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Final
from zoneinfo import ZoneInfo

from meterbill.domain import Meter
from meterbill.errors import InvalidInputError
from meterbill.meterdata.metering import MeteringError, RawReadings, validate_span, validation_config
from meterbill.meterdata.readings import IntervalReading, Quality, RegisterRead
from meterbill.meterdata.vee import ValidatedIntervals
from meterbill.metersettings import MeterSettings, ValidationLimits
from meterbill.ports import RawReading, ReadingStore
from meterbill.timeutil import local_midnight

_LOOKAHEAD: Final = timedelta(days=1)  # validation bounds a gap at the end with a read up to a day later
# How far back from its last rated day a meter's change of settings is rated again: the re-rating horizon
# (``services.rerating.LOOKBACK``; older invoices cannot be re-rated): at most 368 UTC days marked a change.
RERATE_DAYS: Final = 366
_ONE_DAY: Final = timedelta(days=1)


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


_RATED_BY: Final = ("site_id", "unit", "interval_minutes", "register_max", "limits")


def rates_differ(old: Meter, new: Meter) -> bool:
    """Whether validation would rate the meter's readings differently after ``old`` became ``new`` (its
    labels, name, serial, attributes or parent do not count)."""
    reads = [[(e.timestamp, e.old_final, e.new_initial) for e in m.exchanges] for m in (old, new)]
    return (
        any(getattr(old, name) != getattr(new, name) for name in _RATED_BY)
        or reads[0] != reads[1]
        or _multiplier_spans(old, new) != []
    )


def resettled_days(old: Meter, new: Meter, rated: tuple[date, date] | None) -> list[date]:
    """The UTC days to rate again after a meter's settings changed from ``old`` to ``new`` (a PUT), given its
    first and last rated local days ``rated`` (None: nothing rated yet, nothing to rate again):

    - its site, unit, interval, register maximum or limits changed: every rated day (validation judges each
      of them by these);
    - its CT ratio or ratio changes: the days from where the ratio in force differs to where the two agree
      again (a changed change from its effective date on, to the next change; the last one to the end; the
      meter's own ratio up to its first change);
    - its exchanges: the day of each exchange added, removed or with other reads.

    Bounded: only rated days (a day not rated yet is rated with the new settings when its readings come),
    each local day widened to the UTC days it touches, and at most the ``RERATE_DAYS`` before the last one.
    """
    if rated is None:
        return []
    first = max(rated[0] - _ONE_DAY, rated[1] - timedelta(days=RERATE_DAYS))
    last = rated[1] + _ONE_DAY
    if any(getattr(old, name) != getattr(new, name) for name in _RATED_BY):
        return _days(first, last)
    spans = _multiplier_spans(old, new)
    reads = {(e.timestamp, e.old_final, e.new_initial) for e in old.exchanges} ^ {
        (e.timestamp, e.old_final, e.new_initial) for e in new.exchanges
    }
    spans += [(at, at) for at, _, _ in reads]
    days: set[date] = set()
    for start, end in spans:
        since = first if start is None else max(first, start.astimezone(UTC).date())
        until = last if end is None else min(last, end.astimezone(UTC).date())
        days.update(_days(since, until))
    return sorted(days)


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _multiplier_spans(old: Meter, new: Meter) -> list[tuple[datetime | None, datetime | None]]:
    """Where the CT ratio in force differs, as [start, end] instants (None: open), between the effective
    dates of both meters' changes (the meter's own ratio before its first change)."""
    bounds: list[datetime | None] = [None]
    bounds += sorted({c.effective_from.astimezone(UTC) for c in (*old.multipliers, *new.multipliers)})
    spans: list[tuple[datetime | None, datetime | None]] = []
    for i, start in enumerate(bounds):
        if _ratio_at(old, start) != _ratio_at(new, start):
            end = bounds[i + 1] if i + 1 < len(bounds) else None
            if spans and spans[-1][1] == start:
                spans[-1] = (spans[-1][0], end)
            else:
                spans.append((start, end))
    return spans


def _ratio_at(meter: Meter, moment: datetime | None) -> Decimal:
    """The CT ratio in force from ``moment`` (None: before every change) until the next change."""
    ratio = meter.multiplier
    for change in meter.multipliers:
        if moment is not None and change.effective_from <= moment:
            ratio = change.multiplier
    return ratio


def last_whole_interval(now: datetime, zone: ZoneInfo, interval_minutes: int) -> datetime:
    """The end of the last whole interval at ``now`` on the meter's grid (from local midnight)."""
    local = now.astimezone(zone)
    midnight = local_midnight(local.date(), zone)
    step = timedelta(minutes=interval_minutes)
    elapsed = now.astimezone(UTC) - midnight.astimezone(UTC)  # absolute time: a DST day is 23 or 25 hours
    return (midnight.astimezone(UTC) + (elapsed // step) * step).astimezone(zone)


def data_end_today(
    account: str, meter: Meter, end: datetime, now: datetime, zone: ZoneInfo, readings: ReadingStore
) -> datetime:
    """A span reaching into the day still running ends where the meter's data ends (on its grid), so that
    the intervals of the last hour, whose readings have not been sent yet, are not estimated as a gap; days
    that are over keep their gaps."""
    today = local_midnight(now.astimezone(zone).date(), zone)
    if end <= today:
        return end
    step = timedelta(minutes=meter.interval_minutes)
    last: datetime | None = None  # in UTC: instants compare and add as such whatever the zone
    for reading in readings.between(account, meter.id, today.astimezone(UTC) - step, end):
        reach = reading.timestamp.astimezone(UTC)
        if reading.type == "interval" and reading.interval_minutes is not None:
            reach += timedelta(minutes=reading.interval_minutes)
        last = reach if last is None or reach > last else last
    if last is None:
        return today
    on_grid = today.astimezone(UTC) + ((last - today.astimezone(UTC)) // step) * step
    return min(end.astimezone(UTC), max(today.astimezone(UTC), on_grid)).astimezone(zone)


def settled_end(
    account: str, meter: Meter, end: datetime, now: datetime, zone: ZoneInfo, readings: ReadingStore
) -> datetime:
    """``end``, but no later than the last whole interval at ``now`` nor, in the day still running, than
    where the meter's data ends: what comes after is unfinished, neither a gap nor something to estimate."""
    whole = last_whole_interval(now, zone, meter.interval_minutes)
    return data_end_today(
        account, meter, min(end, whole, key=lambda t: t.astimezone(UTC)), now, zone, readings
    )
