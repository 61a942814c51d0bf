"""The console's meter page: ``GET /console/meters/<meter_id>`` (header, trend chart, data-quality events,
exchanges, the exchange form) and ``POST /console/meters/<meter_id>/exchanges`` (admin sessions: records an
exchange through ``services.catalog.record_exchange``, as ``POST /v1/meters/{id}/exchanges`` does)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from aws_lambda_powertools.event_handler import Request, Response

from meterbill.api.dependencies import Backend, backend
from meterbill.api.routes import console_requests as req
from meterbill.api.routes.common import new_router
from meterbill.api.routes.console_requests import (
    CONSOLE,
)
from meterbill.console import meter_page
from meterbill.console.home import shown_time
from meterbill.domain import Meter, Site
from meterbill.errors import InvalidInputError, NotFoundError, PreconditionFailedError
from meterbill.ports import Session
from meterbill.services import catalog

router = new_router()

NO_METER: Final = "No such meter."
READ_ONLY: Final = "A read session changes nothing: sign in with an admin key to record an exchange."
_MAX_SUB_METERS: Final = 50


@router.get(f"{CONSOLE}/meters/<meter_id>", include_in_schema=False)
def meter(meter_id: str, request: Request) -> Response[str]:
    current = backend()
    session, csrf_token = req.session_of(request, current)
    try:
        return _meter_page(request, current, session, csrf_token, meter_id, 200, {}, {})
    except NotFoundError:
        return req.refused(request, 404, NO_METER)


@router.post(f"{CONSOLE}/meters/<meter_id>/exchanges", include_in_schema=False)
def record_exchange(meter_id: str, request: Request) -> Response[str]:
    current = backend()
    session, csrf_token = req.change_of(request, current, read_only=READ_ONLY)
    event = request.resolved_event
    form = req.form(event)
    try:
        found = Meter.model_validate(current.stores.catalog.get(session.account, "meter", meter_id).body)
        site = Site.model_validate(current.stores.catalog.get(session.account, "site", found.site_id).body)
        body = meter_page.exchange_body(form, site.zone())
        catalog.record_exchange(
            session.account, meter_id, body, current.stores.catalog, current.stores.readings, if_match=None
        )
    except NotFoundError:
        return req.refused(request, 404, NO_METER)
    except (InvalidInputError, PreconditionFailedError) as error:
        errors = (
            {error.field: error.reason}
            if isinstance(error, InvalidInputError)
            else {"timestamp": "the meter changed meanwhile: try again"}
        )
        try:
            return _meter_page(request, current, session, csrf_token, meter_id, 422, form, errors)
        except NotFoundError:
            return req.refused(request, 404, NO_METER)
    return req.see_other(request, f"/meters/{meter_id}")


def _meter_page(
    request: Request,
    current: Backend,
    session: Session,
    csrf_token: str,
    meter_id: str,
    status: int,
    form: dict[str, str],
    errors: dict[str, str],
) -> Response[str]:
    """Raises NotFoundError for a meter that is not the session's account's."""
    from meterbill.services.usage import meter_usage  # validation (VEE): loaded by the first meter page

    stores = current.stores
    found = Meter.model_validate(stores.catalog.get(session.account, "meter", meter_id).body)
    site = Site.model_validate(stores.catalog.get(session.account, "site", found.site_id).body)
    zone = site.zone()
    now: datetime = current.clock()
    query: dict[str, str] = {
        str(k): str(v) for k, v in (request.resolved_event.get("queryStringParameters") or {}).items()
    }
    chart_error = None
    data: dict[str, Any] | None = None
    try:
        window = meter_page.window(query, now.astimezone(zone).date())
        report = meter_usage(
            session.account,
            meter_id,
            window.start,
            window.end,
            window.service_resolution,
            stores.catalog,
            stores.readings,
            now=now,  # the window ends before what is not finished yet: no gap "after now", no estimates
        )
        data = meter_page.series(report, window.resolution)
        resolution: str = window.resolution
        events = [{"at": shown_time(e.at, zone), "kind": e.kind, "detail": e.detail} for e in report.events]
    except InvalidInputError as error:
        chart_error = f"{error.field}: {error.reason}"
        status = 422 if status == 200 else status
        resolution = (
            query.get("resolution", "day")
            if query.get("resolution") in meter_page.CHART_RESOLUTIONS
            else "day"
        )
        events = []
    subs = [m.id for m in catalog.all_of(session.account, Meter, stores.catalog) if m.parent_id == found.id]
    exchanges = [
        {
            "timestamp": shown_time(x.timestamp, zone),
            "old_serial": x.old_serial or "",
            "old_final": str(x.old_final),
            "new_serial": x.new_serial or "",
            "new_initial": str(x.new_initial),
            "note": x.note or "",
        }
        for x in found.exchanges
    ]
    label = " · ".join(str(v) for v in found.labels.model_dump(exclude_none=True).values())
    return req.page(
        request,
        "meter.html",
        status,
        title=f"Meter {found.id}",
        session=session,
        csrf_token=csrf_token,
        can_change=session.scope == "admin",
        meter=found,
        label=label,
        site=site,
        sub_meters=subs[:_MAX_SUB_METERS],
        more_sub_meters=len(subs[_MAX_SUB_METERS:]),
        resolutions=meter_page.CHART_RESOLUTIONS,
        resolution=resolution,
        series=meter_page.series_json(data) if data is not None else None,
        chart_error=chart_error,
        events=events,
        exchanges=exchanges,
        form={name: form.get(name, "") for name in meter_page.EXCHANGE_FIELDS},
        errors=errors,
    )
