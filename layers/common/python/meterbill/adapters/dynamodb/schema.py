"""The two tables: their keys, their index, and how each key is spelled. Plain data and string helpers only
(no AWS imports), so the infrastructure code can build the same tables from these definitions.

See ``docs/storage.md`` for the access patterns, item shapes and the cost reasoning.
"""

from __future__ import annotations

import zlib
from typing import Any, Final

from meterbill.errors import InvalidInputError
from meterbill.ports import CatalogKind

# --- catalog table: accounts, catalog objects, external-id claims, API keys -------------------------------

CATALOG_HASH_KEY: Final = "pk"
CATALOG_RANGE_KEY: Final = "sk"
# API keys are stored under their key id (the authorizer's lookup); this index lists them per account.
KEYS_BY_ACCOUNT_INDEX: Final = "api-keys-by-account"
KEYS_BY_ACCOUNT_HASH_KEY: Final = "account_pk"
KEYS_BY_ACCOUNT_RANGE_KEY: Final = "account_sk"

# The table's TTL attribute (epoch seconds): items that set it vanish some time after (console sessions).
CATALOG_TTL_ATTRIBUTE: Final = "ttl"

ACCOUNT_SK: Final = "account"
# Every account item also sets account_pk to this, so one query of the index lists the accounts in id order.
ACCOUNTS_LISTING_PK: Final = "accounts"
API_KEY_SK: Final = "api-key"
LOGO_SK: Final = (
    "logo"  # beside the account item: the account's logo (its bytes stay out of the account read)
)
EXTERNAL_ID_KIND: Final = "meter-external-id"

# --- readings table: one item per meter, series and bucket of time ----------------------------------------

READINGS_HASH_KEY: Final = "series"
READINGS_RANGE_KEY: Final = "bucket"

SEPARATOR: Final = "#"
# Rating marks (``ReadingStore.pending_marks``): ``RATING_MARK_SHARDS`` partitions of the catalog table,
# ``rating-marks#<n>``, n a stable hash of (account, meter) (``rating_mark_shard``); an item per account,
# meter and UTC day, sort key ``<account>#<meter id>#<YYYY-MM-DD>``. A meter's marks all live in one shard.
RATING_MARKS_PK: Final = "rating-marks"
RATING_MARK_SHARDS: Final = 16
RATING_MARK_CHANGES: Final = "changes"


