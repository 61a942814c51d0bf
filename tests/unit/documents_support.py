"""The invoicing portfolio (``invoicing_support``) with a seller, issued invoices and a fake renderer whose
every rendering differs (as a signed PDF does: its signing time), for the documents service's tests."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from meterbill.billing.invoice import invoice_id
from meterbill.documents.model import InvoiceDocument
from meterbill.services import billing_settings, billrun
from tests.fakes import FakeInvoiceWorkQueue, FakeStores
from tests.unit.invoicing_support import BERLIN, A

SELLER: dict[str, Any] = {
    "legal_name": "Hausverwaltung Prenzlauer Berg GmbH",
    "address": {"lines": ["Kastanienallee 12"], "postal_code": "10435", "city": "Berlin", "country": "DE"},
    "vat_id": "DE123456789",
}


def with_seller(stores: FakeStores, *, payment_terms_days: int = 14) -> None:
    current = billing_settings.settings_of(A, stores.accounts).model_dump(mode="json")
    billing_settings.replace(
        A,
        {**current, "seller": SELLER, "payment_terms_days": payment_terms_days},
        stores.accounts,
        datetime(2025, 12, 2, tzinfo=BERLIN),
        if_match=None,
    )


def run(stores: FakeStores, now: datetime) -> None:
    queue = FakeInvoiceWorkQueue()
    billrun.run(now, stores.ports(), queue)
    for item in queue.take():
        billrun.work(item, stores.ports())


class CountingRender:
    """A renderer that records what it was given; each rendering's bytes differ (a signing time)."""

    def __init__(self) -> None:
        self.documents: list[InvoiceDocument] = []

    def __call__(self, document: InvoiceDocument) -> bytes:
        self.documents.append(document)
        return f"%PDF {document.invoice.number} rendering {len(self.documents)}".encode()


def rack_invoice(start: str, end: str) -> str:
    from datetime import date

    return invoice_id(A, "c-rack", date.fromisoformat(start), date.fromisoformat(end))
