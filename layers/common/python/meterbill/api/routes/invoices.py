"""Invoices and their corrections: list (paged), read (with its notes and re-rating candidates), issue or void
a draft now, re-rate an issued invoice (nothing changes), adjust it (a credit or debit note), a settlement
for any days, the accounting export of a month, an issued invoice's e-invoice XML; and a customer's charges
over time.

The services (``services.invoicing``) do the work and keep every step idempotent: issuing an issued invoice
answers it unchanged, a second adjust with no new data issues nothing. A state that does not allow the action
(voiding an issued invoice, re-rating a draft) is answered 409 naming ``state``. An invoice's ETag is its
write count (``v<version>``): it changes with every write of the invoice and never after it is issued.
"""

from __future__ import annotations

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query

from meterbill.api.dependencies import AuthorizedCaller
from meterbill.api.invoice_schemas import (
    AdjustAnswer,
    ChargeBucket,
    Charges,
    ComponentAmount,
    DeliveryDocument,
    DocumentDownload,
    HourChargeDocument,
    HourlyCharges,
    HourlyDay,
    InvoiceDocument,
    InvoicePage,
    InvoiceSummary,
    Rerating,
    RunningCostDocument,
    SessionChargeDocument,
    SessionChargePage,
    SettlementInput,
    State,
)
from meterbill.api.routes.common import (
    JSON,
    PAGE_SIZE,
    Cursor,
    IdempotencyKey,
    Limit,
    created,
    found,
    new_router,
)
from meterbill.api.schema_fields import IsoDate
from meterbill.ports import InvoiceRecord

router = new_router()

CSV: Literal["text/csv; charset=utf-8"] = "text/csv; charset=utf-8"
XML: Literal["application/xml"] = "application/xml"
MONTH_PATTERN = r"^[0-9]{4}-(0[1-9]|1[0-2])$"


def etag_of(record: InvoiceRecord) -> str:
    return f"v{record.version}"


def document_of(caller: AuthorizedCaller, record: InvoiceRecord) -> InvoiceDocument:
    from meterbill.billing.invoice import is_issued
    from meterbill.services import (
        invoice_views,
    )  # loads the tariff engine: on first use

    notes = invoice_views.notes_of(caller.account, record, caller.stores)
    candidates = (
        caller.stores.invoices.rerating_candidates(caller.account, record.invoice_id)
        if is_issued(record.state) and record.kind == "invoice"
        else ()
    )
    deliveries = (
        caller.stores.deliveries.of_invoice(caller.account, record.invoice_id)
        if caller.stores.deliveries is not None and record.document is not None
        else ()
    )
    return InvoiceDocument.of_record(record, etag_of(record), notes, candidates, deliveries)


@router.get(
    "/v1/invoices",
    summary="List invoices and notes",
    description="Invoices, credit notes and debit notes of the account; filtered by customer, state and the "
    "day their period starts ([from, to)). A customer's come in period order, the account's in id order.",
    tags=["invoices"],
)
def list_invoices(
    caller: AuthorizedCaller,
    customer_id: Annotated[
        str | None, Query(min_length=1, max_length=64, description="one customer's")
    ] = None,
    state: Annotated[State | None, Query(description="draft, issued, stored, delivered or void")] = None,
    start: Annotated[IsoDate | None, Query(alias="from", description="periods starting on or after")] = None,
    end: Annotated[IsoDate | None, Query(alias="to", description="periods starting before")] = None,
    limit: Limit = PAGE_SIZE,
    cursor: Cursor = None,
) -> InvoicePage:
    page = caller.stores.invoices.list(
        caller.account,
        customer_id=customer_id,
        state=state,
        start=start,
        end=end,
        limit=limit,
        cursor=cursor,
    )
    return InvoicePage(items=[InvoiceSummary.of(r) for r in page.items], next_cursor=page.cursor)


@router.get(
    "/v1/invoices/export",
    summary="The accounting export of a month (CSV)",
    description="One line per invoice line of every invoice and note issued in the month: number, kind, "
    "issue date, customer, period (end exclusive), meter, component, quantity, unit, rate, amount (net), "
    "tax, currency. A tax line has its amount in tax and 0 in amount.",
    tags=["invoices"],
    responses={200: {"description": "the CSV (RFC 4180, CRLF)", "content": {"text/csv": {}}}},
)
def export_invoices(
    caller: AuthorizedCaller,
    month: Annotated[str, Query(pattern=MONTH_PATTERN, description="YYYY-MM")],
) -> Response[str]:
    from meterbill.services import (
        invoice_views,
    )  # loads the tariff engine: on first use

    first = invoice_views.month_of(month)
    text = invoice_views.export_month(caller.account, first, caller.stores.invoices)
    disposition = f'attachment; filename="invoices-{month}.csv"'
    return Response(200, content_type=CSV, body=text, headers={"Content-Disposition": disposition})


