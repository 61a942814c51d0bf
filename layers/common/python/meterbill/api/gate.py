"""What must hold before the resolver reads a request: checked on the raw API Gateway event, in this order.

1. The caller: the authorizer's context must name an account and a key (else 401: a route deployed without
   the authorizer refuses to run), and the key's scopes must allow the method on the path (else 403) —
   ``services.apikeys.required_scope``. A request authenticated by the console's session cookie (context
   ``auth: session``) that changes something (POST, PUT, PATCH, DELETE) must carry the session's CSRF token in
   ``X-CSRF-Token`` (else 403 naming that header); one with an API key needs none (browsers never send the
   Authorization header by themselves). The public routes (the OpenAPI document, signing in) skip this step.
2. The size: a body over ``max_body_bytes`` (1 MB), or ``max_import_bytes`` (5 MB) for an import, → 413.
3. The media type of a body sent with POST or PUT: JSON (``application/json`` or none) everywhere but
   ``/v1/imports``, which takes the file itself (CSV, XML, plain text or octet-stream), and
   ``/v1/settings/logo``, which takes a PNG or JPEG → else 415.
4. Text: a body whose characters cannot be UTF-8 (lone surrogates) → 400.

So an ``ingest`` key learns nothing from a management route (not even whether its body would be valid),
and nothing big or binary is parsed for nobody. The route that matches checks the scope once more against
its template (``dependencies.authorized_caller``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from meterbill.api.dependencies import principal_of
from meterbill.api.problems import ContentTooLargeError, MalformedBodyError, UnsupportedMediaTypeError
from meterbill.errors import ForbiddenError
from meterbill.services.apikeys import require_scope, required_scope
from meterbill.services.console_sessions import csrf_token_matches
from meterbill.settings import ApiSettings

OPENAPI_PATH: Final = "/v1/openapi.json"
SESSIONS_PATH: Final = "/v1/sessions"  # POST: sign in (the key is in the body)
# Paths whose routes need no authorizer (the local gateway skips it for them; each has only public methods).
PUBLIC_PATHS: Final = frozenset({OPENAPI_PATH, SESSIONS_PATH})
PUBLIC_ROUTES: Final = frozenset({("GET", OPENAPI_PATH), ("HEAD", OPENAPI_PATH), ("POST", SESSIONS_PATH)})
# The console's pages (``routes.console``) are public at the gateway and authenticate themselves from the
# session cookie, so that a browser without a session is sent to the sign-in page; their forms are
# form-encoded.
CONSOLE_PREFIX: Final = "/console/"
FORM_MEDIA_TYPES: Final = ("application/x-www-form-urlencoded",)
CSRF_HEADER: Final = "X-CSRF-Token"
CSRF_MISSING: Final = "a change made with the console's session needs the session's CSRF token in this header"
_UNSAFE_METHODS: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})
IMPORTS_PATH: Final = "/v1/imports"
LOGO_PATH: Final = "/v1/settings/logo"
IMAGE_MEDIA_TYPES: Final = ("image/png", "image/jpeg")
JSON_MEDIA_TYPES: Final = ("application/json",)
FILE_MEDIA_TYPES: Final = (
    "text/csv",
    "text/plain",
    "application/xml",
    "text/xml",
    "application/atom+xml",
    "application/octet-stream",
)
_READ_METHODS: Final = frozenset({"GET", "HEAD"})
_BODY_METHODS: Final = frozenset({"POST", "PUT", "PATCH"})


def check(event: Mapping[str, Any], settings: ApiSettings) -> None:
    """Raises the error whose problem document answers the request (see the module's steps)."""
    method = str(event.get("httpMethod") or "").upper()
    path = str(event.get("path") or "")
    console = is_console(path)
    if (method, path) not in PUBLIC_ROUTES and not console:
        context = (event.get("requestContext") or {}).get("authorizer") or {}
        principal = principal_of(context)
        require_scope(principal.scopes, required_scope(method, path))
        if principal.auth == "session" and method in _UNSAFE_METHODS:
            check_csrf(event, context)
    imports = path == IMPORTS_PATH
    limit = settings.max_import_bytes if imports else settings.max_body_bytes
    size = body_size(event)
    if size > limit:
        raise ContentTooLargeError(size, limit)
    if size and method in _BODY_METHODS:
        media_type = _media_type(event)
        accepted = (
            FILE_MEDIA_TYPES
            if imports
            else IMAGE_MEDIA_TYPES
            if path == LOGO_PATH
            else FORM_MEDIA_TYPES
            if console
            else JSON_MEDIA_TYPES
        )
        if media_type and media_type not in accepted:
            raise UnsupportedMediaTypeError(media_type, accepted)


def is_console(path: str) -> bool:
    """Whether ``path`` is one of the console's pages (public at the gateway, see ``CONSOLE_PREFIX``)."""
    return path == CONSOLE_PREFIX.rstrip("/") or path.startswith(CONSOLE_PREFIX)


def check_csrf(event: Mapping[str, Any], context: Mapping[str, Any]) -> None:
    """ForbiddenError naming ``X-CSRF-Token`` unless the header holds the token whose hash the authorizer
    passed on (``csrf_token_hash``, hex)."""
    headers = event.get("headers") or {}
    sent = [str(value) for name, value in headers.items() if str(name).lower() == CSRF_HEADER.lower()]
    try:
        expected = bytes.fromhex(str(context.get("csrf_token_hash") or ""))
    except ValueError:
        expected = b""
    token = sent[0].strip() if len(sent) == 1 else None
    if not expected or not csrf_token_matches(token, expected):
        raise ForbiddenError(CSRF_MISSING, field=CSRF_HEADER)


def body_size(event: Mapping[str, Any]) -> int:
    """The body's size in bytes as the client sent it (a base64 body's decoded size)."""
    body = event.get("body")
    if not body:
        return 0
    text = str(body)
    if event.get("isBase64Encoded"):
        return len(text) * 3 // 4 - text[-2:].count("=")
    try:
        return len(text.encode("utf-8"))
    except UnicodeEncodeError as err:
        raise MalformedBodyError(
            "body", f"not UTF-8 text: character {err.start} is a lone surrogate"
        ) from None


def _media_type(event: Mapping[str, Any]) -> str:
    headers = event.get("headers") or {}
    values = [str(value) for name, value in headers.items() if str(name).lower() == "content-type"]
    return values[-1].split(";")[0].strip().lower() if values else ""
