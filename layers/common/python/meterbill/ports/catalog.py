"""The catalog: customers, sites, meters, assignments and tariffs as JSON with ETags, and paging."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

T = TypeVar("T")

# Catalog kinds: each is stored as JSON (the domain model's ``model_dump(mode="json")``) with an ETag.
# Tariff versions are the kind "tariff" with id ``<tariff id>@<version, 6 digits>`` (so they list in order).
CatalogKind = Literal["customer", "site", "meter", "assignment", "tariff"]


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a listing; ``cursor`` is opaque and None on the last page."""

    items: Sequence[T]
    cursor: str | None


@dataclass(frozen=True, slots=True)
class Stored:
    """A catalog object as stored: its JSON body and its ETag (changes with every write)."""

    kind: CatalogKind
    item_id: str
    body: Mapping[str, Any]
    etag: str
    created_at: datetime
    updated_at: datetime


class CatalogStore(ABC):
    """Customers, sites, meters, assignments and tariff versions of an account."""

    @abstractmethod
    def create(self, account: str, kind: CatalogKind, item_id: str, body: Mapping[str, Any]) -> Stored:
        """Raises AlreadyExistsError if the id is taken in this account."""

    @abstractmethod
    def get(self, account: str, kind: CatalogKind, item_id: str) -> Stored:
        """Raises NotFoundError."""

    @abstractmethod
    def list(
        self, account: str, kind: CatalogKind, *, limit: int, cursor: str | None = None, prefix: str = ""
    ) -> Page[Stored]:
        """Objects in id order; ``prefix`` narrows to ids starting with it (a tariff's versions)."""

    @abstractmethod
    def replace(
        self, account: str, kind: CatalogKind, item_id: str, body: Mapping[str, Any], *, if_match: str | None
    ) -> Stored:
        """Raises NotFoundError, or PreconditionFailedError when ``if_match`` is not the current ETag."""

    @abstractmethod
    def delete(self, account: str, kind: CatalogKind, item_id: str, *, if_match: str | None) -> None:
        """Raises NotFoundError or PreconditionFailedError."""

    @abstractmethod
    def meters_by_external_id(self, account: str, external_ids: Sequence[str]) -> Mapping[str, str]:
        """external id -> meter id, for the external ids this account's meters carry."""

    @abstractmethod
    def assignments_of(
        self, account: str, *, customer_id: str | None = None, meter_id: str | None = None
    ) -> Sequence[Stored]:
        """The assignments of one customer, or of one meter (exactly one of the two is given), in id order:
        one Query, whatever the size of the account (docs/storage.md)."""