@router.get(
    "/v1/invoices/<invoice_id>",
    summary="Read an invoice or note",
    description="Its lines, per-meter usage, totals, state and number, the notes that correct it and the "
    "re-rating candidates (readings received after it was issued that touch its period).",
    tags=["invoices"],
)
def get_invoice(invoice_id: str, caller: AuthorizedCaller) -> Response[InvoiceDocument]:
    record = caller.stores.invoices.get(caller.account, invoice_id)
    return found(document_of(caller, record), etag_of(record))


@router.get(
    "/v1/invoices/<invoice_id>/xml",
    summary="The e-invoice XML of an issued invoice or note",
    description="Factur-X / ZUGFeRD CII in the EN 16931 profile: the XML the invoice PDF embeds as "
    "factur-x.xml (mapping: docs/einvoice.md). A draft or void invoice has none (409 naming state); what the "
    "e-invoice cannot do without (the account's seller, the customer's address) is 422 naming it.",
    tags=["invoices"],
    responses={
        200: {"description": "the XML (UTF-8)", "content": {"application/xml": {}}},
        409: {"description": "the invoice is a draft or void"},
    },
)
def get_invoice_xml(invoice_id: str, caller: AuthorizedCaller) -> Response[str]:
    from meterbill.services import einvoice  # loads lxml and the tariff engine: on first use

    xml = einvoice.invoice_xml_of(caller.account, invoice_id, caller.stores)
    return Response(200, content_type=XML, body=xml.decode("utf-8"))


@router.get(
    "/v1/invoices/<invoice_id>/pdf",
    summary="Download the invoice's PDF",
    description="A presigned URL of the signed PDF as stored (written once, Object Lock), valid 5 minutes. "
    "409 naming `state` while the invoice has no stored document (draft, void, or issued and not stored "
    "yet).",
    tags=["invoices"],
)
def get_invoice_pdf(invoice_id: str, caller: AuthorizedCaller) -> DocumentDownload:
    from meterbill.services import documents  # loads the invoicing services: on first use

    link = documents.download_link(caller.account, invoice_id, caller.stores, caller.now())
    return DocumentDownload(url=link.url, expires_at=link.expires_at)


@router.post(
    "/v1/invoices",
    status_code=201,
    summary="Invoice any days of a customer (a settlement)",
    description="An invoice for [from, to) through the same path as the scheduled run (a move-out): a draft "
    "until the account's grace days have passed after `to`, then issued. Drafts overlapping those days are "
    "voided, so the run bills only the rest of their periods; days already on an issued invoice are refused.",
    tags=["invoices"],
)
def settle(body: SettlementInput, caller: AuthorizedCaller) -> Response[InvoiceDocument]:
    from meterbill.services import invoicing  # loads the tariff engine: on first use

    record = invoicing.settle(
        caller.account, body.customer_id, body.start, body.end, body.reason, caller.now(), caller.stores
    )
    location = f"/v1/invoices/{record.invoice_id}"
    return created(document_of(caller, record), etag_of(record), location)


@router.post(
    "/v1/invoices/<invoice_id>/issue",
    summary="Issue a draft now",
    description="Gives the draft the next number of its series; an issued one is answered as it is; a void "
    "one is a conflict (409).",
    tags=["invoices"],
)
def issue_invoice(invoice_id: str, caller: AuthorizedCaller) -> Response[InvoiceDocument]:
    from meterbill.services import invoicing  # loads the tariff engine: on first use

    record = invoicing.issue_now(caller.account, invoice_id, caller.stores, caller.now())
    return found(document_of(caller, record), etag_of(record))


@router.post(
    "/v1/invoices/<invoice_id>/void",
    summary="Void a draft",
    description="Its days are then not billed by the scheduled run. An issued invoice cannot be voided "
    "(409): correct it with a note.",
    tags=["invoices"],
)
def void_invoice(invoice_id: str, caller: AuthorizedCaller) -> Response[InvoiceDocument]:
    from meterbill.services import invoicing  # loads the tariff engine: on first use

    record = invoicing.void_draft(caller.account, invoice_id, caller.stores)
    return found(document_of(caller, record), etag_of(record))


