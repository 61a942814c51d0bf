"""Re-rating and adjusting an issued invoice from the console, through the services the API's
``POST /v1/invoices/{id}/rerate`` and ``/adjust`` call (``services.invoicing.rerate`` / ``adjust``):

- ``GET /console/invoices/<id>/rerate``: the invoice beside its period re-rated now, line by line, and what an
  adjustment would issue. Re-rating writes nothing, so it is a GET (the API's POST names a computation, not a
  change): a read session uses it, it needs no CSRF token, and a reload or a shared link shows it again.
- ``GET /console/invoices/<id>/adjust`` (admin): the confirmation, stating exactly what will be issued; its
  form carries the confirmed note kind, amount, currency and the note's place among the invoice's notes.
- ``POST /console/invoices/<id>/adjust`` (admin, CSRF): issues the note through ``invoicing.adjust`` with the
  confirmed figures as its expectation: figures that changed since (new readings) are refused with 409 and
  the new figures, nothing issued. Sent again (a double submit, a reload of the POST), the confirmed note
  already issued with those figures is found by its id (``note_id(invoice, place)``) and the answer is the
  same redirect to it: one note only.

A draft, a void invoice or a note is neither re-rated nor adjusted: 409 with the reason."""

from __future__ import annotations

from typing import Any, Final

from aws_lambda_powertools.event_handler import Request, Response

from meterbill.api.dependencies import Backend, backend
from meterbill.api.routes import console_requests as req
from meterbill.api.routes.common import new_router
from meterbill.api.routes.console_requests import CONSOLE
from meterbill.console import invoice_pages, rerate_pages
from meterbill.errors import InvalidInputError, InvalidStateError, NotFoundError, PreconditionFailedError
from meterbill.ports import InvoiceRecord, Session

router = new_router()

NO_INVOICE: Final = "No such invoice."
READ_ONLY: Final = "A read session changes nothing: sign in with an admin key to adjust an invoice."
STALE: Final = (
    "The figures changed since you confirmed ({confirmed}); now: {now}. Nothing was issued: check the new "
    "figures and confirm again."
)


@router.get(f"{CONSOLE}/invoices/<invoice_id>/rerate", include_in_schema=False)
def rerate(invoice_id: str, request: Request) -> Response[str]:
    current = backend()
    session, csrf_token = req.session_of(request, current)
    return _rerate_page(request, current, session, csrf_token, invoice_id, 200)


@router.get(f"{CONSOLE}/invoices/<invoice_id>/adjust", include_in_schema=False)
def confirm(invoice_id: str, request: Request) -> Response[str]:
    current = backend()
    session, csrf_token = req.session_of(request, current)
    if session.scope != "admin":
        return req.refused(request, 403, READ_ONLY)
    found = _issued_invoice(request, current, session, invoice_id)
    _, figures = _rerated(request, current, session, invoice_id)
    return req.page(
        request,
        "invoice_adjust.html",
        200,
        title=f"Adjust invoice {found.number or found.invoice_id}",
        session=session,
        csrf_token=csrf_token,
        invoice=invoice_pages.row(found),
        outcome=figures["outcome"],
        customer=_customer(current, session.account, found.customer_id),
        prefix=_note_prefix(current, session.account),
    )


