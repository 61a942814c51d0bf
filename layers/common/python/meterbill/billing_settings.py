"""An account's billing settings: when customers are billed, how invoices are numbered and paid, and who sends
them (the seller's legal details the documents print).

Pure values (pydantic, frozen, unknown fields rejected, every text bounded); no I/O. The bill run, the
numbering and the documents read them; ``services.billing_settings`` stores them on the account. Settings
never written are ``BillingSettings()``: bills on the 1st, 2 days' grace, numbers ``INV-000001`` and
``CN-000001``, 14 days to pay, EUR, English, and no seller yet (a document needs one).

Numbers follow EN 16931 (BT-1: letters, digits and ``-_/.``) and ``billing.numbering``: a prefix starts with
a letter or digit and does not end with a digit, so the sequence after it never reads as part of it; invoices
and notes are two series, so their prefixes differ. Identifiers are taken in their electronic form, as an
e-invoice carries them: an IBAN without spaces, upper case. Every validator names the field and the reason.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Final, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    ValidationInfo,
    field_validator,
    model_validator,
)

from meterbill import timeutil
from meterbill.domain import Address, Customer, Email, Emails, Label, Phone, Text, VatId
from meterbill.money import MINOR_UNITS

SECTION: Final = "billing"  # the key of these settings among the account's settings
MAX_BILL_DAY: Final = 28  # a day every month has
MAX_GRACE_DAYS: Final = 31
MAX_PAYMENT_TERMS_DAYS: Final = 365
MAX_PREFIX_LENGTH: Final = 20
DEFAULT_BILL_DAY: Final = 1
DEFAULT_GRACE_DAYS: Final = 2
DEFAULT_PAYMENT_TERMS_DAYS: Final = 14
DEFAULT_INVOICE_PREFIX: Final = "INV-"
DEFAULT_CREDIT_NOTE_PREFIX: Final = "CN-"
DEFAULT_CURRENCY: Final = "EUR"
Language = Literal["en", "de"]

# A letter or digit, then letters, digits, '-', '_', '.', '/'; the last not a digit ("INV7" + "000001").
PREFIX_PATTERN: Final = rf"^[A-Za-z0-9]([A-Za-z0-9/_.-]{{0,{MAX_PREFIX_LENGTH - 2}}}[A-Za-z/_.-])?$"
IBAN_PATTERN: Final = r"^[A-Z]{2}[0-9]{2}[0-9A-Z]{11,30}$"  # ISO 13616: 15 to 34 characters
BIC_PATTERN: Final = r"^[0-9A-Z]{4}[A-Z]{2}[0-9A-Z]{2}([0-9A-Z]{3})?$"  # ISO 9362: 8 or 11 characters
_PREFIX = re.compile(PREFIX_PATTERN)
_IBAN = re.compile(IBAN_PATTERN)
_BIC = re.compile(BIC_PATTERN)


def iban_remainder(iban: str) -> int:
    """ISO 13616's check: the first four characters moved to the end, each letter as 10..35, the number
    mod 97 - 1 for a valid IBAN."""
    moved = iban[4:] + iban[:4]
    return int("".join(str(int(character, 36)) for character in moved)) % 97


def number_prefix_problem(value: str) -> str | None:
    """Why ``value`` cannot start invoice or note numbers, or None: the one rule for prefixes (the settings
    and ``billing.numbering`` both apply it)."""
    if _PREFIX.match(value):
        return None
    if len(value) > MAX_PREFIX_LENGTH:
        return f"{value!r} is longer than {MAX_PREFIX_LENGTH} characters"
    if value[-1:].isdigit():
        return f"{value!r} ends with a digit; end it with a letter or '-', '_', '.', '/'"
    return (
        f"{value!r} must start with a letter or digit, then letters, digits, '-', '_', '.' or '/' "
        f"({MAX_PREFIX_LENGTH} at most)"
    )


def _number_prefix(value: str) -> str:
    if problem := number_prefix_problem(value):
        raise ValueError(problem)
    return value


def _currency(value: str) -> str:
    if value not in MINOR_UNITS:
        raise ValueError(f"unknown currency {value!r}; expected one of: {', '.join(sorted(MINOR_UNITS))}")
    return value


def _iban(value: str) -> str:
    if not _IBAN.match(value):
        raise ValueError(
            f"{value!r} is not an IBAN: a 2-letter country code, 2 check digits, then 11 to 30 capital "
            "letters or digits, without spaces"
        )
    if iban_remainder(value) != 1:
        raise ValueError(f"{value!r} is not an IBAN: its check digits do not match (ISO 13616, mod 97)")
    return value


def _bic(value: str) -> str:
    if not _BIC.match(value):
        raise ValueError(
            f"{value!r} is not a BIC: 8 or 11 capital letters or digits, the 5th and 6th a country code "
            "(e.g. COBADEFFXXX)"
        )
    return value


def _object(value: object) -> object:
    """Only an object: a model whose fields all have defaults would take any object for an empty one when
    validated from attributes (as powertools validates a request body)."""
    if not isinstance(value, dict | BaseModel):
        raise ValueError(f"{str(value)[:40]} is not an object")
    return value


def _pattern(pattern: str) -> Any:
    """The pattern in the JSON schema; the validator checks it with its own reason."""
    return Field(json_schema_extra={"pattern": pattern})


# Strict: not ``true``, not ``15.0``, not ``"15"`` (lax pydantic takes all three for 15).
BillDay = Annotated[StrictInt, Field(ge=1, le=MAX_BILL_DAY)]
GraceDays = Annotated[StrictInt, Field(ge=0, le=MAX_GRACE_DAYS)]
PaymentTermsDays = Annotated[StrictInt, Field(ge=0, le=MAX_PAYMENT_TERMS_DAYS)]
NumberPrefix = Annotated[
    str,
    Field(min_length=1, max_length=MAX_PREFIX_LENGTH),
    _pattern(PREFIX_PATTERN),
    AfterValidator(_number_prefix),
]
Currency = Annotated[
    str, Field(max_length=3, json_schema_extra={"enum": sorted(MINOR_UNITS)}), AfterValidator(_currency)
]
Iban = Annotated[str, Field(max_length=34), _pattern(IBAN_PATTERN), AfterValidator(_iban)]
Bic = Annotated[str, Field(max_length=11), _pattern(BIC_PATTERN), AfterValidator(_bic)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SellerContact(_Model):
    """Whom a customer asks about an invoice (EN 16931 BG-6)."""

    name: Text | None = None
    email: Email | None = None
    phone: Phone | None = None


class BankAccount(_Model):
    """Where customers pay to (EN 16931 BG-17, a credit transfer)."""

    iban: Iban
    bic: Bic | None = None
    account_name: Text | None = None


class Seller(_Model):
    """The account's legal details as an invoice shows them (EN 16931 BG-4)."""

    legal_name: Text
    trading_name: Text | None = None
    address: Address
    vat_id: VatId | None = None
    tax_number: Label | None = Field(default=None, description="the tax registration number, if any")
    registration: Text | None = Field(
        default=None, description="the legal registration, e.g. 'HRB 12345, Amtsgericht München'"
    )
    contact: Annotated[SellerContact, BeforeValidator(_object)] | None = None
    bank_account: BankAccount | None = None


