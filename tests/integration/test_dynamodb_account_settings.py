"""An account's settings on DynamoDB (moto): one conditional UpdateItem of the account item, the settings as
exact JSON beside their ETag and time; the billing settings service on top of it."""

from __future__ import annotations

import hashlib
import threading
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from meterbill.errors import NotFoundError, PreconditionFailedError
from meterbill.ports import INITIAL_SETTINGS_ETAG, AccountLogo, AccountRecord, Stores
from meterbill.services import billing_settings
from tests.integration.conftest import Tables

CREATED = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
WRITTEN = datetime(2026, 3, 2, 10, 30, tzinfo=UTC)
ACCOUNT_ITEM = {
    "pk": {"S": "account#acme"},
    "sk": {"S": "account"},
    "account_pk": {"S": "accounts"},  # the listing of every account (the bill run's)
    "account_sk": {"S": "acme"},
    "name": {"S": "Acme Power"},
    "created_at": {"S": "2026-03-01T09:00:00.000000+0000"},
}


@pytest.fixture
def acme(stores: Stores) -> AccountRecord:
    record = AccountRecord("acme", "Acme Power", CREATED, {"alerts": {"threshold": Decimal("0.8")}})
    stores.accounts.create(record)
    return record


def test_an_account_whose_settings_were_never_replaced_has_the_initial_etag(
    stores: Stores, tables: Tables, acme: AccountRecord
) -> None:
    assert tables.catalog("account#acme", "account") == {
        **ACCOUNT_ITEM,
        "settings": {"S": '{"alerts":{"threshold":0.8}}'},
    }
    assert stores.accounts.get("acme") == acme
    assert (acme.settings_etag, acme.settings_updated_at) == (INITIAL_SETTINGS_ETAG, None)


def test_replacing_settings_writes_exact_json_a_new_etag_and_the_time(
    stores: Stores, tables: Tables, acme: AccountRecord
) -> None:
    settings = {"alerts": {"threshold": Decimal("0.8")}, "billing": {"bill_day": 5, "currency": "EUR"}}

    written = stores.accounts.replace_settings("acme", settings, if_match=INITIAL_SETTINGS_ETAG, at=WRITTEN)

    expected = AccountRecord("acme", "Acme Power", CREATED, settings, "etag-1", WRITTEN)
    assert written == expected
    assert stores.accounts.get("acme") == expected
    assert tables.catalog("account#acme", "account") == {
        **ACCOUNT_ITEM,
        "settings": {"S": '{"alerts":{"threshold":0.8},"billing":{"bill_day":5,"currency":"EUR"}}'},
        "settings_etag": {"S": "etag-1"},
        "settings_updated_at": {"S": "2026-03-02T10:30:00.000000+0000"},
    }


@pytest.mark.parametrize("stale", [INITIAL_SETTINGS_ETAG, "etag-0"])
def test_a_replacement_on_a_stale_etag_is_precondition_failed_and_changes_nothing(
    stores: Stores, tables: Tables, acme: AccountRecord, stale: str
) -> None:
    stores.accounts.replace_settings("acme", {"billing": {"bill_day": 5}}, if_match=None, at=WRITTEN)
    before = tables.catalog("account#acme", "account")

    with pytest.raises(PreconditionFailedError) as raised:
        stores.accounts.replace_settings("acme", {"billing": {"bill_day": 6}}, if_match=stale, at=WRITTEN)

    assert str(raised.value) == f"settings 'acme' has changed: If-Match {stale!r}, current ETag 'etag-1'"
    assert tables.catalog("account#acme", "account") == before


def test_replacing_the_settings_of_no_account_is_not_found_and_creates_nothing(
    stores: Stores, tables: Tables
) -> None:
    for if_match in (None, INITIAL_SETTINGS_ETAG):
        with pytest.raises(NotFoundError) as raised:
            stores.accounts.replace_settings("nobody", {"billing": {}}, if_match=if_match, at=WRITTEN)
        assert (raised.value.kind, raised.value.item_id) == ("account", "nobody")

    assert tables.catalog("account#nobody", "account") is None


def test_of_two_writers_on_the_same_etag_exactly_one_wins(
    stores: Stores, acme: AccountRecord, atomic_moto_writes: None
) -> None:
    outcomes: list[str] = []
    start = threading.Barrier(2)

    def write(bill_day: int) -> None:
        start.wait()
        try:
            stores.accounts.replace_settings(
                "acme", {"billing": {"bill_day": bill_day}}, if_match=INITIAL_SETTINGS_ETAG, at=WRITTEN
            )
            outcomes.append(f"wrote {bill_day}")
        except PreconditionFailedError:
            outcomes.append("refused")

    threads = [threading.Thread(target=write, args=(day,)) for day in (5, 6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    winner = next(outcome for outcome in outcomes if outcome.startswith("wrote"))
    assert sorted(outcomes) == ["refused", winner]
    assert f"wrote {stores.accounts.get('acme').settings['billing']['bill_day']}" == winner


def test_the_billing_settings_service_on_dynamodb_keeps_the_other_sections(
    stores: Stores, tables: Tables, acme: AccountRecord
) -> None:
    body = {"bill_day": 5, "invoice_number_prefix": "HPO-2026-", "credit_note_number_prefix": "HPO-CN-"}

    entry = billing_settings.replace("acme", body, stores.accounts, WRITTEN, if_match=INITIAL_SETTINGS_ETAG)

    assert billing_settings.get("acme", stores.accounts) == entry
    assert (entry.value.bill_day, entry.value.invoice_number_prefix, entry.etag) == (5, "HPO-2026-", "etag-1")
    assert tables.catalog("account#acme", "account")["settings"] == {  # type: ignore[index]
        "S": '{"alerts":{"threshold":0.8},"billing":{"bill_day":5,"grace_days":2,"payment_terms_days":14,'
        '"invoice_number_prefix":"HPO-2026-","credit_note_number_prefix":"HPO-CN-","currency":"EUR",'
        '"default_language":"en","seller":null,"email":null,"reports":null}}'
    }


# --- the logo: one item beside the account item ------------------------------------------------------------


def test_the_logo_is_one_binary_item_beside_the_account_and_reads_back_exactly(
    stores: Stores, tables: Tables, acme: AccountRecord
) -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4  # the store keeps what the service checked, as is
    logo = AccountLogo("image/png", png, 360, 110, hashlib.sha256(png).hexdigest(), WRITTEN)

    stores.accounts.put_logo("acme", logo)

    assert stores.accounts.get_logo("acme") == logo
    assert tables.catalog("account#acme", "logo") == {
        "pk": {"S": "account#acme"},
        "sk": {"S": "logo"},
        "image_type": {"S": "image/png"},
        "data": {"B": png},
        "width": {"S": "360"},
        "height": {"S": "110"},
        "sha256": {"S": logo.sha256},
        "updated_at": {"S": "2026-03-02T10:30:00.000000+0000"},
    }
    assert "logo" not in str(tables.catalog("account#acme", "account"))  # settings reads stay small
    assert stores.accounts.get_logo("nobody") is None


def test_a_logo_for_no_account_is_not_found_and_stores_nothing(stores: Stores, tables: Tables) -> None:
    logo = AccountLogo("image/png", b"\x89PNG\r\n\x1a\n", 1, 1, "0" * 64, WRITTEN)

    with pytest.raises(NotFoundError):
        stores.accounts.put_logo("nobody", logo)

    assert tables.catalog("account#nobody", "logo") is None
