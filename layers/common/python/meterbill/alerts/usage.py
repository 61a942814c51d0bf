"""Usage that looks wrong: far above its baseline (abnormal usage), the same value for hours (a flat line);
and bills at risk: too much estimated data in a period about to be invoiced, a month heading for bill shock.

Pure functions of one meter's interval series: a mapping interval start (aware: UTC or a fixed offset, not a
zoneinfo zone, whose two passes through a repeated hour compare equal as keys) → the interval's usage
(Decimal, the meter's unit), each interval ``meter.interval_minutes`` long.

Abnormal usage works on the site's local calendar. An hour is a local wall-clock hour: its usage is the sum of
the intervals starting in it; its baseline is the median of the same local hour on the same weekday of the
last ``weeks`` weeks (7, 14, 21, 28 days back on the calendar, so a DST change in between moves nothing). On a
25-hour day the repeated hour is judged twice, each time against that hour's baseline; on a 23-hour day the
skipped hour simply does not exist. A day's usage is the sum of its 23, 24 or 25 hours; its baseline the
median of the same weekday's totals. Only complete hours and days (every interval present) count as history,
so a gap in the past cannot lower a baseline into a false alarm; a baseline needs ``min_weeks`` such weeks.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from meterbill.alerts.model import Finding, Severity, Subject, require_aware
from meterbill.domain import Meter
from meterbill.money import quantum, round_money
from meterbill.usage import IntervalSeries

HOUR = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class AbnormalUsageRule:
    """Active when an hour's or a day's usage is above ``factor`` × its baseline AND above the baseline by
    more than ``min_excess`` (meter unit; keeps a near-idle meter's small wobbles quiet)."""

    factor: Decimal = Decimal(3)
    weeks: int = 4
    min_weeks: int = 3
    min_excess: Decimal = Decimal(0)
    severity: Severity = "warning"

    def __post_init__(self) -> None:
        if not 1 <= self.min_weeks <= self.weeks:
            raise ValueError(f"min_weeks {self.min_weeks} must be between 1 and weeks ({self.weeks})")
        if self.factor <= 0:
            raise ValueError(f"factor {self.factor} must be positive")


@dataclass(frozen=True, slots=True)
class FlatLineRule:
    """Active when the latest ``hours`` hours (or more) of intervals hold one identical non-zero value."""

    hours: int = 6
    severity: Severity = "warning"

    def __post_init__(self) -> None:
        if self.hours < 1:
            raise ValueError(f"hours {self.hours} must be at least 1")


# A local wall-clock hour: its date, its hour, and its fold (1 for the second pass of a repeated hour).
_HourKey = tuple[date, int, int]


@dataclass(slots=True)
class _Bucket:
    usage: Decimal
    intervals: int


def _day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(), tzinfo=tz).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(), tzinfo=tz).astimezone(UTC)
    return start, end


def _hour_start(key: _HourKey, tz: ZoneInfo) -> datetime:
    day, hour, fold = key
    return datetime.combine(day, time(hour, fold=fold), tzinfo=tz)


def _median(values: list[Decimal]) -> Decimal:
    return Decimal(statistics.median(values))


