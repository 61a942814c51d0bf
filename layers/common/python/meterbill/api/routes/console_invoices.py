"""The console's invoices pages: ``GET /console/invoices`` (the account's invoices and notes, filtered by
state, customer and period month, paged as ``GET /v1/invoices`` pages: the same store query) and
``GET /console/invoices/<invoice_id>`` (its lines, totals, the notes that correct it, its deliveries)."""

from __future__ import annotations

import inspect
from typing import Any, Final, get_args

from aws_lambda_powertools.event_handler import Request, Response

from meterbill.api.dependencies import Caller, backend
from meterbill.api.routes import console_requests as req
from meterbill.api.routes.common import new_router
from meterbill.api.routes.console_requests import CONSOLE
from meterbill.console import invoice_pages, rerate_pages
from meterbill.errors import InvalidInputError, InvalidStateError, NotFoundError
from meterbill.ports import InvoiceState
from meterbill.services import catalog
from meterbill.services.apikeys import Principal

router = new_router()

NO_INVOICE: Final = "No such invoice."
READ_ONLY: Final = "A read session changes nothing: sign in with an admin key to resend an invoice."
NO_PDF: Final = "This invoice has no stored PDF yet: it is stored once the invoice is issued."
PAGE_SIZE: Final = 50
STATES: Final[tuple[str, ...]] = get_args(InvoiceState)


@router.get(f"{CONSOLE}/invoices", include_in_schema=False)
def invoices(request: Request) -> Response[str]:
    current = backend()
    session, csrf_token = req.session_of(request, current)
    query = {str(k): str(v) for k, v in (request.resolved_event.get("queryStringParameters") or {}).items()}
    status = 200
    error = None
    rows: list[dict[str, str]] = []
    next_cursor = None
    try:
        wanted = invoice_pages.filters(query, STATES)
        page = current.stores.invoices.list(
            session.account,
            customer_id=wanted.customer_id,
            state=wanted.state,  # type: ignore[arg-type]  # one of STATES, checked by filters
            start=wanted.start,
            end=wanted.end,
            limit=PAGE_SIZE,
            cursor=query.get("cursor") or None,
        )
        # The store pages the account's invoices in id order and has no index by number: each page is
        # shown in number order (drafts last, by period).
        clocks = _clocks(session.account, {record.customer_id for record in page.items})
        rows = [
            invoice_pages.row(record, clocks[record.customer_id].zone, clocks[record.customer_id].name)
            for record in invoice_pages.ordered(page.items)
        ]
        next_cursor = page.cursor
    except InvalidInputError as problem:
        status = 422
        error = f"{problem.field}: {problem.reason}"
    return req.page(
        request,
        "invoices.html",
        status,
        title="Invoices",
        session=session,
        csrf_token=csrf_token,
        states=STATES,
        query={name: query.get(name, "") for name in ("state", "customer_id", "month")},
        rows=rows,
        error=error,
        next_query=invoice_pages.next_query(query, next_cursor),
    )


@router.get(f"{CONSOLE}/invoices/export", include_in_schema=False)
def export(request: Request) -> Response[str]:
    """The month's accounting CSV, as ``GET /v1/invoices/export?month=`` answers it (the same service)."""
    from meterbill.services import invoice_views  # loads the tariff engine: on first use

    current = backend()
    session, _ = req.session_of(request, current)
    month = str((request.resolved_event.get("queryStringParameters") or {}).get("month") or "")
    try:
        first = invoice_pages.filters({"month": month}, STATES).start
        if first is None:
            raise InvalidInputError("month", "is required (YYYY-MM)")
    except InvalidInputError as problem:
        return req.refused(request, 422, f"{problem.field}: {problem.reason}")
    text = invoice_views.export_month(session.account, first, current.stores.invoices)
    headers = {
        "Content-Disposition": f'attachment; filename="invoices-{first.strftime("%Y-%m")}.csv"',
        "Cache-Control": "private, no-store",
        "X-Content-Type-Options": "nosniff",
    }
    return Response(200, content_type="text/csv; charset=utf-8", body=text, headers=headers)


