"""The catalog in a dict."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from meterbill.errors import (
    AlreadyExistsError,
    NotFoundError,
    PreconditionFailedError,
)
from meterbill.ports import (
    CatalogKind,
    CatalogStore,
    Page,
    Stored,
)
from tests.fakes.common import _page, fixed_clock


class FakeCatalogStore(CatalogStore):
    """``items[(account, kind, item_id)]`` holds what is stored; an ETag hashes the body and its revision.
    ``get_calls`` counts the lookups one by one (what a batch should avoid), ``list_calls`` the pages listed
    by kind and ``assignment_queries`` the calls of ``assignments_of`` (what a bill-run message reads)."""

    def __init__(self, clock: Callable[[], datetime] = fixed_clock) -> None:
        self.items: dict[tuple[str, CatalogKind, str], Stored] = {}
        self._revisions: dict[tuple[str, CatalogKind, str], int] = {}
        self._clock = clock
        self.get_calls = 0
        self.list_calls: dict[CatalogKind, int] = {}  # listings (pages) by kind
        self.assignment_queries = 0  # assignments_of calls

    def _etag(self, key: tuple[str, CatalogKind, str], body: Mapping[str, Any]) -> str:
        revision = self._revisions[key]
        text = json.dumps(body, sort_keys=True, default=str)
        return hashlib.sha256(f"{revision}:{text}".encode()).hexdigest()[:16]

    def create(self, account: str, kind: CatalogKind, item_id: str, body: Mapping[str, Any]) -> Stored:
        key = (account, kind, item_id)
        if key in self.items:
            raise AlreadyExistsError(kind, item_id)
        self._revisions[key] = 1
        now = self._clock()
        stored = Stored(kind, item_id, dict(body), self._etag(key, body), now, now)
        self.items[key] = stored
        return stored

    def get(self, account: str, kind: CatalogKind, item_id: str) -> Stored:
        self.get_calls += 1
        try:
            return self.items[(account, kind, item_id)]
        except KeyError:
            raise NotFoundError(kind, item_id) from None

    def list(
        self, account: str, kind: CatalogKind, *, limit: int, cursor: str | None = None, prefix: str = ""
    ) -> Page[Stored]:
        self.list_calls[kind] = self.list_calls.get(kind, 0) + 1
        ids = sorted(
            item_id
            for (a, k, item_id) in self.items
            if a == account and k == kind and item_id.startswith(prefix)
        )
        return _page([self.items[(account, kind, i)] for i in ids], ids, limit, cursor)

    def _current(self, account: str, kind: CatalogKind, item_id: str, if_match: str | None) -> Stored:
        current = self.get(account, kind, item_id)
        if if_match is not None and if_match != current.etag:
            raise PreconditionFailedError(kind, item_id, if_match, current.etag)
        return current

    def replace(
        self, account: str, kind: CatalogKind, item_id: str, body: Mapping[str, Any], *, if_match: str | None
    ) -> Stored:
        current = self._current(account, kind, item_id, if_match)
        key = (account, kind, item_id)
        self._revisions[key] += 1
        stored = replace(current, body=dict(body), etag=self._etag(key, body), updated_at=self._clock())
        self.items[key] = stored
        return stored

    def delete(self, account: str, kind: CatalogKind, item_id: str, *, if_match: str | None) -> None:
        self._current(account, kind, item_id, if_match)
        del self.items[(account, kind, item_id)]

    def meters_by_external_id(self, account: str, external_ids: Sequence[str]) -> Mapping[str, str]:
        wanted = set(external_ids)
        return {
            stored.body["external_id"]: item_id
            for (a, kind, item_id), stored in self.items.items()
            if a == account and kind == "meter" and stored.body.get("external_id") in wanted
        }

    def assignments_of(
        self, account: str, *, customer_id: str | None = None, meter_id: str | None = None
    ) -> Sequence[Stored]:
        if (customer_id is None) == (meter_id is None):
            raise ValueError("assignments_of: give exactly one of customer_id and meter_id")
        self.assignment_queries += 1
        field, value = ("customer_id", customer_id) if customer_id is not None else ("meter_id", meter_id)
        return [
            stored
            for (a, kind, _), stored in sorted(self.items.items())
            if a == account and kind == "assignment" and stored.body.get(field) == value
        ]
