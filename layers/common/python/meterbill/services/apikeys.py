"""Accounts and their API keys: shown once, stored only as a salted hash, checked in constant time, revocable,
and scoped.

A key reads ``mb_<key id>_<secret>``: the key id (16 hex digits) finds the stored record without knowing the
account; the secret (43 URL-safe characters, 256 random bits) is never stored, only PBKDF2-HMAC-SHA256 of it
with a per-key salt. The secret is random, not a password, so no slow hash is needed against guessing; a
modest iteration count keeps the authorizer fast (under 1 ms per check on the development machine).

Scopes: ``admin`` may do everything in its account, ``ingest`` only send readings, imports and a collector's
heartbeats (what a collector gets), ``read`` only GET. A key may hold several.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal, get_args

from meterbill.errors import ForbiddenError, InvalidInputError, NotFoundError, UnauthorizedError
from meterbill.ports import AccountRecord, AccountStore, ApiKeyRecord, KeyStore, Page, Scope, SigningKeyStore

ALL_SCOPES: Final = frozenset[Scope](get_args(Scope))
KEY_PREFIX: Final = "mb"
HASH_ITERATIONS: Final = 1_000
SALT_BYTES: Final = 16
SECRET_BYTES: Final = 32
MAX_NAME_LENGTH: Final = 100
FIRST_KEY_NAME: Final = "first admin key"
# One message for a malformed, unknown or revoked key: the answer must not tell which.
INVALID_KEY: Final = "invalid API key"

_KEY_TEXT = re.compile(r"^mb_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$")
_INGEST_PATHS = ("/v1/readings", "/v1/imports")
# A collector's heartbeat: the path as sent (one segment of id) or the route's template (<collector_id>).
_HEARTBEAT_PATH = re.compile(r"^/v1/collectors/[^/]+/heartbeats$")
_KEY_PATHS = ("/v1/api-keys",)
# Signing out: any session may end itself, a read one too.
SIGN_OUT_PATH: Final = "/v1/sessions/current"
_READ_METHODS = frozenset({"GET", "HEAD"})
# Hashed when the key id is unknown or malformed, so that such a key costs as much time as a known one.
_DUMMY_SALT = bytes(SALT_BYTES)
_DUMMY_DIGEST = bytes(hashlib.sha256().digest_size)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request acts for: the account and scopes of the key it carried, or of the console session it
    carried (``auth``: ``"session"``; ``key_id``: the key the session was signed in with)."""

    account: str
    key_id: str
    scopes: frozenset[Scope]
    auth: Literal["key", "session"] = "key"


@dataclass(frozen=True, slots=True)
class ApiKeyInfo:
    """An API key as the API shows it: no secret, no hash."""

    key_id: str
    account: str
    name: str
    scopes: frozenset[Scope]
    created_at: datetime
    revoked_at: datetime | None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    @classmethod
    def of(cls, record: ApiKeyRecord) -> ApiKeyInfo:
        return cls(
            key_id=record.key_id,
            account=record.account,
            name=record.name,
            scopes=record.scopes,
            created_at=record.created_at,
            revoked_at=record.revoked_at,
        )


def create_account(
    name: str,
    accounts: AccountStore,
    keys: KeyStore,
    now: datetime,
    *,
    account_id: str | None = None,
    signing_keys: SigningKeyStore | None = None,
) -> tuple[AccountRecord, str]:
    """A new account and its first admin key; the key's text is returned here and never again. With
    ``signing_keys``, the account's document signing key is made now (a self-signed certificate for its
    name) and kept there; without, on its first document.

    ``account_id`` is generated (``acc_`` and 16 hex digits) unless given (the local demo account).
    Raises AlreadyExistsError for a given id that is taken.
    """
    _require_aware(now)
    account = AccountRecord(
        account_id=account_id or f"acc_{secrets.token_hex(8)}",
        name=_name(name),
        created_at=now,
    )
    accounts.create(account)
    _, key_text = create_key(account.account_id, FIRST_KEY_NAME, frozenset({"admin"}), keys, now)
    if signing_keys is not None:
        from meterbill.services.documents import self_signed_pem  # cryptography: only when a key is made

        signing_keys.create(account.account_id, self_signed_pem(account.name, now))
    return account, key_text


