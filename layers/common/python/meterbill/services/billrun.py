"""The hourly bill run: which (customer, period) need work at ``now``, sent to the invoice queue.

For every account and every customer with assignments: its calendar (``invoicing.customer_calendar``: the
zone of its first meter's site, its bill day), the periods due at ``now`` (``billing.periods.due_periods``:
ended in the site's zone, minus what drafts and issued invoices already cover, clipped to the assignments),
and the customer's drafts of invoices (recomputed on every pass until their grace has passed and they are
issued). Each becomes one ``InvoiceWork`` message; the worker (``work``) runs ``invoicing.invoice_period``
on it. A due span whose invoice was voided is not sent again (voiding a scheduled draft means: do not bill
it). Sending the same work twice is harmless: the worker is idempotent by the invoice's deterministic id.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Final

from meterbill.billing.periods import due_periods
from meterbill.domain import Assignment, Customer, Meter, Site
from meterbill.errors import InvalidInputError, MeterbillError, StorageUnavailableError
from meterbill.ports import AccountRecord, InvoiceRecord, InvoiceWork, InvoiceWorkQueue, Stores
from meterbill.services import catalog as catalog_service
from meterbill.services.billing_settings import settings_of
from meterbill.services.common import require_aware
from meterbill.services.invoicing import customer_calendar, invoice_period

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


def account_work(account: str, now: datetime, stores: Stores) -> list[InvoiceWork]:
    """The work of one account at ``now``, by customer, oldest period first."""
    require_aware(now, "now")
    settings = settings_of(account, stores.accounts)
    assignments: dict[str, list[Assignment]] = {}  # by customer: each customer's calendar reads its own
    for assignment in catalog_service.all_of(account, Assignment, stores.catalog):
        assignments.setdefault(assignment.customer_id, []).append(assignment)
    meters = {m.id: m for m in catalog_service.all_of(account, Meter, stores.catalog)}
    sites = {s.id: s for s in catalog_service.all_of(account, Site, stores.catalog)}
    invoices: dict[str, list[InvoiceRecord]] = {}
    for record in _invoices(account, stores):
        if record.kind == "invoice":
            invoices.setdefault(record.customer_id, []).append(record)
    work: list[InvoiceWork] = []
    for customer in catalog_service.all_of(account, Customer, stores.catalog):
        calendar = customer_calendar(customer, assignments.get(customer.id, []), meters, sites, settings)
        if calendar is None:
            continue
        records = invoices.get(customer.id, [])
        covered = [(r.period_start, r.period_end) for r in records if r.state != "void"]
        voided = {(r.period_start, r.period_end) for r in records if r.state == "void"}
        spans = {
            (span.start, span.end)
            for span in due_periods(
                now, calendar.zone, calendar.bill_day, active=calendar.active, invoiced=covered
            )
            if (span.start, span.end) not in voided
        }
        spans |= {(r.period_start, r.period_end) for r in records if r.state == "draft"}
        work += (InvoiceWork(account, customer.id, start, end, now) for start, end in sorted(spans))
    return work


def run(now: datetime, stores: Stores, queue: InvoiceWorkQueue) -> RunReport:
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
            work = account_work(account.account_id, now, stores)
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
