"""The console's routes under hostile requests, through the API's handler on the fakes. The routes come from
the resolver's own route list (every path under ``/console``), so a page added later is fuzzed without a
change here; each ``<parameter>`` of a route's path is filled with an existing id, an unknown one or a
hostile one (long, unicode, ``..``, %-encodings, NUL, SQL and HTML injection).

Thrown at them: query strings (unknown, repeated, huge, bad dates and months), bodies (form fields, garbage,
broken encodings, the base64 flag, oversize, many fields), cookies (none, garbled, another account's
session, an expired one, repeated ones, a CSRF cookie of another session), headers (a foreign ``Origin``,
``HX-Request``, odd ``Host``), with and without a valid session, with the route's method and others.

What holds for every answer: never a 5xx; an HTML answer carries the strict CSP and ``nosniff``; the injected
``<script>`` never comes back verbatim (neither in the body nor in a header); a redirect (``Location``,
``HX-Redirect``) stays under the console's root; a request that does not carry its session's CSRF token
changes nothing (nor does a sign-in from another origin); without a valid session a page sends the browser
to the sign-in page. With a valid session an unknown or another account's id is a 404 page, not a 500."""

from __future__ import annotations

import base64
import posixpath
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace
from datetime import timedelta
from functools import cache
from typing import Any, Final
from urllib.parse import quote, unquote, urlencode, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meterbill.alerts.lifecycle import AlertBook
from meterbill.api import dependencies
from meterbill.api.dependencies import Backend
from meterbill.api.routes.console_requests import form
from meterbill.console.pages import CSP, static_file
from meterbill.ports import AccountRecord
from meterbill.services import catalog as catalog_service
from meterbill.services import console_sessions
from meterbill.services.apikeys import create_key
from tests.fakes import FIXED_NOW, fixed_clock
from tests.unit.api_support import (
    SETTINGS,
    AlertFakes,
    HttpAnswer,
    LambdaContextStub,
    answer_of,
    no_idempotency_store,
)
from tests.unit.delivery_support import INVOICE, A, World
from tests.unit.invoicing_support import tariff
from tests.unit.test_console_pages import alert

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics")

ROOT: Final = "/console"
B: Final = "acc_other"  # another account, with its own admin session
HOST: Final = "console.test"
MARKER: Final = "<script>alert(1)</script>"
# A path segment cannot hold "/": these inject HTML without one (the resolver routes them to the page).
PATH_MARKERS: Final = ('"><img src=x onerror=alert(1)>', "<svg onload=alert(1)>", "<script>alert(1)<")
HOSTILE_IDS: Final = (
    "x" * 5000,
    "\u00e9\u20ac\U0001d11e\u202e",
    "..",
    "%2e%2e",
    "..%2F..%2Fetc%2Fpasswd",
    "%252e%252e",
    "%00",
    "\x00",
    "a\x00b",
    "%",
    "%zz",
    "' OR '1'='1",
    "1;DROP TABLE catalog--",
    "{{7*7}}",
    "${jndi:ldap:x}",
    " ",
    "\r\nSet-Cookie: evil=1",
    "%0d%0aLocation:%20https://evil.example",
    "nobody",
    *PATH_MARKERS,
)
HOSTILE_TEXTS: Final = (
    MARKER,
    "",
    "x" * 20_000,
    "2026-13-01",
    "2026-02-30",
    "0000-01-01",
    "9999-12-31T99:99",
    "2026-13",
    "99999-01",
    "-1",
    "1e400",
    "NaN",
    "\x00",
    "%00",
    "\u00e9\U0001f50c",
    "' OR 1=1--",
    "//evil.example",
    "https://evil.example/",
    "/\\evil.example",
)
QUERY_NAMES: Final = (
    "state",
    "customer_id",
    "month",
    "cursor",
    "from",
    "to",
    "day",
    "resolution",
    "resent",
    "next",
    "redirect",
    "unknown",
)
FORM_NAMES: Final = (
    "key",
    "csrf_token",
    "timestamp",
    "old_final",
    "new_initial",
    "old_serial",
    "new_serial",
    "note",
    "next",
    "unknown",
)
METHODS: Final = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
FORM_TYPE: Final = "application/x-www-form-urlencoded"
# Pages that answer without a session (signing in; the stylesheet and vendored scripts).
PUBLIC: Final = frozenset({f"{ROOT}/sign-in", f"{ROOT}/static/<name>", f"{ROOT}/static/vendor/<name>"})
# What the gate answers before any page runs: a body that cannot be read (400), too big (413), or not a
# form (415), as a problem document.
GATE_REFUSALS: Final = frozenset({400, 413, 415})
CHECKS = settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))


