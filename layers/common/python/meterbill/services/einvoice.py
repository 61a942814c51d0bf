"""The e-invoice XML of a stored invoice (``GET /v1/invoices/{id}/xml``): the ``InvoiceDocument`` built from
the stores, rendered by ``documents.facturx.invoice_xml``.

A minimal builder of the document (the documents service, ``services.documents.invoice_document``, builds
the full one the PDF needs: history, reads); the XML reads only these parts of it:

- seller: the account's billing settings (``seller``; none set yet: 422 naming ``seller``);
- buyer: the customer (name, address, VAT id, buyer reference, emails), language: the customer's;
- issue date: ``issued_at`` on the customer's calendar (the zone of its first meter's site, as invoicing
  uses; as recorded when the customer has no meter left); due date: issue date + payment terms;
- meters: each billed meter's unit, utility and location (its site's name and its labels);
- the corrected invoice of a note: its number and issue date.

Only an issued invoice has an e-invoice: a draft or void one is a conflict with its state (409).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from meterbill.billing.invoice import Invoice
from meterbill.billing_settings import BillingSettings
from meterbill.documents.model import Buyer, CorrectedInvoice, InvoiceDocument, MeterDetail
from meterbill.domain import Customer, Meter, Site
from meterbill.errors import InvalidInputError, InvalidStateError, NotFoundError
from meterbill.ports import InvoiceRecord, Stores
from meterbill.services import billing_settings
from meterbill.services import catalog as catalog_service
from meterbill.services.invoicing import calendar_of

ACTION = "have an e-invoice (only an issued invoice has one)"


def invoice_xml_of(account: str, invoice_id: str, stores: Stores) -> bytes:
    """The Factur-X EN 16931 XML of the account's issued invoice or note; NotFoundError for an unknown
    (or another account's) id, InvalidStateError for a draft or void one, InvalidInputError naming what
    the e-invoice lacks (the seller, the buyer's address, a unit without a Rec 20 code, ...)."""
    from meterbill.documents.facturx import EInvoiceError, invoice_xml  # lxml: loaded by the first request

    record = stores.invoices.get(account, invoice_id)
    document = einvoice_document(account, record, stores)
    try:
        return invoice_xml(document)
    except EInvoiceError as err:
        raise InvalidInputError(err.field, err.reason) from None


def einvoice_document(account: str, record: InvoiceRecord, stores: Stores) -> InvoiceDocument:
    if record.state in ("draft", "void") or record.number is None:
        raise InvalidStateError("invoice", record.invoice_id, record.state, ACTION)
    invoice = Invoice.from_json(record.body)
    settings = billing_settings.settings_of(account, stores.accounts)
    if settings.seller is None:
        raise InvalidInputError(
            "seller", "the account's billing settings name no seller: set it (PUT /v1/settings/billing) first"
        )
    customer = catalog_service.get(account, Customer, invoice.customer_id, stores.catalog).value
    zone = _zone(account, invoice.customer_id, stores, settings)
    issue_date = _local_date(invoice.issued_at, zone)
    corrected = None
    if invoice.corrects is not None:
        original = stores.invoices.get(account, invoice.corrects)
        if original.number is None:
            raise InvalidStateError("invoice", original.invoice_id, original.state, "be corrected by a note")
        corrected = CorrectedInvoice(original.number, _local_date(original.issued_at, zone))
    return InvoiceDocument(
        invoice=invoice,
        seller=settings.seller,
        buyer=Buyer(
            customer_id=customer.id,
            name=customer.name,
            address=customer.address,
            vat_id=customer.vat_id,
            buyer_reference=customer.buyer_reference,
            emails=customer.emails,
        ),
        language=customer.language,
        issue_date=issue_date,
        due_date=issue_date + timedelta(days=settings.payment_terms_days),
        meters=tuple(_meters(account, invoice, stores)),
        corrected=corrected,
        title=customer.bill_title,
    )


def _zone(account: str, customer_id: str, stores: Stores, settings: BillingSettings) -> ZoneInfo | None:
    try:
        return calendar_of(account, customer_id, stores, settings).zone
    except InvalidInputError:  # no meter assigned any more: the date as issued_at was recorded
        return None


def _local_date(moment: datetime | None, zone: ZoneInfo | None) -> date:
    assert moment is not None  # an issued invoice has its issued_at
    return (moment if zone is None else moment.astimezone(zone)).date()


def _meters(account: str, invoice: Invoice, stores: Stores) -> list[MeterDetail]:
    details = []
    sites: dict[str, Site | None] = {}
    for meter_id in sorted({line.meter_id for line in invoice.lines if line.meter_id is not None}):
        try:
            meter = catalog_service.get(account, Meter, meter_id, stores.catalog).value
        except NotFoundError:  # a meter deleted since: the invoice still names it
            continue
        if meter.site_id not in sites:
            try:
                sites[meter.site_id] = catalog_service.get(account, Site, meter.site_id, stores.catalog).value
            except NotFoundError:
                sites[meter.site_id] = None
        site = sites[meter.site_id]
        labels = [
            v for v in (meter.labels.room, meter.labels.rack, meter.labels.feed, meter.labels.device) if v
        ]
        location = ", ".join([*([site.name] if site else []), *labels]) or None
        details.append(
            MeterDetail(
                meter_id=meter.id,
                unit=meter.unit,
                utility=meter.utility,
                location=location,
                serial=meter.serial,
                multiplier=meter.multiplier,
            )
        )
    return details
