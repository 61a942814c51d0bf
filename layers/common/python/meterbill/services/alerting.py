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
objects). Time comes in as ``now``; the renderer of messages comes in as ``render`` (``alerts.messages``),
told each notification's site's clock (the passes look the site up; ``step`` alone, without a catalog, and a
notification without a site or whose site is gone, give None: UTC).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Final, Protocol
from zoneinfo import ZoneInfo

from meterbill.alerts.lifecycle import AlertBook, LifecycleRules, Notification, advance, fingerprint
from meterbill.alerts.model import Finding
from meterbill.alerts.ports import AlertMessage, AlertPublisher, AlertStore, ReadingsArrived
from meterbill.alerts.silences import Silence
from meterbill.domain import Site
from meterbill.errors import MeterbillError, NotFoundError, StorageUnavailableError
from meterbill.ports import CatalogStore
from meterbill.services import catalog as catalog_service
from meterbill.services.alert_arrivals import arrival_findings
from meterbill.services.alert_inputs import (
    AlertSources,
    Tally,
    account_findings,
    account_rules,
)
from meterbill.services.common import require_aware

__all__ = [
    "AlertSources",
    "LeaseHeldError",
    "PassReport",
    "Render",
    "StepReport",
    "readings_arrived",
    "scheduled_pass",
    "step",
]


class Render(Protocol):
    """Renders a notification as its message, its times on ``zone`` (the site's clock; None: UTC)."""

    def __call__(self, notification: Notification, zone: ZoneInfo | None = None) -> AlertMessage: ...


ZoneOf = Callable[[str | None], ZoneInfo | None]  # a site id (None: no site) -> its clock (None: unknown)

LEASE_SECONDS: Final = 300  # longer than a pass over an account takes (the bench: ~10 s for 10,000 meters)
SCHEDULE_INTERVAL: Final = timedelta(minutes=5)  # the schedule's rate (infra); the daily window's width
_ACCOUNT_PAGE: Final = 100
# Meters whose reads are in flight at once: a pass over 10,000 meters is 10,000 Queries (60,000 on the daily
# pass, with the rated days), so DynamoDB's ~5 ms latency, not the detectors (~0.3 ms a meter), bounds it
# (bench/alerts.py --latency-ms 5: the daily pass 42.7 s with 8, 26.6 s with 16). The client's connection
# pool (adapters/dynamodb/connection.py, MAX_POOL_CONNECTIONS) is larger than this.
PARALLEL_READS: Final = 16


class LeaseHeldError(StorageUnavailableError):
    """Another step holds the account's lease: retry later (the readings worker's message is redelivered)."""

    def __init__(self, account: str) -> None:
        super().__init__(f"account {account!r}: another alert step holds the lease; retry later")
        self.account = account


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
        _no_clocks,
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
    zone_of: ZoneOf,
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
        leftover = _publish(loaded.unsent, publisher, render, zone_of)
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
            failed = _publish(notifications, publisher, render, zone_of)
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


def _no_clocks(_site_id: str | None) -> ZoneInfo | None:
    return None


def _site_clocks(account: str, catalog: CatalogStore) -> ZoneOf:
    """The account's site id -> its clock, each site read once, when a notification first needs it."""
    known: dict[str, ZoneInfo | None] = {}

    def zone_of(site_id: str | None) -> ZoneInfo | None:
        if site_id is None:
            return None
        if site_id not in known:
            try:
                known[site_id] = catalog_service.get(account, Site, site_id, catalog).value.zone()
            except NotFoundError:  # deleted since: its alerts still go out, in UTC
                known[site_id] = None
        return known[site_id]

    return zone_of


def _publish(
    notifications: Sequence[Notification], publisher: AlertPublisher, render: Render, zone_of: ZoneOf
) -> tuple[Notification, ...]:
    """Publishes each once, on its site's clock; the ones SNS could not take (kept unsent for the next
    step)."""
    failed = []
    for notification in notifications:
        try:
            publisher.publish(render(notification, zone_of(notification.site_id)))
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
    parallel_reads: int = PARALLEL_READS,
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
                        parallel_reads=parallel_reads,
                    )
                )
            except (MeterbillError, ValueError) as error:  # this account only (a catalog item that no
                # longer validates, a store failing): the other accounts are still judged
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
    parallel_reads: int,
) -> StepReport:
    document, _etag = store.get_rules(account)
    rules, error = account_rules(document)
    if error is not None:
        report.rule_errors[account] = error
    silences = store.silences(account, ending_after=now)
    heartbeats = [h.heartbeat for h in store.heartbeats(account)]
    tally = Tally()

    def judge(book: AlertBook) -> Iterator[Finding]:
        return account_findings(
            account, book, now, rules, heartbeats, sources, interval, tally, parallel_reads
        )

    clocks = _site_clocks(account, sources.catalog)
    stepped = _step(
        account, judge, now, store, publisher, render, rules.lifecycle, silences, clocks, owner=owner
    )
    report.meters += tally.meters
    report.daily_sites += tally.daily_sites
    return stepped


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
        return arrival_findings(item, now, rules, sources)

    clocks = _site_clocks(account, sources.catalog)
    report = _step(
        account,
        judge,
        now,
        store,
        publisher,
        render,
        rules.lifecycle,
        silences,
        clocks,
        owner=owner or _owner(),
    )
    if not report.leased:
        raise LeaseHeldError(account)
    return report