@router.post(
    "/v1/invoices/<invoice_id>/rerate",
    summary="Re-rate an issued invoice (changes nothing)",
    description="Its period computed again with today's readings, catalog and tariffs, and the difference "
    "from what was charged (the invoice and its issued notes) line by line. Issued invoices up to 12 months "
    "old.",
    tags=["invoices"],
)
def rerate_invoice(invoice_id: str, caller: AuthorizedCaller) -> Rerating:
    from meterbill.services import invoicing  # loads the tariff engine: on first use

    result = invoicing.rerate(caller.account, invoice_id, caller.now(), caller.stores)
    return Rerating.of(result.original, result.rerated, result.notes, result.difference)


@router.post(
    "/v1/invoices/<invoice_id>/adjust",
    summary="Issue the re-rating's difference as a credit or debit note",
    description="201 with the note (numbered in the credit-note series, naming the invoice it corrects; the "
    "invoice stays unchanged); 200 with issued false when the period comes to what was charged.",
    tags=["invoices"],
    responses={
        200: {"description": "nothing to correct: no note issued"},
        201: {"description": "the note issued"},
    },
)
def adjust_invoice(invoice_id: str, caller: AuthorizedCaller) -> Response[AdjustAnswer]:
    from meterbill.services import invoicing  # loads the tariff engine: on first use

    note = invoicing.adjust(caller.account, invoice_id, caller.now(), caller.stores)
    if note is None:
        detail = f"invoice {invoice_id!r} comes to what was charged: no note issued"
        return Response(200, content_type="application/json", body=AdjustAnswer(issued=False, detail=detail))
    answer = AdjustAnswer(
        issued=True,
        detail=f"{note.kind.replace('_', ' ')} {note.number} issued",
        note=document_of(caller, note),
    )
    location = f"/v1/invoices/{note.invoice_id}"
    return created(answer, etag_of(note), location)


@router.post(
    "/v1/invoices/<invoice_id>/resend",
    status_code=202,
    summary="Email the stored PDF again",
    description="Queues a new delivery attempt of kind resend: the same stored PDF, to the customer's "
    "addresses and the account's cc as they are now. 202 with the attempt (its state moves on as the email "
    "is sent; see the invoice's deliveries); 409 while the PDF is not stored yet; 422 when the customer has "
    "no address or the billing settings name no sender. With an Idempotency-Key, a retried request answers "
    "the first attempt again instead of queueing another.",
    tags=["invoices"],
    responses={
        202: {"description": "the resend, queued"},
        409: {"description": "the invoice's PDF is not stored yet"},
    },
)
def resend_invoice(
    invoice_id: str, caller: AuthorizedCaller, idempotency_key: IdempotencyKey = None
) -> Response[DeliveryDocument]:
    from meterbill.api.idempotency import Answer, once
    from meterbill.services import billing_settings, delivery

    deliveries = caller.stores.deliveries
    if deliveries is None:
        raise RuntimeError("this API is deployed without a delivery store")

    def run() -> Answer:
        record = delivery.queue_delivery(
            caller.account,
            invoice_id,
            kind="resend",
            invoices=caller.stores.invoices,
            catalog=caller.stores.catalog,
            settings=billing_settings.settings_of(caller.account, caller.stores.accounts),
            deliveries=deliveries,
            queue=caller.email_queue(),
            now=caller.now(),
        )
        return Answer(202, DeliveryDocument.of(record).model_dump(mode="json"))

    if idempotency_key is None:
        answer = run()
    else:
        answer = once(
            caller.backend.idempotency(),
            operation="POST /v1/invoices/{invoice_id}/resend",
            account=caller.account,
            key=idempotency_key,
            body={"invoice_id": invoice_id},
            run=run,
            lambda_context=caller.lambda_context,
        )
    headers = {"Location": f"/v1/invoices/{invoice_id}"}
    if answer.replayed:
        headers["Idempotent-Replayed"] = "true"
    return Response(
        202, content_type=JSON, body=DeliveryDocument.model_validate(answer.body), headers=headers
    )


