"""Tariff numbers and units are bounded (issue 8, item 18), so a stored tariff can always be rated: a rate
of 1e400, a number of 5,000 digits, a fixed amount or a tax of 1e30, a unit that is no unit are refused
naming the field; a tariff at the bounds still rates."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest

from meterbill.tariffs.engine import rate
from meterbill.tariffs.loading import TariffFileError, tariff_from_json
from meterbill.usage import Usage
from tests.builders import BERLIN, D, month, series, tariff
from tests.fakes import FakeStores
from tests.unit.api_support import ApiClient, handler_client, problem

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics")

FIVE_THOUSAND_DIGITS = "0." + "3" * 5000
HIGHEST = "1000000000"  # 10^9, the largest magnitude of a tariff number
FINEST = "0.1234567890123456789012345678"  # 28 significant digits, the most a number may have


def flat(rate: Any, **fields: Any) -> dict[str, Any]:
    return {
        "id": "flat",
        "name": "Flat",
        "energy": {"periods": [{"name": "all", "tiers": [{"rate": rate}]}]},
        **fields,
    }


OUT_OF_BOUNDS = [
    (flat("1e400"), "energy.periods[0].tiers[0].rate", "1E+400 must be from -1,000,000,000 to 1,000,000,000"),
    (
        flat(FIVE_THOUSAND_DIGITS),
        "energy.periods[0].tiers[0].rate",
        "0.333333 has 5000 significant digits, at most 28 are allowed",
    ),
    (
        flat("1e-50"),
        "energy.periods[0].tiers[0].rate",
        "1E-50 has 50 decimal places, at most 40 are allowed",
    ),
    (
        flat("0.3", fixed=[{"amount": "1e30"}]),
        "fixed[0].amount",
        "1E+30 must be from -1,000,000,000 to 1,000,000,000",
    ),
    (
        flat("0.3", taxes=[{"name": "VAT", "percent": "1e30"}]),
        "taxes[0].percent",
        "1E+30 must be from 0 to 100",
    ),
    (
        flat("0.3", variables={"base": "-2000000000"}),
        "variables.base",
        "-2000000000 must be from -1,000,000,000 to 1,000,000,000",
    ),
    (
        flat("0.3", unit="parsec"),
        "unit",
        "unknown unit 'parsec'; a tariff prices one of "
        "Wh, kWh, MWh, VArh, kVArh, MVArh, VAh, kVAh, MVAh, m3, L, ft3, gal, therm, MJ, GJ, h, s",
    ),
]


@pytest.mark.parametrize(("document", "field", "reason"), OUT_OF_BOUNDS)
def test_a_tariff_number_out_of_bounds_is_refused_naming_the_field(
    document: dict[str, Any], field: str, reason: str
) -> None:
    with pytest.raises(TariffFileError) as refused:
        tariff_from_json(document, "tariff.json")

    assert (refused.value.field, refused.value.reason) == (field, reason)


def test_a_unit_is_spelled_as_meterbill_spells_it() -> None:
    assert tariff(unit="KWH").unit == "kWh"


def test_a_tariff_at_the_bounds_still_rates() -> None:
    at_bounds = tariff(
        fixed=[{"amount": HIGHEST}],
        energy={
            "periods": [{"name": "all", "tiers": [{"size": HIGHEST, "rate": FINEST}, {"rate": HIGHEST}]}]
        },
        taxes=[{"name": "VAT", "percent": "100"}],
    )
    usage = Usage(series=series(datetime(2026, 1, 1, tzinfo=BERLIN), 60, ["2"]))

    bill = rate(at_bounds, month(2026, 1), usage)

    subtotal = D(HIGHEST) + (2 * D(FINEST)).quantize(D("0.01"))  # 1000000000 + 0.25
    assert (bill.subtotal, bill.taxes, bill.total) == (subtotal, subtotal, 2 * subtotal)


# Through the API: 422 naming the field, nothing stored; a tariff at the bounds can be previewed.


@pytest.fixture
def api(fakes: FakeStores) -> ApiClient:
    return handler_client()


@pytest.mark.parametrize(("document", "field", "reason"), OUT_OF_BOUNDS)
def test_the_api_answers_422_naming_the_field_of_a_number_out_of_bounds(
    api: ApiClient, fakes: FakeStores, document: dict[str, Any], field: str, reason: str
) -> None:
    answer = api.post("/v1/tariffs", document)

    assert answer.json == problem(422, f"{field}: {reason}", (field, reason))
    assert fakes.catalog.items == {}


def test_the_api_refuses_a_json_number_beyond_any_float(api: ApiClient, fakes: FakeStores) -> None:
    body = json.dumps(flat("X")).replace('"X"', "1e400")

    answer = api.request("POST", "/v1/tariffs", body=body, headers={"Content-Type": "application/json"})

    reason = "1E+400 must be from -1,000,000,000 to 1,000,000,000"  # the API reads JSON numbers as decimals
    assert answer.json == problem(
        422, f"energy.periods[0].tiers[0].rate: {reason}", ("energy.periods[0].tiers[0].rate", reason)
    )
    assert fakes.catalog.items == {}


def test_a_tariff_at_the_bounds_is_stored_and_previewed(api: ApiClient) -> None:
    api.post("/v1/sites", {"id": "site-1", "name": "Plant", "timezone": "Europe/Berlin"})
    meter = {"id": "mtr-1", "site_id": "site-1", "utility": "electricity", "unit": "kWh", "kind": "main"}
    api.post("/v1/meters", meter)
    api.post("/v1/customers", {"id": "cus-1", "name": "Ada"})
    at_bounds = flat(
        HIGHEST, fixed=[{"amount": HIGHEST, "per": "day"}], taxes=[{"name": "VAT", "percent": "100"}]
    )
    stored = api.post("/v1/tariffs", at_bounds)
    assignment = {"id": "asg-1", "meter_id": "mtr-1", "customer_id": "cus-1", "tariff_id": "flat"}
    api.post("/v1/assignments", {**assignment, "effective_from": "2026-02-01"})
    reading = {"meter_id": "mtr-1", "timestamp": "2026-02-01T00:00:00+01:00", "value": "0.25"}
    api.post("/v1/readings", {"readings": [{**reading, "type": "interval", "interval_minutes": 15}]})

    answer = api.get("/v1/customers/cus-1/bill-preview", **{"from": "2026-02-01", "to": "2026-02-02"})

    assert (stored.status, answer.status) == (201, 200)
    bill = answer.json["bills"][0]["bill"]
    subtotal = D(HIGHEST) * 1 + D(HIGHEST) * D("0.25")  # one day's fixed charge, 0.25 kWh
    assert (bill["subtotal"], bill["taxes"], bill["total"]) == (
        str(subtotal.quantize(D("0.01"))),
        str(subtotal.quantize(D("0.01"))),
        str((2 * subtotal).quantize(D("0.01"))),
    )


def test_every_operand_of_the_tariff_schema_is_bounded() -> None:
    from meterbill.tariffs.model import Tariff

    schema = Tariff.model_json_schema()
    numbers = [
        option
        for definition in schema["$defs"].values()
        for prop in definition.get("properties", {}).values()
        for option in prop.get("anyOf", [])
        if option.get("type") == "number"
    ]
    assert numbers and all("maximum" in n and ("minimum" in n or "exclusiveMinimum" in n) for n in numbers)
    assert Decimal(max(n["maximum"] for n in numbers)) == D(HIGHEST)


def test_a_tariff_version_beyond_six_digits_is_refused() -> None:
    with pytest.raises(TariffFileError) as refused:
        tariff_from_json(flat("0.3", version=10**30), "tariff.json")

    assert (refused.value.field, refused.value.reason) == (
        "version",
        "Input should be less than or equal to 999999",
    )