class EmailSettings(_Model):
    """Who invoices are emailed from: an identity verified in SES (the address, or an address of a verified
    domain), and who receives a copy of every one."""

    sender: Email = Field(description="the From address: an SES-verified identity of the platform")
    sender_name: Text | None = Field(
        default=None, description="shown before the address, e.g. the trading name"
    )
    cc: Emails = Field(
        default=(), description="copied on every invoice and note email (e.g. the bookkeeping)"
    )
    reply_to: Email | None = None


ReportSchedule = Literal["daily", "weekly", "monthly"]


class ReportSettings(_Model):
    """Savings reports (``services.savings_reports``): one per period of the schedule - a day, an ISO week
    (Monday to Monday) or a calendar month of ``timezone`` - made once that period has ended there, stored
    once and emailed once to the recipients (from ``email.sender``)."""

    schedule: ReportSchedule = Field(description="daily, weekly (Monday to Monday) or monthly")
    recipients: Annotated[Emails, Field(min_length=1)] = Field(description="who receives every report")
    language: Language = Field(default="en", description="of the report and its email")
    timezone: Annotated[str, Field(max_length=64)] = Field(
        default="UTC", description="the IANA zone whose midnights end the schedule's periods"
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        if value == "localtime":
            raise ValueError("'localtime' depends on the host; name the IANA zone, e.g. 'Europe/Berlin'")
        timeutil.zone(value)
        return value


class BillingSettings(_Model):
    """How an account bills; every field has a default (settings never written: ``BillingSettings()``)."""

    bill_day: BillDay = Field(
        default=DEFAULT_BILL_DAY,
        description="the day of the month a period ends and the next begins (1-28); a customer's own "
        "bill_day overrides it",
    )
    grace_days: GraceDays = Field(
        default=DEFAULT_GRACE_DAYS,
        description="days a draft waits after its period so that late readings still count (0-31)",
    )
    payment_terms_days: PaymentTermsDays = Field(
        default=DEFAULT_PAYMENT_TERMS_DAYS, description="days from issue to the due date (0-365)"
    )
    invoice_number_prefix: NumberPrefix = Field(
        default=DEFAULT_INVOICE_PREFIX, description="invoice numbers are the prefix and 6 or more digits"
    )
    credit_note_number_prefix: NumberPrefix = Field(
        default=DEFAULT_CREDIT_NOTE_PREFIX,
        description="the series of credit and debit notes; not the invoices' prefix",
    )
    currency: Currency = DEFAULT_CURRENCY
    default_language: Language = "en"
    seller: Seller | None = None
    email: Annotated[EmailSettings, BeforeValidator(_object)] | None = Field(
        default=None, description="how invoices are emailed (none: they are stored, not emailed)"
    )
    reports: Annotated[ReportSettings, BeforeValidator(_object)] | None = Field(
        default=None, description="savings reports of the on_time meters (none: no reports are made)"
    )

    @model_validator(mode="before")
    @classmethod
    def _an_object(cls, value: object) -> object:
        return _object(value)

    @field_validator("credit_note_number_prefix")
    @classmethod
    def _two_series(cls, value: str, info: ValidationInfo) -> str:
        if value == info.data.get("invoice_number_prefix"):
            raise ValueError(
                f"{value!r} is the invoice_number_prefix too; invoices and notes are two series, so two "
                "documents would carry one number"
            )
        return value

    def bill_day_of(self, customer: Customer) -> int:
        """The customer's own bill day, or the account's."""
        return self.bill_day if customer.bill_day is None else customer.bill_day
