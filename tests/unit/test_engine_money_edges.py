"""Money at the edges of a tariff (issue 8): operands a formula makes are held to the rules of written ones, a
discount never takes more than what it applies to, and a ratchet bills a month that has no data."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest

from meterbill.tariffs.engine import TariffError, rate, rate_monthly
from meterbill.tariffs.loading import TariffFileError, tariff_from_json
from meterbill.usage import Usage
from tests.builders import BERLIN, D, amounts, days, flat_energy, lines, month, series, tariff

JAN_1 = datetime(2026, 1, 1, tzinfo=BERLIN)
MARCH_1 = datetime(2026, 3, 1, tzinfo=BERLIN)
FIFTY_KWH = Usage(series=series(JAN_1, 60, ["50"]))


def ladder(first_size: str) -> dict[str, Any]:
    """First block at 0.10, the rest at 0.30: 50 kWh can cost at most 50 x 0.30 = 15.00."""
    return {"periods": [{"name": "all", "tiers": [{"size": first_size, "rate": "0.10"}, {"rate": "0.30"}]}]}


# 4. Negative tier sizes and every other operand a formula makes


def test_a_negative_tier_size_is_refused_naming_the_tier() -> None:
    with pytest.raises(TariffFileError) as refused:
        tariff_from_json({"id": "t", "name": "Ladder", "energy": ladder("-100")}, "t.json")

    assert (refused.value.field, refused.value.reason) == (
        "energy.periods[0].tiers[0].size",
        "-100 must be from 0 to 1,000,000,000",
    )


def test_a_formula_that_makes_a_negative_tier_size_is_refused_with_its_variables() -> None:
    # Billed as a -100 kWh block this was -100 x 0.10 + 150 x 0.30 = 35.00 for 50 kWh.
    with pytest.raises(TariffError) as refused:
        rate(
            tariff(energy=ladder("100*occupants-100")), month(2026, 1), FIFTY_KWH, attributes={"occupants": 0}
        )

    assert (refused.value.field, refused.value.reason) == (
        "energy.periods[0].tiers[0].size",
        "formula '100*occupants-100' gives -100 with occupants = 0; must be from 0 to 1,000,000,000",
    )


@pytest.mark.parametrize(
    ("occupants", "expected"),
    [(1, D(50) * D("0.30")), (2, D(50) * D("0.10"))],  # a first block of 0 kWh, then of 100 kWh
)
def test_a_formula_tier_size_within_its_bounds_prices_the_ladder(occupants: int, expected: Decimal) -> None:
    bill = rate(
        tariff(energy=ladder("100*occupants-100")),
        month(2026, 1),
        FIFTY_KWH,
        attributes={"occupants": occupants},
    )

    assert bill.total == expected


@pytest.mark.parametrize(
    ("parts", "field", "reason"),
    [
        (
            {"taxes": [{"name": "VAT", "percent": "19 * rate_factor"}]},
            "taxes[0].percent",
            "formula '19 * rate_factor' gives 190 with rate_factor = 10; must be from 0 to 100",
        ),
        (
            {"adjustments": [{"kind": "discount", "description": "x", "amount": "5 - rate_factor"}]},
            "adjustments[0].amount",
            "formula '5 - rate_factor' gives -5 with rate_factor = 10; must be from 0 to 1,000,000,000",
        ),
        (
            {"minimum": {"amount": "-rate_factor"}},
            "minimum.amount",
            "formula '-rate_factor' gives -10 with rate_factor = 10; must be from 0 to 1,000,000,000",
        ),
        (
            {"energy": flat_energy("rate_factor * 1000000000")},
            "energy.periods[0].tiers[0].rate",
            "formula 'rate_factor * 1000000000' gives 10000000000 with rate_factor = 10; "
            "must be from -1,000,000,000 to 1,000,000,000",
        ),
    ],
)
def test_every_operand_a_formula_makes_keeps_the_bounds_of_a_written_one(
    parts: dict[str, Any], field: str, reason: str
) -> None:
    t = tariff(fixed=[{"amount": "1"}], **parts)

    with pytest.raises(TariffError) as refused:
        rate(t, month(2026, 1), FIFTY_KWH, attributes={"rate_factor": 10})

    assert (refused.value.field, refused.value.reason) == (field, reason)


def test_a_ratchet_percent_from_a_formula_must_be_a_share() -> None:
    t = tariff(demand=flat_demand(ratchet={"percent": "80 * rate_factor"}))

    with pytest.raises(TariffError) as refused:
        rate(t, month(2026, 1), FIFTY_KWH, attributes={"rate_factor": 0}, demand_history=[D(100)])

    assert (refused.value.field, refused.value.reason) == (
        "demand.flat.ratchet.percent",
        "formula '80 * rate_factor' gives 0 with rate_factor = 0; must be more than 0 and at most 100",
    )


# 5. A fixed discount larger than its base


def discounted(amount: str, applies_to: list[str]) -> dict[str, Any]:
    return {
        "fixed": [{"description": "Service", "amount": "5.00"}],
        "energy": flat_energy("0.30"),
        "adjustments": [
            {"kind": "discount", "description": "Welcome", "amount": amount, "applies_to": applies_to}
        ],
        "taxes": [{"name": "VAT", "percent": "19"}],
    }


def test_a_fixed_discount_is_capped_at_the_components_it_names_and_never_makes_negative_vat() -> None:
    usage = Usage(series=series(JAN_1, 60, ["10"]))

    bill = rate(tariff(**discounted("20", ["energy"])), month(2026, 1), usage)

    energy = D(10) * D("0.30")  # 3.00, all the discount can take
    assert amounts(bill, "discount") == [-energy]
    assert lines(bill, "discount")[0].description == "Welcome (capped at 3.00, the amount of energy)"
    assert bill.subtotal == D("5.00") + energy - energy
    assert bill.taxes == (D("5.00") * D("0.19")).quantize(D("0.01"))
    assert bill.total == D("5.95")


def test_a_fixed_discount_within_its_base_is_taken_whole() -> None:
    usage = Usage(series=series(JAN_1, 60, ["10"]))

    bill = rate(tariff(**discounted("2", ["energy", "fixed"])), month(2026, 1), usage)

    assert amounts(bill, "discount") == [D("-2.00")]
    assert bill.total == ((D("5.00") + D("3.00") - D("2.00")) * D("1.19")).quantize(D("0.01"))


def test_a_fixed_discount_on_a_component_the_bill_does_not_have_takes_nothing() -> None:
    bill = rate(
        tariff(**discounted("20", ["demand"])), month(2026, 1), Usage(series=series(JAN_1, 60, ["10"]))
    )

    assert amounts(bill, "discount") == []
    assert bill.total == ((D("5.00") + D("3.00")) * D("1.19")).quantize(D("0.01"))


# 6. A ratchet in a month without data


def flat_demand(**flat: Any) -> dict[str, Any]:
    return {"flat": {"periods": [{"name": "flat", "tiers": [{"rate": "10"}]}], **flat}}


RATCHETED = tariff(demand=flat_demand(ratchet={"percent": "80", "months": 11}))


def test_a_month_without_interval_data_bills_the_ratchet_and_says_the_data_is_missing() -> None:
    only_march = Usage(series=series(MARCH_1, 60, ["50"]))

    bill = rate(RATCHETED, month(2026, 4), only_march, demand_history=[D(90), D(100)])

    assert [(line.description, line.quantity, line.amount) for line in lines(bill, "demand")] == [
        ("Demand, flat (ratchet: 80% of 100 kW; no interval data this month)", D(80), D(80) * 10)
    ]
    assert bill.total == D("800.00")
    assert bill.usage.missing_intervals == 30 * 24  # every hour of April
    assert bill.usage.peak_demand is None  # nothing measured: no peak for later ratchets


def test_a_bill_without_any_series_still_bills_the_ratchet() -> None:
    bill = rate(RATCHETED, month(2026, 4), Usage(), demand_history=[D(90), D(100)])

    assert [(line.quantity, line.amount) for line in lines(bill, "demand")] == [(D(80), D("800.00"))]


def test_monthly_bills_ratchet_the_months_after_the_data_ends() -> None:
    march_peak = Usage(series=series(MARCH_1, 60, ["100"]))

    bills = rate_monthly(RATCHETED, days(date(2026, 3, 1), date(2026, 6, 1)), march_peak)

    assert [amounts(bill, "demand") for bill in bills] == [
        [D(100) * 10],
        [D(100) * D("0.8") * 10],
        [D(100) * D("0.8") * 10],
    ]


def test_a_month_without_data_and_without_a_ratchet_has_no_demand_line() -> None:
    t = tariff(demand=flat_demand())

    bill = rate(t, month(2026, 4), Usage(series=series(MARCH_1, 60, ["50"])), demand_history=[D(100)])

    assert lines(bill, "demand") == []
