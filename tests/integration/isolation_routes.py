"""The isolation matrix's rows: for every route of the API, what isolation between accounts means for it
and the call that tries it with another account's ids."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

import pytest

from meterbill.ports import Scope
from tests.integration.isolation_world import (
    ALERT_RULES,
    HEARTBEATS,
    NOBODY,
    READINGS_DAY,
    Call,
    Ids,
    assignment_body,
    flat_tariff,
    heartbeat_call,
    import_call,
    logo,
    meter_body,
    quarter_hours,
    silence_body,
    site_body,
    subscription_body,
)
from tests.unit.api_support import HttpAnswer

# --- the routes ---------------------------------------------------------------------------------------------

Isolation = Literal["not found", "unknown reference", "rejected readings", "own object", "own list", "no ids"]


@dataclass(frozen=True)
class Route:
    """What a route needs (``needs``: the scope) and what another account's ids in its request come to."""

    needs: Scope | None  # None: public
    isolation: Isolation
    call: Callable[[Ids], Call]
    allowed: int = 200  # the status a key whose scope the route allows gets


BILLING_SETTINGS: Final = {
    "bill_day": 5,
    "invoice_number_prefix": "ADA-",
    "credit_note_number_prefix": "ADA-CN-",
}


NOBODYS_KEY: Final = "mb_0000000000000000_" + "A" * 43


def usage_call(ids: Ids) -> Call:
    query = {"from": f"{READINGS_DAY}T00:00:00Z", "to": f"{READINGS_DAY}T01:00:00Z", "resolution": "hour"}
    return Call("GET", f"/v1/meters/{ids.meter}/usage", query=query)


