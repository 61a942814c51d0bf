"""The document a customer receives, end to end: the Factur-X XML, the PDF/A-3B that embeds it, the signature.

One function so that what is stored, emailed and benchmarked is the same pipeline.
"""

from __future__ import annotations

from meterbill.documents.facturx import invoice_xml
from meterbill.documents.model import InvoiceDocument
from meterbill.documents.pdf import invoice_pdf
from meterbill.documents.signing import SigningKey, sign_pdf


def signed_invoice_pdf(doc: InvoiceDocument, key: SigningKey) -> bytes:
    """The invoice PDF/A-3B with its EN 16931 XML embedded as factur-x.xml, signed (PAdES baseline B) with
    ``key``. Raises ``EInvoiceError`` naming what the e-invoice lacks (e.g. the buyer's address)."""
    return sign_pdf(invoice_pdf(doc, factur_x_xml=invoice_xml(doc)), key)
