"""The console's first pages through the API's handler on the fakes: sign-in and sign-out with the session
cookie, the alarm zone on the home page, acknowledging an alert, the static files, and the headers every page
carries (the strict CSP)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest

from meterbill.alerts.lifecycle import Alert, AlertBook, StateChange
from meterbill.alerts.model import Subject
from meterbill.services.apikeys import create_key, revoke_key
from tests.fakes import FIXED_NOW, FakeStores
from tests.unit.api_support import (
    ACCOUNT,
    OTHER_ACCOUNT,
    AlertFakes,
    HttpAnswer,
    LambdaContextStub,
    answer_of,
    fake_backend,
    proxy_event,
)

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics")

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
FORM = {"Content-Type": "application/x-www-form-urlencoded", "Host": "console.test"}


@pytest.fixture
def alerts() -> AlertFakes:
    return AlertFakes()


@pytest.fixture
def fakes(alerts: AlertFakes) -> Iterator[FakeStores]:
    with fake_backend(alerts=alerts) as stores:
        yield stores


def handler(event: dict[str, Any]) -> HttpAnswer:
    from functions.ingest.ingest_handler import lambda_handler

    return answer_of(lambda_handler(event, LambdaContextStub()))


def multi(event: dict[str, Any]) -> dict[str, Any]:
    from functions.ingest.ingest_handler import lambda_handler

    return lambda_handler(event, LambdaContextStub())


def get(path: str, cookies: str = "", **headers: str) -> HttpAnswer:
    """GET ``path`` (a ``?query`` after it goes where API Gateway puts it) with the cookies and headers."""
    route, _, query = path.partition("?")
    return handler(
        proxy_event(
            "GET",
            route,
            headers={**headers, **({"Cookie": cookies} if cookies else {})},
            query=dict(parse_qsl(query)) or None,
        )
    )


def post(path: str, form: dict[str, str], cookies: str = "", **headers: str) -> HttpAnswer:
    all_headers = {**FORM, **headers}
    if cookies:
        all_headers["Cookie"] = cookies
    return handler(proxy_event("POST", path, body=urlencode(form), headers=all_headers))


def key_of(fakes: FakeStores, *scopes: str, account: str = ACCOUNT) -> str:
    _, key = create_key(account, "console", scopes or ("admin",), fakes.keys, FIXED_NOW)
    return key


def sign_in(fakes: FakeStores, *scopes: str) -> tuple[str, str]:
    """The Cookie header of a browser signed in with a new key of ``scopes``, and the session's CSRF token."""
    event = proxy_event(
        "POST", "/console/sign-in", body=urlencode({"key": key_of(fakes, *scopes)}), headers=FORM
    )
    result = multi(event)
    assert result["statusCode"] == 303
    set_cookies = result["multiValueHeaders"]["Set-Cookie"]
    pairs = [cookie.split(";")[0] for cookie in set_cookies]
    csrf = pairs[1].removeprefix("mb_csrf=")
    return "; ".join(pairs), csrf


def alert(
    n: int, severity: str, *, state: str = "firing", kind: str = "flat_line", account: str = ACCOUNT
) -> Alert:
    seen = FIXED_NOW - timedelta(hours=n)
    return Alert(
        id=f"fp{n:04d}-{seen:%Y%m%dT%H%M%SZ}",
        fingerprint=f"fp{n:04d}",
        account_id=account,
        kind=kind,  # type: ignore[arg-type]
        subject=Subject("meter", f"m-{n}", "site-1"),
        state=state,  # type: ignore[arg-type]
        severity=severity,  # type: ignore[arg-type]
        summary=f"meter m-{n} <b>misbehaves</b>",
        facts={},
        depends_on=(),
        first_seen=seen,
        last_seen=seen,
        active_since=seen if state != "resolved" else None,
        fired_at=seen if state == "firing" else None,
        resolved_at=seen + timedelta(minutes=5) if state == "resolved" else None,
        history=(StateChange(seen, "pending", "seen"),),
    )


