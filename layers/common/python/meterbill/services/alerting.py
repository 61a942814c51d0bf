"""The alert passes: detectors, the lifecycle and delivery wired together.

- ``step``: one lifecycle step of one account under its lease: load the book, publish what a crashed step
  left unsent, ``advance``, save the changed alerts with the new notifications as ``unsent``, publish each
  notification once, keep the ones that failed as ``unsent`` for the next step, release the lease.
- ``scheduled_pass`` (every 5 minutes): every account, every meter streamed one at a time (its recent
  readings read once: communication and collectors, flat line, registers as a backstop), and once per site
  per local day the daily detectors (evasion, phase sums, abnormal usage of the day, estimated data, bill
  shock). Reminders and group flushes happen in every step, findings or not.
- ``readings_arrived`` (the readings queue): the register detectors and the spike check on the meters a
  ``ReadingsArrived`` names.

Only findings that are active or that concern an open alert are kept (10,000 healthy meters make no
objects). Time comes in as ``now``; the renderer of messages comes in as ``render`` (``alerts.messages``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Final
from zoneinfo import ZoneInfo

from meterbill.alerts.communication import Heartbeat, communication_findings, meter_communication
from meterbill.alerts.energy import energy_evasion, phase_sum_mismatch
from meterbill.alerts.lifecycle import AlertBook, LifecycleRules, Notification, advance, fingerprint
from meterbill.alerts.model import Finding
from meterbill.alerts.ports import AlertMessage, AlertPublisher, AlertStore, ReadingsArrived
from meterbill.alerts.registers import register_findings
from meterbill.alerts.rules import AlertRules, MeterRules
from meterbill.alerts.silences import Silence
from meterbill.alerts.usage import abnormal_usage, bill_shock, estimated_data, flat_line
from meterbill.billing.periods import period_containing
from meterbill.domain import Customer, Meter, Site, assignments_for
from meterbill.errors import MeterbillError, NotFoundError, StorageUnavailableError
from meterbill.meterdata.rollups import rated_series as rated_interval_series
from meterbill.ports import AccountStore, CatalogStore, MeteringStore, ReadingStore
from meterbill.services import catalog as catalog_service
from meterbill.services.alert_inputs import (
    READ_SLACK,
    account_rules,
    baseline_days,
    daily_day,
    interval_series,
    local_hour_start,
    lookback,
    rated_series,
    recent_readings,
    whole_day_usage,
)
from meterbill.services.billing_settings import settings_of
from meterbill.services.common import all_items, require_aware
from meterbill.services.invoicing import customer_calendar
from meterbill.timeutil import local_midnight

Render = Callable[[Notification], AlertMessage]

LEASE_SECONDS: Final = 300  # longer than a pass over an account takes (the bench: ~10 s for 10,000 meters)
SCHEDULE_INTERVAL: Final = timedelta(minutes=5)  # the schedule's rate (infra); the daily window's width
_ACCOUNT_PAGE: Final = 100


class LeaseHeldError(StorageUnavailableError):
    """Another step holds the account's lease: retry later (the readings worker's message is redelivered)."""

    def __init__(self, account: str) -> None:
        super().__init__(f"account {account!r}: another alert step holds the lease; retry later")
        self.account = account


@dataclass(frozen=True, slots=True)
class AlertSources:
    """What the detectors read: the catalog, the raw readings, the rating run's rated days and running
    costs, and the accounts (the schedule visits them all; their billing settings give the bill day)."""

    catalog: CatalogStore
    readings: ReadingStore
    metering: MeteringStore
    accounts: AccountStore


@dataclass(slots=True)
class StepReport:
    """What one step did for an account. ``leased`` False: another step held the lease, nothing changed.
    ``findings``: those kept (active, or about an open alert); ``opened``/``updated``/``resolved``: alerts
    written; ``published``: notifications published now (``republished`` of them left by an earlier step);
    ``unsent``: notifications that could not be published (kept for the next step)."""

    account: str
    leased: bool = True
    findings: int = 0
    opened: int = 0
    updated: int = 0
    resolved: int = 0
    published: int = 0
    republished: int = 0
    unsent: int = 0


@dataclass(slots=True)
class PassReport:
    """A scheduled pass: one ``StepReport`` per account; ``meters`` judged; ``daily_sites`` judged on their
    daily pass; ``rule_errors`` (account → reason) whose stored rules no longer parse (defaults used);
    ``failures`` (account → reason) whose step failed (the other accounts were still judged)."""

    steps: list[StepReport] = field(default_factory=list)
    meters: int = 0
    daily_sites: int = 0
    rule_errors: dict[str, str] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)

    @property
    def published(self) -> int:
        return sum(s.published for s in self.steps)

    @property
    def busy(self) -> list[str]:
        """Accounts whose lease another step held (judged by the next pass)."""
        return [s.account for s in self.steps if not s.leased]


# --- one step under the lease ---------------------------------------------------------------------------


def step(
    account: str,
    findings: Iterable[Finding],
    now: datetime,
    store: AlertStore,
    publisher: AlertPublisher,
    render: Render,
    rules: LifecycleRules | None = None,
    silences: Sequence[Silence] = (),
    *,
    owner: str | None = None,
    lease_seconds: int = LEASE_SECONDS,
) -> StepReport:
    """One lifecycle step of ``account`` at ``now`` with ``findings``; see the module's docstring."""
    return _step(
        account,
        lambda _book: findings,
        now,
        store,
        publisher,
        render,
        rules or LifecycleRules(),
        silences,
        owner=owner or _owner(),
        lease_seconds=lease_seconds,
    )


