from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import BaseModel, ValidationError

from meterbill.domain import (
    UNITS_BY_UTILITY,
    Account,
    Assignment,
    Customer,
    Meter,
    MeterLabels,
    Site,
    assignments_for,
)


def customer(**fields: Any) -> Customer:
    return Customer.model_validate({"id": "c1", "account_id": "acme", "name": "Ada Lovelace"} | fields)


def site(**fields: Any) -> Site:
    return Site.model_validate(
        {"id": "s1", "account_id": "acme", "name": "Berlin office", "timezone": "Europe/Berlin"} | fields
    )


def meter(**fields: Any) -> Meter:
    return Meter.model_validate(
        {
            "id": "m1",
            "account_id": "acme",
            "site_id": "s1",
            "utility": "electricity",
            "unit": "kWh",
            "kind": "main",
        }
        | fields
    )


def assignment(id: str = "a1", **fields: Any) -> Assignment:
    return Assignment.model_validate(
        {
            "id": id,
            "account_id": "acme",
            "meter_id": "m1",
            "customer_id": "c1",
            "tariff_id": "t1",
            "effective_from": "2026-01-01",
        }
        | fields
    )


def rejection(build: Any, **fields: Any) -> tuple[tuple[str | int, ...], str]:
    """The location and message of the single error raised when building with these fields."""
    with pytest.raises(ValidationError) as caught:
        build(**fields)
    (error,) = caught.value.errors()
    return error["loc"], error["msg"]


# --- ids, unknown fields, immutability -------------------------------------------------------------------


def test_an_id_may_hold_letters_digits_and_separators() -> None:
    assert customer(id="c-01.berlin:flat_3").id == "c-01.berlin:flat_3"


@pytest.mark.parametrize("bad_id", ["", "-c1", "c 1", "c/1", "x" * 65])
def test_an_id_with_a_bad_shape_is_rejected(bad_id: str) -> None:
    loc, msg = rejection(customer, id=bad_id)
    assert loc == ("id",)
    assert msg.startswith("String should match pattern")


def test_an_unknown_field_is_rejected_by_name() -> None:
    loc, msg = rejection(customer, nickname="Ada")
    assert (loc, msg) == (("nickname",), "Extra inputs are not permitted")


@pytest.mark.parametrize(
    "model",
    [
        Account(id="acme", name="Acme", created_at=datetime(2026, 1, 1, tzinfo=UTC)),
        customer(),
        site(),
        meter(),
        assignment(),
        MeterLabels(room="R1"),
    ],
)
def test_every_model_is_frozen(model: BaseModel) -> None:
    first_field = next(iter(type(model).model_fields))
    with pytest.raises(ValidationError, match="Instance is frozen"):
        setattr(model, first_field, "other")


def test_an_account_needs_a_timezone_aware_creation_time() -> None:
    loc, msg = rejection(Account, id="acme", name="Acme", created_at=datetime(2026, 1, 1))
    assert (loc, msg) == (("created_at",), "Input should have timezone info")


# --- customer ------------------------------------------------------------------------------------------


def test_a_customer_defaults_to_the_accounts_bill_day_without_contact_details() -> None:
    plain = customer()
    assert (plain.bill_day, plain.emails, plain.phone, plain.address, plain.attributes) == (
        None,
        (),
        None,
        None,
        {},
    )


def test_a_customer_keeps_its_contact_details_and_address() -> None:
    ada = customer(
        emails=["ada@example.org", "billing@example.co.uk"],
        phone="+49 30 1234567",
        address={"lines": ["Unter den Linden 1"], "postal_code": "10117", "city": "Berlin", "country": "DE"},
        bill_title="Flat 3",
        logo_ref="acme/logo.png",
    )
    assert ada.emails == ("ada@example.org", "billing@example.co.uk")
    assert ada.phone == "+49 30 1234567"
    assert ada.address is not None
    assert (ada.address.lines, ada.address.city, ada.address.country) == (
        ("Unter den Linden 1",),
        "Berlin",
        "DE",
    )


