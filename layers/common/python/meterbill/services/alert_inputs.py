"""What the alert passes judge: the detectors' inputs gathered from the stores, and the detectors run on them.

- ``account_findings``: the schedule's judgement of one account, meter by meter (each meter's recent
  readings read once; ``parallel_reads`` meters' reads in flight), and once per site per local day the daily
  detectors; a generator, consumed by ``services.alerting``'s step under the account's lease.
- helpers: an account's rules, the lookback, series from readings and rated days, the daily instant (the
  readings worker's judgement, ``services.alert_arrivals``, uses them too).

Time comes in as ``now``; ``services.alerting`` owns the lease, the lifecycle and publishing.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Final
from zoneinfo import ZoneInfo

from meterbill.alerts.communication import (
    Heartbeat,
    collector_warnings,
    communication_findings,
    latest_heartbeats,
    meter_communication,
)
from meterbill.alerts.energy import energy_evasion, phase_sum_mismatch
from meterbill.alerts.lifecycle import Alert, AlertBook
from meterbill.alerts.model import Finding
from meterbill.alerts.registers import register_findings
from meterbill.alerts.rules import AlertRules, MeterRules
from meterbill.alerts.usage import AbnormalUsageRule, abnormal_usage, bill_shock, estimated_data, flat_line
from meterbill.billing.periods import period_containing
from meterbill.domain import Customer, Meter, Site, assignments_for
from meterbill.errors import InvalidInputError, NotFoundError
from meterbill.meterdata.rollups import rated_series as rated_interval_series
from meterbill.ports import AccountStore, CatalogStore, MeteringStore, RatedDay, RawReading, ReadingStore
from meterbill.services import catalog as catalog_service
from meterbill.services.billing_settings import settings_of
from meterbill.services.common import all_items
from meterbill.services.invoicing import customer_calendar
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
    drop_alerts: Sequence[Alert] = (),
) -> list[RawReading]:
    """The meter's readings from ``now - span`` to ``now``, read once. While a communication alert is open
    the read starts before the gap it names (or the last reading it names), so the finding keeps the gap's
    start (and, when readings resume, its length) however long the outage lasts; the gap holds no readings,
    so this costs little. A meter with no reading in the span and no such alert is looked up once more
    around its last rated day (``MeteringStore.rated_span``): a meter that fell silent longer ago than the
    span (before alerts were set up) is quiet, not "never commissioned". Likewise while a register alert
    (negative consumption, meter exchange) is open the read starts at the read before its drop, so the drop is
    judged again every pass and recording the exchange resolves it however long ago it happened."""
    start = now - span
    for alert in drop_alerts:
        if "previous_at" in alert.facts:
            start = min(start, datetime.fromisoformat(alert.facts["previous_at"]) - timedelta(seconds=1))
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


# --- the schedule's judgement of one account ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AlertSources:
    """What the detectors read: the catalog, the raw readings, the rating run's rated days and running
    costs, and the accounts (the schedule visits them all; their billing settings give the bill day)."""

    catalog: CatalogStore
    readings: ReadingStore
    metering: MeteringStore
    accounts: AccountStore


@dataclass(slots=True)
class Tally:
    """What a scheduled pass counted while judging one account."""

    meters: int = 0
    daily_sites: int = 0


@dataclass(slots=True)
class _SiteDay:
    """A site on its daily pass: the day judged, its meters that evasion and phase sums compare, and their
    usage that day."""

    day: date
    zone: ZoneInfo
    meters: list[Meter] = field(default_factory=list)
    usage: dict[str, Decimal] = field(default_factory=dict)


@dataclass(slots=True)
class _Judged:
    """One meter of a scheduled pass: its rules, its site's clock and daily pass (None: not now), and what
    the reading thread read for it."""

    meter: Meter
    rules: MeterRules
    zone: ZoneInfo
    site_day: _SiteDay | None
    recent: list[RawReading] = field(default_factory=list)
    window: list[RatedDay] = field(default_factory=list)  # rated days of the evasion window
    history: list[RatedDay] = field(default_factory=list)  # the same weekday of the weeks before


def account_findings(
    account: str,
    book: AlertBook,
    now: datetime,
    rules: AlertRules,
    heartbeats: Sequence[Heartbeat],
    sources: AlertSources,
    interval: timedelta,
    tally: Tally,
    parallel_reads: int = 1,
) -> Iterator[Finding]:
    """Every finding of the account's scheduled judgement, meter by meter; ``book`` names the open alerts
    (a quiet meter's read starts before its gap). ``parallel_reads``: meters whose readings are read at once
    (DynamoDB's latency, not the detectors, bounds a large pass); at most twice as many meters' readings are
    held, so memory stays flat in the meter count."""
    sites = {s.id: s for s in catalog_service.all_of(account, Site, sources.catalog)}
    open_quiet = {
        a.subject.id: a
        for a in book.alerts
        if a.open and a.kind == "communication" and a.subject.kind == "meter"
    }
    open_drops: dict[str, list[Alert]] = {}
    for a in book.alerts:
        if a.open and a.kind in ("negative_consumption", "meter_exchange") and a.subject.kind == "meter":
            open_drops.setdefault(a.subject.id, []).append(a)
    # Collectors first: one finding each; a meter read by an offline collector gets none of its own.
    offline: set[str] = set()
    for finding in communication_findings((), heartbeats, now, rules.for_site("").communication):
        if finding.active:
            offline.add(finding.subject.id)
        yield finding
    yield from collector_warnings(heartbeats, now)  # what each collector's latest heartbeat warns of
    serving = {s.meter_id: h for h in latest_heartbeats(heartbeats).values() for s in h.meters}

    site_days: dict[str, _SiteDay | None] = {}
    meter_rules: dict[str, MeterRules] = {}  # per site, for meters without their own overrides

    def meters() -> Iterator[_Judged]:
        for meter in catalog_service.all_of(account, Meter, sources.catalog):
            site = sites.get(meter.site_id)
            if site is None:
                continue
            if meter.id in rules.meters:
                mine = rules.for_meter(meter.id, meter.site_id)
            else:
                mine = meter_rules.get(meter.site_id) or meter_rules.setdefault(
                    meter.site_id, rules.for_meter(meter.id, meter.site_id)
                )
            if meter.site_id not in site_days:
                day = daily_day(now, site.zone(), interval)
                site_days[meter.site_id] = None if day is None else _SiteDay(day, site.zone())
            yield _Judged(meter, mine, site.zone(), site_days[meter.site_id])

    def read(judged: _Judged) -> _Judged:
        """In a reading thread: the meter's recent readings and, on its site's daily pass, its rated days."""
        meter, mine = judged.meter, judged.rules
        span = lookback(mine, meter.interval_minutes)
        quiet = open_quiet.get(meter.id)
        judged.recent = recent_readings(
            sources.readings, sources.metering, account, meter, now, span, quiet, open_drops.get(meter.id, ())
        )
        if judged.site_day is not None:
            judged.window, judged.history = _daily_days(account, judged, sources.metering)
        return judged

    for judged in _prefetched(meters(), read, parallel_reads):
        meter, mine, recent = judged.meter, judged.rules, judged.recent
        tally.meters += 1
        collector = serving.get(meter.id)
        if collector is None or collector.collector_id not in offline:
            quiet = meter_communication(meter, recent, now, mine.communication, collector, judged.zone)
            if quiet is not None:
                yield quiet
        series = interval_series(recent, meter)
        stuck = flat_line(meter, series, mine.flat_line, now) if series else None
        if stuck is not None:
            yield stuck
        yield from register_findings(meter, recent, now, mine.registers, judged.zone)
        del recent, series
        if judged.site_day is not None:
            yield from _meter_day(judged, now)

    daily = {site_id: d for site_id, d in site_days.items() if d is not None}
    tally.daily_sites += len(daily)
    for site_id, site_day in sorted(daily.items()):
        site_rules = rules.for_site(site_id)
        end = local_midnight(site_day.day + timedelta(days=1), site_day.zone)
        start = local_midnight(site_day.day + timedelta(days=1) - _window_days(site_rules), site_day.zone)
        compared = _with_parents(account, site_day, sources.catalog)
        yield from energy_evasion(compared, site_day.usage, start, end, site_rules.energy_evasion, now)
        yield from phase_sum_mismatch(compared, site_day.usage, start, end, site_rules.phase_sum, now)
    if daily:
        yield from _customer_findings(account, now, rules, sites, sources, interval)


def _prefetched(
    meters: Iterator[_Judged], read: Callable[[_Judged], _Judged], parallel: int
) -> Iterator[_Judged]:
    """Each meter with what it is judged on, in order, with up to ``parallel`` meters' reads in flight ahead
    of the one judged."""
    if parallel <= 1:
        for judged in meters:
            yield read(judged)
        return
    with ThreadPoolExecutor(max_workers=parallel) as pool:
        ahead: deque[Future[_Judged]] = deque()
        for judged in meters:
            ahead.append(pool.submit(read, judged))
            if len(ahead) > parallel:
                yield ahead.popleft().result()
        while ahead:
            yield ahead.popleft().result()


def _window_days(rules: MeterRules) -> timedelta:
    """The evasion window in whole local days (rated days are whole days): 24 h is one day, 36 h two."""
    hours = rules.energy_evasion.window // timedelta(hours=1)
    return timedelta(days=max(1, -(-hours // 24)))


def _daily_days(
    account: str, judged: _Judged, metering: MeteringStore
) -> tuple[list[RatedDay], list[RatedDay]]:
    """A meter's rated days of its site's evasion window, and (when the judged day is rated) the same weekday
    of the weeks before: what its daily verdicts read."""
    assert judged.site_day is not None
    day = judged.site_day.day
    first = day + timedelta(days=1) - _window_days(judged.rules)
    window = list(metering.days(account, judged.meter.id, first, day + timedelta(days=1)))
    if not any(d.day == day for d in window):
        return window, []
    return window, baseline_days(metering, account, judged.meter.id, day, judged.rules.abnormal_usage)


def _meter_day(judged: _Judged, now: datetime) -> Iterator[Finding]:
    """A meter on its site's daily pass: its usage over the evasion window (kept for the site's verdicts)
    and its abnormal usage that day against the same weekday of the weeks before."""
    meter, site_day, window = judged.meter, judged.site_day, judged.window
    assert site_day is not None
    day = site_day.day
    first = day + timedelta(days=1) - _window_days(judged.rules)
    if _compared(meter):
        totals = [whole_day_usage(d, site_day.zone, meter) for d in window]
        if len(totals) == len(window) == (day - first).days + 1 and all(t is not None for t in totals):
            site_day.usage[meter.id] = sum((t for t in totals if t is not None), Decimal(0))
        if meter.kind != "main" or _labelled(meter):  # a plain main is read again if a sub names it
            site_day.meters.append(meter)  # (usage unknown: what it takes part in is not judged)
    judged_day = [d for d in window if d.day == day]
    if judged_day:
        finding = abnormal_usage(
            meter,
            rated_series([*judged_day, *judged.history]),
            site_day.zone,
            day,
            judged.rules.abnormal_usage,
            now,
        )
        if finding is not None:
            yield finding
    judged.window, judged.history = [], []  # memory stays flat in the meter count


def _labelled(meter: Meter) -> bool:
    return meter.labels.feed is not None and meter.labels.phase is not None


def _compared(meter: Meter) -> bool:
    """Whether evasion or phase sums may compare the meter (a main, a sub, a labelled feed and phase)."""
    return meter.kind in ("main", "sub") or _labelled(meter)


def _with_parents(account: str, site_day: _SiteDay, catalog: CatalogStore) -> list[Meter]:
    """The site's compared meters and the plain main meters their subs name: only a day's usage is kept of
    every main while the meters stream by, so memory stays flat in the number of meters."""
    listed = {m.id for m in site_day.meters}
    parents = sorted({m.parent_id for m in site_day.meters if m.parent_id is not None} - listed)
    meters = list(site_day.meters)
    for parent in parents:
        try:
            meters.append(catalog_service.get(account, Meter, parent, catalog).value)
        except NotFoundError:
            continue
    return meters


def _customer_findings(
    account: str,
    now: datetime,
    rules: AlertRules,
    sites: Mapping[str, Site],
    sources: AlertSources,
    interval: timedelta,
) -> Iterator[Finding]:
    """Estimated data and bill shock, per customer on its daily pass (its calendar's zone)."""
    settings = None
    judged: set[str] = set()
    for stored in all_items(account, "customer", sources.catalog):
        customer = Customer.model_validate(stored.body)
        assignments = tuple(
            entry.value
            for entry in catalog_service.assignments_of(account, sources.catalog, customer_id=customer.id)
        )
        if not assignments:
            continue
        meters: dict[str, Meter] = {}
        for meter_id in sorted({a.meter_id for a in assignments}):
            try:
                meters[meter_id] = catalog_service.get(account, Meter, meter_id, sources.catalog).value
            except NotFoundError:
                continue
        if len(meters) != len({a.meter_id for a in assignments}):
            continue
        settings = settings or settings_of(account, sources.accounts)
        calendar = customer_calendar(customer, assignments, meters, sites, settings)
        if calendar is None:
            continue
        day = daily_day(now, calendar.zone, interval)
        if day is None:
            continue
        period = period_containing(day, calendar.bill_day)
        period_end = local_midnight(period.end, calendar.zone)
        for meter_id, meter in meters.items():
            rule = rules.for_meter(meter_id, meter.site_id).estimated_data
            if meter_id in judged or now < period_end.astimezone(UTC) - rule.lead_time:
                continue
            if not assignments_for(assignments, meter_id, period.start, period.end):
                continue
            judged.add(meter_id)
            start = local_midnight(period.start, calendar.zone)
            end = local_midnight(min(day + timedelta(days=1), period.end), calendar.zone)
            days = sources.metering.days(
                account, meter_id, period.start, min(day + timedelta(days=1), period.end)
            )
            try:
                series = rated_interval_series(days, start, end, meter.interval_minutes, meter.unit)
            except ValueError:  # rated at another interval length: the bill run validates raw readings
                continue
            finding = estimated_data(meter, series, rule, now)
            if finding is not None:
                yield finding
        shock = rules.bill_shock.get(customer.id)
        running = sources.metering.running_cost(account, customer.id) if shock is not None else None
        if shock is not None and running is not None and running.currency == shock.currency:
            as_of = local_midnight(running.as_of, calendar.zone)
            finding = bill_shock(
                customer.id,
                list(meters.values()),
                running.cost,
                local_midnight(running.period_start, calendar.zone),
                local_midnight(running.period_end, calendar.zone),
                shock,
                as_of,
            )
            if finding is not None:
                yield replace(finding, observed_at=now)
