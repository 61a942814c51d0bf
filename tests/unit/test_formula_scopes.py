"""Formulas read the attributes of the customer, the site and the meter (``customer.x``, ``site.x``,
``meter.x``; a bare ``x`` is the customer's), and every bill records the variable values its formulas read."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from pydantic import ValidationError

from meterbill.billing.bill import Bill
from meterbill.money import round_money
from meterbill.tariffs.attributes import scoped_attributes
from meterbill.tariffs.engine import ScopedAttributes, TariffError, Variables, rate, rate_monthly
from meterbill.tariffs.formulas import FormulaError, parse_formula
from meterbill.usage import Usage
from tests.builders import BERLIN, D, amounts, days, month, series, tariff

APRIL = datetime(2026, 4, 1, tzinfo=BERLIN)


def parse_error(source: str) -> FormulaError:
    with pytest.raises(FormulaError) as caught:
        parse_formula(source)
    return caught.value


def rated(fixed_amount: str, attributes: Variables | ScopedAttributes | None = None) -> Bill:
    return rate(tariff(fixed=[{"amount": fixed_amount}]), month(2026, 4), Usage(), attributes=attributes)


# --- the formula language -----------------------------------------------------------------------------------


def test_a_formula_names_qualified_variables_as_written_and_bare_ones_bare():
    formula = parse_formula("site.floor_area * 0.5 + (2 if meter.phase_count == 3 else 0) + customer.x + y")
    assert formula.names == {"site.floor_area", "meter.phase_count", "customer.x", "y"}


def test_a_qualified_variable_is_read_from_its_scope():
    formula = parse_formula("site.floor_area * 0.5")
    assert formula.evaluate({"site.floor_area": D("120")}) == D("120") * D("0.5")


def test_parentheses_and_spaces_around_the_dot_name_the_same_variable():
    assert parse_formula("(site) .  floor_area").names == {"site.floor_area"}


@pytest.mark.parametrize(
    ("source", "column", "reason"),
    [
        ("site.__class__", 1, "site.__class__: names starting with an underscore are not allowed"),
        ("1 + meter._secret", 5, "meter._secret: names starting with an underscore are not allowed"),
        (
            "tariff.base * 2",
            1,
            "attribute access is not allowed on tariff; "
            "a formula reads attributes of customer, site and meter only (e.g. site.floor_area)",
        ),
        (
            "2 * premise.area",
            5,
            "attribute access is not allowed on premise; "
            "a formula reads attributes of customer, site and meter only (e.g. site.floor_area)",
        ),
        (
            "site.floor_area.real",
            1,
            "site.floor_area.real: a formula reads one attribute of customer, site and meter, "
            "not an attribute of an attribute (write site.floor_area)",
        ),
        (
            "customer.x.y.__class__",
            1,
            "customer.x.y.__class__: a formula reads one attribute of customer, site and meter, "
            "not an attribute of an attribute (write customer.x)",
        ),
        ("site.x(1)", 1, "calling site.x is not allowed; only abs, min, max, round can be called"),
        ("site['floor_area']", 1, "subscripting is not allowed"),
        (
            "(1).real",
            1,
            "attribute access is not allowed on 1; "
            "a formula reads attributes of customer, site and meter only (e.g. site.floor_area)",
        ),
    ],
)
def test_attribute_access_outside_the_three_scopes_is_rejected_where_it_stands(source, column, reason):
    error = parse_error(source)
    assert (error.column, error.reason, error.source) == (column, reason, source)


def test_a_missing_qualified_variable_is_named_at_its_column():
    with pytest.raises(FormulaError) as caught:
        parse_formula("1 + site.nope").evaluate({})
    assert (caught.value.column, caught.value.reason) == (5, "variable 'site.nope' is missing")


# --- the engine: what each scope feeds ----------------------------------------------------------------------


def test_a_fixed_charge_on_the_sites_floor_area():
    bill = rated("site.floor_area * 0.5", ScopedAttributes(site={"floor_area": D("120")}))
    assert amounts(bill, "fixed") == [D("120") * D("0.5")]
    assert bill.total == D("60.00")
    assert bill.variables == (("site.floor_area", D("120")),)


def test_the_meters_phase_count_selects_the_energy_rate():
    t = tariff(
        energy={"periods": [{"name": "all", "tiers": [{"rate": "0.25 if meter.phase_count == 3 else 0.30"}]}]}
    )
    usage = Usage(series=series(APRIL, 60, ["10"]))
    three = rate(t, month(2026, 4), usage, attributes=ScopedAttributes(meter={"phase_count": D(3)}))
    one = rate(t, month(2026, 4), usage, attributes=ScopedAttributes(meter={"phase_count": D(1)}))
    assert (amounts(three, "energy"), amounts(one, "energy")) == (
        [D("10") * D("0.25")],
        [D("10") * D("0.30")],
    )
    assert (three.variables, one.variables) == (
        (("meter.phase_count", D(3)),),
        (("meter.phase_count", D(1)),),
    )


def test_customer_dot_name_and_the_bare_name_read_the_same_attribute():
    senior = ScopedAttributes(customer={"senior_citizen": True})
    qualified = rated("10 * (0.5 if customer.senior_citizen else 1)", senior)
    bare = rated("10 * (0.5 if senior_citizen else 1)", senior)
    assert amounts(qualified, "fixed") == amounts(bare, "fixed") == [D("10") * D("0.5")]
    assert qualified.variables == bare.variables == (("customer.senior_citizen", True),)


def test_a_plain_mapping_of_attributes_is_still_the_customers():
    bill = rated("10 * (0.5 if customer.senior_citizen else 1)", {"senior_citizen": True})
    assert amounts(bill, "fixed") == [D("10") * D("0.5")]
    assert bill.variables == (("customer.senior_citizen", True),)


def test_the_same_name_in_each_scope_is_three_variables():
    attributes = ScopedAttributes(customer={"area": D("1")}, site={"area": D("20")}, meter={"area": D("300")})
    bill = rated("customer.area + site.area + meter.area", attributes)
    assert amounts(bill, "fixed") == [D("1") + D("20") + D("300")]
    assert bill.variables == (("customer.area", D("1")), ("meter.area", D("300")), ("site.area", D("20")))


def test_customer_dot_name_reaches_an_attribute_the_calendar_shadows():
    # A customer attribute called "month": bare `month` stays the bill's month, customer.month is the
    # attribute.
    bill = rated("month + customer.month", {"month": D("100")})
    assert amounts(bill, "fixed") == [D(4) + D("100")]
    assert bill.variables == (("customer.month", D("100")), ("month", D(4)))


def test_a_missing_site_attribute_names_the_operand_the_formula_and_the_name():
    with pytest.raises(TariffError) as caught:
        rated("site.nope * 2", ScopedAttributes(site={"floor_area": D("120")}))
    assert caught.value.field == "fixed[0].amount"
    assert caught.value.reason == "formula 'site.nope * 2': column 1: variable 'site.nope' is missing"


def test_a_site_attribute_is_not_the_customers_bare_name():
    with pytest.raises(TariffError) as caught:
        rated("floor_area * 0.5", ScopedAttributes(site={"floor_area": D("120")}))
    assert caught.value.reason == (
        "formula 'floor_area * 0.5': column 1: variable 'floor_area' is missing "
        "(a bare name is the customer's; write site.floor_area)"
    )


def test_a_formula_out_of_bounds_shows_the_qualified_values_it_read():
    with pytest.raises(TariffError) as caught:
        rate(
            tariff(energy={"periods": [{"name": "all", "tiers": [{"rate": "0.1", "size": "site.x - 50"}]}]}),
            month(2026, 4),
            Usage(series=series(APRIL, 60, ["1"])),
            attributes=ScopedAttributes(site={"x": D("20")}),
        )
    assert caught.value.field == "energy.periods[0].tiers[0].size"
    assert caught.value.reason.startswith("formula 'site.x - 50' gives -30 with site.x = 20; ")


# --- the record on the bill ---------------------------------------------------------------------------------


def test_the_bill_records_every_variable_its_formulas_read_and_the_tariffs_own_variables():
    t = tariff(
        variables={"base": "site.floor_area * 0.5", "unused": "7"},
        fixed=[{"amount": "base * (0.5 if senior_citizen else 1) + days * 0"}],
        energy={"periods": [{"name": "all", "tiers": [{"rate": "0.20 + meter.phase_count * 0.01"}]}]},
        taxes=[{"name": "VAT", "percent": "19"}],
    )
    attributes = ScopedAttributes(
        customer={"senior_citizen": True, "not_read": D(1)},
        site={"floor_area": D("120"), "not_read": D(2)},
        meter={"phase_count": D(3), "not_read": D(3)},
    )
    bill = rate(t, month(2026, 4), Usage(series=series(APRIL, 60, ["10"])), attributes=attributes)

    assert amounts(bill, "fixed") == [D("120") * D("0.5") * D("0.5")]  # 30.00
    assert amounts(bill, "energy") == [D("10") * (D("0.20") + 3 * D("0.01"))]  # 2.30
    assert bill.variables == (
        ("base", D("60.0")),
        ("customer.senior_citizen", True),
        ("days", D(30)),
        ("meter.phase_count", D(3)),
        ("site.floor_area", D("120")),
        ("unused", D("7")),
    )
    assert bill.to_json()["variables"] == {
        "base": "60",
        "customer.senior_citizen": True,
        "days": "30",
        "meter.phase_count": "3",
        "site.floor_area": "120",
        "unused": "7",
    }


def test_a_tariff_without_formulas_records_nothing():
    bill = rated("9.90")
    assert (bill.variables, bill.to_json()["variables"]) == ((), {})


def test_text_attributes_are_recorded_as_text():
    bill = rated(
        "5 if site.climate_zone == 'alpine' else 3", ScopedAttributes(site={"climate_zone": "alpine"})
    )
    assert amounts(bill, "fixed") == [D("5")]
    assert bill.to_json()["variables"] == {"site.climate_zone": "alpine"}


def test_each_monthly_bill_records_its_own_calendar():
    t = tariff(fixed=[{"amount": "days * site.rate"}])
    bills = rate_monthly(
        t,
        days(date(2026, 1, 20), date(2026, 3, 1)),
        Usage(),
        attributes=ScopedAttributes(site={"rate": D("0.5")}),
    )
    assert [bill.variables for bill in bills] == [
        (("days", D(12)), ("site.rate", D("0.5"))),
        (("days", D(28)), ("site.rate", D("0.5"))),
    ]
    # A monthly fixed charge is prorated: 12 of January's 31 days, all of February.
    assert [amounts(bill, "fixed") for bill in bills] == [
        [round_money(D(12) * D("0.5") * 12 / 31, "EUR")],
        [D(28) * D("0.5")],
    ]


# --- an attributes document (meterbill rate --attributes A.json) --------------------------------------------


def test_a_flat_attributes_document_is_the_customers():
    assert scoped_attributes({"senior_citizen": True, "floor_area": 120.5}) == ScopedAttributes(
        customer={"senior_citizen": True, "floor_area": D("120.5")}
    )


def test_an_attributes_document_may_name_the_three_scopes():
    document = {
        "customer": {"senior_citizen": True},
        "site": {"floor_area": 120},
        "meter": {"phase_count": "3"},
    }
    attributes = scoped_attributes(document)
    assert attributes == ScopedAttributes(
        customer={"senior_citizen": True}, site={"floor_area": D(120)}, meter={"phase_count": D(3)}
    )
    assert rated("site.floor_area * 0.5", attributes).total == D("60.00")


def test_a_text_attribute_called_site_keeps_the_document_flat():
    assert scoped_attributes({"site": "north"}) == ScopedAttributes(customer={"site": "north"})


@pytest.mark.parametrize(
    ("document", "loc", "message"),
    [
        (
            {"site": {"floor area": 1}},
            ("site", "floor area", "[key]"),
            "Value error, attribute name 'floor area' must be a letter then letters, digits or '_' "
            "and not a Python keyword",
        ),
        (
            {"meter": {"phase_count": "1e15"}},
            ("meter", "phase_count"),
            "Value error, 1E+15 is not less than 1e+15 in size",
        ),
        (
            {"site": {"floor_area": 1}, "senior_citizen": True},
            ("senior_citizen",),
            "Extra inputs are not permitted",
        ),
    ],
)
def test_a_bad_attributes_document_names_the_scope_and_the_attribute(document, loc, message):
    with pytest.raises(ValidationError) as caught:
        scoped_attributes(document)
    (error,) = caught.value.errors(include_url=False)
    assert (error["loc"], error["msg"]) == (loc, message)
