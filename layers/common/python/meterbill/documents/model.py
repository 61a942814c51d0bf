"""Everything one invoice document shows, as one value: its PDF and its e-invoice XML are rendered from it.

A service builds it from the stores (the issued invoice, the account's billing settings, the customer, the
meters, the customer's earlier invoices); the renderers read nothing else, so the PDF and its XML cannot
disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Literal

from meterbill.billing.invoice import Invoice
from meterbill.billing_settings import Seller
from meterbill.domain import Address, Language

ImageType = Literal["image/png", "image/jpeg"]


@dataclass(frozen=True, slots=True)
class Buyer:
    """The customer as the document names it (EN 16931 BG-7)."""

    customer_id: str  # shown as the customer number
    name: str
    address: Address | None = None
    vat_id: str | None = None
    buyer_reference: str | None = None  # BT-10: a purchase reference or Leitweg-ID
    emails: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class MeterDetail:
    """One meter of the invoice as the customer reads it off the device: where it is and its reads.

    ``start_read`` and ``end_read`` are a register meter's readings at the period's bounds (None for an
    interval meter); ``multiplier`` is the CT ratio in force at the end of the period."""

    meter_id: str
    unit: str
    utility: str
    location: str | None = None  # site name and the meter's labels, e.g. "Berlin office, cage 4 / PDU B"
    serial: str | None = None
    multiplier: Decimal = Decimal(1)
    start_read: Decimal | None = None
    end_read: Decimal | None = None


@dataclass(frozen=True, slots=True)
class HistoryMonth:
    """The customer's consumption in one earlier month (from its issued invoices), for the 12-month chart."""

    month: date  # the first day of the month
    quantity: Decimal
    unit: str


@dataclass(frozen=True, slots=True)
class CorrectedInvoice:
    """The invoice a credit or debit note corrects (EN 16931 BG-3)."""

    number: str
    issue_date: date


@dataclass(frozen=True, slots=True)
class Logo:
    image_type: ImageType
    data: bytes


@dataclass(frozen=True, slots=True)
class InvoiceDocument:
    """An issued invoice, credit note or debit note with everything its document shows.

    ``invoice`` has its number and ``issued_at``; ``issue_date`` is that moment's date on the site's calendar.
    ``due_date`` is the issue date plus the account's payment terms. ``history`` holds up to 12 months before
    the period, oldest first. ``title`` is the customer's bill title, else the account's."""

    invoice: Invoice
    seller: Seller
    buyer: Buyer
    language: Language
    issue_date: date
    due_date: date
    meters: tuple[MeterDetail, ...] = ()
    history: tuple[HistoryMonth, ...] = ()
    corrected: CorrectedInvoice | None = None
    title: str | None = None
    logo: Logo | None = None