ROUTES: Final[Mapping[tuple[str, str], Route]] = {
    ("POST", "/v1/readings"): Route(
        "ingest",
        "rejected readings",
        lambda ids: Call("POST", "/v1/readings", quarter_hours(ids.meter, "1.5")),
    ),
    ("POST", "/v1/imports"): Route("ingest", "rejected readings", import_call),
    ("GET", "/v1/customers"): Route("read", "own list", lambda ids: Call("GET", "/v1/customers")),
    ("POST", "/v1/customers"): Route(
        "admin", "own object", lambda ids: Call("POST", "/v1/customers", {"id": ids.customer, "name": "C"})
    ),
    ("GET", "/v1/customers/{customer_id}"): Route(
        "read", "not found", lambda ids: Call("GET", f"/v1/customers/{ids.customer}")
    ),
    ("PUT", "/v1/customers/{customer_id}"): Route(
        "admin", "not found", lambda ids: Call("PUT", f"/v1/customers/{ids.customer}", {"name": "Eve"})
    ),
    ("DELETE", "/v1/customers/{customer_id}"): Route(
        "admin", "not found", lambda ids: Call("DELETE", f"/v1/customers/{ids.customer}")
    ),
    ("GET", "/v1/customers/{customer_id}/bill-preview"): Route(
        "read",
        "not found",
        lambda ids: Call(
            "GET",
            f"/v1/customers/{ids.customer}/bill-preview",
            query={"from": "2026-03-01", "to": "2026-04-01"},
        ),
    ),
    ("GET", "/v1/sites"): Route("read", "own list", lambda ids: Call("GET", "/v1/sites")),
    ("POST", "/v1/sites"): Route(
        "admin", "own object", lambda ids: Call("POST", "/v1/sites", site_body(ids.site))
    ),
    ("GET", "/v1/sites/{site_id}"): Route(
        "read", "not found", lambda ids: Call("GET", f"/v1/sites/{ids.site}")
    ),
    ("PUT", "/v1/sites/{site_id}"): Route(
        "admin", "not found", lambda ids: Call("PUT", f"/v1/sites/{ids.site}", site_body(ids.site))
    ),
    ("DELETE", "/v1/sites/{site_id}"): Route(
        "admin", "not found", lambda ids: Call("DELETE", f"/v1/sites/{ids.site}")
    ),
    ("GET", "/v1/meters"): Route("read", "own list", lambda ids: Call("GET", "/v1/meters")),
    ("POST", "/v1/meters"): Route(  # on the other account's site
        "admin",
        "unknown reference",
        lambda ids: Call("POST", "/v1/meters", meter_body(ids, "mtr-new", None)),
    ),
    ("GET", "/v1/meters/{meter_id}"): Route(
        "read", "not found", lambda ids: Call("GET", f"/v1/meters/{ids.meter}")
    ),
    ("PUT", "/v1/meters/{meter_id}"): Route(
        "admin",
        "not found",
        lambda ids: Call("PUT", f"/v1/meters/{ids.meter}", meter_body(ids, ids.meter, ids.external_meter)),
    ),
    ("DELETE", "/v1/meters/{meter_id}"): Route(
        "admin", "not found", lambda ids: Call("DELETE", f"/v1/meters/{ids.meter}")
    ),
    ("GET", "/v1/meters/{meter_id}/usage"): Route("read", "not found", usage_call),
    ("GET", "/v1/reports/savings"): Route(  # the caller's nodes only (tests/unit/test_api_savings.py)
        "read",
        "no ids",
        lambda ids: Call("GET", "/v1/reports/savings", query={"from": "2026-03-01", "to": "2026-03-08"}),
    ),
    ("POST", "/v1/meters/{meter_id}/exchanges"): Route(
        "admin",
        "not found",
        lambda ids: Call(
            "POST",
            f"/v1/meters/{ids.meter}/exchanges",
            {"timestamp": "2026-02-01T12:00:00+01:00", "old_final": "1234.5", "new_initial": "0.0"},
        ),
    ),
    ("GET", "/v1/assignments"): Route("read", "own list", lambda ids: Call("GET", "/v1/assignments")),
    ("POST", "/v1/assignments"): Route(  # of the other account's meter, customer and tariff
        "admin",
        "unknown reference",
        lambda ids: Call("POST", "/v1/assignments", assignment_body(ids, "asg-new", ids.meter, ids.tariff)),
    ),
    ("GET", "/v1/assignments/{assignment_id}"): Route(
        "read", "not found", lambda ids: Call("GET", f"/v1/assignments/{ids.assignment}")
    ),
    ("PUT", "/v1/assignments/{assignment_id}"): Route(
        "admin",
        "not found",
        lambda ids: Call(
            "PUT",
            f"/v1/assignments/{ids.assignment}",
            assignment_body(ids, ids.assignment, ids.meter, ids.tariff),
        ),
    ),
    ("DELETE", "/v1/assignments/{assignment_id}"): Route(
        "admin", "not found", lambda ids: Call("DELETE", f"/v1/assignments/{ids.assignment}")
    ),
    ("GET", "/v1/tariffs"): Route("read", "own list", lambda ids: Call("GET", "/v1/tariffs")),
    ("POST", "/v1/tariffs"): Route(
        "admin", "own object", lambda ids: Call("POST", "/v1/tariffs", flat_tariff(ids.tariff, "0.40"))
    ),
    ("GET", "/v1/tariffs/{tariff_id}"): Route(
        "read", "not found", lambda ids: Call("GET", f"/v1/tariffs/{ids.tariff}")
    ),
    ("DELETE", "/v1/tariffs/{tariff_id}"): Route(
        "admin", "not found", lambda ids: Call("DELETE", f"/v1/tariffs/{ids.tariff}")
    ),
    ("GET", "/v1/tariffs/{tariff_id}/versions"): Route(
        "read", "not found", lambda ids: Call("GET", f"/v1/tariffs/{ids.tariff}/versions")
    ),
    ("POST", "/v1/tariffs/{tariff_id}/versions"): Route(
        "admin",
        "not found",
        lambda ids: Call(
            "POST",
            f"/v1/tariffs/{ids.tariff}/versions",
            flat_tariff(ids.tariff, "0.40"),
            query={"effective_from": "2026-06-01"},
        ),
    ),
    ("GET", "/v1/tariffs/{tariff_id}/versions/{version}"): Route(
        "read", "not found", lambda ids: Call("GET", f"/v1/tariffs/{ids.tariff}/versions/2")
    ),
    ("GET", "/v1/settings/billing"): Route(  # the caller's account's: a request cannot name another
        "read", "no ids", lambda ids: Call("GET", "/v1/settings/billing")
    ),
    ("PUT", "/v1/settings/billing"): Route(
        "admin", "no ids", lambda ids: Call("PUT", "/v1/settings/billing", BILLING_SETTINGS)
    ),
    ("GET", "/v1/settings/logo"): Route("read", "no ids", lambda ids: Call("GET", "/v1/settings/logo")),
    ("PUT", "/v1/settings/logo"): Route(
        "admin",
        "no ids",
        lambda ids: Call("PUT", "/v1/settings/logo", file_body=logo(ids), content_type="image/png"),
    ),
    ("GET", "/v1/api-keys"): Route("admin", "own list", lambda ids: Call("GET", "/v1/api-keys")),
    ("POST", "/v1/api-keys"): Route(  # a key's id is the API's choice: a request cannot name one
        "admin", "no ids", lambda ids: Call("POST", "/v1/api-keys", {"name": "new", "scopes": ["read"]})
    ),
    ("GET", "/v1/api-keys/{key_id}"): Route(
        "admin", "not found", lambda ids: Call("GET", f"/v1/api-keys/{ids.key}")
    ),
    ("DELETE", "/v1/api-keys/{key_id}"): Route(
        "admin", "not found", lambda ids: Call("DELETE", f"/v1/api-keys/{ids.key}")
    ),
    ("GET", "/v1/openapi.json"): Route(None, "no ids", lambda ids: Call("GET", "/v1/openapi.json")),
    # Signing in: the account is the key's in the body, whatever key sends it; nobody's key signs in nowhere.
    ("POST", "/v1/sessions"): Route(
        None, "no ids", lambda ids: Call("POST", "/v1/sessions", {"key": NOBODYS_KEY}), allowed=401
    ),
    # Signing out ends the cookie's own session; with a key (no cookie) there is none: nothing to end.
    ("DELETE", "/v1/sessions/current"): Route(
        "read", "no ids", lambda ids: Call("DELETE", "/v1/sessions/current"), allowed=204
    ),
    ("GET", "/v1/invoices"): Route("read", "own list", lambda ids: Call("GET", "/v1/invoices")),
    ("GET", "/v1/invoices/export"): Route(  # the caller's account's: a request cannot name another
        "read", "no ids", lambda ids: Call("GET", "/v1/invoices/export", query={"month": "2026-03"})
    ),
    ("GET", "/v1/invoices/{invoice_id}"): Route(
        "read", "not found", lambda ids: Call("GET", f"/v1/invoices/{ids.invoice}")
    ),
    ("GET", "/v1/invoices/{invoice_id}/xml"): Route(
        "read", "not found", lambda ids: Call("GET", f"/v1/invoices/{ids.invoice}/xml")
    ),
    ("GET", "/v1/invoices/{invoice_id}/pdf"): Route(
        "read", "not found", lambda ids: Call("GET", f"/v1/invoices/{ids.invoice}/pdf")
    ),
    ("POST", "/v1/invoices"): Route(  # a settlement for the other account's customer
        "admin",
        "not found",
        lambda ids: Call(
            "POST",
            "/v1/invoices",
            {"customer_id": ids.customer, "from": "2026-03-03", "to": "2026-03-04", "reason": "move-out"},
        ),
    ),
    ("POST", "/v1/invoices/{invoice_id}/issue"): Route(
        "admin", "not found", lambda ids: Call("POST", f"/v1/invoices/{ids.invoice}/issue")
    ),
    ("POST", "/v1/invoices/{invoice_id}/void"): Route(
        "admin", "not found", lambda ids: Call("POST", f"/v1/invoices/{ids.invoice}/void")
    ),
    ("POST", "/v1/invoices/{invoice_id}/rerate"): Route(
        "admin", "not found", lambda ids: Call("POST", f"/v1/invoices/{ids.invoice}/rerate")
    ),
    ("POST", "/v1/invoices/{invoice_id}/adjust"): Route(
        "admin", "not found", lambda ids: Call("POST", f"/v1/invoices/{ids.invoice}/adjust")
    ),
    ("POST", "/v1/invoices/{invoice_id}/resend"): Route(
        "admin", "not found", lambda ids: Call("POST", f"/v1/invoices/{ids.invoice}/resend")
    ),
    ("GET", "/v1/customers/{customer_id}/charges"): Route(
        "read",
        "not found",
        lambda ids: Call(
            "GET",
            f"/v1/customers/{ids.customer}/charges",
            query={"from": "2026-03-01", "to": "2026-03-03", "resolution": "day"},
        ),
    ),
    ("GET", "/v1/alerts"): Route("read", "own list", lambda ids: Call("GET", "/v1/alerts")),
    ("GET", "/v1/alerts/{alert_id}"): Route(
        "read", "not found", lambda ids: Call("GET", f"/v1/alerts/{ids.alert}")
    ),
    ("POST", "/v1/alerts/{alert_id}/ack"): Route(
        "admin", "not found", lambda ids: Call("POST", f"/v1/alerts/{ids.alert}/ack")
    ),
    ("GET", "/v1/alert-rules"): Route(  # the caller's account's: a request cannot name another
        "read", "no ids", lambda ids: Call("GET", "/v1/alert-rules")
    ),
    ("PUT", "/v1/alert-rules"): Route(
        "admin", "no ids", lambda ids: Call("PUT", "/v1/alert-rules", ALERT_RULES)
    ),
    ("GET", "/v1/alert-silences"): Route("read", "own list", lambda ids: Call("GET", "/v1/alert-silences")),
    ("POST", "/v1/alert-silences"): Route(  # a silence's id is the API's choice
        "admin", "no ids", lambda ids: Call("POST", "/v1/alert-silences", silence_body(ids))
    ),
    ("GET", "/v1/alert-silences/{silence_id}"): Route(
        "read", "not found", lambda ids: Call("GET", f"/v1/alert-silences/{ids.silence}")
    ),
    ("DELETE", "/v1/alert-silences/{silence_id}"): Route(
        "admin", "not found", lambda ids: Call("DELETE", f"/v1/alert-silences/{ids.silence}")
    ),
    ("GET", "/v1/alert-subscriptions"): Route(
        "read", "own list", lambda ids: Call("GET", "/v1/alert-subscriptions")
    ),
    ("POST", "/v1/alert-subscriptions"): Route(  # for the other account's site
        "admin",
        "unknown reference",
        lambda ids: Call("POST", "/v1/alert-subscriptions", subscription_body(ids, 9)),
    ),
    ("GET", "/v1/alert-subscriptions/{subscription_id}"): Route(
        "read", "not found", lambda ids: Call("GET", f"/v1/alert-subscriptions/{ids.subscription}")
    ),
    ("DELETE", "/v1/alert-subscriptions/{subscription_id}"): Route(
        "admin", "not found", lambda ids: Call("DELETE", f"/v1/alert-subscriptions/{ids.subscription}")
    ),
    HEARTBEATS: Route("ingest", "unknown reference", heartbeat_call),  # the other account's site and meter
    ("GET", "/v1/customers/{customer_id}/charges/sessions"): Route(
        "read",
        "not found",
        lambda ids: Call(
            "GET",
            f"/v1/customers/{ids.customer}/charges/sessions",
            query={"from": "2026-03-01", "to": "2026-03-03", "threshold": "all"},
        ),
    ),
}


