"""The catalog: who is billed, where meters hang, and which contract a meter runs under when.

Pure values (pydantic models, frozen, unknown fields rejected); no I/O. Lists from JSON become tuples.
Every validator names the field it rejects and why.
"""

from __future__ import annotations

import itertools
import keyword
import math
import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import cache
from types import MappingProxyType
from typing import Annotated, Final, Literal, get_args
from zoneinfo import ZoneInfo

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from meterbill import timeutil
from meterbill.metersettings import ExchangeSettings, MultiplierChange, ValidationLimits

# Bounds on every text, list and map of the catalog (README, "Limits of the API"): even in 4-byte characters
# the largest customer stays far below DynamoDB's 400 KB item.
MAX_ID_LENGTH: Final = 64
MAX_TEXT_LENGTH: Final = 200  # names, titles, address lines, a meter's external id
MAX_LABEL_LENGTH: Final = 64  # serial numbers, postal codes, labels, subdivisions
MAX_REFERENCE_LENGTH: Final = 1024  # a logo's URL or object key
MAX_EMAIL_LENGTH: Final = 254  # RFC 5321's longest path
MAX_EMAILS: Final = 10
MAX_ADDRESS_LINES: Final = 5
MAX_ATTRIBUTES: Final = 100
MAX_ATTRIBUTE_NAME_LENGTH: Final = 64
MAX_ATTRIBUTE_TEXT_LENGTH: Final = 200
MAX_NUMBER_DIGITS: Final = 38  # what a DynamoDB number holds
MAX_NUMBER_MAGNITUDE: Final = Decimal(10**15)  # attribute numbers, multipliers and register limits
MAX_METER_CHANGES: Final = 50  # a meter's multiplier changes; its device exchanges

Id = Annotated[str, StringConstraints(pattern=rf"^[A-Za-z0-9][A-Za-z0-9_.:-]{{0,{MAX_ID_LENGTH - 1}}}$")]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TEXT_LENGTH)]
Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_LABEL_LENGTH)]
Reference = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_REFERENCE_LENGTH)
]
CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]

VAT_ID_PATTERN: Final = r"^[A-Z]{2}[0-9A-Z]{2,13}$"  # a country code (EL: Greece), 2 to 13 letters or digits
_VAT_ID: Final = re.compile(VAT_ID_PATTERN)


def _vat_id(value: str) -> str:
    if not _VAT_ID.match(value):
        raise ValueError(
            f"{value!r} is not a VAT id: a 2-letter country code, then 2 to 13 capital letters or digits "
            "without spaces (e.g. DE123456789)"
        )
    return value


VatId = Annotated[
    str, Field(max_length=15, json_schema_extra={"pattern": VAT_ID_PATTERN}), AfterValidator(_vat_id)
]
# The languages documents and emails are written in (Babel formats numbers, dates and money for them).
Language = Literal["en", "de"]
LANGUAGES: Final[tuple[Language, ...]] = get_args(Language)

Utility = Literal["electricity", "gas", "water", "thermal", "on_time", "compute"]
MeterKind = Literal["main", "sub", "check"]
Phase = Literal["L1", "L2", "L3", "N"]

UNITS_BY_UTILITY: Final[Mapping[Utility, frozenset[str]]] = MappingProxyType(
    {
        "electricity": frozenset({"kWh", "Wh", "MWh"}),
        "gas": frozenset({"m3", "kWh", "therm", "MJ", "GJ"}),
        "water": frozenset({"m3", "L"}),
        "thermal": frozenset({"kWh", "MWh", "GJ", "MJ"}),
        "on_time": frozenset({"h", "s"}),
        "compute": frozenset({"h", "s"}),
    }
)

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
_PHONE = re.compile(r"^\+[1-9](?: ?[0-9]){5,14}$")  # E.164: up to 15 digits, single spaces allowed
_ATTRIBUTE_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_DECIMAL_TEXT = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$")
_NON_FINITE_TEXT = re.compile(r"^[+-]?(?:s?nan|inf|infinity)$", re.IGNORECASE)


def _email(value: str) -> str:
    if not _EMAIL.match(value):
        raise ValueError(f"{value!r} is not an email address (expected name@domain.tld)")
    return value


def _phone(value: str) -> str:
    if not _PHONE.match(value):
        raise ValueError(f"{value!r} is not an E.164 phone number (expected '+' then 6-15 digits)")
    return value


