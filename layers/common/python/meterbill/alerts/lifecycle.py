"""The alert lifecycle: findings in, alerts and notifications out (what Alertmanager and PagerDuty taught).

``advance(book, findings, now, rules, silences)`` is one step of a pure state machine over one account's
``AlertBook``; the service stores the book it returns and publishes the notifications. Decisions:

- An alert's fingerprint is a hash of (account, kind, subject kind, subject id); while an alert with that
  fingerprint is open (pending or firing) every finding updates it (last seen, severity, summary, facts). An
  active finding with no open alert opens a new one whose id is the fingerprint and its opening moment, so a
  resolved alert that recurs is a NEW alert.
- ``pending`` until the condition has held for its kind's ``for`` duration (counted from the first active
  finding's ``observed_at`` to ``now``), then ``firing``. A pending alert whose condition clears is resolved
  silently: nobody was told it existed, so nobody is told it ended (it stays visible with its history).
- Notifications: one ``firing`` when a firing alert is not muted and nobody was told yet (an alert that fired
  while muted is announced when the mute ends, if it still fires); one ``resolved`` for every alert whose
  firing was announced (also when it is muted by then: whoever was told it fired hears it cleared); a
  ``reminder`` every ``repeat_interval`` since the last notice while it fires, unless it is muted or
  acknowledged (a person has it in hand; the resolve still goes out).
- Inhibition: an alert whose finding ``depends_on`` a meter or collector that has an open (pending or firing)
  ``communication`` or ``collector_offline`` alert is inhibited. Pending counts too: the communication
  detector debounces already, and an evasion verdict on a quiet meter's data is false from the first
  minute. When the source resolves, the alert is released (and announced then, if it still fires and was
  never announced).
- Silences (``alerts.silences``) mute matching alerts between their bounds; expiry needs no action.
- Grouping: notices are held in the book's outbox per site; once the site's oldest held notice is
  ``group_wait`` old, all of that site's held notices go out as ONE ``Notification``. Call ``advance`` with no
  findings at ``book.next_flush_at()`` (or on the next schedule) to send what waits. A firing notice still
  held when its alert resolves is withdrawn with the resolve (nobody is paged for what already cleared).

All times are timezone-aware; the history keeps the last ``HISTORY_LIMIT`` state changes of an alert.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Final, Literal

from meterbill.alerts.model import SEVERITIES, AlertKind, Finding, Severity, Subject
from meterbill.alerts.silences import Silence
from meterbill.errors import InvalidInputError, InvalidStateError, NotFoundError

AlertState = Literal["pending", "firing", "resolved"]
Reason = Literal["firing", "resolved", "reminder"]
HistoryEvent = Literal[
    "pending", "firing", "resolved", "acknowledged", "inhibited", "released", "silenced", "unsilenced"
]

HISTORY_LIMIT: Final = 20
# Kinds whose open alerts on a meter or collector inhibit the alerts that depend on its data.
SOURCE_KINDS: Final[frozenset[AlertKind]] = frozenset({"communication", "collector_offline"})
# One late reading must not page anyone: communication waits a little beyond the detector's own debounce.
DEFAULT_FOR: Final[Mapping[AlertKind, timedelta]] = {
    "communication": timedelta(minutes=15),
    "collector_offline": timedelta(minutes=15),
}


@dataclass(frozen=True, slots=True)
class LifecycleRules:
    """Per account: how long a condition must hold per kind (``for``; absent kinds fire at once), how often a
    firing alert is repeated, and how long a site's notices wait to be grouped."""

    for_by_kind: Mapping[AlertKind, timedelta] = field(default_factory=lambda: dict(DEFAULT_FOR))
    repeat_interval: timedelta = timedelta(hours=4)
    group_wait: timedelta = timedelta(seconds=30)

    def __post_init__(self) -> None:
        for kind, duration in self.for_by_kind.items():
            if duration < timedelta(0):
                raise InvalidInputError(f"for_by_kind.{kind}", "must not be negative")
        if self.repeat_interval <= timedelta(0):
            raise InvalidInputError("repeat_interval", "must be positive")
        if self.group_wait < timedelta(0):
            raise InvalidInputError("group_wait", "must not be negative")

    def for_duration(self, kind: AlertKind) -> timedelta:
        return self.for_by_kind.get(kind, timedelta(0))


