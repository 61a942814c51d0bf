"""The console's tariff pages: ``GET /console/tariffs`` (the account's tariffs: currency, latest version,
customers on each today) and ``GET /console/tariffs/<tariff_id>`` (its versions as readable charges, what
changed from one to the next, and the "what would this bill be" preview: ``?customer_id=`` with ``month=``
or ``from=``/``to=``, priced by ``services.preview.compare_tariff`` beside what the customer pays now).
Read-only: a read session sees everything."""

from __future__ import annotations

from datetime import UTC
from typing import Any, Final

from aws_lambda_powertools.event_handler import Request, Response

from meterbill.api.dependencies import Backend, backend
from meterbill.api.routes import console_requests as req
from meterbill.api.routes.common import new_router
from meterbill.api.routes.console_requests import CONSOLE
from meterbill.console import tariff_pages
from meterbill.domain import Assignment, Customer
from meterbill.errors import InvalidInputError, NotFoundError
from meterbill.services import catalog
from meterbill.tariffs.model import Tariff

router = new_router()

NO_TARIFF: Final = "No such tariff."
NO_CUSTOMER: Final = "no such customer in this account"


@router.get(f"{CONSOLE}/tariffs", include_in_schema=False)
def tariffs(request: Request) -> Response[str]:
    current = backend()
    session, csrf_token = req.session_of(request, current)
    today = current.clock().astimezone(UTC).date()
    rows = tariff_pages.list_rows(
        catalog.latest_tariffs(session.account, current.stores.catalog).values(),
        list(catalog.all_of(session.account, Assignment, current.stores.catalog)),
        today,
    )
    return req.page(
        request, "tariffs.html", title="Tariffs", session=session, csrf_token=csrf_token, tariffs=rows
    )


@router.get(f"{CONSOLE}/tariffs/<tariff_id>", include_in_schema=False)
def tariff(tariff_id: str, request: Request) -> Response[str]:
    current = backend()
    session, csrf_token = req.session_of(request, current)
    account, stores = session.account, current.stores
    try:
        versions = catalog.tariff_versions(account, tariff_id, stores.catalog)
    except NotFoundError:
        return req.refused(request, 404, NO_TARIFF)
    latest = versions[-1].value
    query = {str(k): str(v) for k, v in (request.resolved_event.get("queryStringParameters") or {}).items()}
    customers = sorted(
        catalog.all_of(account, Customer, stores.catalog), key=lambda c: (c.name.casefold(), c.id)
    )
    status, error, preview = 200, None, None
    ask = None
    try:
        ask = tariff_pages.preview_ask(query)
        if ask is not None:
            preview = _preview(current, account, ask, [e.value for e in versions], customers)
    except NotFoundError:  # a customer not the account's: unknown or another account's, alike
        status, error = 404, {"field": "customer_id", "reason": NO_CUSTOMER}
    except InvalidInputError as problem:
        status = 422
        error = {"field": tariff_pages.form_field(problem.field, ask), "reason": problem.reason}
    return req.page(
        request,
        "tariff.html",
        status,
        title=f"Tariff {latest.name}",
        session=session,
        csrf_token=csrf_token,
        tariff=latest,
        versions=tariff_pages.version_rows(versions),
        customers=[{"id": c.id, "name": c.name} for c in customers],
        form=tariff_pages.form_values(query),
        error=error,
        preview=preview,
    )


def _preview(
    current: Backend,
    account: str,
    ask: tariff_pages.PreviewAsk,
    versions: list[Tariff],
    customers: list[Customer],
) -> dict[str, Any]:
    from meterbill.services.preview import compare_tariff  # the tariff engine: loaded by the first preview

    comparison = compare_tariff(
        account,
        ask.customer_id,
        versions,
        ask.start,
        ask.end,
        current.stores.catalog,
        current.stores.readings,
        now=current.clock(),
    )
    names = {t_id: t.name for t_id, t in catalog.latest_tariffs(account, current.stores.catalog).items()}
    customer_name = next((c.name for c in customers if c.id == ask.customer_id), ask.customer_id)
    return tariff_pages.preview_view(comparison, versions[-1].name, customer_name, names)
