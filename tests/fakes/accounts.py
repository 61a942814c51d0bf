"""Accounts, their settings and logo, and API keys in dicts."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from meterbill.errors import (
    AlreadyExistsError,
    NotFoundError,
    PreconditionFailedError,
)
from meterbill.ports import (
    AccountLogo,
    AccountRecord,
    AccountStore,
    ApiKeyRecord,
    KeyStore,
    Page,
)
from tests.fakes.common import _page


class FakeKeyStore(KeyStore):
    """``records[key_id]`` holds every key of every account."""

    def __init__(self) -> None:
        self.records: dict[str, ApiKeyRecord] = {}

    def put(self, record: ApiKeyRecord) -> None:
        self.records[record.key_id] = record

    def get(self, key_id: str) -> ApiKeyRecord | None:
        return self.records.get(key_id)

    def list(self, account: str, *, limit: int, cursor: str | None = None) -> Page[ApiKeyRecord]:
        ids = sorted(key_id for key_id, record in self.records.items() if record.account == account)
        return _page([self.records[i] for i in ids], ids, limit, cursor)

    def revoke(self, account: str, key_id: str, at: datetime) -> ApiKeyRecord:
        record = self.records.get(key_id)
        if record is None or record.account != account:
            raise NotFoundError("api key", key_id)
        if record.revoked_at is None:  # revoking again keeps the first time
            record = replace(record, revoked_at=at)
            self.records[key_id] = record
        return record


class FakeAccountStore(AccountStore):
    """``unlisted`` holds the ids of accounts stored before accounts were listed: ``get`` finds them,
    ``list`` does not (until ``add_missing_to_listing``)."""

    def __init__(self) -> None:
        self.records: dict[str, AccountRecord] = {}
        self.unlisted: set[str] = set()
        self.settings_writes = 0
        self.logos: dict[str, AccountLogo] = {}

    def put_logo(self, account_id: str, logo: AccountLogo) -> None:
        self.get(account_id)
        self.logos[account_id] = logo

    def get_logo(self, account_id: str) -> AccountLogo | None:
        return self.logos.get(account_id)

    def create(self, record: AccountRecord) -> None:
        if record.account_id in self.records:
            raise AlreadyExistsError("account", record.account_id)
        self.records[record.account_id] = record

    def get(self, account_id: str) -> AccountRecord:
        try:
            return self.records[account_id]
        except KeyError:
            raise NotFoundError("account", account_id) from None

    def list(self, *, limit: int, cursor: str | None = None) -> Page[AccountRecord]:
        ids = sorted(set(self.records) - self.unlisted)
        return _page([self.records[i] for i in ids], ids, limit, cursor)

    def add_missing_to_listing(self) -> int:
        fixed = len(self.unlisted)
        self.unlisted.clear()
        return fixed

    def replace_settings(
        self, account_id: str, settings: Mapping[str, Any], *, if_match: str | None, at: datetime
    ) -> AccountRecord:
        """The new ETag hashes the settings and the count of writes: deterministic, never repeated."""
        current = self.get(account_id)
        if if_match is not None and if_match != current.settings_etag:
            raise PreconditionFailedError("settings", account_id, if_match, current.settings_etag)
        self.settings_writes += 1
        text = json.dumps([self.settings_writes, settings], sort_keys=True, default=str)
        etag = hashlib.sha256(text.encode()).hexdigest()[:16]
        updated = replace(current, settings=dict(settings), settings_etag=etag, settings_updated_at=at)
        self.records[account_id] = updated
        return updated