def routes(*kinds: Isolation) -> list[Any]:
    return [
        pytest.param(route, id=f"{route[0]} {route[1]}")
        for route, spec in ROUTES.items()
        if not kinds or spec.isolation in kinds
    ]


def other_accounts_ids_are_nobodys(answer: HttpAnswer, ids: Ids) -> str:
    """The answer's text with each of ``ids`` written as the id of nobody it stands for."""
    text = json.dumps({"status": answer.status, "headers": answer.headers, "body": answer.text})
    for name in (
        "customer",
        "site",
        "meter",
        "external_meter",
        "tariff",
        "assignment",
        "key",
        "invoice",
        "alert",
        "silence",
        "subscription",
    ):
        text = text.replace(getattr(ids, name), getattr(NOBODY, name))
    return text


# --- the console's pages ------------------------------------------------------------------------------------
# Public at the gateway (no authorizer): each page authenticates itself from the session cookie and sends a
# browser without one to the sign-in page. Not in the OpenAPI document (HTML, not the API's JSON): the
# resolver's own route list is held against this mapping.
ConsoleIsolation = Literal["not found", "own list", "no ids"]


@dataclass(frozen=True)
class ConsoleRoute:
    isolation: ConsoleIsolation
    call: Callable[[Ids], Call]
    allowed: int = 200  # what Bob's admin session gets with Ada's ids


