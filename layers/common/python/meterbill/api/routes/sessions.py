"""The console's sign-in and sign-out (``services.console_sessions``).

``POST /v1/sessions`` is public (the key is in the body, not in the Authorization header): it answers 201 with
the session's account, scope, expiry and CSRF token, and sets the session cookie ``mb_session`` (HttpOnly,
SameSite=Strict, Path=/, Max-Age 8 hours; Secure unless the settings say the deployment is plain HTTP, as the
local server on 127.0.0.1 is). ``DELETE /v1/sessions/current`` ends the session the cookie names and clears
the cookie (with the session's CSRF token, as every change made with a session).
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from aws_lambda_powertools.event_handler import Request, Response
from pydantic import BaseModel, ConfigDict, Field, StrictStr

from meterbill.api.authorizer import SESSION_COOKIE, session_cookie
from meterbill.api.dependencies import AuthorizedCaller, backend
from meterbill.api.routes.common import JSON, new_router
from meterbill.ports import SessionScope
from meterbill.services import console_sessions
from meterbill.settings import ApiSettings

router = new_router()

MAX_KEY_LENGTH: Final = 200
_LIFETIME_SECONDS: Final = int(console_sessions.SESSION_LIFETIME.total_seconds())


class SignIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    key: StrictStr = Field(
        min_length=1,
        max_length=MAX_KEY_LENGTH,
        description="an admin or read API key of the account (mb_<key id>_<secret>)",
    )


class SignedIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    account_id: str
    scope: SessionScope = Field(description="admin: everything; read: GET only")
    expires_at: datetime = Field(description="the session ends then, however much it is used (8 hours)")
    csrf_token: str = Field(
        description="send it as X-CSRF-Token with every POST, PUT, PATCH and DELETE made with the session"
    )


def session_cookie_header(settings: ApiSettings, value: str, max_age: int) -> str:
    """The Set-Cookie header of the session cookie (``max_age`` 0 and an empty value: clear it)."""
    return cookie_header(settings, SESSION_COOKIE, value, max_age)


def cookie_header(settings: ApiSettings, name: str, value: str, max_age: int) -> str:
    """A Set-Cookie header with the session cookie's attributes (HttpOnly, SameSite=Strict, Path=/, Secure
    unless the deployment is plain HTTP); the console's CSRF cookie takes them too."""
    secure = "; Secure" if settings.secure_cookies else ""
    return f"{name}={value}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age}{secure}"


@router.post(
    "/v1/sessions",
    status_code=201,
    summary="Sign in to the console",
    description="Exchanges an admin or read API key for a session cookie (mb_session, HttpOnly, "
    "SameSite=Strict, 8 hours, not renewed by use) and the session's CSRF token. A wrong or revoked key: "
    "401; an ingest key: 403. Requests with the cookie act with the key's account and scope; those that "
    "change something need the CSRF token in X-CSRF-Token.",
    tags=["sessions"],
    openapi_extensions={"security": []},
)
def sign_in(body: SignIn) -> Response[SignedIn]:
    current = backend()
    if current.stores.sessions is None:
        raise RuntimeError("this deployment has no session store")
    session_text, csrf_token, session = console_sessions.sign_in(
        body.key, current.stores.keys, current.stores.sessions, current.clock()
    )
    record = SignedIn(
        account_id=session.account,
        scope=session.scope,
        expires_at=session.expires_at,
        csrf_token=csrf_token,
    )
    headers = {
        "Set-Cookie": session_cookie_header(current.settings, session_text, _LIFETIME_SECONDS),
        "Cache-Control": "no-store",
    }
    return Response(201, content_type=JSON, body=record, headers=headers)


@router.delete(
    "/v1/sessions/current",
    status_code=204,
    summary="Sign out of the console",
    description="Ends the session the mb_session cookie names and clears the cookie; the cookie is refused "
    "(401) from then on. Needs the session's CSRF token in X-CSRF-Token. With an API key and no session: "
    "nothing to end, the same answer.",
    tags=["sessions"],
)
def sign_out(caller: AuthorizedCaller, request: Request) -> Response[None]:
    if caller.principal.auth == "session" and caller.stores.sessions is not None:
        event = request.resolved_event
        session_text = session_cookie(event.get("headers") or {}, event.get("multiValueHeaders") or {})
        if session_text is not None:
            console_sessions.sign_out(session_text, caller.stores.sessions)
    return Response(204, headers={"Set-Cookie": session_cookie_header(caller.settings, "", 0)})
