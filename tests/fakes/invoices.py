"""Invoices with the real lifecycle and gapless numbering, and the bill run's queue, in memory."""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime

from meterbill.billing import invoice as invoices_core
from meterbill.billing.invoice import InvoiceStateError
from meterbill.errors import (
    InvalidInputError,
    InvalidStateError,
    NotFoundError,
)
from meterbill.ports import (
    InvoiceDocumentRef,
    InvoiceRecord,
    InvoiceState,
    InvoiceStore,
    InvoiceWork,
    InvoiceWorkQueue,
    IssuedBody,
    Page,
    ReratingCandidate,
    StoredDocument,
)
from tests.fakes.common import _page, fixed_clock


class FakeInvoiceWorkQueue(InvoiceWorkQueue):
    """``messages`` holds what was sent, in order; ``take()`` hands them to a worker and empties it."""

    def __init__(self) -> None:
        self.messages: list[InvoiceWork] = []

    def send(self, items: Sequence[InvoiceWork]) -> None:
        self.messages += items

    def take(self) -> list[InvoiceWork]:
        taken, self.messages = self.messages, []
        return taken


class FakeInvoiceStore(InvoiceStore):
    """``items[(account, invoice_id)]`` holds the invoices, ``counters[(account, series)]`` the last sequence
    issued, ``numbers[(account, series, sequence)]`` the invoice holding each number, ``candidates`` the
    re-rating candidates. One lock makes every call atomic, as the DynamoDB adapter's conditional writes
    are; ``render`` runs outside it and the issue is retried when the draft or the counter moved meanwhile,
    as on DynamoDB. ``writes`` counts stored changes (a no-op leaves it alone)."""

    def __init__(self, clock: Callable[[], datetime] = fixed_clock) -> None:
        self.items: dict[tuple[str, str], InvoiceRecord] = {}
        self.counters: dict[tuple[str, str], int] = {}
        self.numbers: dict[tuple[str, str, int], str] = {}
        self.candidates: dict[tuple[str, str, str, datetime, datetime], ReratingCandidate] = {}
        self.writes = 0
        self._clock = clock
        self._lock = threading.RLock()

    def put_draft(self, account: str, record: InvoiceRecord) -> InvoiceRecord:
        if record.account != account:
            raise InvalidInputError(
                "account", f"the record is of account {record.account!r}, not {account!r}"
            )
        if record.state != "draft":
            raise InvalidInputError("state", f"put_draft writes drafts only, got {record.state!r}")
        if record.number is not None:
            raise InvalidInputError("number", "a draft has no number")
        if record.period_end <= record.period_start:
            raise InvalidInputError("period_end", "must be after period_start")
        body = copy.deepcopy(dict(record.body))
        with self._lock:
            key = (account, record.invoice_id)
            current = self.items.get(key)
            if current is not None and current.state != "draft":
                return current
            fields = (record.customer_id, record.kind, record.period_start, record.period_end)
            if current is not None and (current.customer_id, current.kind, current.period_start,
                                        current.period_end) == fields and current.body == body:  # fmt: skip
                return current
            now = self._clock()
            stored = replace(
                record,
                body=body,
                version=1 if current is None else current.version + 1,
                created_at=now if current is None else current.created_at,
                updated_at=now,
                issued_at=None,
            )
            self.items[key] = stored
            self.writes += 1
            return stored

    def get(self, account: str, invoice_id: str) -> InvoiceRecord:
        with self._lock:
            try:
                return self.items[(account, invoice_id)]
            except KeyError:
                raise NotFoundError("invoice", invoice_id) from None

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
        with self._lock:
            chosen = [
                record
                for (a, _), record in self.items.items()
                if a == account
                and (customer_id is None or record.customer_id == customer_id)
                and (state is None or record.state == state)
                and (start is None or record.period_start >= start)
                and (end is None or record.period_start < end)
            ]

        def order(record: InvoiceRecord) -> str:
            if customer_id is None:
                return record.invoice_id
            return "#".join(
                (
                    record.period_start.isoformat(),
                    record.period_end.isoformat(),
                    record.kind,
                    record.invoice_id,
                )
            )

        chosen.sort(key=order)
        listing = f"{account}|{customer_id or '*'}|"  # a cursor positions only the listing it came from
        if cursor is not None and not cursor.startswith("after:" + listing):
            raise InvalidInputError("cursor", "not a cursor of this listing")
        after = None if cursor is None else "after:" + cursor.removeprefix("after:" + listing)
        page = _page(chosen, [order(record) for record in chosen], limit, after)
        next_cursor = None if page.cursor is None else "after:" + listing + page.cursor.removeprefix("after:")
        return Page(page.items, next_cursor)

    def issued_in(
        self, account: str, month: date, *, limit: int, cursor: str | None = None
    ) -> Page[InvoiceRecord]:
        with self._lock:
            chosen = [
                record
                for (a, _), record in self.items.items()
                if a == account
                and record.issued_at is not None
                and (record.issued_at.year, record.issued_at.month) == (month.year, month.month)
            ]

        def order(record: InvoiceRecord) -> str:
            assert record.issued_at is not None
            return f"{record.issued_at.astimezone(UTC):%Y-%m-%dT%H:%M:%S.%f}#{record.invoice_id}"

        chosen.sort(key=order)
        listing = f"{account}|issued|{month:%Y-%m}|"
        if cursor is not None and not cursor.startswith("after:" + listing):
            raise InvalidInputError("cursor", "not a cursor of this listing")
        after = None if cursor is None else "after:" + cursor.removeprefix("after:" + listing)
        page = _page(chosen, [order(record) for record in chosen], limit, after)
        next_cursor = None if page.cursor is None else "after:" + listing + page.cursor.removeprefix("after:")
        return Page(page.items, next_cursor)

    def issue(
        self,
        account: str,
        invoice_id: str,
        *,
        series: str,
        at: datetime,
        render: Callable[[InvoiceRecord, int], IssuedBody],
    ) -> InvoiceRecord:
        if at.tzinfo is None:
            raise InvalidInputError("at", "must be timezone-aware")
        while True:
            with self._lock:
                current = self.get(account, invoice_id)
                if current.state == "void":
                    raise InvalidStateError("invoice", invoice_id, "void", "issue")
                if current.state != "draft":
                    return current
                last = self.counters.get((account, series), 0)
            issued = render(current, last + 1)
            with self._lock:
                if (
                    self.items[(account, invoice_id)] != current
                    or self.counters.get((account, series), 0) != last
                ):
                    continue  # another write got in between: read again, as the adapter's conditions do
                stored = replace(
                    current,
                    state="issued",
                    number=issued.number,
                    body=copy.deepcopy(dict(issued.body)),
                    version=current.version + 1,
                    updated_at=self._clock(),
                    issued_at=at,
                )
                self.items[(account, invoice_id)] = stored
                self.counters[(account, series)] = last + 1
                self.numbers[(account, series, last + 1)] = invoice_id
                self.writes += 1
                return stored

    def void(self, account: str, invoice_id: str) -> InvoiceRecord:
        with self._lock:
            current = self.get(account, invoice_id)
            if current.state == "void":
                return current
            if current.state != "draft":
                raise InvalidStateError("invoice", invoice_id, current.state, "void")
            stored = replace(current, state="void", version=current.version + 1, updated_at=self._clock())
            self.items[(account, invoice_id)] = stored
            self.writes += 1
            return stored

    def mark_stored(
        self,
        account: str,
        invoice_id: str,
        document: StoredDocument,
        at: datetime,
        *,
        due_date: date | None = None,
    ) -> InvoiceRecord:
        if at.tzinfo is None:
            raise InvalidInputError("at", "must be timezone-aware")
        with self._lock:
            current = self.get(account, invoice_id)
            if (
                _next_state(invoices_core.stored, invoice_id, current.state, "store a document")
                == current.state
            ):
                if current.document is not None and current.document.sha256 == document.sha256:
                    return current
                raise InvalidStateError(
                    "invoice", invoice_id, f"{current.state} with another document", "store a document"
                )
            stored = replace(
                current,
                state="stored",
                document=InvoiceDocumentRef(
                    document.key, document.sha256, document.size, at, document.retain_until, due_date
                ),
                version=current.version + 1,
                updated_at=self._clock(),
            )
            self.items[(account, invoice_id)] = stored
            self.writes += 1
            return stored

    def mark_delivered(self, account: str, invoice_id: str, at: datetime) -> InvoiceRecord:
        if at.tzinfo is None:
            raise InvalidInputError("at", "must be timezone-aware")
        with self._lock:
            current = self.get(account, invoice_id)
            if (
                _next_state(invoices_core.delivered, invoice_id, current.state, "mark it delivered")
                == current.state
            ):
                return current
            delivered = replace(
                current,
                state="delivered",
                delivered_at=at,
                version=current.version + 1,
                updated_at=self._clock(),
            )
            self.items[(account, invoice_id)] = delivered
            self.writes += 1
            return delivered

    def add_rerating_candidate(self, account: str, candidate: ReratingCandidate) -> ReratingCandidate:
        for name in ("start", "end", "received_at"):
            if getattr(candidate, name).tzinfo is None:
                raise InvalidInputError(name, "must be timezone-aware")
        if candidate.end <= candidate.start:
            raise InvalidInputError("end", "must be after start")
        with self._lock:
            invoice = self.get(account, candidate.invoice_id)
            if invoice.state in ("draft", "void"):
                raise InvalidStateError(
                    "invoice", candidate.invoice_id, invoice.state, "record a re-rating candidate"
                )
            key = (account, candidate.invoice_id, candidate.meter_id, candidate.start, candidate.end)
            return self.candidates.setdefault(key, candidate)

    def rerating_candidates(self, account: str, invoice_id: str) -> Sequence[ReratingCandidate]:
        with self._lock:
            chosen = [c for (a, i, *_), c in self.candidates.items() if (a, i) == (account, invoice_id)]
        return sorted(chosen, key=lambda c: (c.meter_id, c.start, c.end))


def _next_state(step: Callable[[str, str], str], invoice_id: str, state: str, action: str) -> str:
    """The lifecycle's transition (``billing.invoice``), its refusal as the store's InvalidStateError."""
    try:
        return step(invoice_id, state)
    except InvoiceStateError:
        raise InvalidStateError("invoice", invoice_id, state, action) from None
