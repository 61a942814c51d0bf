"""The hourly bill run: which (customer, period) need work at ``now``, sent to the invoice queue.

For every account and every customer with assignments: its calendar (``invoicing.customer_calendar``: the
zone of its first meter's site, its bill day), the periods due at ``now`` (``billing.periods.due_periods``:
ended in the site's zone, minus what drafts and issued invoices already cover, clipped to the assignments),
and the customer's drafts of invoices (recomputed on every pass until their grace has passed and they are
issued). Each becomes one ``InvoiceWork`` message; the worker (``work``) runs ``invoicing.invoice_period``
on it. A due span whose invoice was voided is not sent again (voiding a scheduled draft means: do not bill
it). Sending the same work twice is harmless: the worker is idempotent by the invoice's deterministic id.

Documents (issue 10): after ``work`` the worker stores the documents of what is issued and not stored yet
for the (customer, period) - the invoice it issued, and notes issued through the API on that period
(``store_documents``; ``services.documents.store_period_documents``). With ``unstored=True`` (the
deployment stores documents) the run also sends the period of every document still ``issued``: one whose
storage failed (an account without a seller, storage down) or a note or settlement issued by the API, so
each is stored within the hour. The worker finds such an invoice issued (``work`` changes nothing) and
stores its documents.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Final

from meterbill.billing.periods import due_periods, settled_until
from meterbill.domain import Assignment, Customer, Meter, Site
from meterbill.errors import InvalidInputError, MeterbillError, StorageUnavailableError
from meterbill.ports import (
    AccountRecord,
    DeliveryQueue,
    InvoiceRecord,
    InvoiceWork,
    InvoiceWorkQueue,
    Stores,
)
from meterbill.services import catalog as catalog_service
from meterbill.services.billing_settings import settings_of
from meterbill.services.common import require_aware
from meterbill.services.delivery import FirstDeliveries, queue_first_deliveries
from meterbill.services.documents import DocumentStep, PeriodDocuments, store_period_documents
from meterbill.services.invoicing import LIST_PAGE, customer_calendar, invoice_period

ACCOUNTS_PAGE: Final = 100
INVOICES_PAGE: Final = 200
SEND_BATCH: Final = 100


@dataclass(frozen=True, slots=True)
class RunReport:
    accounts: int
    customers: int
    sent: int
    failed: tuple[str, ...] = ()  # accounts whose work could not be found (e.g. a catalog it cannot read)


def accounts(stores: Stores) -> Iterator[AccountRecord]:
    cursor: str | None = None
    while True:
        page = stores.accounts.list(limit=ACCOUNTS_PAGE, cursor=cursor)
        yield from page.items
        if page.cursor is None:
            return
        cursor = page.cursor


def _invoices(account: str, stores: Stores) -> list[InvoiceRecord]:
    records: list[InvoiceRecord] = []
    cursor: str | None = None
    while True:
        page = stores.invoices.list(account, limit=INVOICES_PAGE, cursor=cursor)
        records += page.items
        if page.cursor is None:
            return records
        cursor = page.cursor


def account_work(account: str, now: datetime, stores: Stores, *, unstored: bool = False) -> list[InvoiceWork]:
    """The work of one account at ``now``, by customer, oldest period first; with ``unstored``, also the
    (customer, period) of every invoice and note issued and not stored yet."""
    require_aware(now, "now")
    settings = settings_of(account, stores.accounts)
    assignments: dict[str, list[Assignment]] = {}  # by customer: each customer's calendar reads its own
    for assignment in catalog_service.all_of(account, Assignment, stores.catalog):
        assignments.setdefault(assignment.customer_id, []).append(assignment)
    meters = {m.id: m for m in catalog_service.all_of(account, Meter, stores.catalog)}
    sites = {s.id: s for s in catalog_service.all_of(account, Site, stores.catalog)}
    invoices: dict[str, list[InvoiceRecord]] = {}
    not_stored: set[tuple[str, date, date]] = set()
    for record in _invoices(account, stores):
        if record.kind == "invoice":
            invoices.setdefault(record.customer_id, []).append(record)
        if unstored and record.state == "issued":
            not_stored.add((record.customer_id, record.period_start, record.period_end))
    work: list[InvoiceWork] = []
    for customer in catalog_service.all_of(account, Customer, stores.catalog):
        calendar = customer_calendar(customer, assignments.get(customer.id, []), meters, sites, settings)
        if calendar is None:
            continue
        records = invoices.get(customer.id, [])
        covered = [(r.period_start, r.period_end) for r in records if r.state != "void"]
        voided = {(r.period_start, r.period_end) for r in records if r.state == "void"}
        since = settled_until(calendar.active, covered)  # not the periods invoiced since the move-in
        spans = {
            (span.start, span.end)
            for span in due_periods(
                now, calendar.zone, calendar.bill_day, active=calendar.active, invoiced=covered, since=since
            )
            if (span.start, span.end) not in voided
        }
        spans |= {(r.period_start, r.period_end) for r in records if r.state == "draft"}
        spans |= {(start, end) for customer_id, start, end in not_stored if customer_id == customer.id}
        not_stored -= {(customer.id, start, end) for start, end in spans}
        work += (InvoiceWork(account, customer.id, start, end, now) for start, end in sorted(spans))
    # documents of customers without assignments now (their calendar is gone; their documents are not)
    work += (InvoiceWork(account, c, start, end, now) for c, start, end in sorted(not_stored))
    return work


def run(now: datetime, stores: Stores, queue: InvoiceWorkQueue, *, unstored: bool = False) -> RunReport:
    """One pass of the schedule at ``now``: every account's work sent to ``queue``. An account whose work
    cannot be found (its catalog or settings unreadable) is reported in ``failed`` and the others go on;
    storage that is unavailable ends the pass (StorageUnavailableError), to be retried by the scheduler."""
    require_aware(now, "now")
    account_count = customers = sent = 0
    failed: list[str] = []
    batch: list[InvoiceWork] = []
    for account in accounts(stores):
        account_count += 1
        try:
            work = account_work(account.account_id, now, stores, unstored=unstored)
        except StorageUnavailableError:
            raise
        except (MeterbillError, ValueError):  # one account's bad data does not stop the others' run
            failed.append(account.account_id)
            continue
        customers += len({w.customer_id for w in work})
        batch += work
        while len(batch) >= SEND_BATCH:
            queue.send(batch[:SEND_BATCH])
            sent += SEND_BATCH
            batch = batch[SEND_BATCH:]
    if batch:
        queue.send(batch)
        sent += len(batch)
    return RunReport(account_count, customers, sent, tuple(failed))


def work_from_json(data: object) -> InvoiceWork:
    """A work message's body read back; InvalidInputError naming the field at fault (a malformed message)."""
    if not isinstance(data, Mapping):
        raise InvalidInputError("message", f"{type(data).__name__} is not a JSON object")
    values: dict[str, str] = {}
    for name in ("account", "customer_id", "period_start", "period_end", "as_of"):
        value = data.get(name)
        if not isinstance(value, str) or not value:
            raise InvalidInputError(name, f"{value!r} is not a non-empty string")
        values[name] = value
    days = []
    for name in ("period_start", "period_end"):
        try:
            days.append(date.fromisoformat(values[name]))
        except ValueError:
            raise InvalidInputError(name, f"{values[name]!r} is not a date (YYYY-MM-DD)") from None
    if days[1] <= days[0]:
        raise InvalidInputError("period_end", f"{days[1]} is not after period_start {days[0]}")
    try:
        as_of = datetime.fromisoformat(values["as_of"])
    except ValueError:
        raise InvalidInputError("as_of", f"{values['as_of']!r} is not an ISO 8601 date and time") from None
    if as_of.utcoffset() is None:
        raise InvalidInputError("as_of", f"{values['as_of']!r} has no UTC offset")
    return InvoiceWork(values["account"], values["customer_id"], days[0], days[1], as_of)