def catalog_table_definition(table_name: str) -> dict[str, Any]:
    """The catalog table as DynamoDB describes it (``DescribeTable``'s ``Table`` shape, on-demand billing)."""
    return {
        "TableName": table_name,
        "KeySchema": [
            {"AttributeName": CATALOG_HASH_KEY, "KeyType": "HASH"},
            {"AttributeName": CATALOG_RANGE_KEY, "KeyType": "RANGE"},
        ],
        "AttributeDefinitions": [
            {"AttributeName": name, "AttributeType": "S"}
            for name in (
                CATALOG_HASH_KEY,
                CATALOG_RANGE_KEY,
                KEYS_BY_ACCOUNT_HASH_KEY,
                KEYS_BY_ACCOUNT_RANGE_KEY,
                INVOICES_BY_ISSUE_MONTH_HASH_KEY,
                INVOICES_BY_ISSUE_MONTH_RANGE_KEY,
            )
        ],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": KEYS_BY_ACCOUNT_INDEX,
                "KeySchema": [
                    {"AttributeName": KEYS_BY_ACCOUNT_HASH_KEY, "KeyType": "HASH"},
                    {"AttributeName": KEYS_BY_ACCOUNT_RANGE_KEY, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            },
            {
                "IndexName": INVOICES_BY_ISSUE_MONTH_INDEX,
                "KeySchema": [
                    {"AttributeName": INVOICES_BY_ISSUE_MONTH_HASH_KEY, "KeyType": "HASH"},
                    {"AttributeName": INVOICES_BY_ISSUE_MONTH_RANGE_KEY, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            },
        ],
        "BillingMode": "PAY_PER_REQUEST",
    }


def readings_table_definition(table_name: str) -> dict[str, Any]:
    return {
        "TableName": table_name,
        "KeySchema": [
            {"AttributeName": READINGS_HASH_KEY, "KeyType": "HASH"},
            {"AttributeName": READINGS_RANGE_KEY, "KeyType": "RANGE"},
        ],
        "AttributeDefinitions": [
            {"AttributeName": name, "AttributeType": "S"} for name in (READINGS_HASH_KEY, READINGS_RANGE_KEY)
        ],
        "BillingMode": "PAY_PER_REQUEST",
    }


def key_part(value: str, field: str) -> str:
    """An id that becomes part of a composite key: non-empty and without the separator, so two different ids
    can never spell the same key."""
    if not value or SEPARATOR in value:
        raise InvalidInputError(field, f"must be non-empty and must not contain {SEPARATOR!r}")
    return value


def range_key(value: str, field: str) -> str:
    """An id used whole as a sort key: anything but empty (DynamoDB refuses empty key strings)."""
    if not value:
        raise InvalidInputError(field, "must not be empty")
    return value


def account_pk(account: str) -> str:
    return f"account{SEPARATOR}{key_part(account, 'account')}"


def catalog_pk(account: str, kind: CatalogKind) -> str:
    return f"{account_pk(account)}{SEPARATOR}{kind}"


# An assignment's two item collections (copies of its item, written in the same transaction): one per customer
# and one per meter, so the bill run reads a customer's assignments and the catalog a meter's with one Query.
ASSIGNMENTS_BY_CUSTOMER_KIND: Final = "assignment-by-customer"
ASSIGNMENTS_BY_METER_KIND: Final = "assignment-by-meter"


def assignments_of_customer_pk(account: str, customer_id: str) -> str:
    customer = key_part(customer_id, "customer_id")
    return f"{account_pk(account)}{SEPARATOR}{ASSIGNMENTS_BY_CUSTOMER_KIND}{SEPARATOR}{customer}"


def assignments_of_meter_pk(account: str, meter_id: str) -> str:
    meter = key_part(meter_id, "meter_id")
    return f"{account_pk(account)}{SEPARATOR}{ASSIGNMENTS_BY_METER_KIND}{SEPARATOR}{meter}"


def external_id_pk(account: str) -> str:
    return f"{account_pk(account)}{SEPARATOR}{EXTERNAL_ID_KIND}"


def api_key_pk(key_id: str) -> str:
    return f"api-key{SEPARATOR}{key_part(key_id, 'key_id')}"


SESSION_SK: Final = "session"


def session_pk(id_hash: bytes) -> str:
    """A console session's item, by the SHA-256 of its id (hex)."""
    return f"session{SEPARATOR}{id_hash.hex()}"


def api_keys_of_account_pk(account: str) -> str:
    return f"{account_pk(account)}{SEPARATOR}api-key"


def series_pk(account: str, meter_id: str) -> str:
    return f"{key_part(account, 'account')}{SEPARATOR}{key_part(meter_id, 'meter_id')}"


def rating_mark_shard(account: str, meter_id: str) -> int:
    """The shard of a meter's marks: CRC-32 of ``<account>#<meter id>`` modulo ``RATING_MARK_SHARDS`` (stable
    across processes and releases, unlike ``hash``; changing the count strands the marks already written)."""
    return zlib.crc32(series_pk(account, meter_id).encode()) % RATING_MARK_SHARDS


def rating_marks_pk(shard: int) -> str:
    return f"{RATING_MARKS_PK}{SEPARATOR}{shard}"


def rating_mark_sk(account: str, meter_id: str, day: str) -> str:
    return f"{key_part(account, 'account')}{SEPARATOR}{key_part(meter_id, 'meter_id')}{SEPARATOR}{day}"


# --- invoices (catalog table) -----------------------------------------------------------------------------
# An invoice: pk account#<account>#invoice, sk <invoice id>; listed per customer through the index on
# account_pk/account_sk (shared with the API keys: each item sets the pair for its own listing).
# An issued document also sets issued_pk/issued_sk, which put it in the sparse index of the documents issued
# in a month (the accounting export): issued_pk account#<account>#invoice#issued#<YYYY-MM>, issued_sk the
# issue time in UTC and the invoice id. Drafts and void invoices are not in it.
INVOICES_BY_ISSUE_MONTH_INDEX: Final = "invoices-by-issue-month"
INVOICES_BY_ISSUE_MONTH_HASH_KEY: Final = "issued_pk"
INVOICES_BY_ISSUE_MONTH_RANGE_KEY: Final = "issued_sk"


def invoices_pk(account: str) -> str:
    return f"{account_pk(account)}{SEPARATOR}invoice"


def invoices_of_customer_pk(account: str, customer_id: str) -> str:
    """The index partition of a customer's invoices."""
    return f"{invoices_pk(account)}{SEPARATOR}customer{SEPARATOR}{key_part(customer_id, 'customer_id')}"


def invoices_issued_in_pk(account: str, year: int, month: int) -> str:
    """The issue-month index partition of the documents issued in the month (of their ``issued_at`` as it
    was given, with its offset)."""
    return f"{invoices_pk(account)}{SEPARATOR}issued{SEPARATOR}{year:04d}-{month:02d}"


def invoice_counter_pk(account: str) -> str:
    """Counters, one item per numbering series (sk = series): the last sequence issued."""
    return f"{account_pk(account)}{SEPARATOR}invoice-counter"


def invoice_numbers_pk(account: str) -> str:
    """One item per number ever issued (sk = <series>#<sequence, 12 digits>): the register of numbers."""
    return f"{account_pk(account)}{SEPARATOR}invoice-number"


def invoice_reratings_pk(account: str) -> str:
    """Re-rating candidates (sk = <invoice id>#<meter id>#<start>#<end>)."""
    return f"{account_pk(account)}{SEPARATOR}invoice-rerating"


# --- alerts (catalog table; see adapters/dynamodb/alerts.py and docs/storage.md, "Alerts") -----------------
# pk account#<account>#alert holds the lifecycle's state: sk "book" (outbox, unsent notifications), the parts
# of a large unsent blob "book#<generation>#<n>", the open alerts "open#<alert id>" and the resolved ones
# "resolved#<alert id>". Everything sorting before "resolved#" is what load_book reads: one Query.
# Every alert also sets account_pk (alerts_listing_pk) and account_sk (<first_seen UTC>#<alert id>): the
# shared index lists an account's alerts newest first.
ALERT_BOOK_SK: Final = "book"
ALERT_OPEN_PREFIX: Final = f"open{SEPARATOR}"
ALERT_RESOLVED_PREFIX: Final = f"resolved{SEPARATOR}"
ALERT_LEASE_SK: Final = "lease"
ALERT_RULES_SK: Final = "rules"


def alerts_pk(account: str) -> str:
    return f"{account_pk(account)}{SEPARATOR}alert"


def alert_sk(alert_id: str, *, is_open: bool) -> str:
    prefix = ALERT_OPEN_PREFIX if is_open else ALERT_RESOLVED_PREFIX
    return f"{prefix}{range_key(alert_id, 'alert_id')}"


def alert_book_part_sk(generation: str, part: int) -> str:
    return f"{ALERT_BOOK_SK}{SEPARATOR}{generation}{SEPARATOR}{part:04d}"


def alerts_listing_pk(account: str) -> str:
    """The index partition (``account_pk``) of the account's alerts, sorted by ``account_sk``."""
    return f"{alerts_pk(account)}{SEPARATOR}listing"


def alert_lease_pk(account: str) -> str:
    return f"{account_pk(account)}{SEPARATOR}alert-lease"


def alert_rules_pk(account: str) -> str:
    return f"{account_pk(account)}{SEPARATOR}alert-rules"


def alert_silences_pk(account: str) -> str:
    """One item per silence, sk its id."""
    return f"{account_pk(account)}{SEPARATOR}alert-silence"


def collector_heartbeats_pk(account: str) -> str:
    """One item per collector (its latest heartbeat), sk the collector id."""
    return f"{account_pk(account)}{SEPARATOR}collector-heartbeat"


def alert_subscriptions_pk(account: str) -> str:
    """One item per email subscription, sk its id."""
    return f"{account_pk(account)}{SEPARATOR}alert-subscription"
