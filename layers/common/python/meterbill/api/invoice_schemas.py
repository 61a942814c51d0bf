"""Request and response bodies of the invoice routes (``meterbill.api.routes.invoices``): invoices and notes
as stored (``billing.invoice.Invoice.to_json()``), a re-rating's difference, a settlement's request, a
customer's charges over time. The conventions are those of ``meterbill.api.schemas``: money and quantities
as decimal text, dates ``YYYY-MM-DD``, moments ISO 8601 with their offset,
request bodies without unknown fields."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from meterbill.api.schema_fields import DecimalText, IsoDate
from meterbill.api.schemas import _Page, _Request, _Response
from meterbill.domain import Id, Reference, Text

if TYPE_CHECKING:
    from meterbill.billing.invoice import Invoice
    from meterbill.billing.notes import Difference
    from meterbill.ports import DeliveryRecord, InvoiceRecord, ReratingCandidate, RunningCost

Kind = Literal["invoice", "credit_note", "debit_note"]
State = Literal["draft", "issued", "stored", "delivered", "void"]


class StoredFile(_Response):
    """The invoice's document (the signed PDF) as stored, written once under Object Lock."""

    sha256: str = Field(description="SHA-256 (hex) of the stored PDF: the bytes a customer receives")
    size: int = Field(description="bytes")
    stored_at: datetime
    retain_until: datetime | None = Field(description="the stored PDF cannot be deleted or changed before")


class TariffRef(_Response):
    id: str
    version: int | None


class InvoiceLineDocument(_Response):
    meter_id: str | None
    assignment_id: str | None
    start: date = Field(description="the first day of service this line bills")
    end: date = Field(description="the day after its last day of service")
    component: str = Field(description="energy, demand, fixed, tax, ... as the tariff engine names it")
    description: str
    quantity: DecimalText
    unit: str
    rate: DecimalText | None
    amount: DecimalText
    tariff: TariffRef | None
    share: DecimalText = Field(description="the customer's share of the meter (quantity is already shared)")
    period: str | None = Field(description="the time-of-use period, if any")
    tier: int | None
    season: str | None


class MeterUsageDocument(_Response):
    meter_id: str
    unit: str
    total: DecimalText
    estimated: DecimalText = Field(description="the part of the total that is not actual")
    missing_intervals: int
    peak_demand: DecimalText | None


class NoteSummary(_Response):
    id: str
    kind: Kind
    state: State
    number: str | None
    total: DecimalText
    issued_at: datetime | None
    reason: str | None


class ReratingCandidateDocument(_Response):
    meter_id: str
    start: datetime
    end: datetime
    received_at: datetime = Field(
        description="when readings of that span arrived after the invoice was issued"
    )

    @classmethod
    def of(cls, candidate: ReratingCandidate) -> ReratingCandidateDocument:
        return cls(
            meter_id=candidate.meter_id,
            start=candidate.start,
            end=candidate.end,
            received_at=candidate.received_at,
        )


class InvoiceSummary(_Response):
    id: str
    kind: Kind
    state: State
    number: str | None = Field(description="null until issued")
    customer_id: str
    period_start: date = Field(
        description="the first day of the period (local calendar of the customer's site)"
    )
    period_end: date = Field(description="the day after its last day")
    currency: str
    subtotal: DecimalText = Field(description="the lines without taxes")
    taxes: DecimalText
    total: DecimalText
    issued_at: datetime | None
    corrects: str | None = Field(description="for a credit or debit note: the invoice it corrects")
    reason: str | None
    document: StoredFile | None = Field(
        description="the stored PDF once the state is stored or delivered (GET /v1/invoices/{id}/pdf)"
    )
    delivered_at: datetime | None = Field(description="when the state became delivered")

    @classmethod
    def fields_of(cls, record: InvoiceRecord) -> dict[str, Any]:
        body = record.body
        stored = record.document
        return {
            "id": record.invoice_id,
            "kind": record.kind,
            "state": record.state,
            "number": record.number,
            "customer_id": record.customer_id,
            "period_start": record.period_start,
            "period_end": record.period_end,
            "currency": body["currency"],
            "subtotal": body["subtotal"],
            "taxes": body["taxes"],
            "total": body["total"],
            "issued_at": record.issued_at,
            "corrects": body.get("corrects"),
            "reason": body.get("reason"),
            "document": None
            if stored is None
            else {
                "sha256": stored.sha256,
                "size": stored.size,
                "stored_at": stored.stored_at,
                "retain_until": stored.retain_until,
            },
            "delivered_at": record.delivered_at,
        }

    @classmethod
    def of(cls, record: InvoiceRecord) -> InvoiceSummary:
        return cls.model_validate(cls.fields_of(record))


