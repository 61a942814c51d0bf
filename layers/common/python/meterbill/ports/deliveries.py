"""The emails of stored documents: one delivery record per attempt, and the email queue."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

# --- delivery of stored documents by email (issue 10) ------------------------------------------------------

# ``sending`` is the claim: the worker holds the send and may have called the provider. The other states are
# the ones the API shows (``sending`` too, while it lasts).
DeliveryState = Literal["queued", "sending", "sent", "delivered", "bounced", "complained", "failed"]
AttemptKind = Literal["first", "resend"]
DELIVERY_STATES: tuple[DeliveryState, ...] = (
    "queued",
    "sending",
    "sent",
    "delivered",
    "bounced",
    "complained",
    "failed",
)
# How far each state is along: the provider's events only ever move a delivery forward, so a repeated or
# late event changes nothing. A bounce or complaint outranks a delivery (one recipient of several bounced,
# or a delivered email was reported as spam: both need a person); a failure is final.
DELIVERY_RANK: Mapping[DeliveryState, int] = {
    "queued": 0,
    "sending": 1,
    "sent": 2,
    "delivered": 3,
    "bounced": 4,
    "complained": 5,
    "failed": 6,
}


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    """One email of one stored document: attempt 1 is the ``first`` delivery, 2, 3, ... are ``resend``s.
    The recipients, language and the stored document (key and SHA-256) are fixed when it is queued; the
    attempt is claimed (``sending``, ``claimed_at``, ``claims`` + 1) before the provider is called and gets
    the provider's ``message_id`` once sent (from the worker, or from the provider's ``Send`` event when the
    worker died before recording it). ``version`` counts the writes (conditional writes compare it)."""

    account: str
    invoice_id: str
    attempt: int
    kind: AttemptKind
    state: DeliveryState
    to: tuple[str, ...]
    cc: tuple[str, ...]
    language: str
    customer_name: str
    document_key: str
    document_sha256: str
    queued_at: datetime
    updated_at: datetime
    claimed_at: datetime | None = None
    claims: int = 0
    sent_at: datetime | None = None
    message_id: str | None = None
    detail: str | None = None
    version: int = 1

    @property
    def recipients(self) -> tuple[str, ...]:
        return self.to + self.cc

    def claimed(self, at: datetime) -> DeliveryRecord:
        """Claimed for a send now (from ``queued``, or a stale ``sending`` taken over)."""
        return replace(
            self,
            state="sending",
            claimed_at=at,
            claims=self.claims + 1,
            updated_at=at,
            version=self.version + 1,
        )

    def released(self, at: datetime) -> DeliveryRecord:
        """Back to ``queued``: the provider refused the send for its rate (nothing went out), so the claim
        is given back (``claims`` counts the claims that sent or whose outcome is unknown)."""
        return replace(self, state="queued", claims=self.claims - 1, updated_at=at, version=self.version + 1)

    def advanced(
        self, state: DeliveryState, at: datetime, *, message_id: str | None = None, detail: str | None = None
    ) -> DeliveryRecord | None:
        """The record after the worker or a provider event says ``state``; None when that changes nothing
        (a state not further along, and no message id to learn). The first message id is kept. A ``failed``
        record without a message id (unknown after a crash) takes the state of an event that brings one."""
        learns_id = message_id is not None and self.message_id is None
        # A failure without a message id was "unknown" (a crash, no Send event in time): an event with a
        # message id proves the email went out after all, and says what became of it.
        proven = learns_id and self.state == "failed" and state != "failed"
        moves = DELIVERY_RANK[state] > DELIVERY_RANK[self.state] or proven
        if not moves and not learns_id:
            return None
        return replace(
            self,
            state=state if moves else self.state,
            message_id=self.message_id if self.message_id is not None else message_id,
            sent_at=self.sent_at if self.sent_at is not None or message_id is None else at,
            detail=detail if moves and detail is not None else self.detail,
            updated_at=at,
            version=self.version + 1,
        )


@dataclass(frozen=True, slots=True)
class NewDelivery:
    """What ``DeliveryStore.queue`` needs to queue an attempt."""

    invoice_id: str
    kind: AttemptKind
    to: tuple[str, ...]
    cc: tuple[str, ...]
    language: str
    customer_name: str
    document_key: str
    document_sha256: str


class DeliveryStore(ABC):
    """The deliveries of an account's stored documents, one record per (invoice, attempt). Every write is
    conditional on the version read, so two workers never both claim an attempt."""

    @abstractmethod
    def queue(self, account: str, delivery: NewDelivery, *, at: datetime) -> DeliveryRecord:
        """A ``first`` delivery is attempt 1, created once: queueing it again answers what is stored. A
        ``resend`` is the next attempt number (a new record every call)."""

    @abstractmethod
    def get(self, account: str, invoice_id: str, attempt: int) -> DeliveryRecord:
        """Raises NotFoundError."""

    @abstractmethod
    def of_invoice(self, account: str, invoice_id: str) -> Sequence[DeliveryRecord]:
        """The invoice's attempts in order (none: an empty list)."""

    @abstractmethod
    def update(self, account: str, current: DeliveryRecord, new: DeliveryRecord) -> bool:
        """Writes ``new`` (same invoice and attempt, ``version`` = current's + 1) if the stored record is
        still ``current`` (same version); False when another writer got in first (read it again)."""


@dataclass(frozen=True, slots=True)
class DeliveryWork:
    """One message of the email queue: send attempt ``attempt`` of the invoice's stored document."""

    account: str
    invoice_id: str
    attempt: int

    def to_json(self) -> dict[str, str | int]:
        return {"account": self.account, "invoice_id": self.invoice_id, "attempt": self.attempt}


class DeliveryQueue(ABC):
    """The email queue (SQS in AWS); the email worker consumes it, paced below the provider's send rate."""

    @abstractmethod
    def send(self, items: Sequence[DeliveryWork]) -> None:
        """Sends every item (at least once); StorageUnavailableError when some could not be sent."""
