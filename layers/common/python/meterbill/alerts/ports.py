"""Ports of the alerts: where an account's alerts, rules, silences, collector heartbeats and
subscriptions are kept, where notifications are published, and the queue that carries new readings to the
detectors that run on them.

One writer at a time per account: the lifecycle (``alerts.lifecycle.advance``) is a read-modify-write of the
account's ``AlertBook``, so the scheduled pass and the readings worker take the account's lease
(``AlertStore.lease``) before they load the book, and give it back after saving it. A person's
acknowledgement does not take the lease: ``AlertStore.acknowledge`` sets only the acknowledgement's
attributes, which ``save_book`` never writes, so neither can undo the other.

Notifications are published at least once: ``save_book`` keeps the notifications of the step as ``unsent``
with the book, the service publishes them and then clears them (``set_unsent``); a pass that died in between
finds them in ``LoadedBook.unsent`` and publishes them first.

They live here rather than in ``meterbill.ports`` because they speak the alerts' values (``AlertBook``,
``Silence``), and ``meterbill.ports`` sits on the floor below the alerts core. Adapters implement them
(``meterbill.adapters.dynamodb.alerts``, ``meterbill.adapters.sns``); ``tests/fakes/alerts.py`` fakes them.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

from meterbill.alerts.communication import Heartbeat
from meterbill.alerts.lifecycle import Alert, AlertBook, AlertState, Notification
from meterbill.alerts.model import AlertKind, Severity
from meterbill.alerts.silences import Silence
from meterbill.ports import Page

READINGS_ARRIVED: Final = "readings-arrived"


@dataclass(frozen=True, slots=True)
class CollectorHeartbeat:
    """A collector's latest heartbeat as ``POST /v1/collectors/{id}/heartbeats`` received it."""

    heartbeat: Heartbeat  # collector id, received_at (the server's clock), site, per meter status
    version: str
    spool_depth: int
    last_push_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class AlertFilter:
    """``GET /v1/alerts``' query: every given field must match (None: any)."""

    state: AlertState | None = None
    kind: AlertKind | None = None
    site_id: str | None = None
    severity: Severity | None = None


@dataclass(frozen=True, slots=True)
class LoadedBook:
    """An account's open alerts and waiting notices, and the notifications a previous step did not publish."""

    book: AlertBook
    unsent: tuple[Notification, ...] = ()


SubscriptionStatus = Literal["pending_confirmation", "confirmed", "deleted"]


@dataclass(frozen=True, slots=True)
class SubscriptionRecord:
    """An email subscription of one account: what it admits and the SNS subscription that delivers it."""

    id: str
    email: str
    kinds: tuple[AlertKind, ...]  # empty: every kind
    min_severity: Severity
    site_ids: tuple[str, ...] | None  # None: every site
    subscription_arn: str
    created_at: datetime


class AlertStore(ABC):
    """One account's alert state. Every method takes the account first: other accounts' ids are not found."""

    # --- the lifecycle's state (hold the lease) ----------------------------------------------------------
    @abstractmethod
    def lease(self, account: str, owner: str, now: datetime, *, seconds: int) -> bool:
        """Takes the account's lease for ``owner`` until ``now + seconds`` unless another owner holds an
        unexpired one; True when ``owner`` holds it now (taking it again extends it)."""

    @abstractmethod
    def release(self, account: str, owner: str) -> None:
        """Gives the lease back if ``owner`` holds it (a lease taken over after expiry is left alone)."""

    @abstractmethod
    def load_book(self, account: str) -> LoadedBook:
        """The open (pending or firing) alerts, acknowledgements included, the outbox and the unsent
        notifications. Resolved alerts are not loaded: the cost follows the open alerts, not the history."""

    @abstractmethod
    def save_book(
        self, account: str, book: AlertBook, changed: Sequence[Alert], unsent: Sequence[Notification]
    ) -> None:
        """Writes the ``changed`` alerts (new, updated or just resolved; never their acknowledgement), the
        book's outbox and ``unsent`` (replacing the unsent kept before)."""

    @abstractmethod
    def set_unsent(self, account: str, unsent: Sequence[Notification]) -> None:
        """Replaces the unsent notifications (after publishing: the ones that could not be published)."""

    # --- what people read and do ----------
    @abstractmethod
    def get_alert(self, account: str, alert_id: str) -> Alert:
        """The alert with its history; ``NotFoundError`` when the account has none with that id."""

    @abstractmethod
    def list_alerts(
        self, account: str, query: AlertFilter, *, limit: int, cursor: str | None = None
    ) -> Page[Alert]:
        """The account's alerts matching ``query``, newest first (by ``first_seen``, then id)."""

    @abstractmethod
    def acknowledge(self, account: str, alert_id: str, by: str, at: datetime) -> Alert:
        """Records the acknowledgement on an open alert (a second one changes nothing) and returns the alert;
        ``NotFoundError``; ``InvalidStateError`` when it is resolved."""

    # --- rules, silences ----------
    @abstractmethod
    def get_rules(self, account: str) -> tuple[Mapping[str, Any], str | None]:
        """The rules document (``{}`` when none was put) and its ETag (None when none was put)."""

    @abstractmethod
    def put_rules(self, account: str, document: Mapping[str, Any], *, if_match: str | None) -> str:
        """Replaces the document, on ``If-Match`` when given (``PreconditionFailedError``); the new ETag."""

    @abstractmethod
    def put_silence(self, account: str, silence: Silence) -> None:
        """Stores a new silence (its ``id`` set by the caller)."""

    @abstractmethod
    def get_silence(self, account: str, silence_id: str) -> Silence:
        """``NotFoundError`` when the account has none with that id."""

    @abstractmethod
    def silences(self, account: str, *, ending_after: datetime | None = None) -> Sequence[Silence]:
        """The account's silences (only those whose ``ends_at`` is after ``ending_after`` when given),
        newest ``starts_at`` first."""

    @abstractmethod
    def replace_silence(self, account: str, silence: Silence) -> None:
        """Stores a changed silence (ending one early); ``NotFoundError`` when it does not exist."""

    # --- collectors ----------
    @abstractmethod
    def put_heartbeat(self, account: str, heartbeat: CollectorHeartbeat) -> None:
        """Keeps the collector's latest heartbeat (an older ``received_at`` does not replace a newer one)."""

    @abstractmethod
    def heartbeats(self, account: str) -> Sequence[CollectorHeartbeat]:
        """The latest heartbeat of each of the account's collectors, by collector id."""

    # --- subscriptions ----------
    @abstractmethod
    def put_subscription(self, account: str, record: SubscriptionRecord) -> None: ...

    @abstractmethod
    def subscriptions(self, account: str) -> Sequence[SubscriptionRecord]:
        """By ``created_at``, then id."""

    @abstractmethod
    def get_subscription(self, account: str, subscription_id: str) -> SubscriptionRecord:
        """``NotFoundError`` when the account has none with that id."""

    @abstractmethod
    def delete_subscription(self, account: str, subscription_id: str) -> None:
        """``NotFoundError`` when the account has none with that id."""


