"""API keys: shown once, stored as a salted hash, compared in constant time, revocable, scoped."""

from __future__ import annotations

import hmac
import time
from dataclasses import fields
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509

from meterbill.errors import (
    AlreadyExistsError,
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
    UnauthorizedError,
)
from meterbill.ports import Scope
from meterbill.services import apikeys
from meterbill.services.apikeys import INVALID_KEY, Principal
from tests.fakes import FakeAccountStore, FakeKeyStore, FakeSigningKeyStore

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def keys() -> FakeKeyStore:
    return FakeKeyStore()


def new_key(keys: FakeKeyStore, *scopes: Scope, account: str = "acc-a") -> tuple[apikeys.ApiKeyInfo, str]:
    return apikeys.create_key(account, "collector", scopes or ("ingest",), keys, NOW)


def test_creating_an_account_stores_it_with_a_first_admin_key_whose_text_is_returned_once(
    keys: FakeKeyStore,
) -> None:
    accounts = FakeAccountStore()
    account, key_text = apikeys.create_account("  Stadtwerke   Nord ", accounts, keys, NOW)
    assert account.name == "Stadtwerke Nord"
    assert accounts.records == {account.account_id: account}
    assert account.account_id.startswith("acc_") and len(account.account_id) == 4 + 16
    (record,) = keys.records.values()
    assert (record.account, record.name, record.scopes) == (
        account.account_id,
        "first admin key",
        frozenset({"admin"}),
    )
    assert apikeys.authenticate(key_text, keys) == Principal(
        account.account_id, record.key_id, frozenset({"admin"})
    )


def test_an_account_set_up_with_a_signing_key_store_gets_its_document_key_at_once(keys: FakeKeyStore) -> None:
    signing_keys = FakeSigningKeyStore()

    account, _ = apikeys.create_account(
        "Stadtwerke Nord", FakeAccountStore(), keys, NOW, signing_keys=signing_keys
    )

    pem = signing_keys.keys[account.account_id]
    certificate = x509.load_pem_x509_certificate(pem.certificate_pem.encode())
    assert certificate.subject.rfc4514_string() == "CN=Stadtwerke Nord"
    assert certificate.not_valid_before_utc <= NOW


def test_an_account_id_can_be_chosen_and_is_refused_when_taken(keys: FakeKeyStore) -> None:
    accounts = FakeAccountStore()
    account, _ = apikeys.create_account("Demo", accounts, keys, NOW, account_id="demo")
    assert account.account_id == "demo"
    with pytest.raises(AlreadyExistsError, match="account 'demo' already exists"):
        apikeys.create_account("Demo again", accounts, keys, NOW, account_id="demo")


def test_a_key_reads_mb_then_its_id_then_a_43_character_secret(keys: FakeKeyStore) -> None:
    info, key_text = new_key(keys)
    prefix, key_id, secret = key_text.split("_", 2)
    assert (prefix, key_id, len(secret)) == ("mb", info.key_id, 43)
    assert len(key_id) == 16 and int(key_id, 16) >= 0


def test_the_stored_record_holds_a_salted_hash_and_never_the_secret(keys: FakeKeyStore) -> None:
    _, first_text = new_key(keys)
    _, second_text = new_key(keys)
    first, second = keys.records.values()
    for record, text in ((first, first_text), (second, second_text)):
        secret = text.split("_", 2)[2].encode()
        assert secret not in repr(record).encode()
        assert secret not in record.digest and secret not in record.salt
        assert (len(record.salt), len(record.digest)) == (16, 32)
    assert first.salt != second.salt


def test_what_a_key_shows_has_no_hash_and_no_salt(keys: FakeKeyStore) -> None:
    info, _ = new_key(keys, "read", "ingest")
    assert {f.name for f in fields(info)} == {
        "key_id",
        "account",
        "name",
        "scopes",
        "created_at",
        "revoked_at",
    }
    assert (info.account, info.name, info.scopes, info.created_at, info.revoked) == (
        "acc-a",
        "collector",
        frozenset({"read", "ingest"}),
        NOW,
        False,
    )


def test_authenticating_a_key_names_its_account_key_and_scopes(keys: FakeKeyStore) -> None:
    info, key_text = new_key(keys, "read", account="acc-b")
    assert apikeys.authenticate(key_text, keys) == Principal("acc-b", info.key_id, frozenset({"read"}))


def test_the_secret_is_compared_in_constant_time(keys: FakeKeyStore, monkeypatch: pytest.MonkeyPatch) -> None:
    _, key_text = new_key(keys)
    compared: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    apikeys.authenticate(key_text, keys)
    (record,) = keys.records.values()
    assert compared == [(record.digest, record.digest)]


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda text: text[:-1] + ("A" if text[-1] != "A" else "B"), id="last character changed"),
        pytest.param(lambda text: text[:-1], id="secret shortened"),
        pytest.param(lambda text: text.replace("mb_", "mx_", 1), id="prefix changed"),
        pytest.param(lambda text: "mb_0000000000000000_" + text.split("_", 2)[2], id="unknown key id"),
        pytest.param(lambda text: "", id="empty"),
        pytest.param(lambda text: "Bearer " + text, id="scheme left in"),
    ],
)
def test_a_tampered_malformed_or_unknown_key_is_refused_with_one_message(keys: FakeKeyStore, tamper) -> None:  # type: ignore[no-untyped-def]
    _, key_text = new_key(keys)
    with pytest.raises(UnauthorizedError) as refused:
        apikeys.authenticate(tamper(key_text), keys)
    assert str(refused.value) == INVALID_KEY == "invalid API key"


