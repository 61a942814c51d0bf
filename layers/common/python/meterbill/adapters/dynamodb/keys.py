"""KeyStore and AccountStore on the catalog table.

An API key is one item under its key id, so the authorizer finds it with one strongly consistent GetItem (a
revocation holds from the next request on); the index ``api-keys-by-account`` lists an account's keys (an
index is read eventually consistent: a key created a moment ago may list a moment later).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from functools import partial
from typing import Any, Final, cast

from pynamodb.exceptions import PynamoDBException
from pynamodb.expressions.update import Action

from meterbill.adapters.dynamodb import cursor as cursors
from meterbill.adapters.dynamodb import exact_json
from meterbill.adapters.dynamodb.catalog import random_etag
from meterbill.adapters.dynamodb.connection import DynamoDb, response_code
from meterbill.adapters.dynamodb.items import AccountItem, ApiKeyItem, LogoItem, bind
from meterbill.adapters.dynamodb.paging import query_page
from meterbill.adapters.dynamodb.schema import (
    ACCOUNT_SK,
    ACCOUNTS_LISTING_PK,
    API_KEY_SK,
    CATALOG_HASH_KEY,
    CATALOG_RANGE_KEY,
    KEYS_BY_ACCOUNT_HASH_KEY,
    KEYS_BY_ACCOUNT_INDEX,
    KEYS_BY_ACCOUNT_RANGE_KEY,
    LOGO_SK,
    SEPARATOR,
    account_pk,
    api_key_pk,
    api_keys_of_account_pk,
    key_part,
)
from meterbill.errors import AlreadyExistsError, NotFoundError, PreconditionFailedError
from meterbill.ports import (
    INITIAL_SETTINGS_ETAG,
    AccountLogo,
    AccountRecord,
    AccountStore,
    ApiKeyRecord,
    KeyStore,
    Page,
    Scope,
)

CONDITION_FAILED: Final = "ConditionalCheckFailedException"
SCAN_PAGE: Final = 1000  # items a Scan call reads (its 1 MB page may end it sooner)


class DynamoDbKeyStore(KeyStore):
    def __init__(self, db: DynamoDb) -> None:
        self._db = db
        self._keys = bind(ApiKeyItem, db)

    def put(self, record: ApiKeyRecord) -> None:
        """Stores a new key; a key id that is taken (by any account) raises AlreadyExistsError, never
        overwrites."""
        item = self._keys(
            api_key_pk(record.key_id),
            API_KEY_SK,
            account_pk=api_keys_of_account_pk(record.account),
            account_sk=record.key_id,
            account=record.account,
            name=record.name,
            scopes=set(record.scopes) or None,
            salt=record.salt,
            digest=record.digest,
            created_at=record.created_at,
            revoked_at=record.revoked_at,
        )
        try:
            self._db.run(
                partial(item.save, condition=self._keys.pk.does_not_exist()),
                what="storing API key",
                idempotent=False,
            )
        except PynamoDBException as error:
            if response_code(error) == CONDITION_FAILED:
                raise AlreadyExistsError("api key", record.key_id) from None
            raise

    def get(self, key_id: str) -> ApiKeyRecord | None:
        if not _is_key_id(key_id):
            return None  # not a key id this store ever stores
        answer = self._db.run(
            partial(self._db.catalog_table.get_item, api_key_pk(key_id), API_KEY_SK, consistent_read=True),
            what="reading API key",
            idempotent=True,
        )
        raw = answer.get("Item")
        return None if raw is None else _record(self._keys.from_raw_data(raw))

    def list(self, account: str, *, limit: int, cursor: str | None = None) -> Page[ApiKeyRecord]:
        listing_pk = api_keys_of_account_pk(account)
        start_key = None
        if cursor is not None:
            start_key = cursors.decode(
                cursor,
                checks={
                    KEYS_BY_ACCOUNT_HASH_KEY: lambda value: value == listing_pk,
                    KEYS_BY_ACCOUNT_RANGE_KEY: _is_key_id,
                    CATALOG_HASH_KEY: lambda value: True,  # checked against the key id below
                    CATALOG_RANGE_KEY: lambda value: value == API_KEY_SK,
                },
            )
            if start_key[CATALOG_HASH_KEY]["S"] != api_key_pk(start_key[KEYS_BY_ACCOUNT_RANGE_KEY]["S"]):
                raise cursors.not_of_this_listing()
        raw_items, next_cursor = query_page(
            self._db,
            listing_pk,
            index_name=KEYS_BY_ACCOUNT_INDEX,
            limit=limit,
            start_key=start_key,
            cursor_key_names=(
                CATALOG_HASH_KEY,
                CATALOG_RANGE_KEY,
                KEYS_BY_ACCOUNT_HASH_KEY,
                KEYS_BY_ACCOUNT_RANGE_KEY,
            ),
            what="listing API keys",
        )
        return Page([_record(self._keys.from_raw_data(raw)) for raw in raw_items], next_cursor)

    def revoke(self, account: str, key_id: str, at: datetime) -> ApiKeyRecord:
        """Sets ``revoked_at`` (the first revocation's time stays); a key of another account is not found."""
        if not _is_key_id(key_id):
            raise NotFoundError("api key", key_id)
        item = self._keys(api_key_pk(key_id), API_KEY_SK)
        condition = self._keys.pk.exists() & (self._keys.account == account)
        actions: list[Action] = [self._keys.revoked_at.set(self._keys.revoked_at | at)]
        try:
            self._db.run(partial(item.update, actions, condition), what="revoking API key", idempotent=True)
        except PynamoDBException as error:
            if response_code(error) == CONDITION_FAILED:
                raise NotFoundError("api key", key_id) from None
            raise
        return _record(item)


class DynamoDbAccountStore(AccountStore):
    """The account is one item; its settings are an exact-JSON attribute beside their ETag (absent until the
    first write: ``INITIAL_SETTINGS_ETAG``), replaced by one conditional UpdateItem."""

    def __init__(self, db: DynamoDb, *, new_etag: Callable[[], str] = random_etag) -> None:
        self._db = db
        self._accounts = bind(AccountItem, db)
        self._logos = bind(LogoItem, db)
        self._new_etag = new_etag

    def put_logo(self, account_id: str, logo: AccountLogo) -> None:
        self.get(account_id)  # NotFoundError; accounts are never deleted
        item = self._logos(
            account_pk(account_id),
            LOGO_SK,
            image_type=logo.image_type,
            data=logo.data,
            width=str(logo.width),
            height=str(logo.height),
            sha256=logo.sha256,
            updated_at=logo.updated_at,
        )
        self._db.run(item.save, what="storing the account's logo", idempotent=True)

    def get_logo(self, account_id: str) -> AccountLogo | None:
        answer = self._db.run(
            partial(self._db.catalog_table.get_item, account_pk(account_id), LOGO_SK, consistent_read=True),
            what="reading the account's logo",
            idempotent=True,
        )
        raw = answer.get("Item")
        if raw is None:
            return None
        item = self._logos.from_raw_data(raw)
        return AccountLogo(
            image_type=item.image_type,
            data=item.data,
            width=int(item.width),
            height=int(item.height),
            sha256=item.sha256,
            updated_at=item.updated_at,
        )

    def create(self, record: AccountRecord) -> None:
        item = self._accounts(
            account_pk(record.account_id),
            ACCOUNT_SK,
            account_pk=ACCOUNTS_LISTING_PK,
            account_sk=record.account_id,
            name=record.name,
            created_at=record.created_at,
            settings=exact_json.dumps(record.settings),
        )
        try:
            self._db.run(
                partial(item.save, condition=self._accounts.pk.does_not_exist()),
                what="creating account",
                idempotent=False,
            )
        except PynamoDBException as error:
            if response_code(error) == CONDITION_FAILED:
                raise AlreadyExistsError("account", record.account_id) from None
            raise

    def get(self, account_id: str) -> AccountRecord:
        answer = self._db.run(
            partial(
                self._db.catalog_table.get_item, account_pk(account_id), ACCOUNT_SK, consistent_read=True
            ),
            what="reading account",
            idempotent=True,
        )
        raw = answer.get("Item")
        if raw is None:
            raise NotFoundError("account", account_id)
        return _account(account_id, self._accounts.from_raw_data(raw))

    def replace_settings(
        self, account_id: str, settings: Mapping[str, Any], *, if_match: str | None, at: datetime
    ) -> AccountRecord:
        item = self._accounts(account_pk(account_id), ACCOUNT_SK)
        condition = self._accounts.pk.exists()
        if if_match == INITIAL_SETTINGS_ETAG:
            condition &= self._accounts.settings_etag.does_not_exist()
        elif if_match is not None:
            condition &= self._accounts.settings_etag == if_match
        actions: list[Action] = [
            self._accounts.settings.set(exact_json.dumps(settings)),
            self._accounts.settings_etag.set(self._new_etag()),
            self._accounts.settings_updated_at.set(at),
        ]
        try:
            self._db.run(
                partial(item.update, actions, condition), what="replacing account settings", idempotent=False
            )
        except PynamoDBException as error:
            if response_code(error) == CONDITION_FAILED:
                current = self.get(account_id)  # NotFoundError when the account is gone
                raise PreconditionFailedError(
                    "settings", account_id, str(if_match), current.settings_etag
                ) from None
            raise
        return _account(account_id, item)

    def list(self, *, limit: int, cursor: str | None = None) -> Page[AccountRecord]:
        """One query of the index partition ``accounts`` (sparse: only account items set it), in id order."""
        start_key = None
        if cursor is not None:
            start_key = cursors.decode(
                cursor,
                checks={
                    KEYS_BY_ACCOUNT_HASH_KEY: lambda value: value == ACCOUNTS_LISTING_PK,
                    KEYS_BY_ACCOUNT_RANGE_KEY: lambda value: bool(value),
                    CATALOG_HASH_KEY: lambda value: True,  # checked against the account id below
                    CATALOG_RANGE_KEY: lambda value: value == ACCOUNT_SK,
                },
            )
            if start_key[CATALOG_HASH_KEY]["S"] != account_pk(start_key[KEYS_BY_ACCOUNT_RANGE_KEY]["S"]):
                raise cursors.not_of_this_listing()
        raw_items, next_cursor = query_page(
            self._db,
            ACCOUNTS_LISTING_PK,
            index_name=KEYS_BY_ACCOUNT_INDEX,
            limit=limit,
            start_key=start_key,
            cursor_key_names=(
                CATALOG_HASH_KEY,
                CATALOG_RANGE_KEY,
                KEYS_BY_ACCOUNT_HASH_KEY,
                KEYS_BY_ACCOUNT_RANGE_KEY,
            ),
            what="listing accounts",
        )
        records = []
        for raw in raw_items:
            item = self._accounts.from_raw_data(raw)
            records.append(_account(item.account_sk or "", item))
        return Page(records, next_cursor)

    def add_missing_to_listing(self) -> int:
        """A Scan of the whole table for account items without ``account_pk`` (the only way to find items
        that are in no index: one-off, about 0.5 RRU per 4 KB of the table), then one conditional
        UpdateItem per item found that sets the listing pair (``attribute_not_exists(account_pk)``: a
        concurrent run or a new account is never written twice)."""
        found = self._accounts.sk == ACCOUNT_SK
        found &= self._accounts.account_pk.does_not_exist()
        fixed = 0
        start_key: cursors.StartKey | None = None
        while True:
            answer: Mapping[str, Any] = self._db.run(
                partial(
                    self._db.catalog_table.scan,
                    filter_condition=found,
                    exclusive_start_key=start_key,  # type: ignore[arg-type]  # a dict works (pynamodb)
                    consistent_read=True,
                    limit=SCAN_PAGE,
                ),
                what="scanning for unlisted accounts",
                idempotent=True,
            )
            for raw in answer.get("Items", []):
                pk = raw[CATALOG_HASH_KEY]["S"]
                prefix, _, account_id = pk.partition(SEPARATOR)
                if prefix != "account" or not _is_key_id(account_id):  # e.g. a catalog object "account"
                    continue
                fixed += self._list_account(account_id)
            start_key = answer.get("LastEvaluatedKey")
            if start_key is None:
                return fixed

    def _list_account(self, account_id: str) -> int:
        item = self._accounts(account_pk(account_id), ACCOUNT_SK)
        condition = self._accounts.pk.exists() & self._accounts.account_pk.does_not_exist()
        actions: list[Action] = [
            self._accounts.account_pk.set(ACCOUNTS_LISTING_PK),
            self._accounts.account_sk.set(account_id),
        ]
        try:
            self._db.run(partial(item.update, actions, condition), what="listing an account", idempotent=True)
        except PynamoDBException as error:
            if response_code(error) == CONDITION_FAILED:  # listed meanwhile (or deleted): nothing to do
                return 0
            raise
        return 1


def _account(account_id: str, item: AccountItem) -> AccountRecord:
    return AccountRecord(
        account_id=account_id,
        name=item.name,
        created_at=item.created_at,
        settings=exact_json.loads(item.settings),
        settings_etag=item.settings_etag or INITIAL_SETTINGS_ETAG,
        settings_updated_at=item.settings_updated_at,
    )


def _is_key_id(value: str) -> bool:
    return bool(value) and SEPARATOR not in value


def _record(item: ApiKeyItem) -> ApiKeyRecord:
    return ApiKeyRecord(
        key_id=key_part(item.account_sk, "key_id"),
        account=item.account,
        name=item.name,
        scopes=frozenset(cast(set[Scope], item.scopes or set())),
        salt=item.salt,
        digest=item.digest,
        created_at=item.created_at,
        revoked_at=item.revoked_at,
    )