def _owner() -> str:
    return f"alerts-{uuid.uuid4().hex}"


def _step(
    account: str,
    judge: Callable[[AlertBook], Iterable[Finding]],
    now: datetime,
    store: AlertStore,
    publisher: AlertPublisher,
    render: Render,
    rules: LifecycleRules,
    silences: Sequence[Silence],
    *,
    owner: str,
    lease_seconds: int = LEASE_SECONDS,
) -> StepReport:
    """``judge`` runs after the book is loaded, under the lease (it may read the open alerts)."""
    require_aware(now, "now")
    report = StepReport(account)
    if not store.lease(account, owner, now, seconds=lease_seconds):
        report.leased = False
        return report
    try:
        loaded = store.load_book(account)
        leftover = _publish(loaded.unsent, publisher, render)
        report.republished = len(loaded.unsent) - len(leftover)
        book = _with_held_alerts(account, loaded.book, store)
        open_fps = {a.fingerprint for a in book.alerts if a.open}
        kept = [f for f in judge(book) if f.active or fingerprint(account, f.kind, f.subject) in open_fps]
        report.findings = len(kept)
        after, notifications = advance(book, kept, now, rules, silences)
        before = {a.id: a for a in book.alerts}
        changed = [a for a in after.alerts if before.get(a.id) != a]
        for alert in changed:
            previous = before.get(alert.id)
            if previous is None:
                report.opened += 1
            elif previous.open and not alert.open:
                report.resolved += 1
            else:
                report.updated += 1
        if changed or notifications or after.outbox != book.outbox or loaded.unsent:
            waiting = (*leftover, *notifications)
            store.save_book(account, after, changed, waiting)
            failed = _publish(notifications, publisher, render)
            remaining = (*leftover, *failed)
            if remaining != waiting:
                store.set_unsent(account, remaining)
            report.published = report.republished + len(notifications) - len(failed)
            report.unsent = len(remaining)
        else:
            report.published = report.republished
    finally:
        store.release(account, owner)
    return report


def _with_held_alerts(account: str, book: AlertBook, store: AlertStore) -> AlertBook:
    """The book with the alerts its outbox still holds notices of: ``load_book`` loads only open alerts, but
    a resolve notice waiting for ``group_wait`` belongs to an alert that is resolved by now, and the flush
    sends the alert as it is."""
    known = {a.id for a in book.alerts}
    missing = sorted({h.alert_id for h in book.outbox} - known)
    if not missing:
        return book
    held = []
    for alert_id in missing:
        try:
            held.append(store.get_alert(account, alert_id))
        except NotFoundError:  # gone (never expected): drop its notice rather than fail every step
            book = replace(book, outbox=tuple(h for h in book.outbox if h.alert_id != alert_id))
    return replace(book, alerts=(*book.alerts, *held))


def _publish(
    notifications: Sequence[Notification], publisher: AlertPublisher, render: Render
) -> tuple[Notification, ...]:
    """Publishes each once; the ones SNS could not take (kept unsent for the next step)."""
    failed = []
    for notification in notifications:
        try:
            publisher.publish(render(notification))
        except StorageUnavailableError:
            failed.append(notification)
    return tuple(failed)


# --- the schedule -----------------------------------------------------------------------------------------


def scheduled_pass(
    now: datetime,
    sources: AlertSources,
    store: AlertStore,
    publisher: AlertPublisher,
    render: Render,
    *,
    owner: str | None = None,
    interval: timedelta = SCHEDULE_INTERVAL,
) -> PassReport:
    """Every account at ``now``: every detector on its schedule, reminders and group flushes."""
    require_aware(now, "now")
    owner = owner or _owner()
    report = PassReport()
    cursor: str | None = None
    while True:
        page = sources.accounts.list(limit=_ACCOUNT_PAGE, cursor=cursor)
        for record in page.items:
            account = record.account_id
            try:
                report.steps.append(
                    _account_pass(
                        account,
                        now,
                        sources,
                        store,
                        publisher,
                        render,
                        report,
                        owner=owner,
                        interval=interval,
                    )
                )
            except MeterbillError as error:  # this account only: the others are still judged
                report.failures[account] = str(error)
        if page.cursor is None:
            return report
        cursor = page.cursor


