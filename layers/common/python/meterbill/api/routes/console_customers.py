"""The console's customer pages: ``GET /console/customers`` (the account's customers by name: meters,
tariffs, month-to-date cost) and ``GET /console/customers/<customer_id>`` (details, assignments, tariffs,
the running cost and its projection, the invoices). Read-only."""

from __future__ import annotations

from datetime import UTC
from typing import Final

from aws_lambda_powertools.event_handler import Request, Response

from meterbill.api.dependencies import Backend, backend
from meterbill.api.routes import console_requests as req
from meterbill.api.routes.common import new_router
from meterbill.api.routes.console_requests import CONSOLE
from meterbill.console import customer_pages
from meterbill.domain import Assignment, Customer
from meterbill.errors import NotFoundError
from meterbill.ports import InvoiceRecord, RunningCost
from meterbill.services import catalog

router = new_router()

NO_CUSTOMER: Final = "No such customer."
_MAX_INVOICES: Final = 200


@router.get(f"{CONSOLE}/customers", include_in_schema=False)
def customers(request: Request) -> Response[str]:
    current = backend()
    session, csrf_token = req.session_of(request, current)
    found = list(catalog.all_of(session.account, Customer, current.stores.catalog))
    # This month's: a customer gone before the period holding today keeps a stale running cost.
    running: dict[str, RunningCost] = (
        {}
        if current.stores.metering is None
        else {
            r.customer_id: r
            for r in current.stores.metering.running_costs(session.account)
            if _current(r, current)
        }
    )
    rows = customer_pages.list_rows(
        found,
        list(catalog.all_of(session.account, Assignment, current.stores.catalog)),
        running,
        _tariff_names(current, session.account),
    )
    return req.page(
        request, "customers.html", title="Customers", session=session, csrf_token=csrf_token, customers=rows
    )


@router.get(f"{CONSOLE}/customers/<customer_id>", include_in_schema=False)
def customer(customer_id: str, request: Request) -> Response[str]:
    current = backend()
    session, csrf_token = req.session_of(request, current)
    stores = current.stores
    try:
        found = Customer.model_validate(stores.catalog.get(session.account, "customer", customer_id).body)
    except NotFoundError:
        return req.refused(request, 404, NO_CUSTOMER)
    own = [e.value for e in catalog.assignments_of(session.account, stores.catalog, customer_id=found.id)]
    running = None if stores.metering is None else stores.metering.running_cost(session.account, found.id)
    if running is not None and not _current(running, current):
        running = None  # a customer gone before this period: its last running cost is no longer running
    return req.page(
        request,
        "customer.html",
        title=f"Customer {found.name}",
        session=session,
        csrf_token=csrf_token,
        customer=found,
        address=customer_pages.address_lines(found),
        assignments=customer_pages.assignment_rows(own, _tariff_names(current, session.account)),
        running=customer_pages.running_view(running),
        invoices=customer_pages.invoice_rows(_invoices(current, session.account, found.id)),
    )


def _current(running: RunningCost, current: Backend) -> bool:
    """Whether the running cost's period holds today (UTC, as the home page's revenue counts it)."""
    today = current.clock().astimezone(UTC).date()
    return running.period_start <= today < running.period_end


def _tariff_names(current: Backend, account: str) -> dict[str, str]:
    """Tariff id -> the name of its latest version."""
    return {t_id: t.name for t_id, t in catalog.latest_tariffs(account, current.stores.catalog).items()}


def _invoices(current: Backend, account: str, customer_id: str) -> list[InvoiceRecord]:
    """The customer's invoices in period order (the store's order for one customer), at most 200."""
    records: list[InvoiceRecord] = []
    cursor: str | None = None
    while len(records) < _MAX_INVOICES:
        page = current.stores.invoices.list(account, customer_id=customer_id, limit=100, cursor=cursor)
        records.extend(page.items)
        cursor = page.cursor
        if cursor is None:
            break
    return records[:_MAX_INVOICES]