def test_a_customer_reads_documents_in_english_unless_it_asks_for_german() -> None:
    assert customer().language == "en"
    hans = customer(language="de", vat_id="DE123456789", buyer_reference="04011000-12345-34")
    assert (hans.language, hans.vat_id, hans.buyer_reference) == ("de", "DE123456789", "04011000-12345-34")


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("language", "fr", "Input should be 'en' or 'de'"),
        (
            "vat_id",
            "de 123",
            "Value error, 'de 123' is not a VAT id: a 2-letter country code, then 2 to 13 "
            "capital letters or digits without spaces (e.g. DE123456789)",
        ),
    ],
)
def test_a_customer_with_an_unknown_language_or_a_malformed_vat_id_is_refused_naming_the_field(
    field: str, value: str, reason: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        customer(**{field: value})
    (error,) = refused.value.errors()
    assert (error["loc"], error["msg"]) == ((field,), reason)


@pytest.mark.parametrize("bad_email", ["ada", "ada@example", "ada@@example.org", "ada lovelace@example.org"])
def test_a_malformed_email_is_rejected_with_its_position(bad_email: str) -> None:
    loc, msg = rejection(customer, emails=["ok@example.org", bad_email])
    assert loc == ("emails", 1)
    assert msg == f"Value error, {bad_email!r} is not an email address (expected name@domain.tld)"


@pytest.mark.parametrize(
    "bad_phone", ["030 1234567", "+0 30 1234567", "+49-30-1234567", "+1234", "+1" + "2" * 15]
)
def test_a_phone_number_must_be_plus_and_digits(bad_phone: str) -> None:
    loc, msg = rejection(customer, phone=bad_phone)
    assert loc == ("phone",)
    assert msg.endswith("is not an E.164 phone number (expected '+' then 6-15 digits)")


def test_an_address_country_must_be_an_uppercase_alpha2_code() -> None:
    loc, _ = rejection(customer, address={"lines": ["Main St 1"], "city": "Berlin", "country": "deu"})
    assert loc == ("address", "country")


def test_an_address_needs_at_least_one_line() -> None:
    loc, _ = rejection(customer, address={"lines": [], "city": "Berlin", "country": "DE"})
    assert loc == ("address", "lines")


@pytest.mark.parametrize(("day", "accepted"), [(1, True), (28, True), (0, False), (29, False)])
def test_the_bill_day_lies_between_1_and_28(day: int, accepted: bool) -> None:
    if accepted:
        assert customer(bill_day=day).bill_day == day
    else:
        assert rejection(customer, bill_day=day)[0] == ("bill_day",)


def test_numeric_attributes_become_decimals_and_flags_and_text_stay() -> None:
    ada = customer(
        attributes={
            "senior_citizen": True,
            "area_m2": "120.5",
            "occupants": 3,
            "roof_kwp": 9.9,
            "zone": "north",
        }
    )
    assert ada.attributes == {
        "senior_citizen": True,
        "area_m2": Decimal("120.5"),
        "occupants": Decimal("3"),
        "roof_kwp": Decimal("9.9"),
        "zone": "north",
    }
    assert [type(value) for value in ada.attributes.values()] == [bool, Decimal, Decimal, Decimal, str]


def test_attributes_from_json_numbers_keep_their_written_digits() -> None:
    ada = Customer.model_validate_json(
        '{"id": "c1", "account_id": "acme", "name": "Ada", "attributes": {"share": 0.1, "area_m2": 120.50}}'
    )
    assert ada.attributes == {"share": Decimal("0.1"), "area_m2": Decimal("120.5")}


@pytest.mark.parametrize("not_finite", [float("nan"), float("inf"), "NaN", "-Infinity", Decimal("sNaN")])
def test_a_non_finite_attribute_is_rejected(not_finite: object) -> None:
    loc, msg = rejection(customer, attributes={"area_m2": not_finite})
    assert loc == ("attributes", "area_m2")
    assert msg.endswith("is not a finite number")


@pytest.mark.parametrize("bad_key", ["_private", "2nd_floor", "area-m2", "if", "None"])
def test_an_attribute_name_must_be_usable_in_a_formula(bad_key: str) -> None:
    loc, msg = rejection(customer, attributes={bad_key: 1})
    assert loc == ("attributes", bad_key, "[key]")
    assert msg == (
        f"Value error, attribute name {bad_key!r} must be a letter then letters, digits or '_' "
        "and not a Python keyword"
    )


# --- site ----------------------------------------------------------------------------------------------


def test_a_site_gives_its_zone() -> None:
    assert site().zone() == ZoneInfo("Europe/Berlin")


@pytest.mark.parametrize("bad_zone", ["Europe/Atlantis", "CET+1", "../etc/passwd", "", "localtime"])
def test_a_site_with_an_unknown_time_zone_is_rejected(bad_zone: str) -> None:
    loc, msg = rejection(site, timezone=bad_zone)
    assert loc == ("timezone",)
    assert "IANA" in msg


def test_the_time_zone_error_says_what_was_given() -> None:
    assert rejection(site, timezone="Europe/Atlantis") == (
        ("timezone",),
        "Value error, unknown time zone 'Europe/Atlantis' (expected an IANA name like 'Europe/Berlin')",
    )


def test_an_unknown_holiday_country_is_rejected() -> None:
    assert rejection(site, holiday_country="XX") == (
        ("holiday_country",),
        "Value error, no public-holiday calendar for country 'XX'",
    )


def test_an_unknown_holiday_subdivision_is_rejected() -> None:
    loc, msg = rejection(site, holiday_country="DE", holiday_subdivision="XY")
    assert loc == ("holiday_subdivision",)
    assert msg.startswith("Value error, 'XY' is not a subdivision of DE; expected one of: ")
    assert "BE" in msg


def test_a_holiday_subdivision_needs_a_country() -> None:
    assert rejection(site, holiday_subdivision="BE") == (
        ("holiday_subdivision",),
        "Value error, a holiday subdivision needs holiday_country",
    )


def test_berlin_has_ten_public_holidays_in_2026_including_womens_day() -> None:
    berlin = site(holiday_country="DE", holiday_subdivision="BE")
    days = berlin.holiday_dates(date(2026, 1, 1), date(2027, 1, 1))
    assert days == {
        date(2026, 1, 1),  # New Year's Day
        date(2026, 3, 8),  # International Women's Day (Berlin only)
        date(2026, 4, 3),  # Good Friday
        date(2026, 4, 6),  # Easter Monday
        date(2026, 5, 1),  # Labour Day
        date(2026, 5, 14),  # Ascension Day
        date(2026, 5, 25),  # Whit Monday
        date(2026, 10, 3),  # German Unity Day
        date(2026, 12, 25),  # Christmas Day
        date(2026, 12, 26),  # Second Day of Christmas
    }
    assert len(days) == 10


def test_womens_day_is_not_a_holiday_in_germany_at_large() -> None:
    germany = site(holiday_country="DE")
    days = germany.holiday_dates(date(2026, 1, 1), date(2027, 1, 1))
    assert date(2026, 3, 8) not in days
    assert len(days) == 9


def test_holiday_dates_exclude_the_end_and_span_years() -> None:
    berlin = site(holiday_country="DE", holiday_subdivision="BE")
    assert berlin.holiday_dates(date(2025, 12, 25), date(2026, 1, 1)) == {
        date(2025, 12, 25),
        date(2025, 12, 26),
    }
    assert berlin.holiday_dates(date(2025, 12, 26), date(2026, 1, 2)) == {
        date(2025, 12, 26),
        date(2026, 1, 1),
    }


def test_a_site_without_a_calendar_has_no_holidays() -> None:
    assert site().holiday_dates(date(2026, 1, 1), date(2027, 1, 1)) == frozenset()


# --- meter ---------------------------------------------------------------------------------------------


def test_a_meter_defaults_to_one_to_one_quarter_hours() -> None:
    main = meter()
    assert (main.multiplier, main.register_max, main.interval_minutes, main.labels) == (
        Decimal(1),
        None,
        15,
        MeterLabels(),
    )


def test_a_sub_meter_keeps_its_parent_ratio_register_and_labels() -> None:
    sub = meter(
        id="m2",
        kind="sub",
        parent_id="m1",
        multiplier="40",
        register_max="99999.9",
        interval_minutes=5,
        labels={"room": "DC-1", "rack": "R12", "feed": "A", "phase": "L2", "device": "PDU-3"},
        serial="SN-0042",
    )
    assert (sub.parent_id, sub.multiplier, sub.register_max) == ("m1", Decimal("40"), Decimal("99999.9"))
    assert sub.labels == MeterLabels(room="DC-1", rack="R12", feed="A", phase="L2", device="PDU-3")


def test_each_utility_accepts_each_of_its_units() -> None:
    for utility, units in UNITS_BY_UTILITY.items():
        for unit in units:
            assert meter(utility=utility, unit=unit).unit == unit


@pytest.mark.parametrize(("utility", "unit"), [("electricity", "m3"), ("water", "kWh"), ("on_time", "kWh")])
def test_a_unit_that_does_not_fit_the_utility_is_rejected(utility: str, unit: str) -> None:
    loc, msg = rejection(meter, utility=utility, unit=unit)
    assert loc == ("unit",)
    assert msg.startswith(f"Value error, unit {unit!r} does not fit utility {utility!r}; expected one of: ")


def test_the_unit_error_lists_the_units_that_fit() -> None:
    assert rejection(meter, utility="water", unit="kWh")[1] == (
        "Value error, unit 'kWh' does not fit utility 'water'; expected one of: L, m3"
    )


def test_a_sub_meter_without_a_parent_is_rejected() -> None:
    assert rejection(meter, kind="sub") == (("parent_id",), "Value error, a sub meter needs parent_id")


def test_a_main_meter_with_a_parent_is_rejected() -> None:
    assert rejection(meter, kind="main", parent_id="m0") == (
        ("parent_id",),
        "Value error, a main meter has no parent_id",
    )


def test_a_meter_cannot_be_its_own_parent() -> None:
    assert rejection(meter, kind="sub", parent_id="m1") == (
        ("parent_id",),
        "Value error, meter 'm1' cannot be its own parent",
    )


def test_a_check_meter_may_name_the_meter_it_checks() -> None:
    assert (meter(kind="check").parent_id, meter(kind="check", parent_id="m0").parent_id) == (None, "m0")


@pytest.mark.parametrize(
    ("field", "value"), [("multiplier", "0"), ("multiplier", "-1"), ("register_max", "0")]
)
def test_a_ratio_or_register_maximum_must_be_positive(field: str, value: str) -> None:
    loc, msg = rejection(meter, **{field: value})
    assert (loc, msg) == ((field,), "Input should be greater than 0")


def test_an_unsupported_interval_is_rejected() -> None:
    assert rejection(meter, interval_minutes=10)[0] == ("interval_minutes",)


def test_an_unknown_phase_is_rejected() -> None:
    assert rejection(meter, labels={"phase": "L4"})[0] == ("labels", "phase")


# --- assignment ----------------------------------------------------------------------------------------


def test_an_assignment_defaults_to_the_whole_meter_open_ended() -> None:
    whole = assignment()
    assert (whole.share, whole.effective_to) == (Decimal(1), None)


@pytest.mark.parametrize(
    ("share", "accepted"), [("0", False), ("0.0001", True), ("1", True), ("1.0001", False)]
)
def test_a_share_lies_above_0_and_at_most_1(share: str, accepted: bool) -> None:
    if accepted:
        assert assignment(share=share).share == Decimal(share)
    else:
        assert rejection(assignment, share=share)[0] == ("share",)


@pytest.mark.parametrize("effective_to", ["2025-12-31", "2026-01-01"])
def test_an_assignment_must_end_after_it_starts(effective_to: str) -> None:
    assert rejection(assignment, effective_from="2026-01-01", effective_to=effective_to) == (
        ("effective_to",),
        f"Value error, effective_to {effective_to} must be after effective_from 2026-01-01",
    )


def test_active_days_are_the_intersection_with_the_period() -> None:
    mid_march_on = assignment(effective_from="2026-03-15", effective_to="2026-06-01")
    assert mid_march_on.active_days(date(2026, 3, 1), date(2026, 4, 1)) == (
        date(2026, 3, 15),
        date(2026, 4, 1),
    )
    assert mid_march_on.active_days(date(2026, 5, 1), date(2026, 6, 1)) == (
        date(2026, 5, 1),
        date(2026, 6, 1),
    )
    assert mid_march_on.active_days(date(2026, 4, 1), date(2026, 5, 1)) == (
        date(2026, 4, 1),
        date(2026, 5, 1),
    )


def test_an_assignment_ending_when_the_period_starts_does_not_overlap_it() -> None:
    until_march = assignment(effective_from="2026-01-01", effective_to="2026-03-01")
    assert until_march.active_days(date(2026, 3, 1), date(2026, 4, 1)) is None
    assert until_march.overlaps(date(2026, 3, 1), date(2026, 4, 1)) is False
    assert until_march.overlaps(date(2026, 2, 28), date(2026, 4, 1)) is True


def test_an_assignment_starting_when_the_period_ends_does_not_overlap_it() -> None:
    from_april = assignment(effective_from="2026-04-01")
    assert from_april.overlaps(date(2026, 3, 1), date(2026, 4, 1)) is False
    assert from_april.active_days(date(2026, 3, 1), date(2027, 1, 1)) == (date(2026, 4, 1), date(2027, 1, 1))


def test_assignments_for_picks_the_meters_contracts_in_the_period_by_start() -> None:
    new_tariff = assignment("a2", effective_from="2026-03-15", tariff_id="t2")
    old_tariff = assignment("a1", effective_from="2025-01-01", effective_to="2026-03-15")
    older = assignment("a0", effective_from="2024-01-01", effective_to="2025-01-01")
    other_meter = assignment("a9", meter_id="m9")
    picked = assignments_for(
        [new_tariff, other_meter, older, old_tariff], "m1", date(2026, 3, 1), date(2026, 4, 1)
    )
    assert [a.id for a in picked] == ["a1", "a2"]


def test_shared_meter_assignments_may_overlap_up_to_a_total_share_of_1() -> None:
    upstairs = assignment("a1", customer_id="c1", share="0.6")
    downstairs = assignment("a2", customer_id="c2", share="0.4", effective_from="2026-02-01")
    picked = assignments_for([downstairs, upstairs], "m1", date(2026, 1, 1), date(2026, 3, 1))
    assert [a.id for a in picked] == ["a1", "a2"]
    assert sum(a.share for a in picked) == Decimal("0.6") + Decimal("0.4")


def test_overlapping_assignments_sharing_more_than_the_meter_are_rejected_by_id() -> None:
    first = assignment("a1", share="0.6")
    second = assignment("a2", share="0.5", effective_from="2026-02-01")
    with pytest.raises(ValueError) as caught:
        assignments_for([first, second], "m1", date(2026, 1, 1), date(2026, 3, 1))
    assert (
        str(caught.value)
        == "meter 'm1': assignments 'a1', 'a2' overlap from 2026-02-01 with total share 1.1 > 1"
    )


def test_three_overlapping_halves_are_rejected_though_each_pair_fits() -> None:
    halves = [assignment(f"a{n}", share="0.5", effective_from=f"2026-01-0{n}") for n in (1, 2, 3)]
    with pytest.raises(
        ValueError, match=r"assignments 'a1', 'a2', 'a3' overlap from 2026-01-03 with total share 1.5"
    ):
        assignments_for(halves, "m1", date(2026, 1, 1), date(2026, 2, 1))


def test_an_overlap_outside_the_period_does_not_matter() -> None:
    first = assignment("a1", effective_to="2026-02-01")
    second = assignment("a2", effective_from="2026-01-15")
    picked = assignments_for([first, second], "m1", date(2026, 2, 1), date(2026, 3, 1))
    assert [a.id for a in picked] == ["a2"]
