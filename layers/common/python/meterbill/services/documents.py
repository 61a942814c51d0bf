"""An issued invoice's document: what it shows (``invoice_document``) and storing it once, unalterable
(``store_invoice_document``).

``invoice_document`` gathers everything the PDF and the e-invoice XML print into one
``documents.model.InvoiceDocument``: the seller from the account's billing settings (an account without one
cannot issue a document: InvalidInputError ``seller``), the buyer from the customer, the issue date (the
moment of issue on the site's calendar) and the due date (plus the payment terms), per meter its location
(site name and labels), serial, the multiplier in force at the end of the period and, for a register meter,
its reads at the period's bounds (the last register read within a day before each bound; None when there is
none, and always None for an interval meter), up to 12 months of history (the customer's earlier issued
invoices' usage, by the month their period starts in, per unit), the invoice a note corrects, the customer's
bill title and the account's logo.

``store_invoice_document`` renders it (the renderer is passed in: xml -> pdf -> sign), writes it once into the
document store and marks the invoice ``stored`` with the SHA-256 of the stored bytes. Every step may crash
and be retried:

- a crash before the put leaves nothing: the retry renders and stores;
- a crash after the put, before the mark: the retry finds the stored object (``head``), renders nothing and
  marks the invoice with what is stored - a signed PDF is not reproducible byte for byte (its signing time),
  so the stored bytes, not a new rendering, are the document;
- two workers racing: the second put is refused (``AlreadyExistsError``) and it marks the winner's object;
- a crash after the mark: the retry finds the invoice stored and returns it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Final
from zoneinfo import ZoneInfo

from meterbill.billing.invoice import Invoice, is_issued
from meterbill.billing_settings import BillingSettings
from meterbill.documents.model import (
    Buyer,
    CorrectedInvoice,
    HistoryMonth,
    InvoiceDocument,
    Logo,
    MeterDetail,
)
from meterbill.domain import Customer, Meter, Site
from meterbill.errors import (
    AlreadyExistsError,
    InvalidInputError,
    InvalidStateError,
    NotFoundError,
    StorageUnavailableError,
)
from meterbill.ports import (
    AccountStore,
    DocumentStore,
    InvoiceRecord,
    ReadingStore,
    SigningKeyPem,
    SigningKeyStore,
    Stores,
)
from meterbill.services import catalog as catalog_service
from meterbill.services.billing_settings import settings_of
from meterbill.services.common import require_aware
from meterbill.services.invoicing import LIST_PAGE, calendar_of, customer_documents
from meterbill.services.logo import logo_of
from meterbill.settings import Retention
from meterbill.timeutil import local_midnight

PDF: Final = "application/pdf"
HISTORY_MONTHS: Final = 12
READ_WINDOW: Final = timedelta(days=1)  # how far before a bound a register read still counts as its read

Render = Callable[[InvoiceDocument], bytes]
LogoSource = Callable[[str], Logo | None]


def document_key(record: InvoiceRecord) -> str:
    """Where the document of an invoice is stored (under its account's prefix): one key per invoice, so a
    retried store meets the object it wrote."""
    return f"invoices/{record.invoice_id}.pdf"


# --- what the document shows -------------------------------------------------------------------------------


def invoice_document(
    account: str,
    record: InvoiceRecord,
    stores: Stores,
    *,
    logo: LogoSource | None = None,
) -> InvoiceDocument:
    """The document of an issued invoice or note (see the module's docstring). InvalidStateError for a draft
    or void one; InvalidInputError ``seller`` when the account's billing settings name no seller."""
    return _document(account, record, stores, logo)[0]


def _document(
    account: str, record: InvoiceRecord, stores: Stores, logo: LogoSource | None
) -> tuple[InvoiceDocument, ZoneInfo]:
    """The document and the zone of the customer's calendar."""
    if not is_issued(record.state):
        raise InvalidStateError("invoice", record.invoice_id, record.state, "make its document")
    invoice = Invoice.from_json(record.body)
    assert invoice.issued_at is not None  # an issued body has it (Invoice checks)
    settings = settings_of(account, stores.accounts)
    if settings.seller is None:
        raise InvalidInputError(
            "seller",
            "the account's billing settings name no seller (PUT /v1/settings/billing): an invoice document "
            "must say who issues it",
        )
    customer = catalog_service.get(account, Customer, record.customer_id, stores.catalog).value
    meters = _meters(account, _meter_ids(invoice), stores)
    sites = {
        site_id: catalog_service.get(account, Site, site_id, stores.catalog).value
        for site_id in sorted({m.site_id for m in meters.values()})
    }
    zone = _zone(account, record.customer_id, stores, settings, meters, sites)
    issue_date = invoice.issued_at.astimezone(zone).date()
    earlier = [d for d in customer_documents(account, record.customer_id, stores) if d.id != invoice.id]
    document = InvoiceDocument(
        invoice=invoice,
        seller=settings.seller,
        buyer=buyer_of(customer),
        language=customer.language,
        issue_date=issue_date,
        due_date=issue_date + timedelta(days=settings.payment_terms_days),
        meters=tuple(
            meter_detail(account, invoice, meters[m], sites[meters[m].site_id], zone, stores.readings)
            for m in sorted(meters)
        ),
        history=history(earlier, invoice.period_start),
        corrected=_corrected(invoice, earlier, zone),
        title=customer.bill_title,
        logo=(logo or stored_logo(stores.accounts))(account),
    )
    return document, zone


def buyer_of(customer: Customer) -> Buyer:
    return Buyer(
        customer_id=customer.id,
        name=customer.name,
        address=customer.address,
        vat_id=customer.vat_id,
        buyer_reference=customer.buyer_reference,
        emails=tuple(customer.emails),
    )


def meter_detail(
    account: str,
    invoice: Invoice,
    meter: Meter,
    site: Site,
    zone: ZoneInfo,
    readings: ReadingStore | None,
) -> MeterDetail:
    """The meter as the customer reads it off the device over the invoice's period."""
    start = local_midnight(invoice.period_start, zone)
    end = local_midnight(invoice.period_end, zone)
    usage = next((u for u in invoice.meter_usage if u.meter_id == meter.id), None)
    start_read = end_read = None
    if readings is not None:
        start_read = register_read(account, meter.id, start, readings)
        end_read = register_read(account, meter.id, end, readings)
    return MeterDetail(
        meter_id=meter.id,
        unit=meter.unit if usage is None else usage.unit,
        utility=meter.utility,
        location=location_of(meter, site),
        serial=meter.serial,
        multiplier=multiplier_at(meter, end),
        start_read=start_read,
        end_read=end_read,
    )


def location_of(meter: Meter, site: Site) -> str:
    """The site's name, then the meter's labels (room, rack, feed, phase, device) as they are written:
    ``"Berlin office, cage 4 / PDU B"``."""
    labels = meter.labels
    parts = [str(v) for v in (labels.room, labels.rack, labels.feed, labels.phase, labels.device) if v]
    return site.name if not parts else f"{site.name}, {' / '.join(parts)}"


def multiplier_at(meter: Meter, moment: datetime) -> Decimal:
    """The CT ratio in force just before ``moment`` (the last change that took effect before it)."""
    current = meter.multiplier
    for change in meter.multipliers:  # in time order (the catalog checks it)
        if change.effective_from < moment:
            current = change.multiplier
    return current


def register_read(account: str, meter_id: str, bound: datetime, readings: ReadingStore) -> Decimal | None:
    """The meter's register read at ``bound``: the last register reading in (bound - 1 day, bound]; None when
    there is none (an interval meter, or no read near the bound). One read of a day of readings."""
    found: Decimal | None = None
    for reading in readings.between(
        account, meter_id, bound - READ_WINDOW, bound + timedelta(microseconds=1)
    ):
        if reading.type == "register":
            found = reading.value
    return found


def history(earlier: Iterable[Invoice], before: date) -> tuple[HistoryMonth, ...]:
    """The customer's usage per month and unit over the 12 months before ``before``, oldest first: each
    earlier issued invoice (not a note: notes correct money, not usage) counts in the month its period
    starts in; months without an invoice are left out."""
    first = _months_before(before.replace(day=1), HISTORY_MONTHS)
    totals: dict[tuple[date, str], Decimal] = {}
    for invoice in earlier:
        if invoice.kind != "invoice" or not is_issued(invoice.state):
            continue
        month = invoice.period_start.replace(day=1)
        if not (first <= month and invoice.period_start < before):
            continue
        for usage in invoice.meter_usage:
            key = (month, usage.unit)
            totals[key] = totals.get(key, Decimal(0)) + usage.total
    return tuple(HistoryMonth(month, totals[(month, unit)], unit) for month, unit in sorted(totals))


def stored_logo(accounts: AccountStore) -> LogoSource:
    """The account's logo as uploaded (``PUT /v1/settings/logo``, ``services.logo``), or None."""
    return lambda account: logo_of(account, accounts)


def _meter_ids(invoice: Invoice) -> list[str]:
    ids = {u.meter_id for u in invoice.meter_usage}
    ids |= {line.meter_id for line in invoice.lines if line.meter_id is not None}
    return sorted(ids)


def _meters(account: str, meter_ids: Iterable[str], stores: Stores) -> dict[str, Meter]:
    meters: dict[str, Meter] = {}
    for meter_id in meter_ids:
        try:
            meters[meter_id] = catalog_service.get(account, Meter, meter_id, stores.catalog).value
        except NotFoundError:
            continue  # a meter deleted since: the lines still name it, the document has no details of it
    return meters


def _zone(
    account: str,
    customer_id: str,
    stores: Stores,
    settings: BillingSettings,
    meters: Mapping[str, Meter],
    sites: Mapping[str, Site],
) -> ZoneInfo:
    """The customer's calendar (its first meter's site, as the bill run bills it); for a customer without
    assignments left, its invoice's first meter's site."""
    try:
        return calendar_of(account, customer_id, stores, settings).zone
    except InvalidInputError:
        if not meters:
            raise
        first = meters[min(meters)]
        return sites[first.site_id].zone()


def _corrected(invoice: Invoice, earlier: Iterable[Invoice], zone: ZoneInfo) -> CorrectedInvoice | None:
    if invoice.corrects is None:
        return None
    original = next((d for d in earlier if d.id == invoice.corrects), None)
    if original is None or original.number is None or original.issued_at is None:
        raise InvalidInputError("corrects", f"the corrected invoice {invoice.corrects!r} is not issued")
    return CorrectedInvoice(original.number, original.issued_at.astimezone(zone).date())


def _months_before(month: date, count: int) -> date:
    index = month.year * 12 + month.month - 1 - count
    return date(index // 12, index % 12 + 1, 1)


# --- storing it ---------------------------------------------------------------------------------------------


def store_invoice_document(
    account: str,
    invoice_id: str,
    *,
    stores: Stores,
    documents: DocumentStore,
    render: Render,
    now: datetime,
    retention: Retention,
    logo: LogoSource | None = None,
) -> InvoiceRecord:
    """Stores the issued invoice's document once and marks it ``stored`` with the SHA-256 of the stored
    bytes (see the module's docstring); returns the record. A stored or delivered invoice is returned as it
    is; InvalidStateError for a draft or void one."""
    require_aware(now, "now")
    record = stores.invoices.get(account, invoice_id)
    if record.state in ("stored", "delivered"):
        return record
    if record.state != "issued":
        raise InvalidStateError("invoice", invoice_id, record.state, "store its document")
    key = document_key(record)
    # Built even when the bytes are stored already (a retry after a crash): the record keeps the due date
    # the document shows, which the email repeats.
    document, zone = _document(account, record, stores, logo)
    try:
        stored = documents.head(account, key)  # stored before a crash: that object is the document
    except NotFoundError:
        body = render(document)
        retain_until = retention.until(stored_at=now, issue_date=document.issue_date, zone=zone)
        try:
            stored = documents.put_once(account, key, body, content_type=PDF, retain_until=retain_until)
        except AlreadyExistsError:
            # Another worker stored its rendering first (a signed PDF differs by its signing time): that
            # object is the document; ours is dropped.
            stored = documents.head(account, key)
    return stores.invoices.mark_stored(account, invoice_id, stored, now, due_date=document.due_date)


# --- the invoice worker's storage step ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DocumentStep:
    """What storing documents needs beside the stores: the invoices bucket, the renderer (xml -> pdf ->
    sign), the stage's retention and where logos come from."""

    documents: DocumentStore
    render: Render
    retention: Retention
    logo: LogoSource | None = None


@dataclass(frozen=True, slots=True)
class PeriodDocuments:
    """What ``store_period_documents`` did: the documents it stored now (or found stored by a crashed run),
    and those it could not store for the account's data (``refused``: id -> reason, e.g. no seller)."""

    stored: tuple[str, ...] = ()
    refused: Mapping[str, str] = field(default_factory=dict)


def store_period_documents(
    account: str,
    customer_id: str,
    period: tuple[date, date],
    *,
    stores: Stores,
    step: DocumentStep,
    now: datetime,
) -> PeriodDocuments:
    """The invoice worker's step after ``billrun.work``: stores the document of every issued, not yet
    stored invoice and note of the customer for exactly ``period`` (a note has its invoice's period), in id
    order. An invoice the account's data cannot make a document of (InvalidInputError: no seller) is
    reported in ``refused`` and stays issued - the hourly run sends its period again, so it is stored once
    the settings are fixed; anything else (storage unavailable) propagates and the message is retried."""
    start, end = period
    pending = [
        record
        for record in _customer_period(account, customer_id, start, stores)
        if record.period_end == end and record.state == "issued"
    ]
    stored: list[str] = []
    refused: dict[str, str] = {}
    for record in sorted(pending, key=lambda r: r.invoice_id):
        try:
            store_invoice_document(
                account,
                record.invoice_id,
                stores=stores,
                documents=step.documents,
                render=step.render,
                now=now,
                retention=step.retention,
                logo=step.logo,
            )
        except InvalidInputError as error:
            refused[record.invoice_id] = str(error)
            continue
        stored.append(record.invoice_id)
    return PeriodDocuments(tuple(stored), refused)


def _customer_period(account: str, customer_id: str, start: date, stores: Stores) -> list[InvoiceRecord]:
    """The customer's invoices and notes whose period starts on ``start``."""
    found: list[InvoiceRecord] = []
    cursor: str | None = None
    while True:
        page = stores.invoices.list(
            account,
            customer_id=customer_id,
            start=start,
            end=start + timedelta(days=1),
            limit=LIST_PAGE,
            cursor=cursor,
        )
        found += page.items
        if page.cursor is None:
            return found
        cursor = page.cursor


# --- checking it --------------------------------------------------------------------------------------------


def document_problems(account: str, invoice_id: str, stores: Stores) -> list[str]:
    """What is wrong with the stored document of the invoice, compared with its record: empty when the
    stored bytes have the SHA-256 and size the invoice was marked with (the hash check; the signature check
    is ``documents.signing.signature_problems``). InvalidStateError when nothing is stored yet."""
    record = stores.invoices.get(account, invoice_id)
    if record.document is None:
        raise InvalidStateError("invoice", invoice_id, record.state, "check its document (none is stored)")
    if stores.documents is None:
        raise StorageUnavailableError("no document store is configured (INVOICES_BUCKET)")
    body = stores.documents.get(account, record.document.key)
    problems = []
    if len(body) != record.document.size:
        problems.append(f"size: {len(body)} bytes stored, {record.document.size} recorded")
    actual = hashlib.sha256(body).hexdigest()
    if actual != record.document.sha256:
        problems.append(f"sha256: {actual} stored, {record.document.sha256} recorded")
    return problems


# --- downloading it ---------------------------------------------------------------------------------------

DOWNLOAD_LIFETIME: Final = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class DownloadLink:
    url: str
    expires_at: datetime


def download_link(
    account: str, invoice_id: str, stores: Stores, now: datetime, *, lifetime: timedelta = DOWNLOAD_LIFETIME
) -> DownloadLink:
    """A presigned URL of the stored PDF, valid ``lifetime`` (5 minutes) from ``now``. NotFoundError;
    InvalidStateError naming the state when the invoice has no stored document yet (draft, void, issued);
    StorageUnavailableError when this function has no document store."""
    require_aware(now, "now")
    record = stores.invoices.get(account, invoice_id)
    if record.state not in ("stored", "delivered") or record.document is None:
        raise InvalidStateError(
            "invoice", invoice_id, record.state, "download its PDF (it is not stored yet)"
        )
    if stores.documents is None:
        raise StorageUnavailableError("no document store is configured (INVOICES_BUCKET)")
    url = stores.documents.download_url(account, record.document.key, expires_in=lifetime)
    return DownloadLink(url=url, expires_at=now + lifetime)


# --- the account's signing key ------------------------------------------------------------------------------


def signing_key(account: str, keys: SigningKeyStore, *, make: Callable[[], SigningKeyPem]) -> SigningKeyPem:
    """The account's signing key; made with ``make`` (a self-signed key, ``documents.signing``) and stored
    when it has none - at account set-up, or on its first document. Two callers racing keep the first."""
    try:
        return keys.get(account)
    except NotFoundError:
        return keys.create(account, make())


def self_signed_pem(common_name: str, now: datetime) -> SigningKeyPem:
    """A new signing key with a self-signed certificate for ``common_name``, valid from ``now``."""
    from meterbill.documents.signing import self_signed_key

    key = self_signed_key(common_name, now)
    return SigningKeyPem(key.private_key_pem.decode(), key.certificate_pem.decode())


def signed_renderer(keys: SigningKeyStore, *, clock: Callable[[], datetime]) -> Render:
    """The renderer the invoice worker stores documents with: ``documents.render.signed_invoice_pdf`` with the
    account's signing key, a self-signed one made (at ``clock()``) and kept on the account's first document.
    What the e-invoice lacks (the buyer's address, ...) is an InvalidInputError naming it: the invoice stays
    issued and is stored once the data is fixed."""
    from meterbill.documents.facturx import EInvoiceError
    from meterbill.documents.render import signed_invoice_pdf
    from meterbill.documents.signing import SigningKey

    def render(document: InvoiceDocument) -> bytes:
        pem = signing_key(
            document.invoice.account_id,
            keys,
            make=lambda: self_signed_pem(document.seller.legal_name, clock()),
        )
        key = SigningKey(pem.private_key_pem.encode(), pem.certificate_pem.encode())
        try:
            return signed_invoice_pdf(document, key)
        except EInvoiceError as error:
            raise InvalidInputError(error.field, error.reason) from None

    return render
