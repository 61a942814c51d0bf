"""What the alert detectors read, gathered from the stores: an account's rules, a meter's recent readings as
an interval series, rated days as a series and a day's usage, and when a site's daily judgement is due.

Pure helpers around the ports (``services.alerting`` drives them); time comes in as ``now``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Final
from zoneinfo import ZoneInfo

from meterbill.alerts.lifecycle import Alert
from meterbill.alerts.rules import AlertRules, MeterRules
from meterbill.alerts.usage import AbnormalUsageRule
from meterbill.domain import Meter
from meterbill.errors import InvalidInputError
from meterbill.ports import MeteringStore, RatedDay, RawReading, ReadingStore
from meterbill.timeutil import local_midnight

# The daily detectors judge a site's last complete local day in the pass whose time falls in
# [01:00 local, 01:00 + the schedule's interval): an hour after midnight, so the last readings of the day and
# the rating pass after midnight (00:30) are in. 01:00 is taken as a real instant, the first one (fold 0):
# where the clocks go back over 01:00 the second 01:00 does not count, where they skip it (London in March)
# the instant of the skip does. One instant per local day, so a 23- or 25-hour day is judged exactly once.
DAILY_AT: Final = time(1, 0)
MIN_LOOKBACK: Final = timedelta(days=1)
READ_SLACK: Final = timedelta(seconds=1)  # a register read at ``now`` itself is read too


def account_rules(document: Mapping[str, Any]) -> tuple[AlertRules, str | None]:
    """The account's rules, or the defaults and the reason when its stored document no longer parses (a
    newer release's field, say): one account's bad document never stops the pass for the others."""
    try:
        return AlertRules.from_document(document), None
    except InvalidInputError as error:
        return AlertRules(), str(error)


def lookback(rules: MeterRules, interval_minutes: int) -> timedelta:
    """How far back the schedule reads a meter's readings: enough for the quiet check, the flat line, and at
    least a day (the register backstop)."""
    quiet = timedelta(minutes=rules.communication.missed_intervals * interval_minutes)
    return max(quiet, timedelta(hours=rules.flat_line.hours), MIN_LOOKBACK)


def recent_readings(
    readings: ReadingStore,
    metering: MeteringStore,
    account: str,
    meter: Meter,
    now: datetime,
    span: timedelta,
    quiet_alert: Alert | None,
) -> list[RawReading]:
    """The meter's readings from ``now - span`` to ``now``, read once. While a communication alert is open
    the read starts before the gap it names (or the last reading it names), so the finding keeps the gap's
    start (and, when readings resume, its length) however long the outage lasts; the gap holds no readings,
    so this costs little. A meter with no reading in the span and no such alert is looked up once more
    around its last rated day (``MeteringStore.rated_span``): a meter that fell silent longer ago than the
    span (before alerts were set up) is quiet, not "never commissioned"."""
    start = now - span
    facts = quiet_alert.facts if quiet_alert is not None else {}
    last_known = facts.get("gap_start") or facts.get("last_reading_at")
    if last_known is not None:
        before_gap = datetime.fromisoformat(last_known) - 2 * timedelta(minutes=meter.interval_minutes)
        start = min(start, before_gap)
    recent = list(readings.between(account, meter.id, start, now + READ_SLACK))
    if recent or last_known is not None:
        return recent
    rated = metering.rated_span(account, meter.id)
    if rated is None:
        return []  # never rated: not commissioned (or not rated yet: the span above covers the last day)
    around = datetime.combine(rated[1], time(), tzinfo=UTC)
    return list(
        readings.between(
            account, meter.id, around - timedelta(days=1), min(around + timedelta(days=2), start)
        )
    )


def interval_series(readings: Iterable[RawReading], meter: Meter) -> dict[datetime, Decimal]:
    """Interval start (UTC) → usage of the meter's own interval readings at its interval length; null (N)
    readings are absent."""
    return {
        r.timestamp.astimezone(UTC): r.value
        for r in readings
        if r.type == "interval"
        and r.quality != "N"
        and r.meter_id == meter.id
        and (r.interval_minutes or meter.interval_minutes) == meter.interval_minutes
    }


def rated_series(days: Iterable[RatedDay]) -> dict[datetime, Decimal]:
    """Interval start (UTC) → usage of rated days' intervals (nulls absent)."""
    series: dict[datetime, Decimal] = {}
    for day in days:
        origin = day.start.astimezone(UTC)
        step = timedelta(minutes=day.interval_minutes)
        for index, value in enumerate(day.values):
            if day.qualities[index] != "N":
                series[origin + index * step] = Decimal(value).scaleb(day.exponent)
    return series


def whole_day_usage(day: RatedDay, zone: ZoneInfo, meter: Meter) -> Decimal | None:
    """The day's total when it is rated whole (midnight to midnight, at the meter's interval length, no null
    interval); None otherwise (not judged: the communication alert speaks for the gap)."""
    start = local_midnight(day.day, zone).astimezone(UTC)
    end = local_midnight(day.day + timedelta(days=1), zone).astimezone(UTC)
    total = day.total()
    whole = (
        day.interval_minutes == meter.interval_minutes
        and day.start.astimezone(UTC) == start
        and day.end.astimezone(UTC) == end
        and total.missing == 0
    )
    return total.total if whole else None


def daily_instant(day: date, zone: ZoneInfo) -> datetime:
    """The instant the local ``day`` reaches 01:00 (fold 0; a skipped 01:00 is the instant of the skip)."""
    return datetime.combine(day, DAILY_AT, tzinfo=zone).astimezone(UTC)


def daily_day(now: datetime, zone: ZoneInfo, interval: timedelta) -> date | None:
    """The local day this pass judges (the last complete one) when ``now`` is the site's daily pass, else
    None: ``now`` in [01:00 local, 01:00 + interval) of its local date."""
    today = now.astimezone(zone).date()
    at = daily_instant(today, zone)
    return today - timedelta(days=1) if at <= now.astimezone(UTC) < at + interval else None


def baseline_days(
    metering: MeteringStore, account: str, meter_id: str, day: date, rule: AbnormalUsageRule
) -> list[RatedDay]:
    """The rated days of the same weekday 1..``weeks`` weeks before ``day``: only those, one read each."""
    days: list[RatedDay] = []
    for weeks in range(1, rule.weeks + 1):
        past = day - timedelta(weeks=weeks)
        days += metering.days(account, meter_id, past, past + timedelta(days=1))
    return days


def local_hour_start(moment: datetime, zone: ZoneInfo) -> datetime:
    """The start (UTC) of the local clock hour ``moment`` falls in (a half-hour zone's hour too)."""
    local = moment.astimezone(zone)
    into = timedelta(minutes=local.minute, seconds=local.second, microseconds=local.microsecond)
    return moment.astimezone(UTC) - into
