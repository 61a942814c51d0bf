"""What every console page does with its request: find the signed-in session from the cookies, check the
CSRF token a change carries and the sign-in form's Origin, read a form, and answer with a page, a refusal or
a redirect (303) under the console's root as the browser sees it. Every console route module shares it.

A route starts with ``session_of`` (any signed-in page) or ``change_of`` (a change: CSRF, and an admin session
where the change needs one). They raise ``ConsoleAnswer`` holding the answer a browser gets instead (the
sign-in redirect, a 403 page), which the console router's exception handler returns, so a route reads as its
page alone."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import parse_qs, urlsplit

from aws_lambda_powertools.event_handler import Request, Response

from meterbill.api.authorizer import SESSION_COOKIE, session_cookie
from meterbill.api.dependencies import Backend
from meterbill.console import pages
from meterbill.errors import UnauthorizedError
from meterbill.ports import Session
from meterbill.services import console_sessions

CONSOLE: Final = "/console"
CSRF_COOKIE: Final = "mb_csrf"
CSRF_FIELD: Final = "csrf_token"
CSRF_HEADER: Final = "x-csrf-token"
CSRF_REFUSED: Final = "This form has expired or did not come from the console: reload the page and try again."


class ConsoleAnswer(Exception):
    """The answer a request gets before its page is made: the sign-in redirect or a refusal page."""

    def __init__(self, response: Response[Any]) -> None:
        super().__init__(response.status_code)
        self.response = response


def answer_of(error: ConsoleAnswer) -> Response[Any]:
    return error.response


def session_of(request: Request, current: Backend) -> tuple[Session, str]:
    """The signed-in session and its CSRF token; else raises the way to the sign-in page."""
    found = signed_in(request, current)
    if found is None:
        raise ConsoleAnswer(sign_in_redirect(request))
    return found


def change_of(request: Request, current: Backend, *, read_only: str | None) -> tuple[Session, str]:
    """As ``session_of``, for a change: the request must carry the session's CSRF token (403 otherwise), and
    with ``read_only`` (the refusal's text) the session must be an admin one (403 for a read session)."""
    session, csrf_token = session_of(request, current)
    if not csrf_sent(request.resolved_event, session):
        raise ConsoleAnswer(refused(request, 403, CSRF_REFUSED))
    if read_only is not None and session.scope != "admin":
        raise ConsoleAnswer(refused(request, 403, read_only))
    return session, csrf_token


def sign_in_redirect(request: Request) -> Response[str]:
    if header(request.resolved_event, "hx-request"):
        # htmx would follow a 303 and swap the sign-in page into the fragment: it navigates there instead
        headers = {**pages.HTML_HEADERS, "HX-Redirect": f"{root(request)}/sign-in"}
        return Response(200, content_type=pages.HTML, body="", headers=headers)
    return see_other(request, "/sign-in")


def signed_in(request: Request, current: Backend) -> tuple[Session, str] | None:
    """The session the cookies name and its CSRF token (from ``mb_csrf``), or None: no cookie, an unknown,
    expired or signed-out session, a revoked key, or a CSRF cookie that is not the session's."""
    event = request.resolved_event
    session_text = cookie(event, SESSION_COOKIE)
    csrf_token = cookie(event, CSRF_COOKIE)
    if session_text is None or csrf_token is None or current.stores.sessions is None:
        return None
    try:
        session = console_sessions.resolve(
            session_text, current.stores.keys, current.stores.sessions, current.clock()
        )
    except UnauthorizedError:
        return None
    if not console_sessions.csrf_token_matches(csrf_token, session.csrf_token_hash):
        return None
    return session, csrf_token


def csrf_sent(event: Mapping[str, Any], session: Session) -> bool:
    """Whether the request carries the session's CSRF token, in ``X-CSRF-Token`` or the form's field."""
    sent = header(event, CSRF_HEADER) or form(event).get(CSRF_FIELD)
    return console_sessions.csrf_token_matches(sent, session.csrf_token_hash)


def same_origin(event: Mapping[str, Any]) -> bool:
    origin = header(event, "origin")
    if origin is None:
        return True  # not a browser's cross-site form (they send Origin with every POST)
    host = header(event, "host")
    split = urlsplit(origin)
    return host is not None and split.scheme in ("http", "https") and split.netloc == host


def cookie(event: Mapping[str, Any], name: str) -> str | None:
    if name == SESSION_COOKIE:
        return session_cookie(event.get("headers") or {}, event.get("multiValueHeaders") or {})
    values = [str(v) for k, v in (event.get("headers") or {}).items() if str(k).lower() == "cookie"]
    found = {
        text.strip().strip('"')
        for value in values
        for pair in value.split(";")
        for key, sep, text in [pair.partition("=")]
        if sep and key.strip() == name and text.strip()
    }
    return found.pop() if len(found) == 1 else None


def header(event: Mapping[str, Any], name: str) -> str | None:
    values = [str(v) for k, v in (event.get("headers") or {}).items() if str(k).lower() == name]
    return values[0].strip() if len(values) == 1 else None


def form(event: Mapping[str, Any]) -> dict[str, str]:
    """The fields of a form-encoded body (the first value of each); none for a body of more than 20 fields
    (no console form has that many: it is refused as a form without its CSRF token or key would be)."""
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        body = base64.b64decode(str(body)).decode("utf-8", "replace")
    try:
        fields = parse_qs(str(body), keep_blank_values=True, max_num_fields=20)
    except ValueError:  # more than max_num_fields
        return {}
    return {name: values[0] for name, values in fields.items()}


def root(request: Request) -> str:
    """Where the console is as the browser sees it: ``/console``; on API Gateway's own domain
    (``….execute-api.<region>.amazonaws.com``) after the stage (``/dev/console``), which the browser's URLs
    hold there and the event's ``path`` does not (a custom domain and the local gateway serve from the root).
    """
    event = request.resolved_event
    host = header(event, "host") or ""
    stage = str((event.get("requestContext") or {}).get("stage") or "")
    on_aws_domain = host.lower().endswith(".amazonaws.com") and stage and stage != "$default"
    return f"/{stage}{CONSOLE}" if on_aws_domain else CONSOLE


def page(request: Request, template: str, status: int = 200, **values: Any) -> Response[str]:
    values.setdefault("csrf_token", "")
    body = pages.render(template, root=root(request), **values)
    return Response(status, content_type=pages.HTML, body=body, headers=dict(pages.HTML_HEADERS))


def refused(request: Request, status: int, message: str) -> Response[str]:
    body = pages.render("refused.html", root=root(request), title="Refused", session=None, message=message)
    return Response(status, content_type=pages.HTML, body=body, headers=dict(pages.HTML_HEADERS))


def see_other(request: Request, where: str, cookies: list[str] | None = None) -> Response[str]:
    headers: dict[str, str | list[str]] = {**pages.HTML_HEADERS, "Location": f"{root(request)}{where}"}
    if cookies:
        headers["Set-Cookie"] = cookies
    return Response(303, content_type=pages.HTML, body="", headers=headers)
