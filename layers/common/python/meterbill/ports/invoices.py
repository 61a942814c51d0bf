"""The invoice store: drafts, gapless numbers, the issued record and its lifecycle, re-rating candidates;
and the bill run's work queue."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from meterbill.ports.catalog import Page
from meterbill.ports.documents import StoredDocument


@dataclass(frozen=True, slots=True)
class InvoiceWork:
    """One message of the bill run: invoice (or recompute the draft of) ``customer_id``'s local calendar
    days [period_start, period_end) as of ``as_of``, the moment the run was scheduled for (a redelivered
    message computes as of the same moment). Its JSON is the queue message's body
    (``services.billrun.work_from_json`` reads it back)."""

    account: str
    customer_id: str
    period_start: date
    period_end: date
    as_of: datetime

    def to_json(self) -> dict[str, str]:
        return {
            "account": self.account,
            "customer_id": self.customer_id,
            "period_start": self.period_start.isoformat(),
            "period_end": self.period_end.isoformat(),
            "as_of": self.as_of.isoformat(),
        }


class InvoiceWorkQueue(ABC):
    """Where the bill run sends its work (SQS in AWS); the invoice worker consumes it."""

    @abstractmethod
    def send(self, items: Sequence[InvoiceWork]) -> None:
        """Sends every item (at least once); raises StorageUnavailableError when some could not be sent."""


# --- invoices -----------------------------------------------------------------------------------------------

InvoiceState = Literal["draft", "issued", "stored", "delivered", "void"]


@dataclass(frozen=True, slots=True)
class InvoiceDocumentRef:
    """The document of an issued invoice as its record names it (``InvoiceStore.mark_stored``): the key in
    the document store, the SHA-256 (hex) and size of the stored bytes, when it was stored and how long it is
    retained, and the due date the document shows (what its email says too)."""

    key: str
    sha256: str
    size: int
    stored_at: datetime
    retain_until: datetime | None = None
    due_date: date | None = None


@dataclass(frozen=True, slots=True)
class InvoiceRecord:
    """An invoice as stored. ``body`` is the core invoice's JSON (``billing.invoice.Invoice.to_json()``),
    opaque to the store; the other fields are what the store keys, lists and guards by. ``version`` counts
    the writes of the record (1 for a new draft); ``number`` is set by ``InvoiceStore.issue`` and never
    before. Dates are the local-calendar service period, end exclusive; datetimes are aware.

    Lifecycle: ``draft -> issued -> stored -> delivered`` (or ``draft -> void``). ``document`` is set when the
    state becomes ``stored`` and ``delivered_at`` when it becomes ``delivered``; the body never changes after
    issuing."""

    account: str
    invoice_id: str
    customer_id: str
    kind: str
    state: InvoiceState
    period_start: date
    period_end: date
    number: str | None
    body: Mapping[str, Any]
    version: int
    created_at: datetime
    updated_at: datetime
    issued_at: datetime | None
    document: InvoiceDocumentRef | None = None
    delivered_at: datetime | None = None

    @classmethod
    def draft(
        cls,
        account: str,
        invoice_id: str,
        *,
        customer_id: str,
        kind: str,
        period_start: date,
        period_end: date,
        body: Mapping[str, Any],
        at: datetime,
    ) -> InvoiceRecord:
        """A draft to hand to ``InvoiceStore.put_draft`` (which sets version and times itself)."""
        return cls(
            account,
            invoice_id,
            customer_id,
            kind,
            "draft",
            period_start,
            period_end,
            None,
            body,
            0,
            at,
            at,
            None,
        )


@dataclass(frozen=True, slots=True)
class IssuedBody:
    """What an invoice becomes when it is issued with a number: the number as printed and the final body
    (which carries the number)."""

    number: str
    body: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class ReratingCandidate:
    """Readings of a meter in [start, end) received (``received_at``) after the invoice was issued: the
    invoice may need a credit or debit note. Recorded beside the invoice, never in it."""

    invoice_id: str
    meter_id: str
    start: datetime
    end: datetime
    received_at: datetime


class InvoiceStore(ABC):
    """Invoices of an account and their numbers. A draft is rewritten as often as it is recomputed; issuing
    gives it the next number of its series, gapless and never reused, in the same atomic write that makes
    it ``issued``; an issued invoice is never written again (every write is conditional on its state).
    Issuing and voiding twice answer what the first call did (no second number, no error)."""

    @abstractmethod
    def put_draft(self, account: str, record: InvoiceRecord) -> InvoiceRecord:
        """Creates the draft ``record.invoice_id`` or replaces its body (version + 1) while it is still a
        draft. An issued or void invoice is returned as it is, unchanged (nothing is written). ``record``
        must be a draft without a number, of ``account``; its version and times are the store's to set."""

    @abstractmethod
    def get(self, account: str, invoice_id: str) -> InvoiceRecord:
        """Raises NotFoundError."""

    @abstractmethod
    def list(
        self,
        account: str,
        *,
        customer_id: str | None = None,
        state: InvoiceState | None = None,
        start: date | None = None,
        end: date | None = None,
        limit: int,
        cursor: str | None = None,
    ) -> Page[InvoiceRecord]:
        """Invoices whose period starts in [start, end) (either bound optional) and in ``state``. A
        customer's come in period order (then kind, then id); the whole account's in id order."""

    @abstractmethod
    def issued_in(
        self, account: str, month: date, *, limit: int, cursor: str | None = None
    ) -> Page[InvoiceRecord]:
        """The documents (invoices and notes) issued in ``month`` (its first day), whatever their state
        since: those whose ``issued_at``, with the offset it was issued with, falls in that month. In order
        of issue (the instant), then id. Reads only that month's documents."""

    @abstractmethod
    def issue(
        self,
        account: str,
        invoice_id: str,
        *,
        series: str,
        at: datetime,
        render: Callable[[InvoiceRecord, int], IssuedBody],
    ) -> InvoiceRecord:
        """Gives the draft the next sequence number of ``series`` (1, 2, ... per account and series, never
        reset, never skipped) and stores ``render(draft, sequence)`` as its number and final body, state
        ``issued`` and ``issued_at = at``, all in one atomic write. ``render`` must be pure: it may be called
        again with another draft version or sequence when another writer got in between. An invoice already
        issued is returned unchanged (``render`` is not called); a void one raises InvalidStateError;
        NotFoundError."""

    @abstractmethod
    def void(self, account: str, invoice_id: str) -> InvoiceRecord:
        """Voids a draft (version + 1); a void invoice is returned unchanged; an issued one raises
        InvalidStateError; NotFoundError."""

    @abstractmethod
    def mark_stored(
        self,
        account: str,
        invoice_id: str,
        document: StoredDocument,
        at: datetime,
        *,
        due_date: date | None = None,
    ) -> InvoiceRecord:
        """The issued invoice's document is stored: state ``stored`` with ``document`` (key, sha256, size,
        ``stored_at = at``, the ``due_date`` it shows), version + 1, in one conditional write; nothing else of
        the record changes. The same document again (same sha256) on a stored or delivered invoice is
        returned unchanged (a retry); another one raises InvalidStateError, as does a draft or void invoice;
        NotFoundError."""

    @abstractmethod
    def mark_delivered(self, account: str, invoice_id: str, at: datetime) -> InvoiceRecord:
        """The stored document was delivered: state ``delivered``, ``delivered_at = at``, version + 1, in one
        conditional write. A delivered invoice is returned unchanged; any state but stored raises
        InvalidStateError; NotFoundError."""

    @abstractmethod
    def add_rerating_candidate(self, account: str, candidate: ReratingCandidate) -> ReratingCandidate:
        """Records the candidate beside its issued invoice (the invoice itself is not written). The same
        (invoice, meter, start, end) again keeps the first ``received_at`` and returns what is stored.
        NotFoundError; InvalidStateError for a draft or void invoice (a draft is recomputed anyway)."""

    @abstractmethod
    def rerating_candidates(self, account: str, invoice_id: str) -> Sequence[ReratingCandidate]:
        """The invoice's candidates by meter, then start, then end."""