def work(item: InvoiceWork, stores: Stores) -> InvoiceRecord:
    """The worker's step for one message, as of the moment its run was scheduled for."""
    return invoice_period(
        item.account, item.customer_id, (item.period_start, item.period_end), item.as_of, stores
    )


def queue_emails(
    item: InvoiceWork, stored: Sequence[str], stores: Stores, queue: DeliveryQueue, now: datetime
) -> FirstDeliveries:
    """The worker's step after ``store_documents``: the first email of every document of the customer that
    is stored and not delivered yet - those stored now (``stored``) and any a crash left stored without its
    email. Queueing one again is harmless (attempt 1 exists once; its worker sends at most once). An account
    without an email sender, a customer without an address: skipped with the reason."""
    if stores.deliveries is None:
        return FirstDeliveries((), ())
    waiting = stores.invoices.list(
        item.account, customer_id=item.customer_id, state="stored", limit=LIST_PAGE
    )
    ids = list(dict.fromkeys([*stored, *(r.invoice_id for r in waiting.items)]))
    if not ids:
        return FirstDeliveries((), ())
    return queue_first_deliveries(
        item.account,
        ids,
        invoices=stores.invoices,
        catalog=stores.catalog,
        settings=settings_of(item.account, stores.accounts),
        deliveries=stores.deliveries,
        queue=queue,
        now=now,
    )


def store_documents(item: InvoiceWork, stores: Stores, step: DocumentStep, now: datetime) -> PeriodDocuments:
    """The worker's step after ``work``: the documents of the (customer, period) issued and not yet stored,
    stored at ``now``."""
    return store_period_documents(
        item.account,
        item.customer_id,
        (item.period_start, item.period_end),
        stores=stores,
        step=step,
        now=now,
    )