@dataclass(frozen=True, slots=True)
class StateChange:
    at: datetime
    event: HistoryEvent
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Alert:
    id: str
    fingerprint: str
    account_id: str
    kind: AlertKind
    subject: Subject
    state: AlertState
    severity: Severity
    summary: str
    facts: Mapping[str, str]
    depends_on: tuple[Subject, ...]
    first_seen: datetime  # the opening finding's observed_at: when the condition was first seen
    last_seen: datetime  # the latest finding's observed_at
    active_since: datetime | None  # while the condition holds: since when (for ``for``)
    fired_at: datetime | None = None
    resolved_at: datetime | None = None
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    inhibited: bool = False
    inhibited_by: tuple[str, ...] = ()  # ids of the source alerts
    silenced: bool = False
    silenced_by: tuple[str, ...] = ()  # ids of the silences
    announced: bool = False  # a firing notification was raised for it
    last_notified_at: datetime | None = None
    history: tuple[StateChange, ...] = ()

    @property
    def open(self) -> bool:
        return self.state != "resolved"

    @property
    def muted(self) -> bool:
        return self.inhibited or self.silenced

    @property
    def site_id(self) -> str | None:
        return self.subject.site_id


@dataclass(frozen=True, slots=True)
class NotificationItem:
    reason: Reason
    alert: Alert  # as it was when the notification went out


@dataclass(frozen=True, slots=True)
class Notification:
    """One message to publish: one site's notices raised within ``group_wait``."""

    account_id: str
    site_id: str | None
    at: datetime
    items: tuple[NotificationItem, ...]

    @property
    def severity(self) -> Severity:
        return max((i.alert.severity for i in self.items), key=SEVERITIES.index)

    @property
    def title(self) -> str:
        counts: dict[str, int] = {}
        for item in self.items:
            counts[item.reason] = counts.get(item.reason, 0) + 1
        where = f"site {self.site_id}" if self.site_id else "no site"
        parts = ", ".join(f"{n} {reason}" for reason, n in counts.items())
        return f"[{self.severity}] {len(self.items)} alert(s) at {where}: {parts}"


@dataclass(frozen=True, slots=True)
class Held:
    """A notice waiting in the outbox for its site's ``group_wait``."""

    alert_id: str
    site_id: str | None
    reason: Reason
    raised_at: datetime


@dataclass(frozen=True, slots=True)
class AlertBook:
    """One account's alerts (open and resolved ones the caller kept) and the notices waiting to be grouped."""

    account_id: str
    alerts: tuple[Alert, ...] = ()
    outbox: tuple[Held, ...] = ()

    def get(self, alert_id: str) -> Alert:
        for alert in self.alerts:
            if alert.id == alert_id:
                return alert
        raise NotFoundError("alert", alert_id)

    def open_alerts(self) -> tuple[Alert, ...]:
        return tuple(a for a in self.alerts if a.open)

    def next_flush_at(self, rules: LifecycleRules) -> datetime | None:
        """When the oldest held notice is due (``None`` when nothing waits)."""
        if not self.outbox:
            return None
        return min(h.raised_at for h in self.outbox) + rules.group_wait


def fingerprint(account_id: str, kind: AlertKind, subject: Subject) -> str:
    key = "\x1f".join((account_id, kind, subject.kind, subject.id))
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


def _alert_id(fp: str, opened: datetime) -> str:
    return f"{fp}-{opened.astimezone(UTC):%Y%m%dT%H%M%SZ}"


