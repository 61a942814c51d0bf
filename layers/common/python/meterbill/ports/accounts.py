"""Accounts, their settings and logo, and their API keys."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from meterbill.ports.catalog import Page

Scope = Literal["admin", "ingest", "read"]


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    """An API key as stored: never the secret, only its salted hash."""

    key_id: str
    account: str
    name: str
    scopes: frozenset[Scope]
    salt: bytes
    digest: bytes
    created_at: datetime
    revoked_at: datetime | None = None


# The ETag of an account's settings until they are first written (``AccountStore.replace_settings``); a write
# makes a random one, which never equals this.
INITIAL_SETTINGS_ETAG: str = "initial"


@dataclass(frozen=True, slots=True)
class AccountRecord:
    """An account; ``settings`` maps a section (``"billing"``) to its JSON body. ``settings_etag`` changes
    with every write of the settings (``INITIAL_SETTINGS_ETAG`` before the first), ``settings_updated_at`` is
    the time of the last one."""

    account_id: str
    name: str
    created_at: datetime
    settings: Mapping[str, Any] = field(default_factory=dict)
    settings_etag: str = INITIAL_SETTINGS_ETAG
    settings_updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class AccountLogo:
    """The image an account's invoices show (``documents.logo`` checked it): PNG or JPEG bytes."""

    image_type: str  # "image/png" | "image/jpeg"
    data: bytes
    width: int
    height: int
    sha256: str
    updated_at: datetime


class KeyStore(ABC):
    @abstractmethod
    def put(self, record: ApiKeyRecord) -> None: ...

    @abstractmethod
    def get(self, key_id: str) -> ApiKeyRecord | None:
        """By key id alone: the authorizer does not know the account yet."""

    @abstractmethod
    def list(self, account: str, *, limit: int, cursor: str | None = None) -> Page[ApiKeyRecord]: ...

    @abstractmethod
    def revoke(self, account: str, key_id: str, at: datetime) -> ApiKeyRecord:
        """Raises NotFoundError for a key of another account."""


class AccountStore(ABC):
    @abstractmethod
    def create(self, record: AccountRecord) -> None:
        """Raises AlreadyExistsError."""

    @abstractmethod
    def get(self, account_id: str) -> AccountRecord:
        """Raises NotFoundError."""

    @abstractmethod
    def replace_settings(
        self, account_id: str, settings: Mapping[str, Any], *, if_match: str | None, at: datetime
    ) -> AccountRecord:
        """The account's settings replaced as a whole, with a new ``settings_etag`` and
        ``settings_updated_at = at``. Raises NotFoundError, or PreconditionFailedError (kind "settings") when
        ``if_match`` is not the current ``settings_etag``."""

    @abstractmethod
    def list(self, *, limit: int, cursor: str | None = None) -> Page[AccountRecord]:
        """Every account, in id order (the bill run visits them all)."""

    @abstractmethod
    def add_missing_to_listing(self) -> int:
        """Puts every stored account that ``list`` misses (written before accounts were listed) into the
        listing; how many it put there. Idempotent: a second call finds none and returns 0."""

    @abstractmethod
    def put_logo(self, account_id: str, logo: AccountLogo) -> None:
        """The account's logo replaced (one item beside the account's; at most 256 KB). Raises
        NotFoundError for an account that does not exist."""

    @abstractmethod
    def get_logo(self, account_id: str) -> AccountLogo | None:
        """The account's logo, or None when it has none."""
