"""The console's sign-in and sign-out routes, and what a session cookie may do through the gate: POST
/v1/sessions (public) sets the HttpOnly SameSite=Strict cookie and answers the CSRF token; changes made with
the cookie need X-CSRF-Token; a read session only reads; DELETE /v1/sessions/current ends the session."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

import pytest

from meterbill.api import authorizer
from meterbill.services.apikeys import create_key, revoke_key
from tests.fakes import FIXED_NOW, FakeStores
from tests.unit.api_support import (
    ACCOUNT,
    SETTINGS,
    HttpAnswer,
    LambdaContextStub,
    answer_of,
    fake_backend,
    handler_client,
    problem,
    proxy_event,
)

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics")

COOKIE_ATTRIBUTES = "HttpOnly; SameSite=Strict; Path=/"
SITE = {"id": "site-1", "name": "Plant", "timezone": "Europe/Berlin"}
CSRF_REFUSED = problem(
    403,
    "X-CSRF-Token: a change made with the console's session needs the session's CSRF token in this header",
    (
        "X-CSRF-Token",
        "a change made with the console's session needs the session's CSRF token in this header",
    ),
)


@pytest.fixture
def fakes() -> Iterator[FakeStores]:
    with fake_backend() as stores:
        yield stores


def handler(event: dict[str, Any]) -> HttpAnswer:
    from functions.ingest.ingest_handler import lambda_handler

    return answer_of(lambda_handler(event, LambdaContextStub()))


def sign_in(key: Any) -> HttpAnswer:
    return handler(proxy_event("POST", "/v1/sessions", body=_json({"key": key}), headers=_JSON_HEADERS))


_JSON_HEADERS = {"Content-Type": "application/json"}
_json = json.dumps


def cookie_of(answer: HttpAnswer) -> str:
    set_cookie = answer.headers["set-cookie"]
    name_value = set_cookie.split(";")[0]
    assert name_value.startswith("mb_session=")
    return name_value.removeprefix("mb_session=")


def with_cookie(
    fakes: FakeStores, method: str, path: str, session_text: str, *, body: Any = None, **headers: str
) -> HttpAnswer:
    """The request as API Gateway passes it after running the authorizer on the cookie."""
    all_headers = {"Cookie": f"lang=de; mb_session={session_text}", **headers}
    if body is not None:
        all_headers["Content-Type"] = "application/json"
    event = proxy_event(method, path, body=None if body is None else _json(body), headers=all_headers)
    allowed = authorizer.authorize(
        {**event, "methodArn": f"arn:aws:execute-api:eu-central-1:1:api/prod/{method}{path}"},
        fakes.keys,
        fakes.sessions,
        FIXED_NOW,
    )
    event["requestContext"]["authorizer"] = {**allowed["context"], "principalId": allowed["principalId"]}
    return handler(event)


def signed_in(fakes: FakeStores, *scopes: str) -> tuple[str, str]:
    _, key = create_key(ACCOUNT, "console", scopes or ("admin",), fakes.keys, FIXED_NOW)
    answer = sign_in(key)
    assert answer.status == 201, answer.text
    return cookie_of(answer), answer.json["csrf_token"]


# --- signing in ---------------------------------------------------------------------------------------------


def test_signing_in_answers_201_the_session_and_sets_the_cookie(fakes):
    _, key = create_key(ACCOUNT, "console", ["admin"], fakes.keys, FIXED_NOW)

    answer = sign_in(key)

    session_text = cookie_of(answer)
    assert answer.status == 201
    assert answer.json == {
        "account_id": ACCOUNT,
        "scope": "admin",
        "expires_at": "2026-03-01T20:00:00Z",  # FIXED_NOW 12:00 + 8 h
        "csrf_token": answer.json["csrf_token"],
    }
    assert answer.headers["set-cookie"] == (
        f"mb_session={session_text}; HttpOnly; SameSite=Strict; Path=/; Max-Age=28800; Secure"
    )
    assert answer.headers["cache-control"] == "no-store"
    [stored] = fakes.sessions.sessions.values()
    assert stored.id_hash == hashlib.sha256(session_text.encode()).digest()
    assert stored.csrf_token_hash == hashlib.sha256(answer.json["csrf_token"].encode()).digest()


def test_the_cookie_is_not_secure_when_the_settings_say_plain_http():
    with fake_backend(settings=SETTINGS.model_copy(update={"secure_cookies": False})) as fakes:
        _, key = create_key(ACCOUNT, "console", ["read"], fakes.keys, FIXED_NOW)

        answer = sign_in(key)

    assert answer.headers["set-cookie"] == (
        f"mb_session={cookie_of(answer)}; HttpOnly; SameSite=Strict; Path=/; Max-Age=28800"
    )
    assert answer.json["scope"] == "read"


@pytest.mark.parametrize("key", ["mb_0123456789abcdef_" + "A" * 43, "nonsense"])
def test_a_wrong_key_is_401_naming_key(fakes, key):
    answer = sign_in(key)

    assert answer.status == 401
    assert answer.json == problem(401, "key: invalid API key", ("key", "invalid API key"))
    assert "set-cookie" not in answer.headers
    assert fakes.sessions.sessions == {}


def test_a_revoked_key_is_401_naming_key(fakes):
    info, key = create_key(ACCOUNT, "console", ["admin"], fakes.keys, FIXED_NOW)
    revoke_key(ACCOUNT, info.key_id, fakes.keys, FIXED_NOW)

    answer = sign_in(key)

    assert answer.json == problem(401, "key: invalid API key", ("key", "invalid API key"))


def test_an_ingest_key_is_403_naming_key(fakes):
    _, key = create_key(ACCOUNT, "collector", ["ingest"], fakes.keys, FIXED_NOW)

    answer = sign_in(key)

    reason = "an ingest key cannot sign in to the console; sign in with an admin or read key"
    assert answer.json == problem(403, f"key: {reason}", ("key", reason))
    assert fakes.sessions.sessions == {}


@pytest.mark.parametrize(
    ("body", "field"),
    [({}, "key"), ({"key": 5}, "key"), ({"key": ""}, "key"), ({"key": "k", "extra": 1}, "extra")],
)
def test_a_bad_sign_in_body_is_422_naming_the_field(fakes, body, field):
    answer = handler(proxy_event("POST", "/v1/sessions", body=_json(body), headers=_JSON_HEADERS))

    assert answer.status == 422
    assert [error["field"] for error in answer.json["errors"]] == [field]


# --- using the session ------------------------------------------------------------------------------------


def test_a_session_reads_without_a_csrf_token(fakes):
    session_text, _ = signed_in(fakes, "read")

    answer = with_cookie(fakes, "GET", "/v1/sites", session_text)

    assert (answer.status, answer.json["items"]) == (200, [])


def test_a_change_with_the_cookie_and_no_csrf_token_is_403_naming_the_header(fakes):
    session_text, _ = signed_in(fakes, "admin")

    answer = with_cookie(fakes, "POST", "/v1/sites", session_text, body=SITE)

    assert answer.json == CSRF_REFUSED
    assert fakes.catalog.items == {}


def test_a_change_with_a_wrong_csrf_token_is_403(fakes):
    session_text, csrf_token = signed_in(fakes, "admin")
    _, other_token = signed_in(fakes, "admin")

    answer = with_cookie(fakes, "POST", "/v1/sites", session_text, body=SITE, **{"X-CSRF-Token": other_token})

    assert answer.json == CSRF_REFUSED
    assert other_token != csrf_token


def test_a_change_with_the_cookie_and_its_csrf_token_is_made(fakes):
    session_text, csrf_token = signed_in(fakes, "admin")

    answer = with_cookie(fakes, "POST", "/v1/sites", session_text, body=SITE, **{"x-csrf-token": csrf_token})

    assert (answer.status, answer.json["id"]) == (201, "site-1")


def test_a_read_session_changes_nothing_even_with_its_csrf_token(fakes):
    session_text, csrf_token = signed_in(fakes, "read")

    answer = with_cookie(fakes, "POST", "/v1/sites", session_text, body=SITE, **{"X-CSRF-Token": csrf_token})

    assert answer.json == problem(
        403, "this API key's scopes (read) do not allow this operation; it needs 'admin'"
    )


def test_a_key_needs_no_csrf_token(fakes):
    answer = handler_client().post("/v1/sites", SITE)

    assert answer.status == 201


# --- signing out --------------------------------------------------------------------------------------------


def test_signing_out_ends_the_session_and_clears_the_cookie(fakes):
    session_text, csrf_token = signed_in(fakes, "read")

    answer = with_cookie(
        fakes, "DELETE", "/v1/sessions/current", session_text, **{"X-CSRF-Token": csrf_token}
    )

    assert (answer.status, answer.text) == (204, "")
    assert answer.headers["set-cookie"] == f"mb_session=; {COOKIE_ATTRIBUTES}; Max-Age=0; Secure"
    assert fakes.sessions.sessions == {}
    with pytest.raises(authorizer.Unauthorized):
        with_cookie(fakes, "GET", "/v1/sites", session_text)


def test_signing_out_needs_the_csrf_token(fakes):
    session_text, _ = signed_in(fakes, "admin")

    answer = with_cookie(fakes, "DELETE", "/v1/sessions/current", session_text)

    assert answer.json == CSRF_REFUSED
    assert len(fakes.sessions.sessions) == 1


def test_signing_out_with_a_key_ends_nothing(fakes):
    signed_in(fakes, "admin")

    answer = handler_client().as_key(ACCOUNT, "read").delete("/v1/sessions/current")

    assert answer.status == 204
    assert len(fakes.sessions.sessions) == 1