def _aware(name: str, moment: datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidInputError(name, "must carry a time zone offset")


def _log(alert: Alert, at: datetime, event: HistoryEvent, detail: str = "") -> Alert:
    history = (*alert.history, StateChange(at, event, detail))[-HISTORY_LIMIT:]
    return replace(alert, history=history)


def acknowledge(book: AlertBook, alert_id: str, by: str, now: datetime) -> AlertBook:
    """A person takes the alert in hand: no more reminders (the resolve is still announced)."""
    _aware("now", now)
    if not by.strip():
        raise InvalidInputError("by", "must name who acknowledges")
    alert = book.get(alert_id)
    if not alert.open:
        raise InvalidStateError("alert", alert_id, alert.state, "acknowledge")
    if alert.acknowledged_at is not None:
        return book
    acked = _log(replace(alert, acknowledged_at=now, acknowledged_by=by), now, "acknowledged", by)
    return replace(book, alerts=tuple(acked if a.id == alert_id else a for a in book.alerts))


def advance(
    book: AlertBook,
    findings: Iterable[Finding],
    now: datetime,
    rules: LifecycleRules | None = None,
    silences: Sequence[Silence] = (),
) -> tuple[AlertBook, tuple[Notification, ...]]:
    """One step at ``now``: apply the findings, promote, mute, raise and flush notifications."""
    _aware("now", now)
    rules = rules or LifecycleRules()
    alerts: dict[str, Alert] = {a.id: a for a in book.alerts}
    open_by_fp: dict[str, str] = {a.fingerprint: a.id for a in book.alerts if a.open}
    raised: list[Held] = []

    def hold(alert: Alert, reason: Reason) -> None:
        raised.append(Held(alert.id, alert.site_id, reason, now))

    # 1. Findings, oldest first: open, update, resolve.
    for finding in sorted(findings, key=lambda f: f.observed_at):
        _aware("observed_at", finding.observed_at)
        fp = fingerprint(book.account_id, finding.kind, finding.subject)
        current = alerts.get(open_by_fp.get(fp, ""))
        if current is None:
            if not finding.active:
                continue  # nothing open to resolve
            opened = Alert(
                id=_alert_id(fp, finding.observed_at),
                fingerprint=fp,
                account_id=book.account_id,
                kind=finding.kind,
                subject=finding.subject,
                state="pending",
                severity=finding.severity,
                summary=finding.summary,
                facts=dict(finding.facts),
                depends_on=finding.depends_on,
                first_seen=finding.observed_at,
                last_seen=finding.observed_at,
                active_since=finding.observed_at,
            )
            alerts[opened.id] = _log(opened, now, "pending", finding.summary)
            open_by_fp[fp] = opened.id
            continue
        updated = replace(
            current,
            severity=finding.severity,
            summary=finding.summary,
            facts=dict(finding.facts),
            depends_on=finding.depends_on,
            last_seen=max(current.last_seen, finding.observed_at),
        )
        if finding.active:
            if updated.active_since is None:
                updated = replace(updated, active_since=finding.observed_at)
        else:
            updated = _log(
                replace(updated, state="resolved", resolved_at=now, active_since=None),
                now,
                "resolved",
                finding.summary if current.state == "firing" else "cleared while pending",
            )
            del open_by_fp[fp]
            if current.announced:
                hold(updated, "resolved")
        alerts[updated.id] = updated

    # 2. Promotion: pending for long enough -> firing.
    for alert in list(alerts.values()):
        due = alert.active_since is not None and now - alert.active_since >= rules.for_duration(alert.kind)
        if alert.state == "pending" and due:
            alerts[alert.id] = _log(replace(alert, state="firing", fired_at=now), now, "firing")

    # 3. Mutes: inhibition by open source alerts, silences.
    sources: dict[tuple[str, str], list[str]] = {}
    for alert in alerts.values():
        if alert.open and alert.kind in SOURCE_KINDS:
            sources.setdefault((alert.subject.kind, alert.subject.id), []).append(alert.id)
    for alert in list(alerts.values()):
        if not alert.open:
            continue
        by = tuple(
            sorted(
                {s for dep in alert.depends_on for s in sources.get((dep.kind, dep.id), []) if s != alert.id}
            )
        )
        silenced_by = tuple(s.id for s in silences if s.mutes(alert.kind, alert.subject, alert.severity, now))
        muted = alert
        if bool(by) != alert.inhibited:
            muted = _log(muted, now, "inhibited" if by else "released", ", ".join(by))
        if bool(silenced_by) != alert.silenced:
            muted = _log(muted, now, "silenced" if silenced_by else "unsilenced", ", ".join(silenced_by))
        alerts[alert.id] = replace(
            muted, inhibited=bool(by), inhibited_by=by, silenced=bool(silenced_by), silenced_by=silenced_by
        )

    # 4. Firing notices and reminders.
    for alert in list(alerts.values()):
        if alert.state != "firing" or alert.muted:
            continue
        if not alert.announced:
            hold(alert, "firing")
            alerts[alert.id] = replace(alert, announced=True, last_notified_at=now)
        elif (
            alert.acknowledged_at is None
            and alert.last_notified_at is not None
            and now - alert.last_notified_at >= rules.repeat_interval
        ):
            hold(alert, "reminder")
            alerts[alert.id] = replace(alert, last_notified_at=now)

    # 5. Outbox: a firing notice still held when its alert resolves is withdrawn with the resolve.
    outbox = list(book.outbox)
    for notice in raised:
        withdrawn = [h for h in outbox if h.alert_id == notice.alert_id and h.reason == "firing"]
        if notice.reason == "resolved" and withdrawn:
            outbox = [h for h in outbox if h not in withdrawn]
        else:
            outbox.append(notice)

    # 6. Flush every site whose oldest held notice waited group_wait.
    by_site: dict[str | None, list[Held]] = {}
    for notice in outbox:
        by_site.setdefault(notice.site_id, []).append(notice)
    notifications: list[Notification] = []
    kept: list[Held] = []
    for site_id, held in by_site.items():
        if now - min(h.raised_at for h in held) < rules.group_wait:
            kept.extend(held)
            continue
        items = tuple(
            NotificationItem(h.reason, alerts[h.alert_id])
            for h in sorted(held, key=lambda h: h.raised_at)  # stable: in the order raised
        )
        notifications.append(Notification(book.account_id, site_id, now, items))
    notifications.sort(key=lambda n: n.site_id or "")

    ordered = tuple(sorted(alerts.values(), key=lambda a: (a.first_seen, a.id)))
    return AlertBook(book.account_id, ordered, tuple(kept)), tuple(notifications)