def test_another_keys_secret_does_not_open_this_key(keys: FakeKeyStore) -> None:
    first, _ = new_key(keys)
    _, second_text = new_key(keys)
    forged = f"mb_{first.key_id}_{second_text.split('_', 2)[2]}"
    with pytest.raises(UnauthorizedError, match=r"^invalid API key$"):
        apikeys.authenticate(forged, keys)


def test_a_revoked_key_is_refused_with_the_same_message(keys: FakeKeyStore) -> None:
    info, key_text = new_key(keys)
    revoked = apikeys.revoke_key("acc-a", info.key_id, keys, NOW + timedelta(hours=1))
    assert (revoked.revoked, revoked.revoked_at) == (True, NOW + timedelta(hours=1))
    assert keys.records[info.key_id].revoked_at == NOW + timedelta(hours=1)
    with pytest.raises(UnauthorizedError, match=r"^invalid API key$"):
        apikeys.authenticate(key_text, keys)


def test_revoking_again_keeps_the_first_revocation_time(keys: FakeKeyStore) -> None:
    info, _ = new_key(keys)
    apikeys.revoke_key("acc-a", info.key_id, keys, NOW)
    again = apikeys.revoke_key("acc-a", info.key_id, keys, NOW + timedelta(days=1))
    assert again.revoked_at == NOW


def test_another_accounts_key_cannot_be_revoked_read_or_listed(keys: FakeKeyStore) -> None:
    info, key_text = new_key(keys, account="acc-a")
    with pytest.raises(NotFoundError, match=f"api key '{info.key_id}' not found"):
        apikeys.revoke_key("acc-b", info.key_id, keys, NOW)
    with pytest.raises(NotFoundError):
        apikeys.get_key("acc-b", info.key_id, keys)
    assert apikeys.list_keys("acc-b", keys).items == []
    assert apikeys.authenticate(key_text, keys).account == "acc-a"  # still valid


def test_keys_list_in_id_order_a_page_at_a_time(keys: FakeKeyStore) -> None:
    created = sorted(new_key(keys)[0].key_id for _ in range(5))
    first = apikeys.list_keys("acc-a", keys, limit=2)
    second = apikeys.list_keys("acc-a", keys, limit=2, cursor=first.cursor)
    third = apikeys.list_keys("acc-a", keys, limit=2, cursor=second.cursor)
    pages = [[k.key_id for k in page.items] for page in (first, second, third)]
    assert pages == [created[0:2], created[2:4], created[4:5]]
    assert third.cursor is None


def test_a_key_needs_a_name_and_known_scopes(keys: FakeKeyStore) -> None:
    with pytest.raises(InvalidInputError) as no_scope:
        apikeys.create_key("acc-a", "x", [], keys, NOW)
    assert (no_scope.value.field, no_scope.value.reason) == (
        "scopes",
        "give at least one of: admin, ingest, read",
    )
    with pytest.raises(InvalidInputError) as bad_scope:
        apikeys.create_key("acc-a", "x", ["write"], keys, NOW)  # type: ignore[list-item]
    assert (bad_scope.value.field, bad_scope.value.reason) == (
        "scopes",
        "unknown scope 'write'; expected: admin, ingest, read",
    )
    with pytest.raises(InvalidInputError) as no_name:
        apikeys.create_key("acc-a", "   ", ["read"], keys, NOW)
    assert (no_name.value.field, no_name.value.reason) == ("name", "must not be empty")
    assert keys.records == {}


@pytest.mark.parametrize(
    ("scopes", "needed", "allowed"),
    [
        ({"admin"}, "admin", True),
        ({"admin"}, "ingest", True),
        ({"admin"}, "read", True),
        ({"ingest"}, "ingest", True),
        ({"ingest"}, "read", False),
        ({"ingest"}, "admin", False),
        ({"read"}, "read", True),
        ({"read"}, "ingest", False),
        ({"read"}, "admin", False),
        ({"read", "ingest"}, "ingest", True),
        ({"read", "ingest"}, "admin", False),
    ],
)
def test_admin_allows_everything_and_the_others_only_their_own(
    scopes: set[Scope], needed: Scope, allowed: bool
) -> None:
    if allowed:
        apikeys.require_scope(scopes, needed)
    else:
        with pytest.raises(ForbiddenError, match=f"it needs '{needed}'"):
            apikeys.require_scope(scopes, needed)


@pytest.mark.parametrize(
    ("method", "path", "needed"),
    [
        ("POST", "/v1/readings", "ingest"),
        ("POST", "/v1/imports", "ingest"),
        ("GET", "/v1/readings", "read"),
        ("GET", "/v1/meters/m1/usage", "read"),
        ("GET", "/v1/customers/c1/bill-preview", "read"),
        ("get", "/v1/tariffs", "read"),
        ("POST", "/v1/meters", "admin"),
        ("PUT", "/v1/meters/m1", "admin"),
        ("DELETE", "/v1/customers/c1", "admin"),
        ("GET", "/v1/api-keys", "admin"),
        ("POST", "/v1/api-keys", "admin"),
        ("DELETE", "/v1/api-keys/k1", "admin"),
        ("POST", "/v1/readingsX", "admin"),
    ],
)
def test_each_request_needs_one_scope(method: str, path: str, needed: Scope) -> None:
    assert apikeys.required_scope(method, path) == needed


def test_checking_a_key_is_cheap_enough_for_an_authorizer(keys: FakeKeyStore) -> None:
    _, key_text = new_key(keys)
    started = time.perf_counter()
    for _ in range(50):
        apikeys.authenticate(key_text, keys)
    per_check = (time.perf_counter() - started) / 50
    assert per_check < 0.005  # 5 ms; under 1 ms on the development machine
