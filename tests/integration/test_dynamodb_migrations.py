"""``meterbill migrate accounts-listing`` on DynamoDB (moto): an account item written before accounts were
listed (no ``account_pk``/``account_sk``) gains the listing pair and is listed; items already listed, and a
catalog object whose id happens to be ``account``, are not written; a second run fixes 0."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from meterbill.adapters.dynamodb import keys
from meterbill.ports import AccountRecord, Stores
from meterbill.services import billrun, migrations
from tests.integration.conftest import CATALOG_TABLE, Tables

OLD_ACCOUNT_ITEM = {  # as the code before the account listing wrote it
    "pk": {"S": "account#old"},
    "sk": {"S": "account"},
    "name": {"S": "Old Power"},
    "created_at": {"S": "2025-11-03T08:00:00.000000+0000"},
    "settings": {"S": '{"billing":{"bill_day":5}}'},
}
METER_NAMED_ACCOUNT = {
    "pk": {"S": "account#acme#meter"},
    "sk": {"S": "account"},
    "body": {"S": "{}"},
    "etag": {"S": "e"},
    "created_at": {"S": "2026-01-05T00:00:00.000000+0000"},
    "updated_at": {"S": "2026-01-05T00:00:00.000000+0000"},
}


@pytest.mark.parametrize("scan_page", [1000, 1], ids=["one-scan-page", "a-page-per-item"])
def test_accounts_listing_gives_an_old_account_item_the_listing_and_a_second_run_fixes_none(
    stores: Stores, tables: Tables, monkeypatch: pytest.MonkeyPatch, scan_page: int
) -> None:
    monkeypatch.setattr(keys, "SCAN_PAGE", scan_page)
    stores.accounts.create(AccountRecord("acme", "Acme", datetime(2026, 1, 5, tzinfo=UTC), {}))
    for item in (OLD_ACCOUNT_ITEM, METER_NAMED_ACCOUNT):
        tables.client.put_item(TableName=CATALOG_TABLE, Item=item)
    acme_before = tables.catalog("account#acme", "account")
    assert [a.account_id for a in billrun.accounts(stores)] == ["acme"]

    first = migrations.run("accounts-listing", stores)
    again = migrations.run("accounts-listing", stores)

    assert (first.fixed, again.fixed) == (1, 0)
    assert tables.catalog("account#old", "account") == {
        **OLD_ACCOUNT_ITEM,
        "account_pk": {"S": "accounts"},
        "account_sk": {"S": "old"},
    }
    assert tables.catalog("account#acme", "account") == acme_before
    assert tables.catalog("account#acme#meter", "account") == METER_NAMED_ACCOUNT
    assert [(a.account_id, a.name, a.settings) for a in billrun.accounts(stores)] == [
        ("acme", "Acme", {}),
        ("old", "Old Power", {"billing": {"bill_day": 5}}),
    ]