@cache
def console_routes() -> tuple[tuple[str, str], ...]:
    """Every (method, path template) the resolver serves under the console's root."""
    from meterbill.api.app import create_app

    app = create_app()
    return tuple(
        sorted(
            {
                (route.method, route.path)
                for route in app._static_routes + app._dynamic_routes
                if route.path == ROOT or route.path.startswith(f"{ROOT}/")
            }
        )
    )


def parameters(template: str) -> list[str]:
    return re.findall(r"<(\w+)>", template)


def fill(template: str, values: Mapping[str, str]) -> str:
    return re.sub(r"<(\w+)>", lambda m: values[m.group(1)], template)


# --- the world ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Browser:
    """A browser's cookies after signing in (the Cookie header's pairs) and its session's CSRF token."""

    session: str
    csrf: str

    @property
    def cookies(self) -> str:
        return f"mb_session={self.session}; mb_csrf={self.csrf}"


@dataclass
class Fuzzed:
    """Account A (delivery_support's world: customer c-alice, invoice INVOICE issued with a stored PDF and
    a queued delivery) with a site, a meter and a firing alert; account B with an admin session of its own."""

    world: World
    alerts: AlertFakes
    admin_key: str
    admin: Browser
    read: Browser
    other: Browser
    expired: Browser
    ids: dict[str, str]

    def state(self) -> str:
        """Everything the fakes hold, as text (a request that changes nothing leaves it equal)."""
        holders: list[Any] = [getattr(self.world.stores, f.name) for f in fields(self.world.stores)]
        holders += [self.world.queue, self.world.documents, self.alerts.store, self.alerts.queue]
        return repr([_public_state(holder) for holder in holders])

    def existing(self, template: str, name: str) -> str:
        """The id of an existing object for the parameter ``name`` of the route ``template``."""
        return self.ids.get(f"{template}:{name}", self.ids[name])

    def valid(self, browser: Browser) -> bool:
        return browser in (self.admin, self.read, self.other)


def _public_state(holder: Any) -> dict[str, str]:
    found = vars(holder) if hasattr(holder, "__dict__") else {}
    return {
        name: repr(value)
        for name, value in sorted(found.items())
        if not name.startswith("_") and not callable(value) and not _counts_calls(name)
    }


def _counts_calls(name: str) -> bool:
    """The fakes' counters of calls (a read counts too): not what they hold."""
    return name.endswith(("_calls", "_queries")) or name == "saves"


def _signed_in(world: World, account: str, scope: str, at: Any = FIXED_NOW) -> tuple[str, Browser]:
    _, key = create_key(account, "console", (scope,), world.stores.keys, FIXED_NOW)
    session, csrf, _ = console_sessions.sign_in(key, world.stores.keys, world.stores.sessions, at)
    return key, Browser(session, csrf)


@contextmanager
def fuzzed() -> Iterator[Fuzzed]:
    world = World()
    world.store_pdf()
    world.queue_delivery()
    world.stores.accounts.create(AccountRecord(B, "Other", FIXED_NOW))
    catalog = world.stores.catalog
    catalog.create(
        A, "site", "site-1", {"id": "site-1", "account_id": A, "name": "Plant", "timezone": "Europe/Berlin"}
    )
    meter = {
        "id": "mtr-1",
        "account_id": A,
        "site_id": "site-1",
        "utility": "electricity",
        "unit": "kWh",
        "kind": "main",
    }
    catalog.create(A, "meter", "mtr-1", meter)
    catalog_service.create_tariff(A, tariff("trf-1", "0.30"), catalog)
    alerts = AlertFakes()
    firing = replace(alert(1, "critical"), account_id=A)
    alerts.store.save_book(A, AlertBook(A, (firing,)), [firing], [])
    admin_key, admin = _signed_in(world, A, "admin")
    _, read = _signed_in(world, A, "read")
    _, other = _signed_in(world, B, "admin")
    _, expired = _signed_in(
        world, A, "admin", at=FIXED_NOW - console_sessions.SESSION_LIFETIME - timedelta(1)
    )
    stores = replace(world.stores, documents=world.documents)
    dependencies.configure(
        Backend(
            settings=SETTINGS,
            stores=stores.ports(),
            idempotency=no_idempotency_store,
            clock=fixed_clock,
            email_queue=lambda: world.queue,
            alert_store=lambda: alerts.store,
            alert_subscriptions=lambda: alerts.subscriptions,
            alert_queue=lambda: alerts.queue,
        )
    )
    ids = {
        "alert_id": firing.id,
        "site_id": "site-1",
        "tariff_id": "trf-1",
        "meter_id": "mtr-1",
        "customer_id": "c-alice",
        "invoice_id": INVOICE,
        "name": "console.css",
        f"{ROOT}/static/vendor/<name>:name": "htmx.min.js",
    }
    try:
        yield Fuzzed(world, alerts, admin_key, admin, read, other, expired, ids)
    finally:
        dependencies.reset()