def _attribute_key(value: str) -> str:
    if not _ATTRIBUTE_KEY.match(value) or keyword.iskeyword(value):
        raise ValueError(
            f"attribute name {value!r} must be a letter then letters, digits or '_' and not a Python keyword"
        )
    return value


def _attribute_value(value: object) -> object:
    """JSON numbers and decimal strings become Decimal; booleans and other text stay as they are."""
    if isinstance(value, bool):
        return value
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"attribute value {value!r} is not a finite number")
        return bounded_number(value)
    if isinstance(value, int):
        if value.bit_length() > 128:  # before Decimal() turns thousands of digits into one
            raise ValueError(f"attribute value has more than {MAX_NUMBER_DIGITS} digits")
        return bounded_number(Decimal(value))
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"attribute value {value!r} is not a finite number")
        return bounded_number(Decimal(repr(value)))  # the shortest text that round-trips: 0.1 -> 0.1
    if isinstance(value, str):
        if len(value) > MAX_ATTRIBUTE_TEXT_LENGTH:
            raise ValueError(
                f"attribute text has {len(value)} characters; at most {MAX_ATTRIBUTE_TEXT_LENGTH}"
            )
        if _NON_FINITE_TEXT.match(value.strip()):
            raise ValueError(f"attribute value {value!r} is not a finite number")
        if _DECIMAL_TEXT.match(value.strip()):
            return bounded_number(Decimal(value.strip()))
    return value


def bounded_number(value: Decimal) -> Decimal:
    """A number a catalog object may hold: at most 38 significant digits, less than 10^15 in size."""
    if len(value.as_tuple().digits) > MAX_NUMBER_DIGITS:
        raise ValueError(f"{value} has more than {MAX_NUMBER_DIGITS} significant digits")
    if abs(value) >= MAX_NUMBER_MAGNITUDE:
        raise ValueError(f"{value} is not less than {MAX_NUMBER_MAGNITUDE:.0e} in size")
    return value


def _in_time_order(moments: list[datetime], name: str) -> None:
    """Each change after the one before it (a meter changes one way at a time)."""
    for index, (earlier, later) in enumerate(itertools.pairwise(moments), start=1):
        if later <= earlier:
            raise ValueError(
                f"item {index}: {name} {later.isoformat()} is not after that of the item before it "
                f"({earlier.isoformat()}); list them in time order"
            )


def _in_calendar(value: date) -> date:
    reason = timeutil.outside_calendar(value)
    if reason is not None:
        raise ValueError(reason)
    return value


CalendarDate = Annotated[date, AfterValidator(_in_calendar)]  # 2000-01-01 ... 2100-01-01
Email = Annotated[str, StringConstraints(max_length=MAX_EMAIL_LENGTH), AfterValidator(_email)]
Phone = Annotated[str, StringConstraints(max_length=32), AfterValidator(_phone)]
AttributeKey = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_ATTRIBUTE_NAME_LENGTH), AfterValidator(_attribute_key)
]
AttributeValue = Annotated[
    Decimal | bool | Annotated[str, StringConstraints(max_length=MAX_ATTRIBUTE_TEXT_LENGTH)],
    BeforeValidator(_attribute_value),
]
Attributes = Annotated[dict[AttributeKey, AttributeValue], Field(max_length=MAX_ATTRIBUTES)]
Emails = Annotated[tuple[Email, ...], Field(max_length=MAX_EMAILS)]
Quantity = Annotated[Decimal, Field(gt=0, lt=MAX_NUMBER_MAGNITUDE, max_digits=MAX_NUMBER_DIGITS)]
MAX_SHARE_DECIMALS: Final = 9
Share = Annotated[Decimal, Field(gt=0, le=1, decimal_places=MAX_SHARE_DECIMALS)]  # 1/3 is 0.333333333


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Address(_Model):
    lines: tuple[Text, ...] = Field(min_length=1, max_length=MAX_ADDRESS_LINES)
    postal_code: Label | None = None
    city: Text
    country: CountryCode


class Account(_Model):
    """The operator paying for the platform."""

    id: Id
    name: Text
    created_at: AwareDatetime


