"""The REQUEST authorizer and the console's session cookie: ``mb_session`` among any other cookies allows the
stage with the session's account and scope and ``auth: session``; an unknown, expired or signed-out session,
or one whose key was revoked, is "Unauthorized"; the Authorization header, when sent, decides alone."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from meterbill.api import authorizer
from meterbill.services.apikeys import create_key, revoke_key
from meterbill.services.console_sessions import sign_in, sign_out
from tests.fakes import FakeKeyStore, FakeSessionStore
from tests.unit.api_support import LambdaContextStub

SIGNED_IN = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
METHOD_ARN = "arn:aws:execute-api:eu-central-1:123456789012:api0123456/prod/GET/v1/sites"


class Clock:
    def __init__(self) -> None:
        self.now = SIGNED_IN

    def __call__(self) -> datetime:
        return self.now


class World:
    def __init__(self) -> None:
        self.keys = FakeKeyStore()
        self.sessions = FakeSessionStore()
        self.clock = Clock()


@pytest.fixture
def world() -> Iterator[World]:
    world = World()
    authorizer.configure(world.keys, world.sessions, world.clock)
    yield world
    authorizer.configure(None)


def request_event(headers: dict[str, Any], multi: dict[str, list[str]] | None = None) -> dict[str, Any]:
    return {
        "type": "REQUEST",
        "methodArn": METHOD_ARN,
        "resource": "/v1/sites",
        "path": "/v1/sites",
        "httpMethod": "GET",
        "headers": headers,
        "multiValueHeaders": multi if multi is not None else {k: [v] for k, v in headers.items()},
        "requestContext": {"stage": "prod"},
    }


def call(event: dict[str, Any]) -> dict[str, Any]:
    from functions.ingest.authorizer_handler import lambda_handler

    return lambda_handler(event, LambdaContextStub(function_name="meterbill-authorizer"))


def signed_in(world: World, *scopes: str) -> tuple[str, str, str]:
    """(key id, session id, CSRF token) of a new session of acc_a."""
    info, key = create_key("acc_a", "console", scopes or ("read",), world.keys, SIGNED_IN)
    session_text, csrf_token, _ = sign_in(key, world.keys, world.sessions, SIGNED_IN)
    return info.key_id, session_text, csrf_token


def test_the_session_cookie_among_other_cookies_allows_the_stage_with_the_sessions_context(world):
    key_id, session_text, csrf_token = signed_in(world, "admin", "ingest")

    answer = call(request_event({"Cookie": f"theme=dark; mb_session={session_text}; lang=de"}))

    assert answer == {
        "principalId": key_id,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Action": "execute-api:Invoke",
                    "Effect": "Allow",
                    "Resource": "arn:aws:execute-api:eu-central-1:123456789012:api0123456/prod/*",
                }
            ],
        },
        "context": {
            "account_id": "acc_a",
            "key_id": key_id,
            "scopes": "admin",
            "auth": "session",
            "csrf_token_hash": hashlib.sha256(csrf_token.encode()).hexdigest(),
        },
    }


def test_a_read_sessions_scope_is_read(world):
    _, session_text, _ = signed_in(world, "read", "ingest")

    answer = call(request_event({"cookie": f"mb_session={session_text}"}))

    assert (answer["context"]["scopes"], answer["context"]["auth"]) == ("read", "session")


def test_the_cookie_is_found_in_any_of_several_cookie_headers(world):
    _, session_text, _ = signed_in(world)
    multi = {"Cookie": ["theme=dark", f"mb_session={session_text}"]}

    answer = call(request_event({"Cookie": f"mb_session={session_text}"}, multi))

    assert answer["context"]["account_id"] == "acc_a"


@pytest.mark.parametrize(
    "cookie",
    [
        "mb_session=",
        "mb_session=" + "A" * 43,  # well-formed, no such session
        "mb_session=not a session",
        "other_session=VALUE",
        "theme=dark",
    ],
)
def test_a_bad_or_missing_session_cookie_is_unauthorized(world, cookie):
    signed_in(world)

    with pytest.raises(authorizer.Unauthorized) as refused:
        call(request_event({"Cookie": cookie}))

    assert str(refused.value) == "Unauthorized"


def test_two_different_session_cookies_are_unauthorized(world):
    _, first, _ = signed_in(world)
    _, second, _ = signed_in(world)

    with pytest.raises(authorizer.Unauthorized):
        call(request_event({"Cookie": f"mb_session={first}; mb_session={second}"}))


def test_the_session_of_a_revoked_key_is_unauthorized_from_the_next_request_on(world):
    key_id, session_text, _ = signed_in(world, "admin")
    call(request_event({"Cookie": f"mb_session={session_text}"}))

    revoke_key("acc_a", key_id, world.keys, SIGNED_IN + timedelta(minutes=1))

    with pytest.raises(authorizer.Unauthorized):
        call(request_event({"Cookie": f"mb_session={session_text}"}))


def test_a_session_is_unauthorized_from_its_expiry_on(world):
    _, session_text, _ = signed_in(world)
    world.clock.now = SIGNED_IN + timedelta(hours=8) - timedelta(seconds=1)
    call(request_event({"Cookie": f"mb_session={session_text}"}))

    world.clock.now = SIGNED_IN + timedelta(hours=8)

    with pytest.raises(authorizer.Unauthorized):
        call(request_event({"Cookie": f"mb_session={session_text}"}))


def test_a_signed_out_session_is_unauthorized(world):
    _, session_text, _ = signed_in(world)

    sign_out(session_text, world.sessions)

    with pytest.raises(authorizer.Unauthorized):
        call(request_event({"Cookie": f"mb_session={session_text}"}))


def test_a_bad_authorization_header_is_not_rescued_by_a_good_cookie(world):
    _, session_text, _ = signed_in(world)

    with pytest.raises(authorizer.Unauthorized):
        call(request_event({"Authorization": "Bearer not-a-key", "Cookie": f"mb_session={session_text}"}))


def test_with_both_the_key_decides_and_the_context_says_key(world):
    info, key = create_key("acc_a", "collector", ["ingest"], world.keys, SIGNED_IN)
    _, session_text, _ = signed_in(world, "admin")

    answer = call(request_event({"Authorization": f"Bearer {key}", "Cookie": f"mb_session={session_text}"}))

    assert answer["context"] == {
        "account_id": "acc_a",
        "key_id": info.key_id,
        "scopes": "ingest",
        "auth": "key",
    }


def test_without_a_session_store_a_cookie_is_unauthorized(world):
    _, session_text, _ = signed_in(world)
    authorizer.configure(world.keys)

    with pytest.raises(authorizer.Unauthorized):
        call(request_event({"Cookie": f"mb_session={session_text}"}))
