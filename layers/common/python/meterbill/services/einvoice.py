"""The e-invoice XML of an issued invoice (``GET /v1/invoices/{id}/xml``): the document the documents
service builds (``services.documents.invoice_document``: seller, buyer, dates, meters, the corrected invoice
of a note) rendered by ``documents.facturx.invoice_xml``, the same XML the stored PDF embeds.

Only an issued invoice has an e-invoice: a draft or void one is a conflict with its state (409).
"""

from __future__ import annotations

from meterbill.billing.invoice import is_issued
from meterbill.errors import InvalidInputError, InvalidStateError
from meterbill.ports import Stores
from meterbill.services.documents import invoice_document

ACTION = "have an e-invoice (only an issued invoice has one)"


def invoice_xml_of(account: str, invoice_id: str, stores: Stores) -> bytes:
    """The Factur-X EN 16931 XML of the account's issued invoice or note; NotFoundError for an unknown
    (or another account's) id, InvalidStateError for a draft or void one, InvalidInputError naming what
    the e-invoice lacks (the seller, the buyer's address, a unit without a Rec 20 code, ...)."""
    from meterbill.documents.facturx import EInvoiceError, invoice_xml  # lxml: loaded by the first request

    record = stores.invoices.get(account, invoice_id)
    if not is_issued(record.state):
        raise InvalidStateError("invoice", record.invoice_id, record.state, ACTION)
    try:
        return invoice_xml(invoice_document(account, record, stores))
    except EInvoiceError as err:
        raise InvalidInputError(err.field, err.reason) from None