@router.post(f"{CONSOLE}/invoices/<invoice_id>/adjust", include_in_schema=False)
def adjust(invoice_id: str, request: Request) -> Response[str]:
    from meterbill.billing.invoice import Invoice, is_issued, note_id
    from meterbill.billing.notes import expectation
    from meterbill.services import invoicing  # loads the tariff engine: on first use

    current = backend()
    session, csrf_token = req.change_of(request, current, read_only=READ_ONLY)
    _issued_invoice(request, current, session, invoice_id)
    try:
        wanted = rerate_pages.confirmed(req.form(request.resolved_event))
    except InvalidInputError as problem:
        return req.refused(request, 422, f"{problem.field}: {problem.reason}")
    stores = current.stores
    try:  # sent again: the note confirmed is the one issued already
        earlier = stores.invoices.get(session.account, note_id(invoice_id, wanted.sequence))
    except NotFoundError:
        earlier = None
    if earlier is not None and is_issued(earlier.state) and earlier.body.get("corrects") == invoice_id:
        issued = Invoice.from_json(earlier.body)
        if expectation(issued.kind, issued.total, issued.currency) == wanted.expectation:
            return req.see_other(request, f"/invoices/{earlier.invoice_id}")
        return _rerate_page(request, current, session, csrf_token, invoice_id, 409, stale=wanted)
    try:
        note = invoicing.adjust(
            session.account, invoice_id, current.clock(), stores, expected=wanted.expectation
        )
    except PreconditionFailedError:
        return _rerate_page(request, current, session, csrf_token, invoice_id, 409, stale=wanted)
    except (InvalidInputError, InvalidStateError) as problem:
        return req.refused(request, 409, str(problem))
    if note is None:  # not reached: a confirmed note is never "nothing"
        return _rerate_page(request, current, session, csrf_token, invoice_id, 409, stale=wanted)
    return req.see_other(request, f"/invoices/{note.invoice_id}")


def _rerate_page(
    request: Request,
    current: Backend,
    session: Session,
    csrf_token: str,
    invoice_id: str,
    status: int,
    *,
    stale: rerate_pages.Confirmed | None = None,
) -> Response[str]:
    found = _issued_invoice(request, current, session, invoice_id)
    notes, figures = _rerated(request, current, session, invoice_id)
    outcome: dict[str, str] = figures["outcome"]
    message = None
    if stale is not None:
        now = (
            f"a {outcome['name']} of {outcome['amount']} {outcome['currency']}"
            if outcome["kind"]
            else "nothing"
        )
        confirmed = f"a {stale.kind.replace('_', ' ')} of {stale.total} {stale.currency}"
        message = STALE.format(confirmed=confirmed, now=now)
    return req.page(
        request,
        "invoice_rerate.html",
        status,
        title=f"Re-rate invoice {found.number or found.invoice_id}",
        session=session,
        csrf_token=csrf_token,
        invoice=invoice_pages.row(found),
        notes=notes,
        rows=figures["rows"],
        totals=figures["totals"],
        outcome=outcome,
        can_adjust=session.scope == "admin" and bool(outcome["kind"]),
        stale=message,
    )


def _issued_invoice(request: Request, current: Backend, session: Session, invoice_id: str) -> InvoiceRecord:
    """The session's account's issued invoice; else raises the answer: 404, or 409 with the reason."""
    try:
        record = current.stores.invoices.get(session.account, invoice_id)
    except NotFoundError:
        raise req.ConsoleAnswer(req.refused(request, 404, NO_INVOICE)) from None
    reason = rerate_pages.not_rerated(record)
    if reason is not None:
        raise req.ConsoleAnswer(req.refused(request, 409, reason))
    return record


def _rerated(
    request: Request, current: Backend, session: Session, invoice_id: str
) -> tuple[int, dict[str, Any]]:
    """The invoice re-rated now: how many notes it has and the page's comparison; else raises a 409."""
    from meterbill.services import invoicing  # loads the tariff engine: on first use

    try:
        rerating = invoicing.rerate(session.account, invoice_id, current.clock(), current.stores)
    except (InvalidInputError, InvalidStateError) as problem:
        raise req.ConsoleAnswer(req.refused(request, 409, str(problem))) from None
    figures = rerate_pages.comparison(
        rerating.original, rerating.rerated, rerating.notes, rerating.difference
    )
    return len(rerating.notes), figures


def _customer(current: Backend, account: str, customer_id: str) -> dict[str, Any]:
    from meterbill.domain import Customer
    from meterbill.services import catalog as catalog_service

    try:
        customer = catalog_service.get(account, Customer, customer_id, current.stores.catalog).value
    except NotFoundError:
        return {"id": customer_id, "name": "", "emails": ""}
    return {"id": customer.id, "name": customer.name, "emails": ", ".join(customer.emails)}


def _note_prefix(current: Backend, account: str) -> str:
    from meterbill.services.billing_settings import settings_of

    return settings_of(account, current.stores.accounts).credit_note_number_prefix
