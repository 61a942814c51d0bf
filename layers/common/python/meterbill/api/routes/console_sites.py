"""The console's sites pages: ``GET /console/sites`` (every site of the account: meters, open alerts, status,
month-to-date usage per utility and unit) and ``GET /console/sites/<site_id>`` (the site as a tree site →
room → rack → feed → phase → device with each node's month-to-date usage, share and status; the customers
holding its meters today with their month-to-date usage). Read-only; the page model is
``meterbill.console.site_pages``.

Where the month-to-date usage comes from: the month rollups the rating pass keeps (``MeteringStore.month``,
one item per meter and local month, already cut at the site's local midnights), never the raw readings.

What a page costs in reads, for a site of 500 meters (DynamoDB): the site (1 GetItem), the account's meters,
assignments and customers (one paged Query each: 500 meter items of ~1 KB are one or two 1 MB pages), the open
alerts (a Query per state, 100 a page), then the month rollups of its meters and of the sub-meters on another
site of a main meter here (~280 bytes each: 1 read unit, strongly consistent) by BatchGetItem, 100 a request:
about 10 requests and ~600 read units (each rollup 1 unit, the meters' Query ~125). The list of sites reads
every meter's rollup once in the same way. No interval and no rated day is read.
"""

from __future__ import annotations

from typing import Final

from aws_lambda_powertools.event_handler import Request, Response

from meterbill.alerts.lifecycle import Alert
from meterbill.alerts.ports import AlertFilter
from meterbill.api.dependencies import Backend, Caller, backend
from meterbill.api.routes import console_requests as req
from meterbill.api.routes.common import new_router
from meterbill.api.routes.console_requests import CONSOLE
from meterbill.console import site_pages
from meterbill.console.home import shown_time
from meterbill.domain import Assignment, Customer, Meter, Site
from meterbill.errors import InvalidInputError, NotFoundError
from meterbill.ports import MonthRollup, Session
from meterbill.services import catalog as catalog_service
from meterbill.services.apikeys import Principal

router = new_router()

NO_SITE: Final = "No such site."
_MAX_ALERTS: Final = 1000  # per state, as the alarm zone reads them


@router.get(f"{CONSOLE}/sites", include_in_schema=False)
def sites(request: Request) -> Response[str]:
    current = backend()
    session, csrf_token = req.session_of(request, current)
    account = session.account
    found = list(catalog_service.all_of(account, Site, current.stores.catalog))
    meters = list(catalog_service.all_of(account, Meter, current.stores.catalog))
    now = current.clock()
    months = {s.id: site_pages.month_of(now, s.zone()) for s in found}
    usage = _rollups(current, account, meters, months)
    rows = site_pages.site_rows(found, meters, usage, _open_alerts(current, session), now)
    return req.page(request, "sites.html", title="Sites", session=session, csrf_token=csrf_token, sites=rows)


@router.get(f"{CONSOLE}/sites/<site_id>", include_in_schema=False)
def site(site_id: str, request: Request) -> Response[str]:
    current = backend()
    session, csrf_token = req.session_of(request, current)
    account = session.account
    catalog = current.stores.catalog
    try:
        found = catalog_service.get(account, Site, site_id, catalog).value
    except NotFoundError:
        return req.refused(request, 404, NO_SITE)
    zone = found.zone()
    now = current.clock()
    asked = (request.resolved_event.get("queryStringParameters") or {}).get("month")
    try:
        year, month = site_pages.chosen_month(str(asked) if asked else None, now, zone)
    except InvalidInputError as problem:
        return req.refused(request, 422, f"{problem.field}: {problem.reason}")
    this_month = site_pages.month_of(now, zone)
    every = list(catalog_service.all_of(account, Meter, catalog))
    mine = {m.id for m in every if m.site_id == found.id}
    read = [m for m in every if m.id in mine or m.parent_id in mine]  # the site's and its mains' sub-meters
    usage = _rollups(current, account, read, {found.id: (year, month)}, default=(year, month))
    customers = {c.id: c for c in catalog_service.all_of(account, Customer, catalog)}
    day = site_pages.last_day(year, month, now.astimezone(zone).date())
    active = site_pages.active_today(catalog_service.all_of(account, Assignment, catalog), day)
    active = [a for a in active if a.meter_id in mine]
    tree = site_pages.site_tree(
        found, every, usage, _open_alerts(current, session), site_pages.holders(active, customers), every
    )
    as_of = site_pages.as_of(tree, usage)
    return req.page(
        request,
        "site.html",
        title=f"Site {found.name}",
        session=session,
        csrf_token=csrf_token,
        site=found,
        month=f"{year:04d}-{month:02d}",
        current=(year, month) == this_month,
        months=site_pages.month_links(year, month, this_month),
        holders_on=day.isoformat(),
        as_of=shown_time(as_of, zone) if as_of is not None else None,
        tree=tree,
        customers=site_pages.customer_rows(tree, active, customers, usage),
    )


def _rollups(
    current: Backend,
    account: str,
    meters: list[Meter],
    months: dict[str, tuple[int, int]],
    default: tuple[int, int] | None = None,
) -> dict[str, MonthRollup | None]:
    """Each meter's rollup of its site's month, read together (none without a rating store)."""
    metering = current.stores.metering
    wanted = {m.id: months.get(m.site_id, default) for m in meters}
    if metering is None:
        return dict.fromkeys(wanted)
    found = metering.months(account, [(m, *month) for m, month in wanted.items() if month is not None])
    return {m: None if month is None else found.get((m, *month)) for m, month in wanted.items()}


def _open_alerts(current: Backend, session: Session) -> list[Alert]:
    """The account's firing and pending alerts (at most 1000 of each)."""
    from meterbill.services import alert_admin  # on first use: not every route's cold start

    principal = Principal(session.account, session.key_id, frozenset({session.scope}), "session")
    store = Caller(principal, current).alert_store()
    found: list[Alert] = []
    for state in ("firing", "pending"):
        cursor: str | None = None
        count = 0
        while count < _MAX_ALERTS:
            page = alert_admin.list_alerts(
                session.account, AlertFilter(state=state), store, limit=100, cursor=cursor
            )
            found.extend(page.items)
            count += len(page.items)
            cursor = page.cursor
            if cursor is None:
                break
    return found