@dataclass(frozen=True, slots=True)
class AlertMessage:
    """One SNS message: ``subject`` (email subject, at most 100 characters), ``body`` (a readable summary,
    then the JSON facts) and the message attributes subscriptions filter on (all strings)."""

    subject: str
    body: str
    attributes: Mapping[str, str]


class AlertPublisher(ABC):
    @abstractmethod
    def publish(self, message: AlertMessage) -> str:
        """Publishes to the alerts topic; the message id. ``StorageUnavailableError`` when SNS cannot be
        reached (the notification stays unsent for the next step)."""


class AlertSubscriptions(ABC):
    """Email subscriptions of the alerts topic (SNS: the recipient confirms by a link SNS mails them)."""

    @abstractmethod
    def subscribe_email(self, email: str, filter_policy: Mapping[str, Any]) -> str:
        """Subscribes ``email`` with the filter policy (``FilterPolicyScope`` MessageAttributes); the
        subscription's ARN (it exists, pending confirmation, until the recipient confirms)."""

    @abstractmethod
    def status(self, subscription_arn: str) -> SubscriptionStatus: ...

    @abstractmethod
    def unsubscribe(self, subscription_arn: str) -> None:
        """Removes the subscription (also a pending one); nothing when it is gone already."""


@dataclass(frozen=True, slots=True)
class ReadingsArrived:
    """Readings of ``meter_ids`` were stored (timestamps from ``earliest`` to ``latest``): the detectors that
    run on new readings (negative consumption, exchange, spike) look at them."""

    account: str
    meter_ids: tuple[str, ...]
    earliest: datetime
    latest: datetime

    def to_json(self) -> str:
        """The queue message's body."""
        return json.dumps(
            {
                "kind": READINGS_ARRIVED,
                "account": self.account,
                "meter_ids": list(self.meter_ids),
                "earliest": self.earliest.isoformat(),
                "latest": self.latest.isoformat(),
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, body: str) -> ReadingsArrived:
        """``ValueError`` naming what is wrong when ``body`` is not a ``to_json`` message."""
        try:
            data = json.loads(body)
            if data.get("kind") != READINGS_ARRIVED:
                raise ValueError(f"kind must be {READINGS_ARRIVED!r}")
            item = cls(
                str(data["account"]),
                tuple(str(m) for m in data["meter_ids"]),
                datetime.fromisoformat(data["earliest"]),
                datetime.fromisoformat(data["latest"]),
            )
        except (KeyError, TypeError, AttributeError, json.JSONDecodeError) as error:
            raise ValueError(f"not a {READINGS_ARRIVED} message: {error!r}") from None
        for name, moment in (("earliest", item.earliest), ("latest", item.latest)):
            if moment.utcoffset() is None:
                raise ValueError(f"{name} must carry a UTC offset")
        return item


class AlertWorkQueue(ABC):
    @abstractmethod
    def send(self, items: Sequence[ReadingsArrived]) -> None:
        """Queues the items for the alerts' readings worker (SQS in AWS)."""


@dataclass(frozen=True, slots=True)
class AlertPorts:
    """What the alert services need, built once per cold start; ``queue`` only where readings are ingested."""

    store: AlertStore
    publisher: AlertPublisher
    subscriptions: AlertSubscriptions