def seed(alerts: AlertFakes, *items: Alert) -> None:
    by_account: dict[str, list[Alert]] = {}
    for item in items:
        by_account.setdefault(item.account_id, []).append(item)
    for account, listed in by_account.items():
        alerts.store.save_book(account, AlertBook(account, tuple(listed)), listed, [])


def shown_ids(answer: HttpAnswer) -> list[str]:
    return re.findall(r'data-alert-id="([^"]+)"', answer.text)


# --- headers, redirects -------------------------------------------------------------------------------------


def test_every_page_carries_the_strict_csp_and_no_store(fakes):
    for answer in (get("/console/sign-in"), get("/console/", sign_in(fakes)[0])):
        assert answer.status == 200
        assert answer.content_type == "text/html; charset=utf-8"
        assert answer.headers["content-security-policy"] == CSP
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["referrer-policy"] == "same-origin"
        assert answer.headers["cache-control"] == "no-store"
        assert "<script>" not in answer.text and "style=" not in answer.text
        assert '<link rel="icon" href="data:,">' in answer.text


def test_home_without_a_session_redirects_to_sign_in(fakes):
    answer = get("/console/")

    assert answer.status == 303
    assert answer.headers["location"] == "/console/sign-in"
    assert (
        get("/console/", "mb_session=" + "x" * 43 + "; mb_csrf=y").headers["location"] == "/console/sign-in"
    )
    assert get("/console").headers["location"] == "/console/sign-in"  # without the slash: the same page


def test_the_sign_in_form_has_a_labelled_key_field(fakes):
    answer = get("/console/sign-in")

    assert '<label for="key">API key (admin or read)</label>' in answer.text
    assert 'id="key" name="key" type="password"' in answer.text


# --- signing in and out -------------------------------------------------------------------------------------


def test_signing_in_sets_the_session_and_csrf_cookies_and_redirects_home(fakes):
    event = proxy_event("POST", "/console/sign-in", body=urlencode({"key": key_of(fakes)}), headers=FORM)
    result = multi(event)

    assert result["statusCode"] == 303
    assert result["multiValueHeaders"]["Location"] == ["/console/"]
    session_cookie, csrf_cookie = result["multiValueHeaders"]["Set-Cookie"]
    assert re.fullmatch(
        r"mb_session=[A-Za-z0-9_-]{43}; HttpOnly; SameSite=Strict; Path=/; Max-Age=28800; Secure",
        session_cookie,
    )
    assert re.fullmatch(
        r"mb_csrf=[A-Za-z0-9_-]{43}; HttpOnly; SameSite=Strict; Path=/; Max-Age=28800; Secure", csrf_cookie
    )
    assert len(fakes.sessions.sessions) == 1


def test_a_wrong_key_re_renders_the_form_with_401(fakes):
    answer = post("/console/sign-in", {"key": "mb_nokey_nosecret"})

    assert answer.status == 401
    assert "That key is not valid (wrong, revoked or mistyped)." in answer.text
    assert "set-cookie" not in answer.headers
    assert answer.headers["content-security-policy"] == CSP


def test_an_ingest_key_cannot_sign_in_403(fakes):
    answer = post("/console/sign-in", {"key": key_of(fakes, "ingest")})

    assert answer.status == 403
    assert "an ingest key cannot sign in to the console; sign in with an admin or read key" in answer.text
    assert "set-cookie" not in answer.headers


def test_a_sign_in_from_another_origin_is_refused(fakes):
    answer = post("/console/sign-in", {"key": key_of(fakes)}, Origin="https://evil.example")

    assert answer.status == 403
    assert "Sign-in refused: the form was sent from another site." in answer.text
    assert fakes.sessions.sessions == {}
    assert post("/console/sign-in", {"key": key_of(fakes)}, Origin="https://console.test").status == 303


def test_signing_out_ends_the_session_clears_the_cookies_and_redirects(fakes):
    cookies, csrf = sign_in(fakes)
    event = proxy_event(
        "POST", "/console/sign-out", body=urlencode({"csrf_token": csrf}), headers={**FORM, "Cookie": cookies}
    )
    result = multi(event)

    assert result["statusCode"] == 303
    assert result["multiValueHeaders"]["Location"] == ["/console/sign-in"]
    assert result["multiValueHeaders"]["Set-Cookie"] == [
        "mb_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0; Secure",
        "mb_csrf=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0; Secure",
    ]
    assert fakes.sessions.sessions == {}
    assert get("/console/", cookies).status == 303