# --- requests -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Hostile:
    """One request, before the world's cookies and tokens are put in."""

    method: str
    template: str
    ids: Mapping[str, str | None]  # None: the world's existing id
    query: Sequence[tuple[str, str]]
    body: str | None  # "{form}": the form below, encoded
    form: Sequence[tuple[str, str]]
    base64: bool
    content_type: str | None
    cookies: str  # which browser: none, admin, read, other, expired, garbled, repeated, crossed, half
    csrf: str  # where the CSRF token goes: none, field, header, wrong, other's
    key: str  # the sign-in form's key: none, hostile, valid
    origin: str | None
    hx: bool
    host: str | None
    extra_header: str | None


def plain_request(
    method: str, template: str, cookies: str, *, id_value: str | None = None, hx: bool = False
) -> Hostile:
    """An ordinary request of the route (its form with the CSRF token in a field, nothing hostile) from the
    browser ``cookies`` names, every id ``id_value`` (None: the world's existing one)."""
    return Hostile(
        method,
        template,
        dict.fromkeys(parameters(template), id_value),
        (),
        "{form}" if method == "POST" else None,
        (),
        False,
        FORM_TYPE,
        cookies,
        "field",
        "none",
        None,
        hx,
        HOST,
        None,
    )


def build_event(fz: Fuzzed, h: Hostile) -> tuple[dict[str, Any], Browser | None, bool]:
    """The API Gateway event, the browser whose session it names (if one), and whether it carries that
    session's CSRF token."""
    path = fill(
        h.template, {name: fz.existing(h.template, name) if v is None else v for name, v in h.ids.items()}
    )
    browser = {"admin": fz.admin, "read": fz.read, "other": fz.other, "expired": fz.expired}.get(h.cookies)
    cookie = {
        "none": None,
        "garbled": f"mb_session={MARKER}; mb_csrf=%00%zz; =; ;;",
        "repeated": f"{fz.admin.cookies}; {fz.other.cookies}",
        "crossed": f"mb_session={fz.admin.session}; mb_csrf={fz.other.csrf}",
        "half": f"mb_session={fz.admin.session}",
        "twice": f"{fz.admin.cookies}; {fz.admin.cookies}",
    }.get(h.cookies, browser.cookies if browser else None)
    if h.cookies == "twice":
        browser = fz.admin
    token = {
        "none": None,
        "field": browser.csrf if browser else "x" * 43,
        "header": browser.csrf if browser else "x" * 43,
        "wrong": "A" * 43,
        "others": fz.other.csrf if browser != fz.other else fz.admin.csrf,
    }[h.csrf]
    carries = browser is not None and token is not None and token == browser.csrf and h.csrf != "others"
    fields_ = list(h.form)
    if h.csrf in ("field", "wrong", "others") and token is not None:
        fields_.append(("csrf_token", token))
    if h.key != "none":
        fields_.append(("key", fz.admin_key if h.key == "valid" else MARKER))
    body = urlencode(fields_) if h.body == "{form}" else h.body
    if body is not None and h.base64:
        body = base64.b64encode(body.encode("utf-8", "surrogatepass")).decode()
    headers: dict[str, str] = {}
    if h.host is not None:
        headers["Host"] = h.host
    if cookie is not None:
        headers["Cookie"] = cookie
    if h.content_type is not None:
        headers["Content-Type"] = h.content_type
    if (h.csrf == "header" and token is not None) or (h.csrf == "wrong" and token is not None):
        headers["X-CSRF-Token"] = token
    if h.origin is not None:
        headers["Origin"] = h.origin
    if h.hx:
        headers["HX-Request"] = "true"
    if h.extra_header is not None:
        headers["Referer"] = h.extra_header
    multi_query: dict[str, list[str]] = {}
    for name, value in h.query:
        multi_query.setdefault(name, []).append(value)
    event = {
        "resource": h.template,
        "path": path,
        "httpMethod": h.method,
        "headers": headers or None,
        "multiValueHeaders": {name: [value] for name, value in headers.items()} or None,
        "queryStringParameters": {name: values[-1] for name, values in multi_query.items()} or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "api0123456",
            "httpMethod": h.method,
            "path": f"/prod{path}",
            "requestId": "req-1",
            "resourcePath": h.template,
            "stage": "prod",
            "identity": {"sourceIp": "192.0.2.1"},
        },
        "body": body,
        "isBase64Encoded": h.base64,
    }
    return event, browser, carries