def abnormal_usage(
    meter: Meter,
    series: Mapping[datetime, Decimal],
    tz: ZoneInfo,
    day: date,
    rule: AbnormalUsageRule,
    now: datetime,
) -> Finding | None:
    """Judge the local ``day`` (its complete hours by ``now``, and the whole day once it is over) against the
    same weekday of the previous weeks; None when nothing of it has enough history to be judged."""
    require_aware(now, "now")
    per_hour = 60 // meter.interval_minutes
    step = timedelta(minutes=meter.interval_minutes)
    hours: dict[_HourKey, _Bucket] = {}
    days: dict[date, _Bucket] = {}
    for start, value in series.items():
        require_aware(start, "interval start")
        local = start.astimezone(tz)
        if start.astimezone(UTC) + step > now:
            continue  # an interval not yet over
        key = (local.date(), local.hour, local.fold)
        bucket = hours.setdefault(key, _Bucket(Decimal(0), 0))
        bucket.usage += value
        bucket.intervals += 1
        day_bucket = days.setdefault(local.date(), _Bucket(Decimal(0), 0))
        day_bucket.usage += value
        day_bucket.intervals += 1

    same_hour: dict[tuple[date, int], list[_Bucket]] = {}
    for (when, hour, _fold), bucket in hours.items():
        same_hour.setdefault((when, hour), []).append(bucket)

    def complete_day(when: date) -> Decimal | None:
        bucket = days.get(when)
        start, end = _day_bounds(when, tz)
        if bucket is None or bucket.intervals != (end - start) // step:
            return None
        return bucket.usage

    past = [day - timedelta(weeks=k) for k in range(1, rule.weeks + 1)]
    judged: list[tuple[str, Decimal, Decimal]] = []  # (what, usage, baseline) with enough history
    for key in sorted((k for k in hours if k[0] == day), key=lambda k: _hour_start(k, tz).astimezone(UTC)):
        if _hour_start(key, tz).astimezone(UTC) + HOUR > now:
            continue  # the hour is not over
        samples: list[Decimal] = []
        weeks_seen = 0
        for when in past:
            found = [b.usage for b in same_hour.get((when, key[1]), []) if b.intervals == per_hour]
            samples += found
            weeks_seen += bool(found)
        if weeks_seen >= rule.min_weeks:
            judged.append((_hour_start(key, tz).isoformat(), hours[key].usage, _median(samples)))
    day_usage = complete_day(day)
    day_samples = [u for u in map(complete_day, past) if u is not None]
    day_judged = day_usage is not None and len(day_samples) >= rule.min_weeks
    if not judged and not day_judged:
        return None

    def above(usage: Decimal, baseline: Decimal) -> bool:
        return usage > rule.factor * baseline and usage - baseline > rule.min_excess

    hours_above = [j for j in judged if above(j[1], j[2])]
    facts = {
        "day": day.isoformat(),
        "time_zone": tz.key,
        "unit": meter.unit,
        "factor": str(rule.factor),
        "hours_judged": str(len(judged)),
        "hours_above": str(len(hours_above)),
    }
    if judged:
        worst = max(judged, key=lambda j: j[1] - rule.factor * j[2])
        facts |= {"worst_hour": worst[0], "hour_usage": str(worst[1]), "hour_baseline": str(worst[2])}
    day_above = False
    if day_judged and day_usage is not None:
        day_baseline = _median(day_samples)
        day_above = above(day_usage, day_baseline)
        facts |= {"day_usage": str(day_usage), "day_baseline": str(day_baseline)}
    active = bool(hours_above) or day_above
    count = len(hours_above)
    told = "no hour" if not count else "1 hour" if count == 1 else f"{count} hours"
    if not count and day_above:
        told = "the day"
    elif day_above:
        told += " and the day"
    summary = (
        f"Meter {meter.id} on {day.isoformat()}: {told} above {rule.factor}× the baseline "
        f"of the last {rule.weeks} weeks"
    )
    return Finding(
        kind="abnormal_usage",
        subject=Subject("meter", meter.id, meter.site_id),
        severity=rule.severity,
        active=active,
        observed_at=now,
        summary=summary,
        facts=facts,
        depends_on=(Subject("meter", meter.id, meter.site_id),),
    )


def flat_line(
    meter: Meter,
    series: Mapping[datetime, Decimal],
    rule: FlatLineRule,
    now: datetime,
) -> Finding | None:
    """Judge the trailing run of back-to-back intervals holding the latest value; None without intervals.

    A gap, a different value or a zero ends the run (an idle meter reading 0 is not stuck)."""
    require_aware(now, "now")
    if not series:
        return None
    step = timedelta(minutes=meter.interval_minutes)
    for start in series:
        require_aware(start, "interval start")
    values = {start.astimezone(UTC): value for start, value in series.items()}  # UTC: steps add exactly
    starts = sorted(values)
    last = starts[-1]
    value = values[last]
    first = last
    count = 1 if value != 0 else 0
    if value != 0:
        for previous in reversed(starts[:-1]):
            if previous + step != first or values[previous] != value:
                break
            first, count = previous, count + 1
    run = step * count
    active = run >= timedelta(hours=rule.hours)
    subject = Subject("meter", meter.id, meter.site_id)
    return Finding(
        kind="flat_line",
        subject=subject,
        severity=rule.severity,
        active=active,
        observed_at=now,
        summary=(
            f"Meter {meter.id} has read {value} {meter.unit} in each of its last {count} interval(s) "
            f"({Decimal(count * meter.interval_minutes) / 60} h; stuck from {rule.hours} h)"
        ),
        facts={
            "value": str(value),
            "unit": meter.unit,
            "run_start": first.isoformat(),
            "run_end": (last + step).isoformat(),
            "run_intervals": str(count),
            "min_hours": str(rule.hours),
        },
        depends_on=(subject,),
    )