def test_signing_out_without_the_csrf_token_is_refused(fakes):
    cookies, _ = sign_in(fakes)

    answer = post("/console/sign-out", {}, cookies)

    assert answer.status == 403
    assert len(fakes.sessions.sessions) == 1


def test_a_revoked_key_ends_its_console_session(fakes):
    _, key = create_key(ACCOUNT, "console", ["admin"], fakes.keys, FIXED_NOW)
    result = multi(proxy_event("POST", "/console/sign-in", body=urlencode({"key": key}), headers=FORM))
    cookies = "; ".join(c.split(";")[0] for c in result["multiValueHeaders"]["Set-Cookie"])
    key_id = key.split("_")[1]
    revoke_key(ACCOUNT, key_id, fakes.keys, FIXED_NOW)

    assert get("/console/", cookies).status == 303


# --- the alarm zone -----------------------------------------------------------------------------------------


def test_the_alarm_zone_shows_firing_then_pending_by_severity(fakes, alerts):
    info, critical, warning = alert(1, "info"), alert(2, "critical"), alert(3, "warning")
    pending_critical = alert(4, "critical", state="pending")
    resolved = alert(5, "critical", state="resolved")
    evasion = alert(6, "warning", kind="energy_evasion")
    seed(
        alerts,
        info,
        critical,
        warning,
        pending_critical,
        resolved,
        evasion,
        alert(7, "critical", account=OTHER_ACCOUNT),
    )
    cookies, csrf = sign_in(fakes)

    answer = get("/console/", cookies)

    # warnings: the evasion fired 6 hours ago, the other 3: the oldest first
    assert shown_ids(answer) == [critical.id, evasion.id, warning.id, info.id, pending_critical.id]
    assert "Open alerts (5)" in answer.text
    assert answer.text.count(">Acknowledge</button>") == 5
    assert f'<input type="hidden" name="csrf_token" value="{csrf}">' in answer.text
    assert f'hx-headers=\'{{"X-CSRF-Token": "{csrf}"}}\'' in answer.text
    assert 'class="alert severity-warning flagged"' in answer.text
    assert "meter m-1 &lt;b&gt;misbehaves&lt;/b&gt;" in answer.text  # autoescaped


def test_a_read_session_sees_no_buttons_and_cannot_acknowledge(fakes, alerts):
    firing = alert(1, "critical")
    seed(alerts, firing)
    cookies, csrf = sign_in(fakes, "read")

    page = get("/console/", cookies)
    refused = post(
        f"/console/alerts/{firing.id}/ack", {"csrf_token": csrf}, cookies, **{"HX-Request": "true"}
    )

    assert shown_ids(page) == [firing.id]
    assert "Acknowledge</button>" not in page.text
    assert refused.status == 403
    assert alerts.store.get_alert(ACCOUNT, firing.id).acknowledged_at is None


# --- acknowledging ------------------------------------------------------------------------------------------


def test_acknowledging_with_htmx_answers_the_updated_row(fakes, alerts):
    firing = alert(1, "critical")
    seed(alerts, firing)
    cookies, csrf = sign_in(fakes)
    key_id = next(iter(fakes.sessions.sessions.values())).key_id

    answer = post(
        f"/console/alerts/{firing.id}/ack", {}, cookies, **{"HX-Request": "true", "X-CSRF-Token": csrf}
    )

    assert answer.status == 200
    assert answer.headers["content-security-policy"] == CSP
    assert answer.text.strip().startswith(f'<li class="alert severity-critical" id="alert-{firing.id}"')
    assert f"Acknowledged {FIXED_NOW.isoformat(timespec='minutes')} by {key_id}" in answer.text
    assert "Acknowledge</button>" not in answer.text
    stored = alerts.store.get_alert(ACCOUNT, firing.id)
    assert (stored.acknowledged_at, stored.acknowledged_by) == (FIXED_NOW, key_id)


