"""pynamodb models of the catalog table's items, and binding them to one ``DynamoDb``.

The classes here have no table: ``bind`` makes a subclass per settings whose Meta names the table and whose
connection is the shared one (pynamodb caches a connection per model class, so one class per settings keeps
two settings in one process, e.g. two tests, from crossing).
"""

from __future__ import annotations

from typing import TypeVar, cast

from pynamodb.attributes import (
    BinaryAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.models import Model

from meterbill.adapters.dynamodb.connection import DynamoDb

ItemModel = TypeVar("ItemModel", bound=Model)


class CatalogTableItem(Model):
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)


class AccountItem(CatalogTableItem):
    """pk ``account#<account>``, sk ``account``; listed (the bill run visits every account) through the
    index on account_pk and account_sk: ``accounts`` and the account id."""

    account_pk = UnicodeAttribute(null=True)  # "accounts" (absent on items written before the listing)
    account_sk = UnicodeAttribute(null=True)  # <account id>
    name = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    settings = UnicodeAttribute()  # exact JSON (see exact_json)
    settings_etag = UnicodeAttribute(null=True)  # none until the settings are first replaced
    settings_updated_at = UTCDateTimeAttribute(null=True)


class LogoItem(CatalogTableItem):
    """pk ``account#<account>``, sk ``logo``: the account's logo, apart from the account item so that reading
    the settings never reads its bytes (at most 256 KB: one item holds 400 KB)."""

    image_type = UnicodeAttribute()
    data = BinaryAttribute(legacy_encoding=False)
    width = UnicodeAttribute()  # pixels, as text: pynamodb numbers come back as floats
    height = UnicodeAttribute()
    sha256 = UnicodeAttribute()
    updated_at = UTCDateTimeAttribute()


class CatalogObjectItem(CatalogTableItem):
    """pk ``account#<account>#<kind>``, sk ``<item id>``."""

    body = UnicodeAttribute()  # exact JSON (see exact_json)
    etag = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()


class ExternalIdItem(CatalogTableItem):
    """pk ``account#<account>#meter-external-id``, sk ``<external id>``: the external id's one meter."""

    meter_id = UnicodeAttribute()


class ApiKeyItem(CatalogTableItem):
    """pk ``api-key#<key id>``, sk ``api-key``; listed per account through the index on account_pk and
    account_sk."""

    account_pk = UnicodeAttribute()  # account#<account>#api-key
    account_sk = UnicodeAttribute()  # <key id>
    account = UnicodeAttribute()
    name = UnicodeAttribute()
    scopes = UnicodeSetAttribute(null=True)  # DynamoDB has no empty set: no scopes, no attribute
    salt = BinaryAttribute(legacy_encoding=False)
    digest = BinaryAttribute(legacy_encoding=False)
    created_at = UTCDateTimeAttribute()
    revoked_at = UTCDateTimeAttribute(null=True)


class SessionItem(CatalogTableItem):
    """pk ``session#<SHA-256 of the session id, hex>``, sk ``session``: a console session (never its id or
    CSRF token, only their hashes). ``ttl`` (epoch seconds of ``expires_at``) is the table's TTL attribute:
    DynamoDB deletes the item some time after it expires."""

    account = UnicodeAttribute()
    key_id = UnicodeAttribute()
    scope = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    expires_at = UTCDateTimeAttribute()
    csrf_token_hash = BinaryAttribute(legacy_encoding=False)
    ttl = NumberAttribute()


def bind(model: type[ItemModel], db: DynamoDb) -> type[ItemModel]:
    """A subclass of ``model`` on the catalog table of ``db``, using its shared connection."""
    settings = db.settings
    meta = type(
        "Meta",
        (),
        {
            "table_name": settings.catalog_table,
            "region": settings.region,
            "host": settings.endpoint_url,
            "max_retry_attempts": 0,
        },
    )
    bound = cast(
        type[ItemModel], type(model.__name__, (model,), {"Meta": meta, "__module__": model.__module__})
    )
    bound._connection = db.catalog_table
    return bound
