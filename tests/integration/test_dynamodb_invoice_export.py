"""The accounting export on DynamoDB (moto): ``GET /v1/invoices/export?month=YYYY-MM`` reads the documents
issued in that month through the issue-month index, and no invoice of another month (nor a draft); its CSV is
the one the export always wrote."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from meterbill.adapters.dynamodb import DynamoDb
from meterbill.billing import invoice as invoices_core
from meterbill.billing.invoice import Invoice, InvoiceLine
from meterbill.ports import InvoiceRecord, IssuedBody, Stores
from meterbill.services.invoice_views import export_month

A = "acme"
D = Decimal


def draft(customer: str, month: int, kwh: str) -> InvoiceRecord:
    start, end = date(2026, month, 1), date(2026, month + 1, 1)
    invoice = Invoice(
        id=f"inv-{customer}-{month:02d}",
        account_id=A,
        customer_id=customer,
        kind="invoice",
        period_start=start,
        period_end=end,
        currency="EUR",
        lines=(
            InvoiceLine(
                "m-" + customer,
                "a-" + customer,
                start,
                end,
                "energy",
                "Energy",
                D(kwh),
                "kWh",
                D("0.30"),
                (D(kwh) * D("0.30")).quantize(D("0.01")),
            ),
        ),
        computed_at=datetime(2026, month + 1, 1, tzinfo=UTC),
    )
    return InvoiceRecord.draft(
        A,
        invoice.id,
        customer_id=customer,
        kind="invoice",
        period_start=start,
        period_end=end,
        body=invoice.to_json(),
        at=invoice.computed_at,
    )


def render(at: datetime) -> Callable[[InvoiceRecord, int], IssuedBody]:
    def numbered(record: InvoiceRecord, sequence: int) -> IssuedBody:
        number = f"HPO-2026-{sequence:06d}"
        issued = invoices_core.issue(Invoice.from_json(record.body), number, at)
        return IssuedBody(number, issued.to_json())

    return numbered


def items_read(db: DynamoDb, action: Callable[[], Any]) -> tuple[Any, dict[str, int]]:
    """What ``action`` returns, and the items DynamoDB read for it, by operation (ScannedCount: the items
    evaluated, before any filter; a GetItem reads one)."""
    read: dict[str, int] = {}

    def count(model: Any, parsed: dict[str, Any], **_: Any) -> None:
        scanned = parsed.get("ScannedCount", 1 if "Item" in parsed else 0)
        read[model.name] = read.get(model.name, 0) + scanned

    events = db.client.meta.events
    events.register("after-call.dynamodb.*", count)
    try:
        return action(), read
    finally:
        events.unregister("after-call.dynamodb.*", count)


def test_the_export_of_march_reads_the_march_documents_only_and_writes_the_same_csv(
    db: DynamoDb, stores: Stores
) -> None:
    # January to April, issued on the 2nd of the next month at 06:00 UTC: 3 customers, 12 invoices
    for month in (1, 2, 3, 4):
        for customer, kwh in (("c1", "100.0"), ("c2", "20.5"), ("c3", "7")):
            record = stores.invoices.put_draft(A, draft(customer, month, str(D(kwh) * month)))
            at = datetime(2026, month + 1, 2, 6, 0, tzinfo=UTC)
            stores.invoices.issue(A, record.invoice_id, series="invoice", at=at, render=render(at))
    stores.invoices.put_draft(A, draft("c4", 2, "1.0"))  # a draft of February: never exported

    march, read = items_read(db, lambda: export_month(A, date(2026, 3, 1), stores.invoices))

    assert read == {"Query": 3}  # the three documents issued in March, nothing else
    assert march == (
        "number,kind,issue_date,customer_id,period_start,period_end,meter_id,component,quantity,unit,rate,"
        "amount,tax,currency\r\n"
        # February's invoices (numbers 4 to 6), issued on 2 March: 2 * 100.0 kWh at 0.30, 2 * 20.5, 2 * 7
        "HPO-2026-000004,invoice,2026-03-02,c1,2026-02-01,2026-03-01,m-c1,energy,200.0,kWh,0.30,60.00,0.00,EUR\r\n"
        "HPO-2026-000005,invoice,2026-03-02,c2,2026-02-01,2026-03-01,m-c2,energy,41.0,kWh,0.30,12.30,0.00,EUR\r\n"
        "HPO-2026-000006,invoice,2026-03-02,c3,2026-02-01,2026-03-01,m-c3,energy,14,kWh,0.30,4.20,0.00,EUR\r\n"
    )
    _, listing = items_read(db, lambda: stores.invoices.list(A, limit=100))
    assert listing == {"Query": 13}  # what the export read before: every invoice of the account
