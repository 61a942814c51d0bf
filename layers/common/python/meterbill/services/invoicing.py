"""Invoices: one per customer and period, computed from the preview's bills, kept as a draft until its grace
period has passed, then issued with the next number of the account's invoice series; move-out settlements;
credit and debit notes (re-rating an issued invoice).

Every step is safe to repeat (the bill run's worker is retried after any crash): the invoice id is
``invoice_id(account, customer, start, end, "invoice")``, ``put_draft`` replaces only a draft, ``issue`` of an
issued invoice returns it unchanged, and a note's id is ``note_id(original, n)`` for its place among the
original's issued notes. Time comes in as ``now``; nothing reads a clock.

The customer's calendar (``customer_calendar``): its site zone is the zone of the site of its first meter
(the meter of its earliest assignment, ties by meter id) — a customer with meters in two zones is billed on
that one's calendar; its bill day is its own ``bill_day`` if set, else 1 for a colocation customer (a
customer whose attribute ``colocation`` is true, or one of whose meters has a ``rack`` or ``feed`` label),
else the account's.
"""

from __future__ import annotations

from calendar import monthrange
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Final
from zoneinfo import ZoneInfo

from meterbill.billing import invoice as invoices_core
from meterbill.billing.invoice import Invoice, InvoiceError, demand_history_for
from meterbill.billing.notes import Difference, difference, issued_notes, next_note_sequence, note
from meterbill.billing.notes import expectation as expectation_of
from meterbill.billing.numbering import format_number, series_for
from meterbill.billing.periods import ActiveSpan, DateSpan, issue_due
from meterbill.billing_settings import BillingSettings
from meterbill.domain import Assignment, Customer, Meter, Site
from meterbill.errors import (
    InvalidInputError,
    InvalidStateError,
    NotFoundError,
    PreconditionFailedError,
)
from meterbill.ports import InvoiceRecord, IssuedBody, MonthRollup, Stores
from meterbill.services.billing_inputs import (
    CustomerCatalog,
    RatedUsage,
    inputs_fingerprint,
    read_customer_catalog,
)
from meterbill.services.billing_settings import settings_of
from meterbill.services.common import require_aware
from meterbill.services.preview import PreviewBill, SeriesSource, period_bills

LIST_PAGE: Final = 200
# A draft's body keeps the fingerprint of what it was computed from under this key (``billing_inputs``); the
# core invoice does not read it, and issuing drops it.
INPUTS: Final = "inputs"
RERATE_MONTHS: Final = 12


# --- the customer's calendar ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CustomerCalendar:
    zone: ZoneInfo
    bill_day: int
    colocation: bool
    active: tuple[ActiveSpan, ...]  # its assignments' effective_from and effective_to


def is_colocation(customer: Customer, meters: Iterable[Meter]) -> bool:
    """A colocation customer: attribute ``colocation`` true, or a meter labelled with a rack or a feed."""
    if customer.attributes.get("colocation") is True:
        return True
    return any(m.labels.rack is not None or m.labels.feed is not None for m in meters)


def customer_calendar(
    customer: Customer,
    assignments: Sequence[Assignment],
    meters: Mapping[str, Meter],
    sites: Mapping[str, Site],
    settings: BillingSettings,
) -> CustomerCalendar | None:
    """The customer's zone, bill day and assignment spans; None for a customer without assignments."""
    mine = sorted(
        (a for a in assignments if a.customer_id == customer.id), key=lambda a: (a.effective_from, a.meter_id)
    )
    if not mine:
        return None
    first_meter = meters[mine[0].meter_id]
    zone = sites[first_meter.site_id].zone()
    colocation = is_colocation(customer, (meters[a.meter_id] for a in mine))
    bill_day = customer.bill_day or (1 if colocation else settings.bill_day)
    return CustomerCalendar(
        zone, bill_day, colocation, tuple((a.effective_from, a.effective_to) for a in mine)
    )


def calendar_of(
    account: str,
    customer_id: str,
    stores: Stores,
    settings: BillingSettings,
    *,
    customer_catalog: CustomerCatalog | None = None,
) -> CustomerCalendar:
    """``customer_calendar`` of one customer, from its part of the catalog (read here unless given);
    InvalidInputError when it has no assignment (nothing to invoice)."""
    own = customer_catalog or read_customer_catalog(account, customer_id, stores.catalog)
    calendar = customer_calendar(own.customer, own.assignments, own.meters, own.sites, settings)
    if calendar is None:
        raise InvalidInputError("customer_id", f"customer {customer_id!r} has no meter assigned")
    return calendar


# --- computing ---------------------------------------------------------------------------------------------


