"""The console's invoices pages: the list's filters (state, customer, period month), its order, and what a
row, a line and a delivery show. Pure: records come in as values. Times are on the customer's clock (the
zone its bills are on, ``services.catalog.customer_clock``), in UTC labelled "UTC" for a customer without
a site."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from meterbill.billing.invoice import Invoice
from meterbill.console.home import shown_time
from meterbill.errors import InvalidInputError
from meterbill.ports import DeliveryRecord, InvoiceRecord
from meterbill.timeutil import next_month


@dataclass(frozen=True, slots=True)
class Filters:
    state: str | None
    customer_id: str | None
    start: date | None  # periods starting in [start, end)
    end: date | None


def filters(query: Mapping[str, str], states: tuple[str, ...]) -> Filters:
    """The list's filters from the page's query; InvalidInputError naming the parameter."""
    state = query.get("state") or None
    if state is not None and state not in states:
        raise InvalidInputError("state", f"{state!r} is not one of: {', '.join(states)}")
    customer_id = (query.get("customer_id") or "").strip() or None
    if customer_id is not None and len(customer_id) > 64:
        raise InvalidInputError("customer_id", "is longer than 64 characters")
    month = query.get("month") or None
    start = end = None
    if month is not None:
        try:
            start = date.fromisoformat(f"{month}-01")
        except ValueError:
            raise InvalidInputError("month", f"{month!r} is not a month (YYYY-MM)") from None
        end = next_month(start)
    return Filters(state, customer_id, start, end)


def next_query(query: Mapping[str, str], cursor: str | None) -> str | None:
    """The query string of the next page (the same filters, the store's cursor), or None on the last."""
    if cursor is None:
        return None
    kept = {k: query[k] for k in ("state", "customer_id", "month") if query.get(k)}
    return urlencode({**kept, "cursor": cursor})


def ordered(records: Iterable[InvoiceRecord]) -> list[InvoiceRecord]:
    """In number order (``ADA-2026-0010`` after ``ADA-2026-0009``: digit runs compare as numbers), then the
    drafts without a number by period, customer and id."""

    def key(record: InvoiceRecord) -> tuple[Any, ...]:
        if record.number:
            parts = re.split(r"(\d+)", record.number)
            return (0, [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in parts if p], record.invoice_id)
        return (1, record.period_start, record.period_end, record.customer_id, record.invoice_id)

    return sorted(records, key=key)


def row(
    record: InvoiceRecord | Invoice, zone: ZoneInfo | None = None, customer_name: str | None = None
) -> dict[str, Any]:
    """A list row: number (or "draft"), customer (``customer_name``, else its id), period (end exclusive),
    total, state, delivery state (a delivery's time on ``zone``'s clock, UTC without one)."""
    if isinstance(record, Invoice):
        return {
            "id": record.id,
            "kind": record.kind.replace("_", " "),
            "number": record.number or "—",
            "customer_id": record.customer_id,
            "customer_name": customer_name or record.customer_id,
            "period": f"{record.period_start.isoformat()} – {record.period_end.isoformat()}",
            "currency": record.currency,
            "subtotal": str(record.subtotal),
            "taxes": str(record.taxes),
            "total": str(record.total),
            "state": record.state,
            "delivery": "",
            "delivered_at": None,
            "corrects": record.corrects or "",
            "reason": record.reason or "",
        }
    body = record.body
    return {
        "id": record.invoice_id,
        "kind": record.kind.replace("_", " "),
        "number": record.number or "—",
        "customer_id": record.customer_id,
        "customer_name": customer_name or record.customer_id,
        "period": f"{record.period_start.isoformat()} – {record.period_end.isoformat()}",
        "currency": str(body["currency"]),
        "subtotal": str(body["subtotal"]),
        "taxes": str(body["taxes"]),
        "total": str(body["total"]),
        "state": record.state,
        "delivery": delivery_state(record),
        "delivered_at": None if record.delivered_at is None else shown_time(record.delivered_at, zone),
        "corrects": str(body.get("corrects") or ""),
        "reason": str(body.get("reason") or ""),
    }


def delivery_state(record: InvoiceRecord) -> str:
    """The delivery state's words; a delivered one's time is the row's ``delivered_at``."""
    if record.delivered_at is not None:
        return "delivered"
    if record.document is not None:
        return "PDF stored, not delivered yet"
    return "no PDF yet" if record.state in ("draft", "issued") else ""


def lines(record: InvoiceRecord) -> list[dict[str, str]]:
    """The invoice's lines as stored (amounts as the body has them, to the cent)."""
    found: list[Any] = list(record.body.get("lines") or ())
    return [
        {
            "meter_id": str(line.get("meter_id") or ""),
            "component": str(line.get("component") or ""),
            "description": str(line.get("description") or ""),
            "quantity": str(line.get("quantity") or ""),
            "unit": str(line.get("unit") or ""),
            "rate": "" if line.get("rate") is None else str(line["rate"]),
            "amount": str(line.get("amount") or ""),
        }
        for line in found
    ]


def delivery(record: DeliveryRecord, zone: ZoneInfo | None = None) -> dict[str, Any]:
    """A delivery attempt; its time (sent, else last updated) on ``zone``'s clock, UTC without one."""
    return {
        "attempt": str(record.attempt),
        "kind": record.kind,
        "state": record.state,
        "to": ", ".join(record.to),
        "at": shown_time(record.sent_at or record.updated_at, zone),
        "detail": record.detail or "",
    }