CONSOLE_ROUTES: Final[Mapping[tuple[str, str], ConsoleRoute]] = {
    ("GET", "/console"): ConsoleRoute("own list", lambda ids: Call("GET", "/console/")),
    ("GET", "/console/sign-in"): ConsoleRoute("no ids", lambda ids: Call("GET", "/console/sign-in")),
    # Signing in: the account is the key's in the form; nobody's key signs in nowhere.
    ("POST", "/console/sign-in"): ConsoleRoute(
        "no ids",
        lambda ids: Call(
            "POST",
            "/console/sign-in",
            text_body=f"key={NOBODYS_KEY}",
            content_type="application/x-www-form-urlencoded",
        ),
        allowed=401,
    ),
    ("POST", "/console/sign-out"): ConsoleRoute("no ids", lambda ids: Call("POST", "/console/sign-out"), 303),
    ("POST", "/console/alerts/<alert_id>/ack"): ConsoleRoute(
        "not found", lambda ids: Call("POST", f"/console/alerts/{ids.alert}/ack"), 404
    ),
    ("GET", "/console/meters/<meter_id>"): ConsoleRoute(
        "not found", lambda ids: Call("GET", f"/console/meters/{ids.meter}"), 404
    ),
    ("GET", "/console/customers"): ConsoleRoute("own list", lambda ids: Call("GET", "/console/customers")),
    ("GET", "/console/customers/<customer_id>"): ConsoleRoute(
        "not found", lambda ids: Call("GET", f"/console/customers/{ids.customer}"), 404
    ),
    ("POST", "/console/meters/<meter_id>/exchanges"): ConsoleRoute(
        "not found",
        lambda ids: Call(
            "POST",
            f"/console/meters/{ids.meter}/exchanges",
            text_body="timestamp=2026-02-01T12:00&old_final=1&new_initial=0",
            content_type="application/x-www-form-urlencoded",
        ),
        404,
    ),
    ("GET", "/console/invoices"): ConsoleRoute("own list", lambda ids: Call("GET", "/console/invoices")),
    ("GET", "/console/invoices/<invoice_id>"): ConsoleRoute(
        "not found", lambda ids: Call("GET", f"/console/invoices/{ids.invoice}"), 404
    ),
    ("GET", "/console/invoices/<invoice_id>/pdf"): ConsoleRoute(
        "not found", lambda ids: Call("GET", f"/console/invoices/{ids.invoice}/pdf"), 404
    ),
    ("POST", "/console/invoices/<invoice_id>/resend"): ConsoleRoute(
        "not found",
        lambda ids: Call(
            "POST",
            f"/console/invoices/{ids.invoice}/resend",
            text_body="",
            content_type="application/x-www-form-urlencoded",
        ),
        404,
    ),
    ("GET", "/console/invoices/<invoice_id>/rerate"): ConsoleRoute(
        "not found", lambda ids: Call("GET", f"/console/invoices/{ids.invoice}/rerate"), 404
    ),
    ("GET", "/console/invoices/<invoice_id>/adjust"): ConsoleRoute(
        "not found", lambda ids: Call("GET", f"/console/invoices/{ids.invoice}/adjust"), 404
    ),
    ("POST", "/console/invoices/<invoice_id>/adjust"): ConsoleRoute(
        "not found",
        lambda ids: Call(
            "POST",
            f"/console/invoices/{ids.invoice}/adjust",
            text_body="kind=credit_note&total=-1.00&currency=EUR&sequence=1",
            content_type="application/x-www-form-urlencoded",
        ),
        404,
    ),
    ("GET", "/console/invoices/export"): ConsoleRoute(  # the session's account's month: nothing to name
        "own list", lambda ids: Call("GET", "/console/invoices/export", query={"month": "2026-03"})
    ),
    ("GET", "/console/sites"): ConsoleRoute("own list", lambda ids: Call("GET", "/console/sites")),
    ("GET", "/console/sites/<site_id>"): ConsoleRoute(
        "not found", lambda ids: Call("GET", f"/console/sites/{ids.site}"), 404
    ),
    ("GET", "/console/tariffs"): ConsoleRoute("own list", lambda ids: Call("GET", "/console/tariffs")),
    ("GET", "/console/tariffs/<tariff_id>"): ConsoleRoute(  # with a preview of the other's customer
        "not found",
        lambda ids: Call(
            "GET", f"/console/tariffs/{ids.tariff}", query={"customer_id": ids.customer, "month": "2026-02"}
        ),
        404,
    ),
    ("GET", "/console/static/<name>"): ConsoleRoute(
        "no ids", lambda ids: Call("GET", "/console/static/console.css")
    ),
    ("GET", "/console/static/vendor/<name>"): ConsoleRoute(
        "no ids", lambda ids: Call("GET", "/console/static/vendor/htmx.min.js")
    ),
}