def customer_documents(account: str, customer_id: str, stores: Stores) -> list[Invoice]:
    """Every invoice and note of the customer (any state), as core values."""
    documents: list[Invoice] = []
    cursor: str | None = None
    while True:
        page = stores.invoices.list(account, customer_id=customer_id, limit=LIST_PAGE, cursor=cursor)
        documents += (Invoice.from_json(record.body) for record in page.items)
        if page.cursor is None:
            return documents
        cursor = page.cursor


def compute(
    account: str,
    customer_id: str,
    start: date,
    end: date,
    stores: Stores,
    now: datetime,
    *,
    settings: BillingSettings | None = None,
    documents: Sequence[Invoice] | None = None,
    reason: str | None = None,
    customer_catalog: CustomerCatalog | None = None,
    series_source: SeriesSource | None = None,
) -> Invoice:
    """The draft invoice of the customer's days [start, end) as the data stand at ``now``: the preview's
    bills, each meter's ratchets reading its peaks from the customer's issued invoices (and notes) before
    ``start``, in the account's billing currency. ``customer_catalog``: the customer's part of the catalog
    if read already; ``series_source``: where the meters' usage comes from (default: validating the raw
    readings; the bill run passes ``billing_inputs.RatedUsage``). Raises as ``bill_preview`` does, and
    InvalidInputError ``tariff.currency`` for a tariff in another currency than the account's."""
    require_aware(now, "now")
    settings = settings or settings_of(account, stores.accounts)
    own = customer_catalog or read_customer_catalog(account, customer_id, stores.catalog)
    documents = customer_documents(account, customer_id, stores) if documents is None else documents
    history = _demand_history(own, documents, start)
    bills = period_bills(
        account,
        customer_id,
        start,
        end,
        stores.catalog,
        stores.readings,
        demand_history=history,
        series_source=series_source,
        customer_catalog=own,
    )
    _require_currency(bills, settings.currency)
    try:
        return invoices_core.draft(
            account,
            customer_id,
            start,
            end,
            bills,
            currency=settings.currency,
            computed_at=now,
            reason=reason,
        )
    except InvoiceError as err:
        raise InvalidInputError(err.field, err.reason) from None


def _demand_history(
    own: CustomerCatalog, documents: Sequence[Invoice], start: date
) -> dict[str, Sequence[Decimal]]:
    return {m: demand_history_for(documents, m, start) for m in {a.meter_id for a in own.assignments}}


def _require_currency(bills: Iterable[PreviewBill], currency: str) -> None:
    for part in bills:
        if part.bill.currency != currency:
            raise InvalidInputError(
                "tariff.currency",
                f"assignment {part.assignment_id!r}: tariff {part.bill.tariff_id!r} version "
                f"{part.bill.tariff_version} is in {part.bill.currency}; the account bills in {currency} "
                "(billing settings)",
            )


def _record(account: str, invoice: Invoice, now: datetime, inputs: str | None) -> InvoiceRecord:
    body = invoice.to_json()
    if inputs is not None:
        body[INPUTS] = inputs
    return InvoiceRecord.draft(
        account,
        invoice.id,
        customer_id=invoice.customer_id,
        kind=invoice.kind,
        period_start=invoice.period_start,
        period_end=invoice.period_end,
        body=body,
        at=now,
    )


_UNREAD: Final[Any] = object()


def put_draft(
    account: str,
    invoice: Invoice,
    stores: Stores,
    now: datetime,
    *,
    inputs: str | None = None,
    current: InvoiceRecord | None = _UNREAD,
) -> InvoiceRecord:
    """Stores the draft (creates it or replaces the draft of that id) with the fingerprint of its
    ``inputs`` (``billing_inputs.inputs_fingerprint``; None: unknown); a draft that comes to the same with
    the same inputs is not written again, one that comes to the same from other inputs keeps its
    ``computed_at``; an issued or void one is returned unchanged. ``current``: the stored record if the
    caller has just read it (None: there is none)."""
    if current is _UNREAD:
        try:
            current = stores.invoices.get(account, invoice.id)
        except NotFoundError:
            current = None
    if current is not None:
        if current.state != "draft":
            return current
        if Invoice.from_json(current.body) == replace(invoice, computed_at=_computed_at(current)):
            if current.body.get(INPUTS) == inputs:
                return current
            invoice = replace(invoice, computed_at=_computed_at(current))
    return stores.invoices.put_draft(account, _record(account, invoice, now, inputs))


def _computed_at(record: InvoiceRecord) -> datetime:
    return Invoice.from_json(record.body).computed_at


def _render(at: datetime, prefix: str) -> Any:
    def render(draft: InvoiceRecord, sequence: int) -> IssuedBody:
        number = format_number(prefix, sequence)
        issued = invoices_core.issue(Invoice.from_json(draft.body), number, at)
        return IssuedBody(number=number, body=issued.to_json())

    return render