DeliveryStateName = Literal["queued", "sending", "sent", "delivered", "bounced", "complained", "failed"]


class DeliveryDocument(_Response):
    """One email of the stored PDF: the first delivery (attempt 1) or a resend."""

    attempt: int = Field(description="1 for the first email, 2, 3, ... for resends")
    kind: Literal["first", "resend"]
    state: DeliveryStateName = Field(
        description="queued; sending (claimed by the email worker); sent (SES accepted it); delivered, "
        "bounced or complained (SES's events); failed (refused for good, or unknown after a crash)"
    )
    to: list[str]
    cc: list[str]
    queued_at: datetime
    sent_at: datetime | None
    updated_at: datetime = Field(description="when the state last changed")
    message_id: str | None = Field(description="SES's message id")
    detail: str | None = Field(description="why it bounced, was complained about or failed")

    @classmethod
    def of(cls, record: DeliveryRecord) -> DeliveryDocument:
        return cls(
            attempt=record.attempt,
            kind=record.kind,
            state=record.state,
            to=list(record.to),
            cc=list(record.cc),
            queued_at=record.queued_at,
            sent_at=record.sent_at,
            updated_at=record.updated_at,
            message_id=record.message_id,
            detail=record.detail,
        )


class InvoiceDocument(InvoiceSummary):
    etag: str = Field(
        description="changes with every write of the invoice (a draft recomputed, issued, voided, its "
        "document stored or delivered)"
    )
    computed_at: datetime = Field(description="when the lines were last computed")
    lines: list[InvoiceLineDocument]
    memos: list[InvoiceLineDocument] = Field(description="not part of the total (savings not credited)")
    meter_usage: list[MeterUsageDocument]
    notes: list[NoteSummary] = Field(description="the credit and debit notes that correct this invoice")
    rerating_candidates: list[ReratingCandidateDocument] = Field(
        description="readings received after issue that touch its period: a re-rating may find a difference"
    )
    deliveries: list[DeliveryDocument] = Field(
        description="the emails of its stored PDF, first delivery then resends (POST .../resend)"
    )

    @classmethod
    def of_record(
        cls,
        record: InvoiceRecord,
        etag: str,
        notes: Sequence[Invoice] = (),
        candidates: Sequence[ReratingCandidate] = (),
        deliveries: Sequence[DeliveryRecord] = (),
    ) -> InvoiceDocument:
        body = record.body
        return cls.model_validate(
            {
                **cls.fields_of(record),
                "etag": etag,
                "computed_at": body["computed_at"],
                "lines": body["lines"],
                "memos": body["memos"],
                "meter_usage": body["meter_usage"],
                "notes": [
                    {
                        "id": n.id,
                        "kind": n.kind,
                        "state": n.state,
                        "number": n.number,
                        "total": n.total,
                        "issued_at": n.issued_at,
                        "reason": n.reason,
                    }
                    for n in notes
                ],
                "rerating_candidates": [ReratingCandidateDocument.of(c) for c in candidates],
                "deliveries": [DeliveryDocument.of(d) for d in deliveries],
            }
        )


class DocumentDownload(_Response):
    url: str = Field(description="a presigned GET of the stored, signed PDF")
    expires_at: datetime = Field(description="the URL works until then (5 minutes)")


class InvoicePage(_Page):
    items: list[InvoiceSummary]


class SettlementInput(_Request):
    """An invoice for any days of one customer (a move-out settlement)."""

    customer_id: Reference
    start: IsoDate = Field(alias="from", description="the first day")
    end: IsoDate = Field(alias="to", description="the day after the last")
    reason: Text = Field(description="why these days are invoiced apart, printed on the invoice")


class Rerating(_Response):
    invoice_id: str
    number: str | None
    currency: str
    charged: DecimalText = Field(description="the invoice's total plus that of its issued notes")
    rerated: DecimalText = Field(
        description="the period's total re-rated with today's data, catalog, tariffs"
    )
    kind: Literal["credit_note", "debit_note"] | None = Field(
        description="the note `adjust` would issue; null when nothing differs"
    )
    difference: DecimalText = Field(description="rerated minus charged: what the note would come to")
    lines: list[InvoiceLineDocument] = Field(description="the note's lines: re-rated minus charged, by line")

    @classmethod
    def of(
        cls, original: Invoice, rerated: Invoice, notes: Sequence[Invoice], diff: Difference | None
    ) -> Rerating:
        charged = sum((n.total for n in notes), original.total)
        return cls.model_validate(
            {
                "invoice_id": original.id,
                "number": original.number,
                "currency": original.currency,
                "charged": charged,
                "rerated": rerated.total,
                "kind": None if diff is None else diff.kind,
                "difference": (rerated.total - charged) if diff is None else diff.total,
                "lines": [] if diff is None else [line.to_json() for line in diff.lines],
            }
        )