def send(event: dict[str, Any]) -> HttpAnswer:
    from functions.ingest.ingest_handler import lambda_handler

    return answer_of(lambda_handler(event, LambdaContextStub()))


texts = st.sampled_from(HOSTILE_TEXTS) | st.text(max_size=40)
hostile_ids = st.sampled_from(HOSTILE_IDS) | st.text(min_size=1, max_size=30)
pairs = st.lists(st.tuples(st.sampled_from(FORM_NAMES), texts), max_size=6)
many_fields = st.integers(21, 400).map(lambda n: [(f"f{i}", "1") for i in range(n)])
bodies = (
    st.sampled_from(
        [
            "{form}",
            "{form}",
            "",
            MARKER,
            "%zz%00=%ff&&==&a=%",
            "a=" + "x" * 1_100_000,  # over the gate's 1 MB
            "\udcff\udcfe",  # not UTF-8
            "!!!not base64",
        ]
    )
    | st.none()
)


@st.composite
def hostile_requests(draw: st.DrawFn, template: st.SearchStrategy[str] | None = None) -> Hostile:
    path = draw(st.sampled_from([p for _, p in console_routes()]) if template is None else template)
    route_methods = [m for m, p in console_routes() if p == path]
    return Hostile(
        method=draw(st.sampled_from(route_methods) | st.sampled_from(METHODS)),
        template=path,
        ids={name: draw(st.none() | hostile_ids) for name in parameters(path)},
        query=draw(st.lists(st.tuples(st.sampled_from(QUERY_NAMES), texts), max_size=5)),
        body=draw(bodies),
        form=draw(pairs | many_fields),
        base64=draw(st.booleans()),
        content_type=draw(
            st.sampled_from([FORM_TYPE, FORM_TYPE, None, "application/json", "text/html", "x"])
        ),
        cookies=draw(
            st.sampled_from(
                [
                    "none",
                    "admin",
                    "admin",
                    "read",
                    "other",
                    "expired",
                    "garbled",
                    "repeated",
                    "crossed",
                    "half",
                    "twice",
                ]
            )
        ),
        csrf=draw(st.sampled_from(["none", "field", "header", "wrong", "others"])),
        key=draw(st.sampled_from(["none", "hostile", "valid"])),
        origin=draw(st.sampled_from([None, f"https://{HOST}", "https://evil.example", "null", MARKER])),
        hx=draw(st.booleans()),
        host=draw(
            st.sampled_from(
                [HOST, HOST, None, "evil.example", "api0123456.execute-api.eu-central-1.amazonaws.com"]
            )
        ),
        extra_header=draw(st.none() | st.just(MARKER)),
    )


# --- what holds for every answer ----------------------------------------------------------------------------


def root_of(event: Mapping[str, Any]) -> str:
    host = str((event.get("headers") or {}).get("Host") or "")
    return f"/prod{ROOT}" if host.endswith(".amazonaws.com") else ROOT


def under_root(location: str, root: str) -> bool:
    """Whether a redirect's target is a path of this host under ``root``, however a browser resolves it."""
    if any(c in location for c in "\r\n\\\x00") or location.startswith("//"):
        return False
    split = urlsplit(location)
    if split.scheme or split.netloc:
        return False
    resolved = posixpath.normpath(unquote(split.path))
    return resolved == root or resolved.startswith(f"{root}/")