def issue_now(account: str, invoice_id: str, stores: Stores, now: datetime) -> InvoiceRecord:
    """Issues the draft with the next number of its series (invoices, or credit and debit notes); an issued
    one is returned unchanged; InvalidStateError for a void one; NotFoundError."""
    require_aware(now, "now")
    record = stores.invoices.get(account, invoice_id)
    if invoices_core.is_issued(record.state):
        return record
    settings = settings_of(account, stores.accounts)
    series = series_for(Invoice.from_json(record.body).kind)
    prefix = settings.invoice_number_prefix if series == "invoice" else settings.credit_note_number_prefix
    return stores.invoices.issue(account, invoice_id, series=series, at=now, render=_render(now, prefix))


def void_draft(account: str, invoice_id: str, stores: Stores) -> InvoiceRecord:
    """Voids a draft (a void one is returned unchanged); InvalidStateError for an issued one."""
    return stores.invoices.void(account, invoice_id)


# --- the worker's step -------------------------------------------------------------------------------------


def invoice_period(
    account: str, customer_id: str, period: DateSpan | tuple[date, date], now: datetime, stores: Stores
) -> InvoiceRecord:
    """The bill run's work on one (customer, period): (1) compute the invoice, (2) store it as a draft, (3)
    issue it once ``issue_due(period end, customer's zone, grace_days, now)``. Repeating it at any point
    ends in one invoice with one number: an issued or void invoice is returned as it is, unchanged."""
    require_aware(now, "now")
    start, end = period
    invoice_id = invoices_core.invoice_id(account, customer_id, start, end, "invoice")
    reason = None
    try:
        current: InvoiceRecord | None = stores.invoices.get(account, invoice_id)
    except NotFoundError:
        current = None
    if current is not None:
        if current.state != "draft":
            return current
        reason = Invoice.from_json(current.body).reason  # a settlement keeps its reason when recomputed
    settings = settings_of(account, stores.accounts)
    own = read_customer_catalog(account, customer_id, stores.catalog)
    documents: list[Invoice] | None = None  # read only if needed (a tariff with a demand charge), once

    def history() -> dict[str, Sequence[Decimal]]:
        nonlocal documents
        if documents is None:
            documents = customer_documents(account, customer_id, stores)
        return _demand_history(own, documents, start)

    months: dict[tuple[str, int, int], MonthRollup | None] = {}  # read once, for both
    inputs = inputs_fingerprint(account, own, settings, start, end, stores.metering, history, months)
    if current is not None and inputs is not None and current.body.get(INPUTS) == inputs:
        record = current  # nothing it depends on changed since it was computed: not computed again
    else:
        metering = stores.metering
        usage = None if metering is None else RatedUsage(account, metering, stores.readings, months)
        invoice = compute(
            account,
            customer_id,
            start,
            end,
            stores,
            now,
            settings=settings,
            reason=reason,
            customer_catalog=own,
            series_source=usage,
            documents=documents,
        )
        if usage is not None and not usage.complete:
            inputs = None  # a day billed from raw readings, not rated yet: computed again on the next pass
        record = put_draft(account, invoice, stores, now, inputs=inputs, current=current)
    if record.state != "draft":
        return record
    calendar = calendar_of(account, customer_id, stores, settings, customer_catalog=own)
    if not issue_due(end, calendar.zone, settings.grace_days, now):
        return record
    prefix = settings.invoice_number_prefix
    return stores.invoices.issue(account, invoice_id, series="invoice", at=now, render=_render(now, prefix))


# --- settlements -------------------------------------------------------------------------------------------


def settle(
    account: str, customer_id: str, start: date, end: date, reason: str, now: datetime, stores: Stores
) -> InvoiceRecord:
    """An invoice of [start, end) outside the bill-day calendar (a move-out settlement), through the same
    path as the run (``invoice_period``: a draft until its grace has passed). Drafts of the customer's
    invoices overlapping those days are voided first, so the scheduled run then bills only the rest of
    their periods. Refused (InvalidInputError ``from``) when an issued invoice covers any of the days:
    those are corrected by notes."""
    require_aware(now, "now")
    if end <= start:
        raise InvalidInputError("to", f"{end} is not after from {start}")
    own_id = invoices_core.invoice_id(account, customer_id, start, end, "invoice")
    overlapping = [
        d
        for d in customer_documents(account, customer_id, stores)
        if d.kind == "invoice" and d.state != "void" and d.period_start < end and start < d.period_end
    ]
    for document in overlapping:
        if document.state == "issued":
            raise InvalidInputError(
                "from",
                f"{start} to {end} overlaps invoice {document.number} ({document.period_start} to "
                f"{document.period_end}), already issued: correct it with a credit or debit note",
            )
    for document in overlapping:
        if document.id != own_id:
            stores.invoices.void(account, document.id)
    try:
        existing = stores.invoices.get(account, own_id)
    except NotFoundError:
        existing = None
    if existing is None:
        settings = settings_of(account, stores.accounts)
        invoice = compute(account, customer_id, start, end, stores, now, settings=settings, reason=reason)
        put_draft(account, invoice, stores, now)
    elif existing.state == "void":
        raise InvalidInputError("from", f"the invoice of {start} to {end} was voided ({own_id})")
    return invoice_period(account, customer_id, (start, end), now, stores)