class AdjustAnswer(_Response):
    issued: bool = Field(description="false when the re-rated period comes to what was charged")
    detail: str
    note: InvoiceDocument | None = Field(default=None, description="the credit or debit note issued, if any")


# --- a customer's charges over time -------------------------------------------------------------------------


class ChargeBucket(_Response):
    start: date
    end: date = Field(description="the day after the bucket's last day")
    currency: str | None = Field(description="null for a bucket with no bill")
    subtotal: DecimalText
    taxes: DecimalText
    total: DecimalText


class UsageSoFarDocument(_Response):
    unit: str
    total: DecimalText
    estimated: DecimalText


class RunningCostDocument(_Response):
    period_start: date
    period_end: date
    as_of: date = Field(description="usage and cost cover [period_start, as_of)")
    currency: str
    usage: list[UsageSoFarDocument]
    cost: DecimalText = Field(description="the period's cost so far")
    projected: DecimalText = Field(description="projected to period_end: cost * period days / elapsed days")
    computed_at: datetime

    @classmethod
    def of(cls, running: RunningCost) -> RunningCostDocument:
        return cls.model_validate(
            {
                "period_start": running.period_start,
                "period_end": running.period_end,
                "as_of": running.as_of,
                "currency": running.currency,
                "usage": [
                    {"unit": u.unit, "total": u.total, "estimated": u.estimated} for u in running.usage
                ],
                "cost": running.cost,
                "projected": running.projected,
                "computed_at": running.computed_at,
            }
        )


class Charges(_Response):
    customer_id: Id
    start: date = Field(description="the first day (from)")
    end: date = Field(description="the day after the last (to)")
    resolution: Literal["day", "month"]
    currency: str | None
    total: DecimalText
    buckets: list[ChargeBucket]
    running: RunningCostDocument | None = Field(
        description="the running bill period's cost so far and its projection (kept by the rating pass)"
    )


class HourChargeDocument(_Response):
    start: datetime = Field(description="the hour's start on the site's clock, with its UTC offset")
    end: datetime
    hour: int = Field(description="the hour the site's clock shows (0-23); twice on the day clocks go back")
    minutes: int = Field(description="60, or 30 or 90 around a half-hour DST shift (Lord Howe)")
    amount: DecimalText = Field(description="the hour's share of the day's energy and package lines")


class ComponentAmount(_Response):
    component: str = Field(description="fixed, demand, minimum, shared, savings, discount, surcharge or tax")
    amount: DecimalText


class HourlyDay(_Response):
    start: date
    end: date = Field(description="the day after")
    currency: str | None = Field(description="null for a day with no bill")
    subtotal: DecimalText
    taxes: DecimalText
    total: DecimalText = Field(description="the sum of the hours' amounts and of unallocated, exactly")
    hours: list[HourChargeDocument] = Field(
        description="the site's wall-clock hours (23 or 25 on DST days); none for a day with no bill"
    )
    unallocated: list[ComponentAmount] = Field(
        description="the day's charges of the whole day or month, by component: not spread over hours"
    )


class HourlyCharges(_Response):
    customer_id: Id
    start: date = Field(description="the first day (from)")
    end: date = Field(description="the day after the last (to)")
    resolution: Literal["hour"]
    currency: str | None
    total: DecimalText
    buckets: list[HourlyDay] = Field(description="one per local day, each with its hours")
    running: RunningCostDocument | None = Field(
        description="the running bill period's cost so far and its projection (kept by the rating pass)"
    )


# --- the sessions behind a compute customer's package lines -------------------------------------------------


class SessionChargeDocument(_Response):
    session_id: str = Field(description="<node>@<start>: a run of the node's busy intervals")
    meter_id: str = Field(description="the node")
    assignment_id: str
    start: datetime = Field(description="on the site's clock, with its UTC offset")
    end: datetime = Field(description="start + the busy time measured")
    seconds: int = Field(description="the session's duration")
    package: int = Field(description="the index of the usage package in the tariff")
    description: str = Field(description="the package's description")
    threshold_seconds: DecimalText = Field(description="the time the package's fare covers")
    units: int = Field(description="started units beyond the threshold (the billed quantity)")
    unit_seconds: DecimalText
    amount: DecimalText = Field(
        description="fare + units x unit_rate, unrounded: the package line rounds the sum of its sessions"
    )
    currency: str


class SessionChargePage(_Page):
    items: list[SessionChargeDocument]
