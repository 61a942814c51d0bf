"""The console's sign-in: an admin or read API key exchanged for a short-lived session cookie.

A session id is 32 random bytes (``secrets.token_urlsafe``: 43 URL-safe characters), shown once in the
sign-in's cookie and stored only as its SHA-256 (a random 256-bit id needs no salt or slow hash), so whoever
reads the table cannot sign in. Each session has a CSRF token, also stored only as its SHA-256: a request
authenticated by the session's cookie that changes something must carry the token (``X-CSRF-Token``).

A session lasts ``SESSION_LIFETIME`` (8 hours) from sign-in, whatever it does meanwhile (no sliding
renewal); from ``expires_at`` on it is refused, whether or not DynamoDB's TTL has removed its item yet.
Its scope is its key's: ``admin`` if the key holds admin, else ``read``; an ``ingest``-only key cannot sign
in. Every use checks the key again: revoking the key ends its sessions at once.

Time comes in as ``now`` (aware); nothing here reads the clock.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime, timedelta
from typing import Final

from meterbill.errors import ForbiddenError, UnauthorizedError
from meterbill.ports import KeyStore, Session, SessionScope, SessionStore
from meterbill.services.apikeys import authenticate

SESSION_LIFETIME: Final = timedelta(hours=8)
SESSION_ID_BYTES: Final = 32
CSRF_TOKEN_BYTES: Final = 32
KEY_FIELD: Final = "key"
INVALID_SESSION: Final = "no valid session: sign in again"
INGEST_CANNOT_SIGN_IN: Final = (
    "an ingest key cannot sign in to the console; sign in with an admin or read key"
)

_SESSION_TEXT = re.compile(r"^[A-Za-z0-9_-]{43}$")


def sign_in(key_text: str, keys: KeyStore, sessions: SessionStore, now: datetime) -> tuple[str, str, Session]:
    """A new session for an admin or read key: (session id, CSRF token, the session as stored). The id and
    the token are returned here and never again. A malformed, unknown or revoked key: UnauthorizedError
    naming ``key``; a key with neither admin nor read (ingest only): ForbiddenError naming ``key``."""
    _require_aware(now)
    try:
        principal = authenticate(key_text, keys)
    except UnauthorizedError as error:
        raise UnauthorizedError(str(error), field=KEY_FIELD) from None
    scope: SessionScope
    if "admin" in principal.scopes:
        scope = "admin"
    elif "read" in principal.scopes:
        scope = "read"
    else:
        raise ForbiddenError(INGEST_CANNOT_SIGN_IN, field=KEY_FIELD)
    session_text = secrets.token_urlsafe(SESSION_ID_BYTES)
    csrf_token = secrets.token_urlsafe(CSRF_TOKEN_BYTES)
    session = Session(
        id_hash=digest(session_text),
        account=principal.account,
        key_id=principal.key_id,
        scope=scope,
        created_at=now,
        expires_at=now + SESSION_LIFETIME,
        csrf_token_hash=digest(csrf_token),
    )
    sessions.put(session)
    return session_text, csrf_token, session


def resolve(session_text: str, keys: KeyStore, sessions: SessionStore, now: datetime) -> Session:
    """The session a cookie's id names; UnauthorizedError (always the same message) for a malformed or
    unknown id, a session at or past its ``expires_at``, or one whose API key is revoked or gone."""
    _require_aware(now)
    if not _SESSION_TEXT.match(session_text):
        raise UnauthorizedError(INVALID_SESSION)
    session = sessions.get(digest(session_text))
    if session is None or now >= session.expires_at:
        raise UnauthorizedError(INVALID_SESSION)
    key = keys.get(session.key_id)
    if key is None or key.revoked_at is not None or key.account != session.account:
        raise UnauthorizedError(INVALID_SESSION)
    return session


def sign_out(session_text: str, sessions: SessionStore) -> None:
    """Ends the session (a malformed or unknown id: nothing to end)."""
    if _SESSION_TEXT.match(session_text):
        sessions.delete(digest(session_text))


def csrf_token_matches(token: str | None, token_hash: bytes) -> bool:
    """Whether ``token`` is the session's CSRF token (its SHA-256 compared in constant time)."""
    if not token:
        return False
    return hmac.compare_digest(digest(token), token_hash)


def digest(text: str) -> bytes:
    """SHA-256 of a session id or CSRF token: what is stored instead of the text."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


def _require_aware(now: datetime) -> None:
    if now.tzinfo is None:
        raise ValueError(f"naive datetime {now.isoformat()} where an aware one is required")
