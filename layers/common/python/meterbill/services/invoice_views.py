"""What the API shows of invoices beyond the store's records: the notes that correct an invoice, and the
accounting export of a month (one CSV line per invoice line).

The export (``export_month``) holds every invoice and note **issued** in the month ``YYYY-MM`` — by the date
of ``issued_at`` as it was recorded (with its offset) — in the order they were issued, then by number; one
line per invoice line, in the invoice's order. Columns::

    number,kind,issue_date,customer_id,period_start,period_end,meter_id,component,quantity,unit,rate,amount,
    tax,currency

``amount`` is the line's net amount and ``tax`` its tax: a tax line (component ``tax``) has its amount in
``tax`` and zero (``0.00``) in ``amount``, every other line the reverse, so the column sums are the
documents' subtotals and taxes. ``period_end`` is the day after the last day of service (end exclusive, as
everywhere in the API). Lines end with CRLF (RFC 4180); values are written as stored (decimal text).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Final

from meterbill.billing.invoice import Invoice, is_issued
from meterbill.errors import InvalidInputError
from meterbill.money import quantum
from meterbill.ports import InvoiceRecord, InvoiceStore, Stores
from meterbill.services.invoicing import LIST_PAGE, customer_documents

EXPORT_COLUMNS: Final = (
    "number",
    "kind",
    "issue_date",
    "customer_id",
    "period_start",
    "period_end",
    "meter_id",
    "component",
    "quantity",
    "unit",
    "rate",
    "amount",
    "tax",
    "currency",
)


def notes_of(account: str, record: InvoiceRecord, stores: Stores) -> list[Invoice]:
    """The credit and debit notes (any state) that correct the invoice, oldest first; none for a note."""
    if record.kind != "invoice":
        return []
    notes = [
        d for d in customer_documents(account, record.customer_id, stores) if d.corrects == record.invoice_id
    ]
    return sorted(notes, key=lambda n: (n.computed_at, n.id))


def _issued(account: str, invoices: InvoiceStore) -> Iterator[InvoiceRecord]:
    cursor: str | None = None
    while True:
        page = invoices.list(account, limit=LIST_PAGE, cursor=cursor)
        yield from (record for record in page.items if is_issued(record.state))  # stored, delivered too
        if page.cursor is None:
            return
        cursor = page.cursor


def month_of(text: str) -> date:
    """``YYYY-MM`` as the first day of that month; InvalidInputError ``month``."""
    try:
        if len(text) != 7 or text[4] != "-":
            raise ValueError
        return date(int(text[:4]), int(text[5:]), 1)
    except ValueError:
        raise InvalidInputError("month", f"{text!r} is not a month written YYYY-MM") from None


def export_month(account: str, month: date, invoices: InvoiceStore) -> str:
    """The CSV of the documents issued in ``month`` (its first day)."""
    issued = [
        r
        for r in _issued(account, invoices)
        if r.issued_at is not None and (r.issued_at.year, r.issued_at.month) == (month.year, month.month)
    ]
    issued.sort(key=lambda r: (r.issued_at, r.number or ""))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(EXPORT_COLUMNS)
    for record in issued:
        invoice = Invoice.from_json(record.body)
        assert invoice.issued_at is not None
        zero = format(Decimal(0).quantize(quantum(invoice.currency)), "f")
        for line in invoice.lines:
            amount = format(line.amount, "f")
            is_tax = line.component == "tax"
            writer.writerow(
                (
                    invoice.number,
                    invoice.kind,
                    invoice.issued_at.date().isoformat(),
                    invoice.customer_id,
                    invoice.period_start.isoformat(),
                    invoice.period_end.isoformat(),
                    line.meter_id or "",
                    line.component,
                    format(line.quantity, "f"),
                    line.unit,
                    "" if line.rate is None else format(line.rate, "f"),
                    zero if is_tax else amount,
                    amount if is_tax else zero,
                    invoice.currency,
                )
            )
    return out.getvalue()
