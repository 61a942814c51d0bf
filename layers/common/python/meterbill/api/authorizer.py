"""The Lambda REQUEST authorizer: ``Authorization: Bearer <API key>`` → the key's account and scopes; or,
without that header, the console's session cookie (``mb_session``) → its account and scope.

A known, unrevoked key is allowed to invoke every method of the API's stage (so API Gateway may cache the
policy for the key whatever it calls next); what the key may do is decided per request by its scopes, which
the authorizer passes on in its context with the account:
``{"account_id": "acc_…", "key_id": "…", "scopes": "ingest,read", "auth": "key"}`` (REST APIs pass context
values as strings). No key, a malformed one, an unknown or a revoked one: ``Unauthorized``, which API Gateway
answers 401. The key's text is never logged or passed on.

A session cookie (``services.console_sessions``) gives ``"auth": "session"``, the session's one scope, the key
it was signed in with, and ``csrf_token_hash`` (hex SHA-256 of its CSRF token) for the gate's CSRF check; an
unknown, expired or signed-out session, or one whose key is revoked: ``Unauthorized``. When both are sent, the
Authorization header decides (a bad key is not rescued by a cookie). The API's authorizer has no identity
source and no result cache (infra/cdk/constructs/api.py): it runs on every request, so a sign-out or a
revocation holds from the next request on.

Only this module, ``services.apikeys``, the settings and the DynamoDB adapters load in the authorizer.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import cache
from typing import Any, Final

from meterbill.errors import UnauthorizedError
from meterbill.ports import KeyStore, SessionStore
from meterbill.services import console_sessions
from meterbill.services.apikeys import authenticate
from meterbill.settings import StorageSettings

AUTHORIZATION_HEADER: Final = "authorization"
COOKIE_HEADER: Final = "cookie"
SESSION_COOKIE: Final = "mb_session"
BEARER: Final = "bearer"
INVOKE: Final = "execute-api:Invoke"


class Unauthorized(Exception):
    """Raised to make API Gateway answer 401; the message must be exactly "Unauthorized"."""

    def __init__(self) -> None:
        super().__init__("Unauthorized")


def authorize(
    event: Mapping[str, Any],
    keys: KeyStore,
    sessions: SessionStore | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The IAM policy and context for a REQUEST authorizer event, or ``Unauthorized``. Without ``sessions``
    a session cookie is refused; ``now`` (default: the clock) decides whether a session has expired."""
    headers = event.get("headers") or {}
    if _has_header(headers, AUTHORIZATION_HEADER):
        return _by_key(event, keys)
    session_text = session_cookie(headers, event.get("multiValueHeaders") or {})
    if session_text is None or sessions is None:
        raise Unauthorized()
    try:
        session = console_sessions.resolve(session_text, keys, sessions, now or datetime.now(UTC))
    except UnauthorizedError:
        raise Unauthorized() from None
    return _allow(
        event,
        session.key_id,
        {
            "account_id": session.account,
            "key_id": session.key_id,
            "scopes": session.scope,
            "auth": "session",
            "csrf_token_hash": session.csrf_token_hash.hex(),
        },
    )


def _by_key(event: Mapping[str, Any], keys: KeyStore) -> dict[str, Any]:
    key_text = bearer_token(event.get("headers") or {})
    if key_text is None:
        raise Unauthorized()
    try:
        principal = authenticate(key_text, keys)
    except UnauthorizedError:
        raise Unauthorized() from None
    context = {
        "account_id": principal.account,
        "key_id": principal.key_id,
        "scopes": ",".join(sorted(principal.scopes)),
        "auth": "key",
    }
    return _allow(event, principal.key_id, context)


def _allow(event: Mapping[str, Any], principal_id: str, context: dict[str, str]) -> dict[str, Any]:
    allow = {"Action": INVOKE, "Effect": "Allow", "Resource": every_method(event["methodArn"])}
    return {
        "principalId": principal_id,
        "policyDocument": {"Version": "2012-10-17", "Statement": [allow]},
        "context": context,
    }


def _has_header(headers: Mapping[str, Any], wanted: str) -> bool:
    return any(str(name).lower() == wanted for name in headers)


def session_cookie(headers: Mapping[str, Any], multi_value_headers: Mapping[str, Any]) -> str | None:
    """The value of the ``mb_session`` cookie among the request's cookies (every ``Cookie`` header, each
    ``name=value`` pairs separated by ``;``); None when there is none, or when two disagree."""
    values: list[str] = []
    for name, value in multi_value_headers.items():
        if str(name).lower() == COOKIE_HEADER and isinstance(value, list):
            values.extend(str(item) for item in value)
    if not values:
        values = [str(value) for name, value in headers.items() if str(name).lower() == COOKIE_HEADER]
    found = {
        text.strip().strip('"')
        for value in values
        for pair in value.split(";")
        for name, sep, text in [pair.partition("=")]
        if sep and name.strip() == SESSION_COOKIE and text.strip()
    }
    return found.pop() if len(found) == 1 else None


def bearer_token(headers: Mapping[str, Any]) -> str | None:
    """The token of ``Authorization: Bearer <token>`` (the header's name and the scheme in any case)."""
    values = [value for name, value in headers.items() if str(name).lower() == AUTHORIZATION_HEADER]
    if len(values) != 1 or not isinstance(values[0], str):
        return None
    scheme, _, token = values[0].strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == BEARER and token else None


def every_method(method_arn: str) -> str:
    """``arn:aws:execute-api:<region>:<account>:<api id>/<stage>/*`` from the ARN of the method called
    (``…/<stage>/<METHOD>/<path>``)."""
    api, stage, *_ = method_arn.split("/")
    return f"{api}/{stage}/*"


_configured: tuple[KeyStore, SessionStore | None, Callable[[], datetime] | None] | None = None


def configure(
    keys: KeyStore | None,
    sessions: SessionStore | None = None,
    clock: Callable[[], datetime] | None = None,
) -> None:
    """Use ``keys`` and ``sessions`` (tests, the local server) instead of the stores the environment names,
    and ``clock`` for the time sessions expire by; ``keys`` None: forget them."""
    global _configured
    _configured = None if keys is None else (keys, sessions, clock)
    _from_environment.cache_clear()


def key_store() -> KeyStore:
    return _configured[0] if _configured is not None else _from_environment()[0]


def session_store() -> SessionStore | None:
    return _configured[1] if _configured is not None else _from_environment()[1]


def now() -> datetime:
    clock = _configured[2] if _configured is not None else None
    return clock() if clock is not None else datetime.now(UTC)


@cache
def _from_environment() -> tuple[KeyStore, SessionStore | None]:
    from meterbill.adapters.dynamodb import build_stores  # connects on the first key looked up

    stores = build_stores(StorageSettings.from_env(os.environ))
    return stores.keys, stores.sessions