class Customer(_Model):
    """Who receives a bill from an account."""

    id: Id
    account_id: Id
    name: Text
    emails: Emails = ()
    phone: Phone | None = None
    address: Address | None = None
    bill_title: Text | None = None
    logo_ref: Reference | None = None
    attributes: Attributes = Field(default_factory=dict)
    bill_day: Annotated[int, Field(ge=1, le=28)] | None = None  # None: the account's (billing settings)
    language: Language = "en"  # of the customer's invoices and emails
    vat_id: VatId | None = None  # the buyer's VAT id on invoices (EN 16931 BT-48)
    buyer_reference: Label | None = None  # a purchase reference or Leitweg-ID the buyer asks for (BT-10)


@cache
def _holiday_countries() -> Mapping[str, frozenset[str]]:
    import holidays  # ~0.1 s to load: only a site with a holiday calendar needs it, not every cold start

    supported = holidays.list_supported_countries(include_aliases=False)
    return MappingProxyType({country: frozenset(subdivs) for country, subdivs in supported.items()})


class Site(_Model):
    """A place with meters: its clock (time zone) and its calendar (public holidays)."""

    id: Id
    account_id: Id
    name: Text
    timezone: Annotated[str, StringConstraints(max_length=MAX_LABEL_LENGTH)]
    holiday_country: CountryCode | None = None
    holiday_subdivision: Annotated[str, StringConstraints(max_length=MAX_LABEL_LENGTH)] | None = None
    address: Address | None = None
    attributes: Attributes = Field(default_factory=dict)  # read by tariff formulas as site.<name>

    @field_validator("timezone")
    @classmethod
    def _known_time_zone(cls, value: str) -> str:
        if value == "localtime":
            raise ValueError("'localtime' depends on the host; name the IANA zone, e.g. 'Europe/Berlin'")
        timeutil.zone(value)  # raises UnknownTimeZoneError, a ValueError naming the value
        return value

    @field_validator("holiday_country")
    @classmethod
    def _supported_country(cls, value: str | None) -> str | None:
        if value is not None and value not in _holiday_countries():
            raise ValueError(f"no public-holiday calendar for country {value!r}")
        return value

    @field_validator("holiday_subdivision")
    @classmethod
    def _subdivision_of_country(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None or "holiday_country" not in info.data:  # a bad country is reported on its own
            return value
        country = info.data["holiday_country"]
        if country is None:
            raise ValueError("a holiday subdivision needs holiday_country")
        known = _holiday_countries()[country]
        if value not in known:
            raise ValueError(
                f"{value!r} is not a subdivision of {country}; expected one of: {', '.join(sorted(known))}"
            )
        return value

    def zone(self) -> ZoneInfo:
        return timeutil.zone(self.timezone)

    def holiday_dates(self, start: date, end: date) -> frozenset[date]:
        """The site's public holidays in [start, end); empty when no calendar is configured."""
        if self.holiday_country is None or start >= end:
            return frozenset()
        import holidays  # see _holiday_countries

        calendar = holidays.country_holidays(
            self.holiday_country,
            subdiv=self.holiday_subdivision,
            years=range(start.year, (end - timedelta(days=1)).year + 1),
        )
        return frozenset(day for day in calendar if start <= day < end)


class MeterLabels(_Model):
    room: Label | None = None
    rack: Label | None = None
    feed: Label | None = None
    phase: Phase | None = None
    device: Label | None = None


class Meter(_Model):
    id: Id
    account_id: Id
    site_id: Id
    external_id: Text | None = None  # the meter's id in import files
    utility: Utility
    unit: Annotated[str, StringConstraints(max_length=MAX_LABEL_LENGTH)]
    kind: MeterKind
    parent_id: Id | None = Field(default=None, validate_default=True)
    multiplier: Quantity = Decimal(1)  # CT ratio
    register_max: Quantity | None = None  # largest value shown before wrapping
    interval_minutes: Literal[1, 5, 15, 30, 60] = 15
    labels: MeterLabels = Field(default_factory=MeterLabels)
    serial: Label | None = None
    attributes: Attributes = Field(default_factory=dict)  # read by tariff formulas as meter.<name>
    # How its readings are validated, beside interval_minutes, multiplier and register_max (the settings
    # `meterbill validate --meter-config` reads): CT ratio changes, device exchanges, the checks' limits.
    multipliers: Annotated[tuple[MultiplierChange, ...], Field(max_length=MAX_METER_CHANGES)] = ()
    exchanges: Annotated[tuple[ExchangeSettings, ...], Field(max_length=MAX_METER_CHANGES)] = ()
    limits: ValidationLimits = ValidationLimits()

    @field_validator("multipliers")
    @classmethod
    def _multipliers_in_order(cls, value: tuple[MultiplierChange, ...]) -> tuple[MultiplierChange, ...]:
        _in_time_order([change.effective_from for change in value], "effective_from")
        return value

    @field_validator("exchanges")
    @classmethod
    def _exchanges_in_order(cls, value: tuple[ExchangeSettings, ...]) -> tuple[ExchangeSettings, ...]:
        _in_time_order([exchange.timestamp for exchange in value], "timestamp")
        return value

    @field_validator("unit")
    @classmethod
    def _unit_fits_utility(cls, value: str, info: ValidationInfo) -> str:
        if "utility" not in info.data:
            return value
        utility: Utility = info.data["utility"]
        allowed = UNITS_BY_UTILITY[utility]
        if value not in allowed:
            raise ValueError(
                f"unit {value!r} does not fit utility {utility!r}; "
                f"expected one of: {', '.join(sorted(allowed))}"
            )
        return value

    @field_validator("parent_id")
    @classmethod
    def _parent_fits_kind(cls, value: str | None, info: ValidationInfo) -> str | None:
        kind = info.data.get("kind")
        if kind == "sub" and value is None:
            raise ValueError("a sub meter needs parent_id")
        if kind == "main" and value is not None:
            raise ValueError("a main meter has no parent_id")
        if value is not None and value == info.data.get("id"):
            raise ValueError(f"meter {value!r} cannot be its own parent")
        return value


class Assignment(_Model):
    """Meter → customer under a tariff, for a share of its usage, over [effective_from, effective_to)."""

    id: Id
    account_id: Id
    meter_id: Id
    customer_id: Id
    tariff_id: Id
    share: Share = Decimal(1)
    effective_from: CalendarDate
    effective_to: CalendarDate | None = None  # exclusive; None: open-ended
    # "meter": the meter's own usage times the share. "residual" (a main meter): what it measured beyond the
    # sum of its sub-meters, split among the customers holding residual assignments on it that day by
    # ``allocation``: their shares, their floor areas (customer.attributes.floor_area) or their own
    # sub-metered usage in the period (billing/residual.py).
    basis: Literal["meter", "residual"] = "meter"
    allocation: Literal["share", "area", "usage"] = "share"

    @property
    def fixed_share(self) -> bool:
        """Whether ``share`` is what the customer gets (not so for a residual split by area or usage)."""
        return self.basis == "meter" or self.allocation == "share"

    @field_validator("effective_to")
    @classmethod
    def _ends_after_start(cls, value: date | None, info: ValidationInfo) -> date | None:
        start = info.data.get("effective_from")
        if value is not None and start is not None and value <= start:
            raise ValueError(f"effective_to {value} must be after effective_from {start}")
        return value

    def active_days(self, start: date, end: date) -> tuple[date, date] | None:
        """The part of [start, end) this assignment covers, as [first, stop), or None."""
        first = max(start, self.effective_from)
        stop = end if self.effective_to is None else min(end, self.effective_to)
        return (first, stop) if first < stop else None

    def overlaps(self, start: date, end: date) -> bool:
        return self.active_days(start, end) is not None


def assignments_for(
    assignments: Iterable[Assignment], meter_id: str, start: date, end: date
) -> list[Assignment]:
    """The meter's assignments active in [start, end), by effective_from.

    Raises ValueError naming the assignments whose shares add up to more than 1 on some day of the window:
    the meter's own usage and its residual (main minus sub-meters) are counted apart, and a residual split by
    area or usage has no fixed share to count.
    """
    spans = sorted(
        ((a, span) for a in assignments if a.meter_id == meter_id and (span := a.active_days(start, end))),
        key=lambda pair: (pair[0].effective_from, pair[0].id),
    )
    for day in sorted({first for _, (first, _) in spans}):  # the total only rises where an assignment starts
        for basis in ("meter", "residual"):
            running = [
                a for a, (first, stop) in spans if first <= day < stop and a.basis == basis and a.fixed_share
            ]
            total = sum((a.share for a in running), Decimal(0))
            if total > 1:
                ids = ", ".join(repr(a.id) for a in running)
                what = "assignments" if basis == "meter" else "residual assignments"
                raise ValueError(
                    f"meter {meter_id!r}: {what} {ids} overlap from {day} with total share {total} > 1"
                )
    return [a for a, _ in spans]