@router.get(
    "/v1/customers/<customer_id>/charges",
    summary="A customer's charges over time",
    description="What the customer's bills come to per local day or calendar month over [from, to), from the "
    "bill preview's path (each day rated as a bill of its own at resolution day, at most 92 days), and the "
    "running bill period's cost and projection the rating pass keeps. At resolution hour (at most 31 days) "
    "each day also comes by the site's wall-clock hours (23 or 25 on DST days): energy and package lines "
    "are spread over the hours they were used in, to the cent; the day's other charges (fixed, demand, "
    "minimum, shared, credits, discounts, surcharges, taxes) are its `unallocated`, and the hours plus "
    "`unallocated` add up to the day's total.",
    tags=["customers"],
)
def get_charges(
    customer_id: str,
    caller: AuthorizedCaller,
    start: Annotated[IsoDate, Query(alias="from", description="the first day")],
    end: Annotated[IsoDate, Query(alias="to", description="the day after the last")],
    resolution: Annotated[
        Literal["hour", "day", "month"], Query(description="hour (<= 31 days), day (<= 92 days) or month")
    ] = "month",
) -> Charges | HourlyCharges:
    from meterbill.services.charges import customer_charges  # the tariff engine: loaded by the first request

    report = customer_charges(
        caller.account,
        customer_id,
        start,
        end,
        resolution,
        caller.stores.catalog,
        caller.stores.readings,
        caller.stores.metering,
    )
    running = None if report.running is None else RunningCostDocument.of(report.running)
    if report.resolution == "hour":
        return HourlyCharges(
            customer_id=report.customer_id,
            start=report.start,
            end=report.end,
            resolution="hour",
            currency=report.currency,
            total=report.total,
            buckets=[
                HourlyDay(
                    start=h.day.start,
                    end=h.day.end,
                    currency=h.day.currency,
                    subtotal=h.day.subtotal,
                    taxes=h.day.taxes,
                    total=h.day.total,
                    hours=[
                        HourChargeDocument(
                            start=hour.start,
                            end=hour.end,
                            hour=hour.hour,
                            minutes=hour.minutes,
                            amount=hour.amount,
                        )
                        for hour in h.hours
                    ],
                    unallocated=[ComponentAmount(component=c, amount=a) for c, a in h.unallocated],
                )
                for h in report.hourly
            ],
            running=running,
        )
    return Charges(
        customer_id=report.customer_id,
        start=report.start,
        end=report.end,
        resolution=report.resolution,
        currency=report.currency,
        total=report.total,
        buckets=[
            ChargeBucket(
                start=b.start,
                end=b.end,
                currency=b.currency,
                subtotal=b.subtotal,
                taxes=b.taxes,
                total=b.total,
            )
            for b in report.buckets
        ],
        running=running,
    )


@router.get(
    "/v1/customers/<customer_id>/charges/sessions",
    summary="The sessions behind a customer's usage-package charges",
    description="For a compute customer: the sessions starting in [from, to) (at most 92 days) that its "
    "tariffs' usage packages price, each with its node (meter), start, end, duration, the started units "
    "beyond the package's threshold and what it costs (XtremWeb-HEP's detail records). A session is a run of "
    "the node's busy intervals, as the invoice bills it. Those beyond the threshold only, unless "
    "`threshold=all`. In order of start, then node; paged.",
    tags=["customers"],
)
def get_charge_sessions(
    customer_id: str,
    caller: AuthorizedCaller,
    start: Annotated[IsoDate, Query(alias="from", description="sessions starting on or after this day")],
    end: Annotated[IsoDate, Query(alias="to", description="... and before this day")],
    threshold: Annotated[
        Literal["above", "all"], Query(description="above: only sessions beyond the package threshold")
    ] = "above",
    limit: Limit = PAGE_SIZE,
    cursor: Cursor = None,
) -> SessionChargePage:
    from meterbill.services.charges import customer_sessions  # the tariff engine: loaded by the first request

    page = customer_sessions(
        caller.account,
        customer_id,
        start,
        end,
        caller.stores.catalog,
        caller.stores.readings,
        above_threshold=threshold == "above",
        limit=limit,
        cursor=cursor,
    )
    return SessionChargePage(
        items=[
            SessionChargeDocument(
                session_id=r.session_id,
                meter_id=r.meter_id,
                assignment_id=r.assignment_id,
                start=r.start,
                end=r.end,
                seconds=r.seconds,
                package=r.package,
                description=r.description,
                threshold_seconds=r.threshold_seconds,
                units=r.units,
                unit_seconds=r.unit_seconds,
                amount=r.amount,
                currency=r.currency,
            )
            for r in page.items
        ],
        next_cursor=page.cursor,
    )
