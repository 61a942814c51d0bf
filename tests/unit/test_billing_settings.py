"""An account's billing settings as a value: the defaults, the seller's legal details, and every refusal
naming the field and the reason (a prefix no invoice number may carry, an IBAN whose check digits fail)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from meterbill import fielderrors
from meterbill.billing_settings import BillingSettings, iban_remainder
from meterbill.domain import Customer

ADDRESS = {"lines": ["Hauptstraße 1"], "postal_code": "10115", "city": "Berlin", "country": "DE"}
SELLER = {
    "legal_name": "Hausverwaltung Ost GmbH",
    "address": ADDRESS,
    "vat_id": "DE123456789",
    "tax_number": "30/123/45678",
    "registration": "HRB 12345, Amtsgericht Charlottenburg",
    "contact": {"name": "Billing desk", "email": "billing@hpo.example", "phone": "+49 30 1234567"},
    "bank_account": {"iban": "DE89370400440532013000", "bic": "COBADEFFXXX", "account_name": "HPO GmbH"},
}


def settings(**fields: Any) -> BillingSettings:
    return BillingSettings.model_validate(fields)


def seller(**fields: Any) -> dict[str, Any]:
    return {**SELLER, **fields}


def refusal(**fields: Any) -> tuple[str, str]:
    """The field and reason of the first problem, as the API names them."""
    with pytest.raises(ValidationError) as raised:
        settings(**fields)
    first = raised.value.errors(include_url=False)[0]
    return fielderrors.field_path(first["loc"]), fielderrors.reason(first)


def test_settings_never_written_are_the_defaults() -> None:
    assert BillingSettings().model_dump() == {
        "bill_day": 1,
        "grace_days": 2,
        "payment_terms_days": 14,
        "invoice_number_prefix": "INV-",
        "credit_note_number_prefix": "CN-",
        "currency": "EUR",
        "default_language": "en",
        "seller": None,
        "email": None,
        "reports": None,
    }


def test_the_settings_keep_every_value_and_the_sellers_legal_details() -> None:
    hpo = settings(
        bill_day=15,
        grace_days=0,
        payment_terms_days=30,
        invoice_number_prefix="HPO-2026-",
        credit_note_number_prefix="HPO-CN-",
        currency="CHF",
        default_language="de",
        seller=SELLER,
    )

    assert hpo.model_dump(mode="json") == {
        "bill_day": 15,
        "grace_days": 0,
        "payment_terms_days": 30,
        "invoice_number_prefix": "HPO-2026-",
        "credit_note_number_prefix": "HPO-CN-",
        "currency": "CHF",
        "default_language": "de",
        "seller": {**SELLER, "trading_name": None},
        "email": None,
        "reports": None,
    }
    assert BillingSettings.model_validate(hpo.model_dump(mode="json")) == hpo  # what the store keeps


@pytest.mark.parametrize(
    ("fields", "field", "reason"),
    [
        ({"bill_day": 0}, "bill_day", "Input should be greater than or equal to 1"),
        ({"bill_day": 29}, "bill_day", "Input should be less than or equal to 28"),
        ({"bill_day": True}, "bill_day", "Input should be a valid integer"),
        ({"bill_day": "3"}, "bill_day", "Input should be a valid integer"),
        ({"bill_day": 3.0}, "bill_day", "Input should be a valid integer"),
        ({"grace_days": -1}, "grace_days", "Input should be greater than or equal to 0"),
        ({"grace_days": 32}, "grace_days", "Input should be less than or equal to 31"),
        ({"payment_terms_days": 366}, "payment_terms_days", "Input should be less than or equal to 365"),
        (
            {"invoice_number_prefix": "INV7"},
            "invoice_number_prefix",
            "'INV7' ends with a digit; end it with a letter or '-', '_', '.', '/'",
        ),
        (
            {"invoice_number_prefix": "-INV"},
            "invoice_number_prefix",
            "'-INV' must start with a letter or digit, then letters, digits, '-', '_', '.' or '/' "
            "(20 at most)",
        ),
        (
            {"credit_note_number_prefix": "CN 2026-"},
            "credit_note_number_prefix",
            "'CN 2026-' must start with a letter or digit, then letters, digits, '-', '_', '.' or '/' "
            "(20 at most)",
        ),
        (
            {"invoice_number_prefix": "Rechnung-Nr-2026-ABC-"},  # 21 characters
            "invoice_number_prefix",
            "String should have at most 20 characters",
        ),
        ({"invoice_number_prefix": ""}, "invoice_number_prefix", "String should have at least 1 character"),
        (
            {"invoice_number_prefix": "HPO-", "credit_note_number_prefix": "HPO-"},
            "credit_note_number_prefix",
            "'HPO-' is the invoice_number_prefix too; invoices and notes are two series, so two documents "
            "would carry one number",
        ),
        (
            {"currency": "XTS"},
            "currency",
            "unknown currency 'XTS'; expected one of: AUD, BHD, BRL, CAD, CHF, CNY, CZK, DKK, EUR, GBP, HKD, "
            "HUF, INR, ISK, JOD, JPY, KRW, KWD, MXN, NOK, NZD, OMR, PLN, SEK, SGD, TND, USD, ZAR",
        ),
        ({"default_language": "fr"}, "default_language", "Input should be 'en' or 'de'"),
        ({"vat": "DE123456789"}, "vat", "unknown field"),
        ({"seller": {"legal_name": "HPO"}}, "seller.address", "required field is missing"),
        ({"seller": "HPO GmbH"}, "seller", "Input should be a valid dictionary or instance of Seller"),
        (
            {"seller": seller(vat_id="DE 123 456 789")},
            "seller.vat_id",
            "'DE 123 456 789' is not a VAT id: a 2-letter country code, then 2 to 13 capital letters or "
            "digits without spaces (e.g. DE123456789)",
        ),
        (
            {"seller": seller(vat_id="123456789")},
            "seller.vat_id",
            "'123456789' is not a VAT id: a 2-letter country code, then 2 to 13 capital letters or digits "
            "without spaces (e.g. DE123456789)",
        ),
        (
            {"seller": seller(bank_account={"iban": "DE89370400440532013001"})},  # last digit 0 -> 1
            "seller.bank_account.iban",
            "'DE89370400440532013001' is not an IBAN: its check digits do not match (ISO 13616, mod 97)",
        ),
        (
            {"seller": seller(bank_account={"iban": "DE89 3704 0044 0532 0130 00"})},
            "seller.bank_account.iban",
            "'DE89 3704 0044 0532 0130 00' is not an IBAN: a 2-letter country code, 2 check digits, then 11 "
            "to 30 capital letters or digits, without spaces",
        ),
        (
            {"seller": seller(bank_account={"iban": "DE89370400440532013000", "bic": "COBADEFF1"})},
            "seller.bank_account.bic",
            "'COBADEFF1' is not a BIC: 8 or 11 capital letters or digits, the 5th and 6th a country code "
            "(e.g. COBADEFFXXX)",
        ),
        (
            {"seller": seller(contact={"email": "billing"})},
            "seller.contact.email",
            "'billing' is not an email address (expected name@domain.tld)",
        ),
        ({"seller": seller(contact=5)}, "seller.contact", "5 is not an object"),
        (
            {"seller": seller(legal_name="x" * 201)},
            "seller.legal_name",
            "String should have at most 200 characters",
        ),
    ],
)
def test_a_setting_is_refused_naming_the_field_and_the_reason(
    fields: dict[str, Any], field: str, reason: str
) -> None:
    assert refusal(**fields) == (field, reason)


def test_only_an_object_is_settings() -> None:
    for value in (5, "x", [], None):
        with pytest.raises(ValidationError) as raised:
            BillingSettings.model_validate(value)
        assert fielderrors.reason(raised.value.errors(include_url=False)[0]) == f"{value} is not an object"


@pytest.mark.parametrize(
    "iban",
    [
        "DE89370400440532013000",
        "GB82WEST12345698765432",
        "NL91ABNA0417164300",
        "AT611904300234573201",
        "CH9300762011623852957",
        "FR1420041010050500013M02606",
    ],
)
def test_published_example_ibans_pass_the_mod_97_check(iban: str) -> None:
    assert iban_remainder(iban) == 1
    assert settings(seller=seller(bank_account={"iban": iban})).seller.bank_account.iban == iban  # type: ignore[union-attr]


def test_a_swapped_pair_of_digits_fails_the_mod_97_check() -> None:
    assert iban_remainder("DE89370400440532013000") == 1
    assert iban_remainder("DE89370400440523013000") != 1  # ...0532... -> ...0523...


@pytest.mark.parametrize("prefix", ["A", "HPO-2026-", "INV/", "R.", "2026_", "A1b2C3d4E5f6G7h8I9j-"])
def test_a_prefix_may_be_letters_digits_and_separators_ending_in_no_digit(prefix: str) -> None:
    assert settings(invoice_number_prefix=prefix).invoice_number_prefix == prefix


def test_a_customers_own_bill_day_overrides_the_accounts() -> None:
    account = settings(bill_day=15)
    own = Customer.model_validate({"id": "c1", "account_id": "acme", "name": "Ada", "bill_day": 3})
    accounts = Customer.model_validate({"id": "c2", "account_id": "acme", "name": "Bob"})

    assert (account.bill_day_of(own), account.bill_day_of(accounts)) == (3, 15)
    assert accounts.bill_day is None


def test_a_customer_stored_before_bill_days_were_optional_keeps_its_bill_day() -> None:
    stored = {"id": "c1", "account_id": "acme", "name": "Ada", "bill_day": 1}  # the old default, written out

    assert settings(bill_day=15).bill_day_of(Customer.model_validate(stored)) == 1