@router.get(f"{CONSOLE}/invoices/<invoice_id>", include_in_schema=False)
def invoice(invoice_id: str, request: Request) -> Response[str]:
    from meterbill.services import invoice_views  # loads the tariff engine: on first use

    current = backend()
    session, csrf_token = req.session_of(request, current)
    stores = current.stores
    try:
        record = stores.invoices.get(session.account, invoice_id)
    except NotFoundError:
        return req.refused(request, 404, NO_INVOICE)
    notes = invoice_views.notes_of(session.account, record, stores)
    clock = _clocks(session.account, {record.customer_id})[record.customer_id]
    deliveries = (
        stores.deliveries.of_invoice(session.account, record.invoice_id)
        if stores.deliveries is not None and record.document is not None
        else ()
    )
    return req.page(
        request,
        "invoice.html",
        200,
        title=f"Invoice {record.number or record.invoice_id}",
        session=session,
        csrf_token=csrf_token,
        invoice=invoice_pages.row(record, clock.zone, clock.name),
        lines=invoice_pages.lines(record),
        notes=[invoice_pages.row(note, clock.zone, clock.name) for note in notes],
        deliveries=[invoice_pages.delivery(d, clock.zone) for d in deliveries],
        has_pdf=record.document is not None,
        can_change=session.scope == "admin",
        can_rerate=rerate_pages.not_rerated(record) is None,
        resent=str((request.resolved_event.get("queryStringParameters") or {}).get("resent") or ""),
    )


def _clocks(account: str, customer_ids: set[str]) -> dict[str, catalog.CustomerClock]:
    """Each customer's name and clock; one deleted since keeps its id as the name and UTC."""
    found = {}
    for customer_id in sorted(customer_ids):
        try:
            found[customer_id] = catalog.customer_clock(account, customer_id, backend().stores.catalog)
        except NotFoundError:
            found[customer_id] = catalog.CustomerClock(customer_id, customer_id, None)
    return found


def invoice_pdf(invoice_id: str, request: Request) -> Response[Any]:
    """The stored PDF, byte for byte, from the document store ``GET /v1/invoices/{id}/pdf`` presigns."""
    current = backend()
    session, _ = req.session_of(request, current)
    stores = current.stores
    try:
        record = stores.invoices.get(session.account, invoice_id)
    except NotFoundError:
        return req.refused(request, 404, NO_INVOICE)
    if record.document is None or stores.documents is None:
        return req.refused(request, 409, NO_PDF)
    body = stores.documents.get(session.account, record.document.key)
    name = f"{record.number or record.invoice_id}.pdf".replace('"', "")
    headers = {
        "Content-Disposition": f'inline; filename="{name}"',
        "Cache-Control": "private, no-store",
        "X-Content-Type-Options": "nosniff",
    }
    return Response(200, content_type="application/pdf", body=body, headers=headers)


@router.post(f"{CONSOLE}/invoices/<invoice_id>/resend", include_in_schema=False)
def resend(invoice_id: str, request: Request) -> Response[str]:
    """Queues a resend of the stored PDF through ``services.delivery.queue_delivery`` (kind resend), as
    ``POST /v1/invoices/{id}/resend`` does; admin sessions only, with the session's CSRF token."""
    from meterbill.services import billing_settings, delivery

    current = backend()
    session, _ = req.change_of(request, current, read_only=READ_ONLY)
    stores = current.stores
    if stores.deliveries is None:
        return req.refused(request, 409, NO_PDF)
    principal = Principal(session.account, session.key_id, frozenset({session.scope}), "session")
    try:
        record = delivery.queue_delivery(
            session.account,
            invoice_id,
            kind="resend",
            invoices=stores.invoices,
            catalog=stores.catalog,
            settings=billing_settings.settings_of(session.account, stores.accounts),
            deliveries=stores.deliveries,
            queue=Caller(principal, current).email_queue(),
            now=current.clock(),
        )
    except NotFoundError:
        return req.refused(request, 404, NO_INVOICE)
    except InvalidStateError:
        return req.refused(request, 409, NO_PDF)
    except InvalidInputError as problem:
        return req.refused(request, 422, f"{problem.field}: {problem.reason}")
    return req.see_other(request, f"/invoices/{invoice_id}?resent={record.attempt}")


# The PDF's bytes are the answer as stored: without a return annotation the validation middleware passes a
# non-JSON answer through as it is (with one it would serialize the bytes as UTF-8 text and fail on a PDF).
invoice_pdf.__signature__ = inspect.signature(invoice_pdf).replace(  # type: ignore[attr-defined]
    return_annotation=inspect.Signature.empty
)
router.get(f"{CONSOLE}/invoices/<invoice_id>/pdf", include_in_schema=False)(invoice_pdf)