def test_acknowledging_without_javascript_redirects_home(fakes, alerts):
    firing = alert(1, "warning")
    seed(alerts, firing)
    cookies, csrf = sign_in(fakes)

    answer = post(f"/console/alerts/{firing.id}/ack", {"csrf_token": csrf}, cookies)

    assert answer.status == 303
    assert answer.headers["location"] == "/console/"
    assert alerts.store.get_alert(ACCOUNT, firing.id).acknowledged_at == FIXED_NOW


@pytest.mark.parametrize("token", [None, "", "x" * 43])
def test_acknowledging_without_the_csrf_token_is_refused(fakes, alerts, token):
    firing = alert(1, "critical")
    seed(alerts, firing)
    cookies, _ = sign_in(fakes)
    headers = {} if token is None else {"X-CSRF-Token": token}

    answer = post(f"/console/alerts/{firing.id}/ack", {}, cookies, **headers)

    assert answer.status == 403
    assert "This form has expired or did not come from the console" in answer.text
    assert alerts.store.get_alert(ACCOUNT, firing.id).acknowledged_at is None


def test_another_accounts_alert_is_404(fakes, alerts):
    theirs = alert(1, "critical", account=OTHER_ACCOUNT)
    seed(alerts, theirs)
    cookies, csrf = sign_in(fakes)

    answer = post(f"/console/alerts/{theirs.id}/ack", {"csrf_token": csrf}, cookies)

    assert answer.status == 404
    assert "No such alert." in answer.text
    assert alerts.store.get_alert(OTHER_ACCOUNT, theirs.id).acknowledged_at is None


def test_acknowledging_without_a_session_redirects_to_sign_in(fakes, alerts):
    firing = alert(1, "critical")
    seed(alerts, firing)

    answer = post(f"/console/alerts/{firing.id}/ack", {"csrf_token": "x"})

    assert answer.status == 303
    assert answer.headers["location"] == "/console/sign-in"
    with_htmx = post(f"/console/alerts/{firing.id}/ack", {"csrf_token": "x"}, **{"HX-Request": "true"})
    assert (with_htmx.status, with_htmx.headers["hx-redirect"], with_htmx.text) == (
        200,
        "/console/sign-in",
        "",
    )


# --- static files -------------------------------------------------------------------------------------------


def test_vendored_files_are_served_immutable_with_their_type(fakes):
    answer = get("/console/static/vendor/htmx.min.js")

    assert answer.status == 200
    assert answer.content_type == "text/javascript; charset=utf-8"
    assert answer.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert answer.headers["x-content-type-options"] == "nosniff"
    css = get("/console/static/console.css")
    assert (css.status, css.content_type, css.headers["cache-control"]) == (
        200,
        "text/css; charset=utf-8",
        "no-cache",
    )


@pytest.mark.parametrize(
    "path",
    [
        "/console/static/..%2F..%2Fapi%2Fapp.py",
        "/console/static/vendor/..%2F..%2Fpages.py",
        "/console/static/vendor/..",
        "/console/static/nothing.css",
        "/console/static/vendor",
    ],
)
def test_static_paths_outside_static_or_missing_are_404(fakes, path):
    answer = get(path)

    assert answer.status == 404
    assert "import" not in answer.text


def test_the_console_routes_are_not_in_the_openapi_document(fakes):
    document = get("/v1/openapi.json").json

    assert not [path for path in document["paths"] if path.startswith("/console")]


@pytest.mark.parametrize(
    "path", ["/console/", "/console/sites", "/console/customers", "/console/invoices", "/console/meters/m1"]
)
def test_an_htmx_request_without_a_session_navigates_to_sign_in_on_every_page(fakes, path):
    plain = get(path)
    with_htmx = get(path, **{"HX-Request": "true"})

    assert (plain.status, plain.headers["location"]) == (303, "/console/sign-in")
    assert (with_htmx.status, with_htmx.headers["hx-redirect"], with_htmx.text) == (
        200,
        "/console/sign-in",
        "",
    )