@dataclass(frozen=True, slots=True)
class EstimatedDataRule:
    """Active when more than ``max_percent`` of a period's intervals are estimated or missing, judged from
    ``lead_time`` before the period ends (when it is about to be invoiced)."""

    max_percent: Decimal = Decimal(10)
    lead_time: timedelta = timedelta(days=3)
    severity: Severity = "warning"

    def __post_init__(self) -> None:
        if not self.max_percent.is_finite() or not 0 <= self.max_percent < 100:
            raise ValueError(f"max_percent {self.max_percent} must be at least 0 and below 100")


@dataclass(frozen=True, slots=True)
class BillShockRule:
    """Active when the period's cost so far, projected linearly to its end, is above the customer's
    ``threshold`` (in ``currency``); judged once ``min_elapsed`` of the period has passed."""

    threshold: Decimal
    currency: str
    min_elapsed: timedelta = timedelta(days=3)
    severity: Severity = "warning"

    def __post_init__(self) -> None:
        quantum(self.currency)  # UnknownCurrencyError names the currency
        if not self.threshold.is_finite() or self.threshold < 0:
            raise ValueError(f"threshold {self.threshold} must be a finite amount of at least 0")
        if self.min_elapsed <= timedelta(0):
            raise ValueError(f"min_elapsed {self.min_elapsed} must be positive")


def estimated_data(
    meter: Meter, series: IntervalSeries, rule: EstimatedDataRule, now: datetime
) -> Finding | None:
    """Judge ``series`` (the meter's intervals of the period to invoice, estimated and missing ones flagged)
    once ``now`` is within the rule's lead time of its end; None before, or for an empty series."""
    require_aware(now, "now")
    end = series.end
    if not series.values or now < end.astimezone(UTC) - rule.lead_time:
        return None
    intervals = len(series.values)
    estimated, missing = len(series.estimated), len(series.missing - series.estimated)
    percent = Decimal((estimated + missing) * 100) / intervals
    subject = Subject("meter", meter.id, meter.site_id)
    return Finding(
        kind="estimated_data",
        subject=subject,
        severity=rule.severity,
        active=percent > rule.max_percent,
        observed_at=now,
        summary=(
            f"Meter {meter.id}: {estimated + missing} of {intervals} intervals estimated or missing "
            f"({percent.quantize(Decimal('0.01'))} %) in the period ending {end.isoformat()}"
        ),
        facts={
            "period_start": series.start.isoformat(),
            "period_end": end.isoformat(),
            "intervals": str(intervals),
            "estimated_intervals": str(estimated),
            "missing_intervals": str(missing),
            "estimated_percent": str(percent.quantize(Decimal("0.01"))),
            "max_percent": str(rule.max_percent),
        },
        depends_on=(subject,),
    )


def bill_shock(
    customer_id: str,
    meters: Sequence[Meter],
    cost_to_date: Decimal,
    period_start: datetime,
    period_end: datetime,
    rule: BillShockRule,
    now: datetime,
) -> Finding | None:
    """Project ``cost_to_date`` (the customer's rated cost from ``period_start`` to ``now``) to ``period_end``
    in proportion to elapsed time (UTC seconds, so a DST month is 743 or 745 hours long); None before
    ``min_elapsed`` or after the period's end. ``meters`` are those the cost was rated from."""
    for value, name in ((period_start, "period_start"), (period_end, "period_end"), (now, "now")):
        require_aware(value, name)
    if not period_start.astimezone(UTC) + rule.min_elapsed <= now < period_end:
        return None
    start_utc = period_start.astimezone(
        UTC
    )  # two times in one zone subtract on the wall clock: go through UTC
    elapsed = Decimal(int((now.astimezone(UTC) - start_utc).total_seconds()))
    length = Decimal(int((period_end.astimezone(UTC) - start_utc).total_seconds()))
    projected = round_money(cost_to_date * length / elapsed, rule.currency)
    site_ids = {m.site_id for m in meters}
    subject = Subject("customer", customer_id, site_ids.pop() if len(site_ids) == 1 else None)
    return Finding(
        kind="bill_shock",
        subject=subject,
        severity=rule.severity,
        active=projected > rule.threshold,
        observed_at=now,
        summary=(
            f"Customer {customer_id}: {cost_to_date} {rule.currency} so far, projected {projected} "
            f"{rule.currency} by {period_end.isoformat()} (threshold {rule.threshold})"
        ),
        facts={
            "period_start": period_start.isoformat(),
            "period_end": period_end.isoformat(),
            "currency": rule.currency,
            "cost_to_date": str(cost_to_date),
            "projected_cost": str(projected),
            "threshold": str(rule.threshold),
        },
        depends_on=tuple(Subject("meter", m.id, m.site_id) for m in sorted(meters, key=lambda m: m.id)),
    )
