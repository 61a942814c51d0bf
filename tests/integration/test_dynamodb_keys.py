"""KeyStore and AccountStore on DynamoDB (moto): the stored items, lookups by key id, listings per account."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from meterbill.errors import AlreadyExistsError, InvalidInputError, NotFoundError, StorageUnavailableError
from meterbill.ports import AccountRecord, ApiKeyRecord, Scope, Stores
from tests.integration.conftest import Faults, Tables

CREATED = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def api_key(key_id: str, account: str = "acme", *scopes: Scope, name: str = "collector") -> ApiKeyRecord:
    return ApiKeyRecord(
        key_id=key_id,
        account=account,
        name=name,
        scopes=frozenset(scopes or ("ingest",)),
        salt=b"\x00salt\xff",
        digest=bytes(range(32)),
        created_at=CREATED,
    )


# --- API keys -----------------------------------------------------------------------------------------------


def test_put_stores_the_key_under_its_id_with_the_account_index_attributes(
    stores: Stores, tables: Tables
) -> None:
    stores.keys.put(api_key("key-1", "acme", "admin", "read"))

    item = tables.catalog("api-key#key-1", "api-key")
    assert item is not None
    item["scopes"]["SS"].sort()  # a set: DynamoDB keeps no order
    assert item == {
        "pk": {"S": "api-key#key-1"},
        "sk": {"S": "api-key"},
        "account_pk": {"S": "account#acme#api-key"},
        "account_sk": {"S": "key-1"},
        "account": {"S": "acme"},
        "name": {"S": "collector"},
        "scopes": {"SS": ["admin", "read"]},
        "salt": {"B": b"\x00salt\xff"},
        "digest": {"B": bytes(range(32))},
        "created_at": {"S": "2026-03-01T09:00:00.000000+0000"},
    }


def test_get_finds_a_key_by_its_id_alone(stores: Stores) -> None:
    stores.keys.put(api_key("key-1", "acme", "admin", "read"))

    assert stores.keys.get("key-1") == api_key("key-1", "acme", "admin", "read")


def test_get_of_an_unknown_or_malformed_key_id_is_none(stores: Stores) -> None:
    stores.keys.put(api_key("key-1"))

    assert [stores.keys.get(key_id) for key_id in ("key-2", "", "key-1#x", "api-key")] == [None] * 4


def test_a_key_id_that_is_taken_is_never_overwritten_not_even_by_another_account(
    stores: Stores, tables: Tables
) -> None:
    stores.keys.put(api_key("key-1", "acme", "admin"))

    with pytest.raises(AlreadyExistsError) as raised:
        stores.keys.put(api_key("key-1", "globex", "admin"))

    assert (raised.value.kind, raised.value.item_id) == ("api key", "key-1")
    assert tables.catalog("api-key#key-1", "api-key")["account"] == {"S": "acme"}  # type: ignore[index]


def test_list_shows_only_this_accounts_keys_two_at_a_time_in_key_id_order(stores: Stores) -> None:
    for key_id in ("k-c", "k-a", "k-e", "k-b", "k-d"):
        stores.keys.put(api_key(key_id, "acme"))
    stores.keys.put(api_key("k-0", "globex"))

    pages = []
    cursor = None
    while True:
        page = stores.keys.list("acme", limit=2, cursor=cursor)
        pages.append([record.key_id for record in page.items])
        if page.cursor is None:
            break
        cursor = page.cursor

    assert pages == [["k-a", "k-b"], ["k-c", "k-d"], ["k-e"]]
    assert [record.key_id for record in stores.keys.list("globex", limit=10).items] == ["k-0"]


def test_a_key_listing_cursor_of_another_account_or_tampered_is_invalid_input(stores: Stores) -> None:
    for account in ("acme", "globex"):
        for key_id in ("a", "b", "c"):
            stores.keys.put(api_key(f"{account}-{key_id}", account))
    globex_cursor = stores.keys.list("globex", limit=1).cursor
    acme_cursor = stores.keys.list("acme", limit=1).cursor
    assert globex_cursor is not None and acme_cursor is not None

    for cursor in (globex_cursor, acme_cursor[:-4], "e30", acme_cursor.replace("a", "b", 1)):
        with pytest.raises(InvalidInputError) as raised:
            stores.keys.list("acme", limit=5, cursor=cursor)
        assert raised.value.field == "cursor"


def test_revoke_sets_revoked_at_and_the_first_revocation_stays(stores: Stores, tables: Tables) -> None:
    stores.keys.put(api_key("key-1"))
    revoked_at = CREATED + timedelta(days=3)

    first = stores.keys.revoke("acme", "key-1", revoked_at)
    again = stores.keys.revoke("acme", "key-1", revoked_at + timedelta(days=1))

    assert first.revoked_at == again.revoked_at == revoked_at
    assert tables.catalog("api-key#key-1", "api-key")["revoked_at"] == {  # type: ignore[index]
        "S": "2026-03-04T09:00:00.000000+0000"
    }
    assert stores.keys.get("key-1") == first


def test_revoking_another_accounts_key_or_an_unknown_key_is_not_found_and_changes_nothing(
    stores: Stores, tables: Tables
) -> None:
    stores.keys.put(api_key("key-1", "acme"))

    for account, key_id in (("globex", "key-1"), ("acme", "key-2"), ("acme", "key#1")):
        with pytest.raises(NotFoundError):
            stores.keys.revoke(account, key_id, CREATED)

    assert "revoked_at" not in tables.catalog("api-key#key-1", "api-key")  # type: ignore[operator]
    assert tables.catalog("api-key#key-2", "api-key") is None


def test_a_key_without_scopes_is_stored_without_the_attribute(stores: Stores, tables: Tables) -> None:
    record = ApiKeyRecord("key-1", "acme", "none", frozenset(), b"s", b"d", CREATED)

    stores.keys.put(record)

    assert "scopes" not in tables.catalog("api-key#key-1", "api-key")  # type: ignore[operator]
    assert stores.keys.get("key-1") == record


def test_a_throttled_key_lookup_is_retried(stores: Stores, faults: Faults, sleeps: list[float]) -> None:
    stores.keys.put(api_key("key-1"))
    faults.refuse("GetItem", "ProvisionedThroughputExceededException", when=lambda call: call == 1)

    assert stores.keys.get("key-1") == api_key("key-1")
    assert sleeps == [0.025]


def test_a_lookup_that_never_gets_through_is_storage_unavailable(stores: Stores, faults: Faults) -> None:
    faults.refuse("GetItem", "ServiceUnavailable", when=lambda call: True)

    with pytest.raises(StorageUnavailableError, match="reading API key: still failing after 6 attempts"):
        stores.keys.get("key-1")


# --- accounts -----------------------------------------------------------------------------------------------


def test_create_account_stores_one_item_with_exact_settings(stores: Stores, tables: Tables) -> None:
    stores.accounts.create(
        AccountRecord("acme", "Acme Power", CREATED, {"currency": "EUR", "vat": Decimal("0.19")})
    )

    assert tables.catalog("account#acme", "account") == {
        "pk": {"S": "account#acme"},
        "sk": {"S": "account"},
        "account_pk": {"S": "accounts"},  # the listing of every account (the bill run's)
        "account_sk": {"S": "acme"},
        "name": {"S": "Acme Power"},
        "created_at": {"S": "2026-03-01T09:00:00.000000+0000"},
        "settings": {"S": '{"currency":"EUR","vat":0.19}'},
    }
    assert stores.accounts.get("acme") == AccountRecord(
        "acme", "Acme Power", CREATED, {"currency": "EUR", "vat": Decimal("0.19")}
    )


def test_creating_an_account_twice_is_already_exists_and_keeps_the_first(stores: Stores) -> None:
    stores.accounts.create(AccountRecord("acme", "Acme Power", CREATED))

    with pytest.raises(AlreadyExistsError):
        stores.accounts.create(AccountRecord("acme", "Impostor", CREATED))

    assert stores.accounts.get("acme").name == "Acme Power"


def test_an_unknown_account_is_not_found(stores: Stores) -> None:
    with pytest.raises(NotFoundError) as raised:
        stores.accounts.get("nobody")
    assert (raised.value.kind, raised.value.item_id) == ("account", "nobody")


def test_accounts_are_listed_in_id_order_page_by_page_and_api_keys_are_not_among_them(stores: Stores) -> None:
    for account_id in ("zeta", "acme", "mid"):
        stores.accounts.create(AccountRecord(account_id, account_id.title(), CREATED))
    stores.keys.put(ApiKeyRecord("k1", "acme", "ci", frozenset({"read"}), b"salt", b"digest", CREATED))

    first = stores.accounts.list(limit=2)
    second = stores.accounts.list(limit=2, cursor=first.cursor)

    assert [a.account_id for a in first.items] == ["acme", "mid"]
    assert [(a.account_id, a.name) for a in second.items] == [("zeta", "Zeta")]
    assert second.cursor is None
    assert stores.accounts.list(limit=5).items[0] == stores.accounts.get("acme")


def test_an_api_key_cursor_does_not_page_the_accounts(stores: Stores) -> None:
    for key_id in ("k1", "k2"):
        stores.keys.put(ApiKeyRecord(key_id, "acme", "ci", frozenset({"read"}), b"s", b"d", CREATED))
    stores.accounts.create(AccountRecord("acme", "Acme", CREATED))
    keys_cursor = stores.keys.list("acme", limit=1).cursor
    assert keys_cursor is not None

    with pytest.raises(InvalidInputError) as raised:
        stores.accounts.list(limit=1, cursor=keys_cursor)
    assert raised.value.field == "cursor"
