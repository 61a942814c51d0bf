"""Reading and replacing an account's billing settings on the fake account store: the defaults until the first
write, a replacement validated whole, If-Match, and the account's other settings kept."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from meterbill.billing_settings import BillingSettings
from meterbill.errors import (
    InvalidInputError,
    NotFoundError,
    PreconditionFailedError,
    StorageUnavailableError,
)
from meterbill.ports import INITIAL_SETTINGS_ETAG, AccountRecord
from meterbill.services import billing_settings
from tests.fakes import FakeAccountStore

A = "acme"
CREATED = datetime(2026, 1, 1, tzinfo=UTC)
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
HPO = {
    "bill_day": 5,
    "invoice_number_prefix": "HPO-2026-",
    "credit_note_number_prefix": "HPO-CN-",
    "seller": {
        "legal_name": "Hausverwaltung Ost GmbH",
        "address": {"lines": ["Hauptstraße 1"], "city": "Berlin", "country": "DE"},
        "bank_account": {"iban": "DE89370400440532013000"},
    },
}


@pytest.fixture
def accounts() -> FakeAccountStore:
    store = FakeAccountStore()
    store.create(AccountRecord(A, "Acme", CREATED, {"alerts": {"email": "ops@acme.example"}}))
    return store


def test_an_account_that_never_wrote_its_settings_reads_the_defaults(accounts: FakeAccountStore) -> None:
    entry = billing_settings.get(A, accounts)

    assert (entry.value, entry.etag, entry.updated_at) == (BillingSettings(), INITIAL_SETTINGS_ETAG, None)


def test_replacing_stores_the_settings_whole_beside_the_accounts_other_settings(
    accounts: FakeAccountStore,
) -> None:
    entry = billing_settings.replace(A, HPO, accounts, NOW, if_match=None)

    stored = accounts.records[A]
    assert stored.settings == {
        "alerts": {"email": "ops@acme.example"},
        "billing": {
            "bill_day": 5,
            "grace_days": 2,
            "payment_terms_days": 14,
            "invoice_number_prefix": "HPO-2026-",
            "credit_note_number_prefix": "HPO-CN-",
            "currency": "EUR",
            "default_language": "en",
            "seller": {
                "legal_name": "Hausverwaltung Ost GmbH",
                "trading_name": None,
                "address": {
                    "lines": ["Hauptstraße 1"],
                    "postal_code": None,
                    "city": "Berlin",
                    "country": "DE",
                },
                "vat_id": None,
                "tax_number": None,
                "registration": None,
                "contact": None,
                "bank_account": {"iban": "DE89370400440532013000", "bic": None, "account_name": None},
            },
            "email": None,
            "reports": None,
        },
    }
    assert (entry.etag, entry.updated_at) == (stored.settings_etag, NOW)
    assert entry.etag != INITIAL_SETTINGS_ETAG
    assert billing_settings.get(A, accounts) == entry
    assert billing_settings.settings_of(A, accounts).bill_day == 5


def test_a_field_left_out_takes_its_default_again(accounts: FakeAccountStore) -> None:
    billing_settings.replace(A, {**HPO, "grace_days": 7}, accounts, NOW, if_match=None)

    again = billing_settings.replace(A, {"bill_day": 10}, accounts, NOW, if_match=None)

    assert (again.value.bill_day, again.value.grace_days, again.value.seller) == (10, 2, None)


def test_replacing_with_the_current_etag_succeeds_and_with_a_stale_one_is_precondition_failed(
    accounts: FakeAccountStore,
) -> None:
    first = billing_settings.replace(A, HPO, accounts, NOW, if_match=INITIAL_SETTINGS_ETAG)
    second = billing_settings.replace(A, {**HPO, "bill_day": 6}, accounts, NOW, if_match=first.etag)

    with pytest.raises(PreconditionFailedError) as raised:
        billing_settings.replace(A, {**HPO, "bill_day": 7}, accounts, NOW, if_match=first.etag)

    assert (raised.value.kind, raised.value.item_id) == ("settings", "billing")
    assert str(raised.value) == (
        f"settings 'billing' has changed: If-Match {first.etag!r}, current ETag {second.etag!r}"
    )
    assert accounts.records[A].settings["billing"]["bill_day"] == 6
    assert accounts.settings_writes == 2


def test_the_initial_etag_no_longer_matches_once_settings_are_written(accounts: FakeAccountStore) -> None:
    billing_settings.replace(A, HPO, accounts, NOW, if_match=None)

    with pytest.raises(PreconditionFailedError):
        billing_settings.replace(A, {}, accounts, NOW, if_match=INITIAL_SETTINGS_ETAG)

    assert accounts.records[A].settings["billing"]["bill_day"] == 5


def test_refused_settings_name_the_field_and_write_nothing(accounts: FakeAccountStore) -> None:
    bad_iban = {**HPO, "seller": {**HPO["seller"], "bank_account": {"iban": "DE89370400440532013001"}}}

    with pytest.raises(InvalidInputError) as raised:
        billing_settings.replace(A, bad_iban, accounts, NOW, if_match=None)

    assert (raised.value.field, raised.value.reason) == (
        "seller.bank_account.iban",
        "'DE89370400440532013001' is not an IBAN: its check digits do not match (ISO 13616, mod 97)",
    )
    assert (accounts.settings_writes, "billing" in accounts.records[A].settings) == (0, False)


def test_a_write_that_loses_a_race_without_if_match_reads_again_and_keeps_the_other_write(
    accounts: FakeAccountStore,
) -> None:
    """Another section is written between this write's read and its write: the store refuses the stale write,
    the service reads again and writes on top, so neither is lost."""
    real_replace = accounts.replace_settings
    raced = []

    def racing(account_id: str, settings: Any, *, if_match: str | None, at: datetime) -> AccountRecord:
        if not raced:
            raced.append(True)
            current = accounts.get(account_id)
            real_replace(account_id, {**current.settings, "alerts": {"email": "new@acme.example"}},
                         if_match=None, at=at)  # fmt: skip
        return real_replace(account_id, settings, if_match=if_match, at=at)

    accounts.replace_settings = racing  # type: ignore[method-assign]

    billing_settings.replace(A, HPO, accounts, NOW, if_match=None)

    stored = accounts.records[A].settings
    assert (stored["alerts"], stored["billing"]["bill_day"]) == ({"email": "new@acme.example"}, 5)
    assert accounts.settings_writes == 2


def test_settings_that_keep_changing_give_up_as_storage_unavailable(accounts: FakeAccountStore) -> None:
    def always_stale(account_id: str, settings: Any, *, if_match: str | None, at: datetime) -> AccountRecord:
        raise PreconditionFailedError("settings", account_id, str(if_match), "moved")

    accounts.replace_settings = always_stale  # type: ignore[method-assign]

    with pytest.raises(StorageUnavailableError, match="they kept changing"):
        billing_settings.replace(A, HPO, accounts, NOW, if_match=None)


def test_a_naive_clock_is_refused(accounts: FakeAccountStore) -> None:
    with pytest.raises(InvalidInputError) as raised:
        billing_settings.replace(A, HPO, accounts, datetime(2026, 3, 1, 12), if_match=None)

    assert raised.value.field == "now"


def test_an_unknown_account_is_not_found(accounts: FakeAccountStore) -> None:
    with pytest.raises(NotFoundError):
        billing_settings.get("nobody", accounts)
    with pytest.raises(NotFoundError):
        billing_settings.replace("nobody", HPO, accounts, NOW, if_match=None)
