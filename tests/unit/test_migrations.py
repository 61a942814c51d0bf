"""``services.migrations``: an account stored before accounts were listed is billed once the migration has
put it into the listing; a second run fixes nothing; an unknown migration is refused naming it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from meterbill.errors import InvalidInputError
from meterbill.ports import AccountRecord
from meterbill.services import billrun, migrations
from tests.fakes import FakeStores

CREATED = datetime(2026, 1, 5, tzinfo=UTC)


def test_accounts_listing_puts_accounts_stored_before_the_listing_into_it() -> None:
    stores = FakeStores.empty()
    for account_id in ("acme", "old-1", "old-2"):
        stores.accounts.create(AccountRecord(account_id, account_id.title(), CREATED, {}))
    stores.accounts.unlisted = {"old-1", "old-2"}  # written before the account item carried account_pk
    assert [a.account_id for a in billrun.accounts(stores.ports())] == ["acme"]

    first = migrations.run("accounts-listing", stores.ports())
    again = migrations.run("accounts-listing", stores.ports())

    assert (first, again) == (
        migrations.MigrationReport("accounts-listing", 2),
        migrations.MigrationReport("accounts-listing", 0),
    )
    assert [a.account_id for a in billrun.accounts(stores.ports())] == ["acme", "old-1", "old-2"]


def test_an_unknown_migration_is_refused_naming_it() -> None:
    with pytest.raises(InvalidInputError) as raised:
        migrations.run("accounts", FakeStores.empty().ports())
    assert (raised.value.field, raised.value.reason) == (
        "migration",
        "'accounts' is not one of accounts-listing",
    )