def _account_pass(
    account: str,
    now: datetime,
    sources: AlertSources,
    store: AlertStore,
    publisher: AlertPublisher,
    render: Render,
    report: PassReport,
    *,
    owner: str,
    interval: timedelta,
) -> StepReport:
    document, _etag = store.get_rules(account)
    rules, error = account_rules(document)
    if error is not None:
        report.rule_errors[account] = error
    silences = store.silences(account, ending_after=now)
    heartbeats = [h.heartbeat for h in store.heartbeats(account)]

    def judge(book: AlertBook) -> Iterator[Finding]:
        return _account_findings(account, book, now, rules, heartbeats, sources, interval, report)

    return _step(account, judge, now, store, publisher, render, rules.lifecycle, silences, owner=owner)


@dataclass(slots=True)
class _SiteDay:
    """A site on its daily pass: the day judged, its meters that evasion and phase sums compare, and their
    usage that day."""

    day: date
    zone: ZoneInfo
    meters: list[Meter] = field(default_factory=list)
    usage: dict[str, Decimal] = field(default_factory=dict)


def _account_findings(
    account: str,
    book: AlertBook,
    now: datetime,
    rules: AlertRules,
    heartbeats: Sequence[Heartbeat],
    sources: AlertSources,
    interval: timedelta,
    report: PassReport,
) -> Iterator[Finding]:
    sites = {s.id: s for s in catalog_service.all_of(account, Site, sources.catalog)}
    open_quiet = {
        a.subject.id: a
        for a in book.alerts
        if a.open and a.kind == "communication" and a.subject.kind == "meter"
    }
    # Collectors first: one finding each; a meter read by an offline collector gets none of its own.
    offline: set[str] = set()
    for finding in communication_findings((), heartbeats, now, rules.for_site("").communication):
        if finding.active:
            offline.add(finding.subject.id)
        yield finding
    latest: dict[str, Heartbeat] = {}
    for heartbeat in heartbeats:
        known = latest.get(heartbeat.collector_id)
        if known is None or heartbeat.received_at > known.received_at:
            latest[heartbeat.collector_id] = heartbeat
    serving = {s.meter_id: h for h in latest.values() for s in h.meters}

    site_days: dict[str, _SiteDay | None] = {}
    meter_rules: dict[str, MeterRules] = {}  # per site, for meters without their own overrides
    for meter in catalog_service.all_of(account, Meter, sources.catalog):
        site = sites.get(meter.site_id)
        if site is None:
            continue
        zone = site.zone()
        if meter.id in rules.meters:
            mine = rules.for_meter(meter.id, meter.site_id)
        else:
            mine = meter_rules.get(meter.site_id) or meter_rules.setdefault(
                meter.site_id, rules.for_meter(meter.id, meter.site_id)
            )
        report.meters += 1
        recent = recent_readings(
            sources.readings,
            sources.metering,
            account,
            meter,
            now,
            lookback(mine, meter.interval_minutes),
            open_quiet.get(meter.id),
        )
        collector = serving.get(meter.id)
        if collector is None or collector.collector_id not in offline:
            quiet = meter_communication(meter, recent, now, mine.communication, collector)
            if quiet is not None:
                yield quiet
        series = interval_series(recent, meter)
        stuck = flat_line(meter, series, mine.flat_line, now) if series else None
        if stuck is not None:
            yield stuck
        yield from register_findings(meter, recent, now, mine.registers)
        del recent, series
        if meter.site_id not in site_days:
            day = daily_day(now, zone, interval)
            site_days[meter.site_id] = None if day is None else _SiteDay(day, zone)
        site_day = site_days[meter.site_id]
        if site_day is not None:
            yield from _meter_day(account, meter, site_day, mine, now, sources.metering)

    daily = {site_id: d for site_id, d in site_days.items() if d is not None}
    report.daily_sites += len(daily)
    for site_id, site_day in sorted(daily.items()):
        site_rules = rules.for_site(site_id)
        end = local_midnight(site_day.day + timedelta(days=1), site_day.zone)
        start = local_midnight(site_day.day + timedelta(days=1) - _window_days(site_rules), site_day.zone)
        compared = _with_parents(account, site_day, sources.catalog)
        yield from energy_evasion(compared, site_day.usage, start, end, site_rules.energy_evasion, now)
        yield from phase_sum_mismatch(compared, site_day.usage, start, end, site_rules.phase_sum, now)
    if daily:
        yield from _customer_findings(account, now, rules, sites, sources, interval)


