"""The operator's console (``meterbill.console``): HTML pages under ``/console/``, same origin as the API.

The console's routes are public at API Gateway (no authorizer, like ``POST /v1/sessions``): each page
authenticates itself from the ``mb_session`` cookie (``services.console_sessions.resolve``) so that a browser
without a valid session is sent to the sign-in page (303) rather than answered 401 JSON. They are not in the
OpenAPI document (``include_in_schema=False``): they answer HTML, not the API's JSON.

- ``GET /console/``: the alarm zone (the account's firing, then pending alerts by severity), the collectors'
  latest heartbeats and this month's estimated revenue (``meterbill.console.home``).
- ``GET|POST /console/sign-in``: the form; its POST takes the key from the form field ``key`` and sets the
  same cookie as ``POST /v1/sessions`` plus ``mb_csrf`` (below), then 303 to ``/console/``.
- ``POST /console/sign-out``: ends the session, clears both cookies, 303 to the sign-in page.
- ``POST /console/alerts/<alert_id>/ack``: acknowledges the alert (htmx swaps in the row the answer holds).
- ``GET /console/static/<file>`` and ``/console/static/vendor/<file>``: the stylesheet and vendored libraries.

CSRF. Only the SHA-256 of a session's CSRF token is stored, so the token itself travels in a second cookie,
``mb_csrf`` (HttpOnly, SameSite=Strict, as the session's), from which each page copies it into its forms'
hidden ``csrf_token`` field and htmx's ``X-CSRF-Token`` header; every POST must carry it (field or header)
and it must hash to the session's token (else 403). Login CSRF (a foreign site signing the browser in with
the attacker's key): the sign-in POST is refused (403) when an ``Origin`` header is present and is not this
host (``http(s)://<Host>``); a browser sends ``Origin`` with every cross-site form POST. The session cookie's
SameSite=Strict keeps the browser from sending it with another site's requests at all.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

from aws_lambda_powertools.event_handler import Request, Response

from meterbill import timeutil
from meterbill.alerts.lifecycle import Alert
from meterbill.alerts.ports import AlertFilter, AlertStore
from meterbill.api.authorizer import SESSION_COOKIE
from meterbill.api.dependencies import Backend, Caller, backend
from meterbill.api.routes import console_requests as req
from meterbill.api.routes.common import new_router
from meterbill.api.routes.console_requests import (
    CONSOLE,
    CSRF_COOKIE,
)
from meterbill.api.routes.sessions import MAX_KEY_LENGTH, cookie_header, session_cookie_header
from meterbill.console import home as home_zones
from meterbill.console import pages
from meterbill.domain import Site
from meterbill.errors import ForbiddenError, NotFoundError, UnauthorizedError
from meterbill.ports import RunningCost, Session
from meterbill.services import catalog as catalog_service
from meterbill.services import console_sessions
from meterbill.services.apikeys import Principal

router = new_router()
router.exception_handler(req.ConsoleAnswer)(req.answer_of)  # for every console route: see console_requests

BAD_KEY: Final = "That key is not valid (wrong, revoked or mistyped). Sign in with an admin or read key."
NO_KEY: Final = "Enter an API key."
FOREIGN_ORIGIN: Final = "Sign-in refused: the form was sent from another site."
READ_ONLY: Final = "A read session changes nothing: sign in with an admin key to acknowledge alerts."
NOT_FOUND: Final = "No such alert."
_LIFETIME_SECONDS: Final = int(console_sessions.SESSION_LIFETIME.total_seconds())
_MAX_ALERTS: Final = 1000  # the alarm zone reads at most ten pages of open alerts of each state


# --- pages --------------------------------------------------------------------------------------------------


@router.get(f"{CONSOLE}/", include_in_schema=False)
def home(request: Request) -> Response[str]:
    from meterbill.services import alert_admin, alert_inputs  # on first use: not every route's cold start

    current = backend()
    session, csrf_token = req.session_of(request, current)
    store = _alert_store(current, session)
    found: list[Alert] = []
    for state in ("firing", "pending"):
        cursor: str | None = None
        while len(found) < _MAX_ALERTS:
            page = alert_admin.list_alerts(
                session.account, AlertFilter(state=state), store, limit=100, cursor=cursor
            )
            found.extend(page.items)
            cursor = page.cursor
            if cursor is None:
                break
    now = current.clock()
    zones = _site_zones(current, session.account)
    rules, _ = alert_inputs.account_rules(store.get_rules(session.account)[0])
    # the alerts' pass judges every collector by the account's communication rules: so does the page
    communication = rules.for_site("").communication
    collectors = home_zones.collector_rows(
        store.heartbeats(session.account), now, lambda _site: communication, zones
    )
    return req.page(
        request,
        "home.html",
        title="Alarms",
        session=session,
        csrf_token=csrf_token,
        can_change=session.scope == "admin",
        alerts=pages.rows(pages.alarm_zone(found), zones),
        collectors=collectors,
        revenue=home_zones.revenue(
            _running_costs(current, session.account, now), home_zones.shared_zone(zones.values())
        ),
    )


@router.get(f"{CONSOLE}/sign-in", include_in_schema=False)
def sign_in_form(request: Request) -> Response[str]:
    return req.page(request, "sign_in.html", title="Sign in", session=None, message=None)


@router.post(f"{CONSOLE}/sign-in", include_in_schema=False)
def sign_in(request: Request) -> Response[str]:
    event = request.resolved_event
    if not req.same_origin(event):
        return req.page(request, "sign_in.html", 403, title="Sign in", session=None, message=FOREIGN_ORIGIN)
    key = req.form(event).get("key", "").strip()
    if not key or len(key) > MAX_KEY_LENGTH:
        message = NO_KEY if not key else BAD_KEY
        return req.page(
            request, "sign_in.html", 400 if not key else 401, title="Sign in", session=None, message=message
        )
    current = backend()
    if current.stores.sessions is None:
        raise RuntimeError("this deployment has no session store")
    try:
        session_text, csrf_token, _ = console_sessions.sign_in(
            key, current.stores.keys, current.stores.sessions, current.clock()
        )
    except UnauthorizedError:
        return req.page(request, "sign_in.html", 401, title="Sign in", session=None, message=BAD_KEY)
    except ForbiddenError as error:
        return req.page(request, "sign_in.html", 403, title="Sign in", session=None, message=str(error))
    cookies = [
        session_cookie_header(current.settings, session_text, _LIFETIME_SECONDS),
        cookie_header(current.settings, CSRF_COOKIE, csrf_token, _LIFETIME_SECONDS),
    ]
    return req.see_other(request, "/", cookies)


@router.post(f"{CONSOLE}/sign-out", include_in_schema=False)
def sign_out(request: Request) -> Response[str]:
    current = backend()
    req.change_of(request, current, read_only=None)  # any session may end itself
    session_text = req.cookie(request.resolved_event, SESSION_COOKIE)
    if session_text is not None and current.stores.sessions is not None:
        console_sessions.sign_out(session_text, current.stores.sessions)
    cookies = [
        session_cookie_header(current.settings, "", 0),
        cookie_header(current.settings, CSRF_COOKIE, "", 0),
    ]
    return req.see_other(request, "/sign-in", cookies)


@router.post(f"{CONSOLE}/alerts/<alert_id>/ack", include_in_schema=False)
def acknowledge(alert_id: str, request: Request) -> Response[str]:
    from meterbill.services import alert_admin  # on first use: not every route's cold start

    current = backend()
    session, csrf_token = req.change_of(request, current, read_only=READ_ONLY)
    event = request.resolved_event
    try:
        alert = alert_admin.acknowledge(
            session.account, alert_id, session.key_id, current.clock(), _alert_store(current, session)
        )
    except NotFoundError:
        return req.refused(request, 404, NOT_FOUND)
    if not req.header(event, "hx-request"):
        return req.see_other(request, "/")
    body = pages.render(
        "alert_row.html",
        alert=pages.row(alert, _site_zones(current, session.account)),
        root=req.root(request),
        csrf_token=csrf_token,
        can_change=True,
    )
    return Response(200, content_type=pages.HTML, body=body, headers=dict(pages.HTML_HEADERS))


@router.get(f"{CONSOLE}/static/<name>", include_in_schema=False)
def static(name: str) -> Response[Any]:
    return _static(name)


@router.get(f"{CONSOLE}/static/vendor/<name>", include_in_schema=False)
def vendored(name: str) -> Response[Any]:
    return _static(f"vendor/{name}")


# --- helpers ------------------------------------------------------------------------------------------------


def _static(name: str) -> Response[Any]:
    found = pages.static_file(name)
    if found is None:
        headers = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}
        return Response(404, content_type="text/plain; charset=utf-8", body="not found", headers=headers)
    headers = {"Cache-Control": found.cache_control, "X-Content-Type-Options": "nosniff"}
    if found.content_type.startswith("image/png"):
        return Response(200, content_type=found.content_type, body=found.body, headers=headers)
    return Response(200, content_type=found.content_type, body=found.body.decode("utf-8"), headers=headers)


def _site_zones(current: Backend, account: str) -> dict[str, ZoneInfo]:
    """Each of the account's sites' clock (the catalog's IANA zone)."""
    return {
        site.id: timeutil.zone(site.timezone)
        for site in catalog_service.all_of(account, Site, current.stores.catalog)
    }


def _running_costs(current: Backend, account: str, now: datetime) -> list[RunningCost]:
    """The customers' running costs of the bill period that holds today (UTC): a customer gone before this
    period keeps a stale one, which is not this month's revenue."""
    metering = current.stores.metering
    if metering is None:
        return []
    today = now.astimezone(UTC).date()
    return [r for r in metering.running_costs(account) if r.period_start <= today < r.period_end]


def _alert_store(current: Backend, session: Session) -> AlertStore:
    principal = Principal(session.account, session.key_id, frozenset({session.scope}), "session")
    return Caller(principal, current).alert_store()