def holds_for_every_answer(event: Mapping[str, Any], answer: HttpAnswer) -> None:
    assert answer.status < 500, answer.text[:500]
    if answer.content_type.startswith("text/html"):
        assert answer.headers["content-security-policy"] == CSP
        assert answer.headers["x-content-type-options"] == "nosniff"
    assert MARKER not in answer.text
    for marker in PATH_MARKERS:
        assert marker not in answer.text
    for name, value in answer.headers.items():
        assert "<script" not in value and "<img" not in value and "<svg" not in value, (name, value)
    if 300 <= answer.status < 400:
        assert under_root(answer.headers["location"], root_of(event)), answer.headers["location"]
    if "hx-redirect" in answer.headers:
        assert under_root(answer.headers["hx-redirect"], root_of(event)), answer.headers["hx-redirect"]


def changes_allowed(
    fz: Fuzzed, h: Hostile, event: Mapping[str, Any], browser: Browser | None, carries: bool
) -> bool:
    """Whether this request may change anything: a sign-in with a valid key from this origin, or a change
    carrying its own valid session's CSRF token."""
    if h.method not in ("POST", "PUT", "PATCH", "DELETE"):
        return False
    if h.template == f"{ROOT}/sign-in":
        origin = (event.get("headers") or {}).get("Origin")
        return h.key == "valid" and (origin is None or origin == f"https://{event['headers'].get('Host')}")
    if browser == fz.read and h.template != f"{ROOT}/sign-out":
        return False  # a read session changes nothing but its own end
    return carries and browser is not None and fz.valid(browser)


def check(fz: Fuzzed, h: Hostile) -> HttpAnswer:
    event, browser, carries = build_event(fz, h)
    before = fz.state()

    answer = send(event)

    holds_for_every_answer(event, answer)
    if not changes_allowed(fz, h, event, browser, carries):
        assert fz.state() == before, (h, answer.status)
    return answer


# --- the tests ----------------------------------------------------------------------------------------------


def test_the_fuzzer_finds_every_console_page_in_the_resolver():
    found = console_routes()

    assert {
        ("GET", ROOT),  # the resolver holds "/console/" without its slash
        ("POST", f"{ROOT}/sign-in"),
        ("POST", f"{ROOT}/alerts/<alert_id>/ack"),
        ("GET", f"{ROOT}/meters/<meter_id>"),
        ("POST", f"{ROOT}/meters/<meter_id>/exchanges"),
        ("GET", f"{ROOT}/customers/<customer_id>"),
        ("POST", f"{ROOT}/invoices/<invoice_id>/resend"),
        ("GET", f"{ROOT}/static/vendor/<name>"),
    } <= set(found)
    assert len(found) >= 16
    with fuzzed() as fz:  # every parameter of every route has an existing id to start from
        assert {p for _, path in found for p in parameters(path)} <= set(fz.ids)


@CHECKS
@given(h=hostile_requests())
def test_no_hostile_request_answers_5xx_reflects_its_input_redirects_away_or_changes_without_csrf(h):
    with fuzzed() as fz:
        check(fz, h)


@pytest.mark.parametrize(("method", "template"), console_routes())
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_every_console_route_holds_under_hostile_requests(method, template, data):
    h = data.draw(hostile_requests(st.just(template)))
    with fuzzed() as fz:
        check(fz, replace(h, method=data.draw(st.sampled_from([method, method, h.method]))))


@pytest.mark.parametrize(("method", "template"), [r for r in console_routes() if r[1] not in PUBLIC])
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(cookies=st.sampled_from(["none", "expired", "garbled", "crossed", "half"]), hx=st.booleans())
def test_without_a_valid_session_every_page_sends_the_browser_to_sign_in(method, template, cookies, hx):
    h = plain_request(method, template, cookies, hx=hx)
    with fuzzed() as fz:
        answer = check(fz, h)

    if answer.status == 200:  # htmx's ack: it navigates to the sign-in page itself
        assert (hx, answer.headers["hx-redirect"], answer.text) == (True, f"{ROOT}/sign-in", "")
    else:
        assert (answer.status, answer.headers["location"]) == (303, f"{ROOT}/sign-in")