def _window_days(rules: MeterRules) -> timedelta:
    """The evasion window in whole local days (rated days are whole days): 24 h is one day, 36 h two."""
    hours = rules.energy_evasion.window // timedelta(hours=1)
    return timedelta(days=max(1, -(-hours // 24)))


def _meter_day(
    account: str,
    meter: Meter,
    site_day: _SiteDay,
    rules: MeterRules,
    now: datetime,
    metering: MeteringStore,
) -> Iterator[Finding]:
    """A meter on its site's daily pass: its usage over the evasion window (kept for the site's verdicts)
    and its abnormal usage that day against the same weekday of the weeks before."""
    day = site_day.day
    first = day + timedelta(days=1) - _window_days(rules)
    window = metering.days(account, meter.id, first, day + timedelta(days=1))
    if _compared(meter):
        totals = [whole_day_usage(d, site_day.zone, meter) for d in window]
        if len(totals) == len(window) == (day - first).days + 1 and all(t is not None for t in totals):
            site_day.usage[meter.id] = sum((t for t in totals if t is not None), Decimal(0))
        if meter.kind != "main" or _labelled(meter):  # a plain main is read again if a sub names it
            site_day.meters.append(meter)  # (usage unknown: what it takes part in is not judged)
    judged = [d for d in window if d.day == day]
    if judged:
        history = baseline_days(metering, account, meter.id, day, rules.abnormal_usage)
        finding = abnormal_usage(
            meter, rated_series([*judged, *history]), site_day.zone, day, rules.abnormal_usage, now
        )
        if finding is not None:
            yield finding


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


# --- new readings -----------------------------------------------------------------------------------------


def readings_arrived(
    item: ReadingsArrived,
    now: datetime,
    sources: AlertSources,
    store: AlertStore,
    publisher: AlertPublisher,
    render: Render,
    *,
    owner: str | None = None,
) -> StepReport:
    """The register detectors and the spike check on the named meters' new readings, then a step.
    ``LeaseHeldError`` (retryable) when another step holds the account's lease."""
    require_aware(now, "now")
    account = item.account
    document, _etag = store.get_rules(account)
    rules, _error = account_rules(document)
    silences = store.silences(account, ending_after=now)

    def judge(_book: AlertBook) -> Iterator[Finding]:
        sites: dict[str, Site] = {}
        for meter_id in sorted(set(item.meter_ids)):
            try:
                meter = catalog_service.get(account, Meter, meter_id, sources.catalog).value
                if meter.site_id not in sites:
                    sites[meter.site_id] = catalog_service.get(
                        account, Site, meter.site_id, sources.catalog
                    ).value
            except NotFoundError:  # deleted since the readings were stored: nothing to judge
                continue
            yield from _arrival_findings(
                account, meter, sites[meter.site_id].zone(), item, now, rules, sources
            )

    report = _step(
        account, judge, now, store, publisher, render, rules.lifecycle, silences, owner=owner or _owner()
    )
    if not report.leased:
        raise LeaseHeldError(account)
    return report


def _arrival_findings(
    account: str,
    meter: Meter,
    zone: ZoneInfo,
    item: ReadingsArrived,
    now: datetime,
    rules: AlertRules,
    sources: AlertSources,
) -> Iterator[Finding]:
    mine = rules.for_meter(meter.id, meter.site_id)
    length = timedelta(minutes=meter.interval_minutes)
    # One read: the touched local hours whole (for the spike check) and an interval before the earliest.
    start = min(item.earliest - length, local_hour_start(item.earliest, zone))
    end = local_hour_start(item.latest, zone) + timedelta(hours=1) + length
    reads = list(sources.readings.between(account, meter.id, start, max(end, item.latest + READ_SLACK)))
    registers = [r for r in reads if r.type == "register"]
    if registers and not any(r.timestamp < item.earliest for r in registers):
        # The read before the earliest new one, however long ago (register reads may be daily).
        before = list(sources.readings.between(account, meter.id, item.earliest - timedelta(days=1), start))
        registers = [r for r in before if r.type == "register"][-1:] + registers
    yield from register_findings(meter, registers, now, mine.registers)
    # The spike check: the touched hours against the same hour of the same weekday 1..weeks weeks before.
    # Only an active verdict is passed on: the daily pass judges the whole day and resolves it.
    series = interval_series(reads, meter)
    touched = sorted({s.astimezone(zone).date() for s in series})
    for day in touched:
        history = rated_series(baseline_days(sources.metering, account, meter.id, day, mine.abnormal_usage))
        if not history:
            continue
        today = {s: v for s, v in series.items() if s.astimezone(zone).date() == day}
        finding = abnormal_usage(meter, {**history, **today}, zone, day, mine.abnormal_usage, now)
        if finding is not None and finding.active:
            yield finding