# --- corrections -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rerating:
    original: Invoice
    rerated: Invoice
    notes: tuple[Invoice, ...]  # the issued notes on the original, in order
    difference: Difference | None  # None: nothing to correct


def _months_before(moment: datetime, months: int) -> datetime:
    index = moment.year * 12 + moment.month - 1 - months
    year, month = index // 12, index % 12 + 1
    return moment.replace(year=year, month=month, day=min(moment.day, monthrange(year, month)[1]))


def rerate(account: str, invoice_id: str, now: datetime, stores: Stores) -> Rerating:
    """The issued invoice's period computed again with today's readings, catalog and tariffs, and the
    difference from what was charged (the invoice and its issued notes) line by line. Nothing is written.
    InvalidStateError for a draft, void invoice or a note; InvalidInputError ``id`` for an invoice issued more
    than 12 months before ``now``."""
    require_aware(now, "now")
    record = stores.invoices.get(account, invoice_id)
    if not invoices_core.is_issued(record.state) or record.kind != "invoice":
        raise InvalidStateError("invoice", invoice_id, f"{record.state} {record.kind}", "re-rate")
    assert record.issued_at is not None
    oldest = _months_before(now, RERATE_MONTHS)
    if record.issued_at < oldest:
        raise InvalidInputError(
            "id",
            f"invoice {record.number} was issued {record.issued_at.isoformat()}, more than {RERATE_MONTHS} "
            f"months before {now.isoformat()}: it can no longer be re-rated",
        )
    original = Invoice.from_json(record.body)
    documents = customer_documents(account, original.customer_id, stores)
    rerated = compute(
        account,
        original.customer_id,
        original.period_start,
        original.period_end,
        stores,
        now,
        documents=documents,
    )
    notes = issued_notes(original, documents)
    try:
        diff = difference(original, rerated, notes)
    except InvoiceError as err:
        raise InvalidInputError(err.field, err.reason) from None
    return Rerating(original, rerated, tuple(notes), diff)


def expectation(rerating: Rerating) -> str:
    """What ``adjust`` would issue after ``rerating``, as text to confirm: ``<kind> <amount> <currency>``
    (``credit_note -3.60 EUR``), ``nothing`` when there is nothing to correct."""
    diff = rerating.difference
    return "nothing" if diff is None else expectation_of(diff.kind, diff.total, diff.currency)


def adjust(
    account: str,
    invoice_id: str,
    now: datetime,
    stores: Stores,
    *,
    reason: str | None = None,
    expected: str | None = None,
) -> InvoiceRecord | None:
    """Issues the re-rating's difference as a credit note (or debit note) numbered in the account's
    credit-note series, referencing the original, which stays unchanged. None when there is nothing to
    correct (a second adjust with no new data issues nothing). Retried after a crash, it finds the draft note
    it left behind (same id) and issues that. With ``expected`` (``expectation`` of a re-rating the caller
    showed), PreconditionFailedError when the figures are no longer those (new readings since), before
    anything is written."""
    rerating = rerate(account, invoice_id, now, stores)
    if expected is not None and expectation(rerating) != expected:
        raise PreconditionFailedError("invoice", invoice_id, expected, expectation(rerating))
    documents = customer_documents(account, rerating.original.customer_id, stores)
    sequence = next_note_sequence(rerating.original, documents)
    note_id = invoices_core.note_id(rerating.original.id, sequence)
    if rerating.difference is None:
        left = next((d for d in documents if d.id == note_id and d.state == "draft"), None)
        if left is not None:  # a draft from an interrupted adjust whose difference is gone since
            stores.invoices.void(account, note_id)
        return None
    draft_note = note(
        rerating.original,
        rerating.difference,
        sequence=sequence,
        computed_at=now,
        rerated=rerating.rerated,
        reason=reason,
    )
    put_draft(account, draft_note, stores, now)
    return issue_now(account, note_id, stores, now)