@pytest.mark.parametrize(("method", "template"), [r for r in console_routes() if parameters(r[1])])
@pytest.mark.parametrize("hostile_id", [*HOSTILE_IDS, quote(MARKER, safe="")])
def test_an_unknown_or_hostile_id_is_a_404_page(method, template, hostile_id):
    h = plain_request(method, template, "admin", id_value=hostile_id)
    with fuzzed() as fz:
        answer = check(fz, h)

    assert answer.status == 404, answer.text[:300]


@pytest.mark.parametrize(("method", "template"), [r for r in console_routes() if parameters(r[1])])
def test_another_accounts_session_finds_none_of_this_accounts_ids(method, template):
    h = plain_request(method, template, "other")
    with fuzzed() as fz:
        answer = check(fz, h)

    static = template.startswith(f"{ROOT}/static/")  # the same files for everyone
    assert answer.status == (200 if static else 404), answer.text[:300]


@pytest.mark.parametrize(("method", "template"), [r for r in console_routes() if r[0] == "POST"])
@pytest.mark.parametrize("csrf", ["none", "wrong", "others"])
@pytest.mark.parametrize("cookies", ["admin", "read", "twice"])
def test_a_change_without_its_sessions_csrf_token_changes_nothing(method, template, csrf, cookies):
    form_fields = (("timestamp", "2026-02-01T12:00"), ("old_final", "1"), ("new_initial", "0"))
    h = Hostile(
        method,
        template,
        dict.fromkeys(parameters(template)),
        (),
        "{form}",
        form_fields,
        False,
        FORM_TYPE,
        cookies,
        csrf,
        "none",
        None,
        True,
        HOST,
        None,
    )
    with fuzzed() as fz:
        answer = check(fz, h)  # asserts that the fakes hold what they held

    if template != f"{ROOT}/sign-in":  # signing in needs no session: its key is its proof
        assert answer.status == 403, answer.text[:300]


def test_a_sign_in_from_another_origin_with_a_valid_key_creates_no_session():
    h = Hostile(
        "POST",
        f"{ROOT}/sign-in",
        {},
        (),
        "{form}",
        (),
        False,
        FORM_TYPE,
        "none",
        "none",
        "valid",
        "https://evil.example",
        False,
        HOST,
        None,
    )
    with fuzzed() as fz:
        sessions = len(fz.world.stores.sessions.sessions)
        answer = check(fz, h)

        assert (answer.status, len(fz.world.stores.sessions.sessions)) == (403, sessions)


def test_a_form_with_more_fields_than_the_console_reads_is_read_as_empty_not_a_500():
    event = {"body": "&".join(f"f{i}=1" for i in range(21)) + "&csrf_token=t", "isBase64Encoded": False}

    assert form(event) == {}


@pytest.mark.parametrize(
    "name", ["x" * 5000, "a\x00b.css", "\udcff.css", "../pages.py", "vendor", "/etc/passwd"]
)
def test_a_static_name_the_file_system_cannot_hold_is_not_found(name):
    assert static_file(name) is None


def test_the_static_files_are_found_by_their_names():
    css = static_file("console.css")
    htmx = static_file("vendor/htmx.min.js")

    assert (
        css is not None and css.content_type == "text/css; charset=utf-8" and css.cache_control == "no-cache"
    )
    assert htmx is not None and htmx.cache_control == "public, max-age=31536000, immutable"


def test_a_method_a_hostile_path_does_not_have_is_refused_without_echoing_the_path_as_markup():
    path = f"{ROOT}/invoices/<svg onload=alert(1)>/resend"
    h = Hostile(
        "GET",
        f"{ROOT}/invoices/<invoice_id>/resend",
        {"invoice_id": "<svg onload=alert(1)>"},
        (),
        None,
        (),
        False,
        None,
        "none",
        "none",
        "none",
        None,
        False,
        HOST,
        None,
    )
    with fuzzed() as fz:
        event, _, _ = build_event(fz, h)
        assert event["path"] == path
        answer = send(event)

    assert (answer.status, answer.headers["allow"]) == (405, "POST")
    assert (
        answer.json["detail"]
        == f"GET is not a method of {ROOT}/invoices/%3Csvg%20onload=alert(1)%3E/resend; it has POST"
    )
