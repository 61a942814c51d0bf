"""The account's billing settings over HTTP: GET answers the defaults until PUT replaces them (ETag and
If-Match as for catalog objects), a refused body names the field, the scopes, and each account its own."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fakes import FakeStores
from tests.unit.api_support import ACCOUNT, OTHER_ACCOUNT, ApiClient, handler_client, problem

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics")

PATH = "/v1/settings/billing"
NOW = "2026-03-01T12:00:00Z"  # the fake store's clock
DEFAULTS = {
    "bill_day": 1,
    "grace_days": 2,
    "payment_terms_days": 14,
    "invoice_number_prefix": "INV-",
    "credit_note_number_prefix": "CN-",
    "currency": "EUR",
    "default_language": "en",
    "seller": None,
    "email": None,  # issue 10: how invoices are emailed
    "reports": None,  # issue 10: savings reports
}
SELLER = {
    "legal_name": "Hausverwaltung Ost GmbH",
    "address": {"lines": ["Hauptstraße 1"], "postal_code": "10115", "city": "Berlin", "country": "DE"},
    "vat_id": "DE123456789",
    "bank_account": {"iban": "DE89370400440532013000", "bic": "COBADEFFXXX"},
}
HPO = {
    "bill_day": 5,
    "grace_days": 3,
    "payment_terms_days": 30,
    "invoice_number_prefix": "HPO-2026-",
    "credit_note_number_prefix": "HPO-CN-",
    "currency": "EUR",
    "default_language": "de",
    "seller": SELLER,
}
SELLER_AS_ANSWERED = {
    **SELLER,
    "trading_name": None,
    "tax_number": None,
    "registration": None,
    "contact": None,
    "bank_account": {**SELLER["bank_account"], "account_name": None},
}


@pytest.fixture
def api(fakes: FakeStores) -> ApiClient:
    return handler_client()


def stored(fakes: FakeStores, account: str = ACCOUNT) -> Any:
    return fakes.accounts.records[account].settings.get("billing")


def test_settings_never_written_answer_the_defaults_with_the_initial_etag(api, fakes):
    answer = api.get(PATH)

    assert (answer.status, answer.headers["etag"]) == (200, '"initial"')
    assert answer.json == {**DEFAULTS, "etag": "initial", "updated_at": None}
    assert stored(fakes) is None


def test_put_replaces_the_settings_and_answers_them_with_a_new_etag(api, fakes):
    answer = api.put(PATH, HPO, headers={"If-Match": '"initial"'})

    etag = fakes.accounts.records[ACCOUNT].settings_etag
    expected = {**HPO, "seller": SELLER_AS_ANSWERED, "email": None, "reports": None}
    assert (answer.status, answer.headers["etag"]) == (200, f'"{etag}"')
    assert answer.json == {**expected, "etag": etag, "updated_at": NOW}
    assert stored(fakes) == expected
    assert api.get(PATH).json == answer.json


def test_a_field_left_out_of_a_put_takes_its_default(api, fakes):
    api.put(PATH, HPO)

    answer = api.put(PATH, {"bill_day": 10})

    assert answer.json["bill_day"] == 10
    assert stored(fakes) == {**DEFAULTS, "bill_day": 10}


@pytest.mark.parametrize("stale", ['"initial"', '"0000000000000000"', 'W/"{etag}"'])
def test_a_put_on_an_etag_that_is_not_current_answers_412_and_changes_nothing(api, fakes, stale):
    etag = api.put(PATH, HPO).json["etag"]

    answer = api.put(PATH, {"bill_day": 9}, headers={"If-Match": stale.format(etag=etag)})

    reason = "is not the current ETag of settings 'billing'; read it again"
    assert answer.json == problem(412, f"If-Match: {reason}", ("If-Match", reason))
    assert stored(fakes)["bill_day"] == 5


def test_a_put_on_the_current_etag_succeeds(api, fakes):
    etag = api.put(PATH, HPO).headers["etag"]

    answer = api.put(PATH, {**HPO, "bill_day": 9}, headers={"If-Match": etag})

    assert (answer.status, stored(fakes)["bill_day"]) == (200, 9)
    assert answer.headers["etag"] != etag


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        (
            {"seller": {**SELLER, "bank_account": {"iban": "DE89370400440532013001"}}},
            "seller.bank_account.iban",
            "'DE89370400440532013001' is not an IBAN: its check digits do not match (ISO 13616, mod 97)",
        ),
        ({"grace_days": 32}, "grace_days", "Input should be less than or equal to 31"),
        ({"bill_day": "5"}, "bill_day", "Input should be a valid integer"),
        (
            {"invoice_number_prefix": "INV2026"},
            "invoice_number_prefix",
            "'INV2026' ends with a digit; end it with a letter or '-', '_', '.', '/'",
        ),
        (
            {"credit_note_number_prefix": "INV-"},
            "credit_note_number_prefix",
            "'INV-' is the invoice_number_prefix too; invoices and notes are two series, so two documents "
            "would carry one number",
        ),
        ({"etag": "x"}, "etag", "unknown field"),
        ({"updated_at": NOW}, "updated_at", "unknown field"),
        ({"seller": {**SELLER, "contact": 5}}, "seller.contact", "5 is not an object"),
    ],
)
def test_a_refused_body_answers_422_naming_the_field_and_changes_nothing(api, fakes, body, field, reason):
    api.put(PATH, HPO)

    answer = api.put(PATH, body)

    assert answer.json == problem(422, f"{field}: {reason}", (field, reason))
    assert stored(fakes)["bill_day"] == 5


@pytest.mark.parametrize(("text", "shown"), [("5", "5"), ("[]", "[]"), ('"HPO"', "HPO")])
def test_a_body_that_is_not_an_object_answers_422_on_the_body(api, fakes, text, shown):
    answer = api.request("PUT", PATH, body=text, headers={"Content-Type": "application/json"})

    reason = f"{shown} is not an object"
    assert answer.json == problem(422, f"body: {reason}", ("body", reason))
    assert stored(fakes) is None


def test_a_read_key_may_read_the_settings_but_not_change_them(api, fakes):
    reader = api.as_key(ACCOUNT, "read")

    read = reader.get(PATH)
    change = reader.put(PATH, HPO)

    assert read.status == 200
    detail = "this API key's scopes (read) do not allow this operation; it needs 'admin'"
    assert change.json == problem(403, detail)
    assert stored(fakes) is None


def test_an_ingest_key_may_not_read_the_settings(api):
    answer = api.as_key(ACCOUNT, "ingest").get(PATH)

    detail = "this API key's scopes (ingest) do not allow this operation; it needs 'read'"
    assert answer.json == problem(403, detail)


def test_each_account_reads_and_writes_its_own_settings(api, fakes):
    api.put(PATH, HPO)
    other = api.as_key(OTHER_ACCOUNT, "admin")

    before = other.get(PATH)
    other.put(PATH, {"bill_day": 20})

    assert before.json == {**DEFAULTS, "etag": "initial", "updated_at": None}
    assert (stored(fakes)["bill_day"], stored(fakes, OTHER_ACCOUNT)["bill_day"]) == (5, 20)
    assert api.get(PATH).json["bill_day"] == 5