def create_key(
    account: str, name: str, scopes: Iterable[Scope], keys: KeyStore, now: datetime
) -> tuple[ApiKeyInfo, str]:
    """A new key of ``account``; its text (``mb_<key id>_<secret>``) is returned here and never again."""
    _require_aware(now)
    wanted = frozenset(scopes)
    if not wanted:
        raise InvalidInputError("scopes", f"give at least one of: {', '.join(sorted(ALL_SCOPES))}")
    unknown = wanted - ALL_SCOPES
    if unknown:
        raise InvalidInputError(
            "scopes", f"unknown scope {sorted(unknown)[0]!r}; expected: {', '.join(sorted(ALL_SCOPES))}"
        )
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(SECRET_BYTES)
    salt = secrets.token_bytes(SALT_BYTES)
    record = ApiKeyRecord(
        key_id=key_id,
        account=account,
        name=_name(name),
        scopes=wanted,
        salt=salt,
        digest=_digest(secret, salt),
        created_at=now,
    )
    keys.put(record)
    return ApiKeyInfo.of(record), f"{KEY_PREFIX}_{key_id}_{secret}"


def authenticate(key_text: str, keys: KeyStore) -> Principal:
    """The account and scopes of a key; UnauthorizedError (always the same message) for a malformed, unknown
    or revoked key, or one whose secret does not match."""
    match = _KEY_TEXT.match(key_text)
    record = keys.get(match.group(1)) if match else None
    secret = match.group(2) if match else key_text
    if record is None:
        hmac.compare_digest(_digest(secret, _DUMMY_SALT), _DUMMY_DIGEST)  # same work as a known key
        raise UnauthorizedError(INVALID_KEY)
    matches = hmac.compare_digest(_digest(secret, record.salt), record.digest)
    if not matches or record.revoked_at is not None:
        raise UnauthorizedError(INVALID_KEY)
    return Principal(account=record.account, key_id=record.key_id, scopes=record.scopes)


def require_scope(principal_scopes: Iterable[Scope], needed: Scope) -> None:
    """ForbiddenError unless the scopes allow ``needed``; admin allows everything."""
    held = frozenset(principal_scopes)
    if "admin" in held or needed in held:
        return
    shown = ", ".join(sorted(held)) or "none"
    raise ForbiddenError(f"this API key's scopes ({shown}) do not allow this operation; it needs {needed!r}")


def required_scope(method: str, path: str) -> Scope:
    """The scope a request needs: sending readings, imports and a collector's heartbeats needs ``ingest``;
    managing API keys ``admin`` (even reading them); signing out ``read``; any other GET ``read``; every other
    change ``admin``."""
    verb = method.upper()
    if path == SIGN_OUT_PATH:
        return "read"
    if _under(path, _KEY_PATHS):
        return "admin"
    if verb == "POST" and (_under(path, _INGEST_PATHS) or _HEARTBEAT_PATH.match(path)):
        return "ingest"
    if verb in _READ_METHODS:
        return "read"
    return "admin"


def get_key(account: str, key_id: str, keys: KeyStore) -> ApiKeyInfo:
    """Raises NotFoundError for an unknown key and for another account's key alike."""
    record = keys.get(key_id)
    if record is None or record.account != account:
        raise NotFoundError("api key", key_id)
    return ApiKeyInfo.of(record)


def list_keys(
    account: str, keys: KeyStore, *, limit: int = 50, cursor: str | None = None
) -> Page[ApiKeyInfo]:
    page = keys.list(account, limit=limit, cursor=cursor)
    return Page(items=[ApiKeyInfo.of(record) for record in page.items], cursor=page.cursor)


def revoke_key(account: str, key_id: str, keys: KeyStore, now: datetime) -> ApiKeyInfo:
    """From now on the key is refused. Raises NotFoundError for another account's key."""
    _require_aware(now)
    return ApiKeyInfo.of(keys.revoke(account, key_id, now))


def _digest(secret: str, salt: bytes) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", secret.encode(), salt, HASH_ITERATIONS)


def _name(name: str) -> str:
    text = " ".join(name.split())
    if not text:
        raise InvalidInputError("name", "must not be empty")
    if len(text) > MAX_NAME_LENGTH:
        raise InvalidInputError("name", f"longer than {MAX_NAME_LENGTH} characters")
    return text


def _under(path: str, prefixes: Iterable[str]) -> bool:
    return any(path == prefix or path.startswith(prefix + "/") for prefix in prefixes)


def _require_aware(now: datetime) -> None:
    if now.tzinfo is None:
        raise ValueError(f"naive datetime {now.isoformat()} where an aware one is required")
