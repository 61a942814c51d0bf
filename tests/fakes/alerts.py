"""The alert ports in memory: the store (alerts, book, rules, silences, heartbeats, subscriptions), the SNS
publisher and subscriptions, and the readings queue. Tests assert on their state (``store.alerts``,
``publisher.messages``, ``subscriptions.policies``, ``queue.items``)."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from meterbill.alerts.lifecycle import Alert, AlertBook, Held, Notification, StateChange
from meterbill.alerts.ports import (
    AlertFilter,
    AlertMessage,
    AlertPublisher,
    AlertStore,
    AlertSubscriptions,
    AlertWorkQueue,
    CollectorHeartbeat,
    LoadedBook,
    ReadingsArrived,
    SubscriptionRecord,
    SubscriptionStatus,
)
from meterbill.alerts.silences import Silence
from meterbill.errors import (
    InvalidInputError,
    InvalidStateError,
    NotFoundError,
    PreconditionFailedError,
    StorageUnavailableError,
)
from meterbill.ports import Page

# The attributes only ``acknowledge`` writes: ``save_book`` keeps the stored ones, as the adapter does.
_ACK_FIELDS = ("acknowledged_at", "acknowledged_by")


class FakeAlertStore(AlertStore):
    """``alerts[(account, alert_id)]``, ``outbox[account]``, ``unsent[account]``, ``rules[account]``
    (document, etag), ``silence_items[(account, id)]``, ``heartbeat_items[(account, collector)]``,
    ``subscription_items[(account, id)]``, ``leases[account]`` (owner, until). One lock makes each call
    atomic. ``saves`` counts ``save_book`` calls."""

    def __init__(self) -> None:
        self.alerts: dict[tuple[str, str], Alert] = {}
        self.outbox: dict[str, tuple[Held, ...]] = {}
        self.unsent: dict[str, tuple[Notification, ...]] = {}
        self.rules: dict[str, tuple[Mapping[str, Any], str]] = {}
        self.silence_items: dict[tuple[str, str], Silence] = {}
        self.heartbeat_items: dict[tuple[str, str], CollectorHeartbeat] = {}
        self.subscription_items: dict[tuple[str, str], SubscriptionRecord] = {}
        self.leases: dict[str, tuple[str, datetime]] = {}
        self.saves = 0
        self._etags = 0
        self._lock = threading.Lock()

    # --- the lifecycle's state ---------
    def lease(self, account: str, owner: str, now: datetime, *, seconds: int) -> bool:
        with self._lock:
            held = self.leases.get(account)
            if held is not None and held[0] != owner and held[1] > now:
                return False
            self.leases[account] = (owner, now + timedelta(seconds=seconds))
            return True

    def release(self, account: str, owner: str) -> None:
        with self._lock:
            if self.leases.get(account, ("", None))[0] == owner:
                del self.leases[account]

    def load_book(self, account: str) -> LoadedBook:
        with self._lock:
            mine = {alert_id: a for (acc, alert_id), a in self.alerts.items() if acc == account}
            outbox = self.outbox.get(account, ())
            # The open alerts, and the resolved ones a held notice still names (the flush needs them); a
            # notice whose alert was never stored is dropped, as the adapter does.
            named = {h.alert_id for h in outbox}
            chosen = sorted(
                (a for a in mine.values() if a.open or a.id in named), key=lambda a: (a.first_seen, a.id)
            )
            return LoadedBook(
                AlertBook(account, tuple(chosen), tuple(h for h in outbox if h.alert_id in mine)),
                self.unsent.get(account, ()),
            )

    def save_book(
        self, account: str, book: AlertBook, changed: Sequence[Alert], unsent: Sequence[Notification]
    ) -> None:
        with self._lock:
            for alert in changed:
                if alert.account_id != account:
                    raise InvalidInputError("alert.account_id", f"{alert.id} belongs to another account")
            for alert in changed:
                # The acknowledgement is always the stored one (none for a new alert): save never writes it.
                self.alerts[(account, alert.id)] = _with_ack(alert, self.alerts.get((account, alert.id)))
            self.outbox[account] = book.outbox
            self.unsent[account] = tuple(unsent)
            self.saves += 1

    def set_unsent(self, account: str, unsent: Sequence[Notification]) -> None:
        with self._lock:
            self.unsent[account] = tuple(unsent)

    # --- what people read and do ---------
    def get_alert(self, account: str, alert_id: str) -> Alert:
        alert = self.alerts.get((account, alert_id))
        if alert is None:
            raise NotFoundError("alert", alert_id)
        return alert

    def list_alerts(
        self, account: str, query: AlertFilter, *, limit: int, cursor: str | None = None
    ) -> Page[Alert]:
        if limit < 1:
            raise InvalidInputError("limit", f"must be at least 1, got {limit}")
        after: tuple[str, str] | None = None
        if cursor is not None:
            owner, _, position = cursor.partition("|")
            if owner != f"alerts:{account}" or "|" not in position:
                raise InvalidInputError("cursor", "is not a cursor of this listing")
            seen, _, alert_id = position.partition("|")
            after = (seen, alert_id)
        chosen = [
            a
            for (acc, _), a in self.alerts.items()
            if acc == account
            and (query.state is None or a.state == query.state)
            and (query.kind is None or a.kind == query.kind)
            and (query.site_id is None or a.site_id == query.site_id)
            and (query.severity is None or a.severity == query.severity)
            and (after is None or _listing_key(a) < after)
        ]
        chosen.sort(key=_listing_key, reverse=True)  # newest first, by first_seen (UTC), then id
        page = chosen[:limit]
        if len(chosen) <= limit:
            return Page(page, None)
        seen, alert_id = _listing_key(page[-1])
        return Page(page, f"alerts:{account}|{seen}|{alert_id}")

    def acknowledge(self, account: str, alert_id: str, by: str, at: datetime) -> Alert:
        if at.tzinfo is None or at.utcoffset() is None:
            raise InvalidInputError("at", "must carry a time zone offset")
        if not by.strip():
            raise InvalidInputError("by", "must name who acknowledges")
        with self._lock:
            alert = self.get_alert(account, alert_id)
            if not alert.open:
                raise InvalidStateError("alert", alert_id, alert.state, "acknowledge")
            if alert.acknowledged_at is None:
                history = (*alert.history, StateChange(at, "acknowledged", by))
                alert = replace(alert, acknowledged_at=at, acknowledged_by=by, history=history)
                self.alerts[(account, alert_id)] = alert
            return alert

    # --- rules, silences ---------
    def get_rules(self, account: str) -> tuple[Mapping[str, Any], str | None]:
        document, etag = self.rules.get(account, ({}, None))
        return document, etag

    def put_rules(self, account: str, document: Mapping[str, Any], *, if_match: str | None) -> str:
        with self._lock:
            current = self.rules.get(account)
            if if_match is not None and (current is None or current[1] != if_match):
                raise PreconditionFailedError("alert-rules", account, if_match, current[1] if current else "")
            self._etags += 1
            etag = f"rules-{self._etags}"
            self.rules[account] = (dict(document), etag)
            return etag

    def put_silence(self, account: str, silence: Silence) -> None:
        self.silence_items[(account, silence.id)] = silence

    def get_silence(self, account: str, silence_id: str) -> Silence:
        silence = self.silence_items.get((account, silence_id))
        if silence is None:
            raise NotFoundError("alert-silence", silence_id)
        return silence

    def silences(self, account: str, *, ending_after: datetime | None = None) -> Sequence[Silence]:
        chosen = [
            s
            for (acc, _), s in self.silence_items.items()
            if acc == account and (ending_after is None or s.ends_at > ending_after)
        ]
        return sorted(chosen, key=lambda s: (s.starts_at, s.id), reverse=True)

    def replace_silence(self, account: str, silence: Silence) -> None:
        self.get_silence(account, silence.id)
        self.silence_items[(account, silence.id)] = silence

    # --- collectors ---------
    def put_heartbeat(self, account: str, heartbeat: CollectorHeartbeat) -> None:
        with self._lock:
            key = (account, heartbeat.heartbeat.collector_id)
            known = self.heartbeat_items.get(key)
            if known is None or known.heartbeat.received_at <= heartbeat.heartbeat.received_at:
                self.heartbeat_items[key] = heartbeat

    def heartbeats(self, account: str) -> Sequence[CollectorHeartbeat]:
        return [h for (acc, _), h in sorted(self.heartbeat_items.items()) if acc == account]

    # --- subscriptions ---------
    def put_subscription(self, account: str, record: SubscriptionRecord) -> None:
        self.subscription_items[(account, record.id)] = record

    def subscriptions(self, account: str) -> Sequence[SubscriptionRecord]:
        chosen = [r for (acc, _), r in self.subscription_items.items() if acc == account]
        return sorted(chosen, key=lambda r: (r.created_at, r.id))

    def get_subscription(self, account: str, subscription_id: str) -> SubscriptionRecord:
        record = self.subscription_items.get((account, subscription_id))
        if record is None:
            raise NotFoundError("alert-subscription", subscription_id)
        return record

    def delete_subscription(self, account: str, subscription_id: str) -> None:
        self.get_subscription(account, subscription_id)
        del self.subscription_items[(account, subscription_id)]


def _with_ack(alert: Alert, stored: Alert | None) -> Alert:
    """``alert`` with the acknowledgement ``stored`` holds (none when nothing is stored) and its history
    entry, placed by time (as the adapter does)."""
    if stored is None or stored.acknowledged_at is None:
        return replace(alert, acknowledged_at=None, acknowledged_by=None)
    entry = next(
        (c for c in stored.history if c.event == "acknowledged" and c.at == stored.acknowledged_at),
        StateChange(stored.acknowledged_at, "acknowledged", stored.acknowledged_by or ""),
    )
    history = alert.history
    if entry not in history:
        history = tuple(sorted((*history, entry), key=lambda c: c.at.astimezone(UTC)))
    fields = {name: getattr(stored, name) for name in _ACK_FIELDS}
    return replace(alert, history=history, **fields)


def _listing_key(alert: Alert) -> tuple[str, str]:
    return (alert.first_seen.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"), alert.id)


class FakeAlertPublisher(AlertPublisher):
    """``messages`` in the order published; ``fail_next`` makes the next n calls raise as unreachable SNS."""

    def __init__(self) -> None:
        self.messages: list[AlertMessage] = []
        self.fail_next = 0

    def publish(self, message: AlertMessage) -> str:
        if self.fail_next > 0:
            self.fail_next -= 1
            raise StorageUnavailableError("SNS is unreachable (fake)")
        self.messages.append(message)
        return f"message-{len(self.messages)}"


class FakeAlertSubscriptions(AlertSubscriptions):
    """``policies[arn]`` (email, filter policy), ``statuses[arn]``: pending until a test ``confirm``s it."""

    def __init__(self) -> None:
        self.policies: dict[str, tuple[str, Mapping[str, Any]]] = {}
        self.statuses: dict[str, SubscriptionStatus] = {}

    def subscribe_email(self, email: str, filter_policy: Mapping[str, Any]) -> str:
        arn = f"arn:aws:sns:eu-central-1:000000000000:meterbill-alerts:{len(self.policies) + 1:08d}"
        self.policies[arn] = (email, dict(filter_policy))
        self.statuses[arn] = "pending_confirmation"
        return arn

    def confirm(self, arn: str) -> None:
        self.statuses[arn] = "confirmed"

    def status(self, subscription_arn: str) -> SubscriptionStatus:
        return self.statuses.get(subscription_arn, "deleted")

    def unsubscribe(self, subscription_arn: str) -> None:
        self.policies.pop(subscription_arn, None)
        self.statuses[subscription_arn] = "deleted"


class FakeAlertWorkQueue(AlertWorkQueue):
    """``items`` in the order sent; ``take()`` hands them to a worker and empties it."""

    def __init__(self) -> None:
        self.items: list[ReadingsArrived] = []

    def send(self, items: Sequence[ReadingsArrived]) -> None:
        self.items += items

    def take(self) -> list[ReadingsArrived]:
        taken, self.items = self.items, []
        return taken
