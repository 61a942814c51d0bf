"""A bill preview feeds each assignment's formulas the attributes of the customer, the meter's site and the
meter, and shows the variable values every bill's formulas read: in the service and through the API."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from meterbill.domain import Assignment, Customer, Meter, Site
from meterbill.errors import InvalidInputError
from meterbill.ports import RawReading
from meterbill.services import catalog as catalog_service
from meterbill.services.preview import bill_preview
from tests.builders import UTC
from tests.fakes import FakeCatalogStore, FakeReadingStore, FakeStores
from tests.unit.api_support import ApiClient, handler_client, problem

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics")

A = "acc_a"
D = Decimal
FEBRUARY = (date(2026, 2, 1), date(2026, 3, 1))

# 60.00 for 120 m2 of floor, 2.00 for a senior citizen, 0.25 EUR/kWh on a three-phase meter (else 0.30).
SCOPED_TARIFF: dict[str, Any] = {
    "id": "scoped",
    "name": "Floor area, phases and seniors",
    "currency": "EUR",
    "fixed": [
        {"description": "Floor area", "amount": "site.floor_area * 0.5"},
        {"description": "Senior service", "amount": "2 if customer.senior_citizen else 0"},
    ],
    "energy": {"periods": [{"name": "all", "tiers": [{"rate": "0.25 if meter.phase_count == 3 else 0.30"}]}]},
}
SITE: dict[str, Any] = {"id": "site-1", "name": "Plant", "timezone": "Europe/Berlin"}
METER: dict[str, Any] = {
    "id": "mtr-1",
    "site_id": "site-1",
    "utility": "electricity",
    "unit": "kWh",
    "kind": "main",
}
CUSTOMER: dict[str, Any] = {"id": "cus-1", "name": "Ada", "attributes": {"senior_citizen": True}}
ASSIGNMENT: dict[str, Any] = {
    "id": "asg-1",
    "meter_id": "mtr-1",
    "customer_id": "cus-1",
    "tariff_id": "scoped",
    "effective_from": "2026-02-01",
}
# 0.25 kWh every quarter hour of February 2026 in Berlin: 28 x 96 x 0.25 = 672 kWh.
QUARTERS = [datetime(2026, 1, 31, 23, tzinfo=UTC) + timedelta(minutes=15 * i) for i in range(28 * 96)]
KWH = 28 * 96 * D("0.25")
RECORDED = {"customer.senior_citizen": True, "meter.phase_count": "3", "site.floor_area": "120"}


def build_catalog(site_attributes: dict[str, Any], meter_attributes: dict[str, Any]) -> FakeCatalogStore:
    store = FakeCatalogStore()
    catalog_service.create(A, Site, {**SITE, "attributes": site_attributes}, store)
    catalog_service.create(A, Meter, {**METER, "attributes": meter_attributes}, store)
    catalog_service.create(A, Customer, CUSTOMER, store)
    catalog_service.create_tariff(A, SCOPED_TARIFF, store)
    catalog_service.create(A, Assignment, ASSIGNMENT, store)
    return store


@pytest.fixture
def readings() -> FakeReadingStore:
    store = FakeReadingStore()
    store.put_new(A, [RawReading("mtr-1", at, D("0.25"), "interval", 15) for at in QUARTERS])
    return store


def test_the_preview_rates_with_the_site_and_meter_attributes_and_records_them(readings):
    catalog = build_catalog({"floor_area": 120}, {"phase_count": 3})

    (previewed,) = bill_preview(A, "cus-1", *FEBRUARY, catalog, readings)

    bill = previewed.bill
    assert [line.amount for line in bill.lines] == [
        D("120") * D("0.5"),  # 60.00
        D("2.00"),
        KWH * D("0.25"),  # 168.00
    ]
    assert bill.total == D("230.00")  # 60.00 + 2.00 + 168.00
    assert bill.variables == (
        ("customer.senior_citizen", True),
        ("meter.phase_count", D(3)),
        ("site.floor_area", D(120)),
    )


def test_another_meter_of_the_same_customer_reads_its_own_phase_count(readings):
    catalog = build_catalog({"floor_area": 120}, {"phase_count": 1})

    (previewed,) = bill_preview(A, "cus-1", *FEBRUARY, catalog, readings)

    assert [line.amount for line in previewed.bill.lines if line.component == "energy"] == [KWH * D("0.30")]
    assert dict(previewed.bill.variables)["meter.phase_count"] == D(1)


def test_a_site_without_the_attribute_the_tariff_reads_is_a_422_naming_the_operand(readings):
    catalog = build_catalog({}, {"phase_count": 3})

    with pytest.raises(InvalidInputError) as caught:
        bill_preview(A, "cus-1", *FEBRUARY, catalog, readings)

    assert caught.value.field == "tariff.fixed[0].amount"
    assert caught.value.reason == (
        "assignment 'asg-1', tariff 'scoped' version 1: "
        "formula 'site.floor_area * 0.5': column 1: variable 'site.floor_area' is missing"
    )


# --- through the API ----------------------------------------------------------------------------------------


@pytest.fixture
def api(fakes: FakeStores) -> ApiClient:
    admin = handler_client()
    assert admin.post("/v1/sites", {**SITE, "attributes": {"floor_area": 120}}).status == 201
    assert admin.post("/v1/meters", {**METER, "attributes": {"phase_count": 3}}).status == 201
    assert admin.post("/v1/customers", CUSTOMER).status == 201
    assert admin.post("/v1/tariffs", SCOPED_TARIFF).status == 201
    assert admin.post("/v1/assignments", ASSIGNMENT).status == 201
    batch = [
        {
            "meter_id": "mtr-1",
            "timestamp": at.isoformat(),
            "value": "0.25",
            "type": "interval",
            "interval_minutes": 15,
        }
        for at in QUARTERS
    ]
    assert admin.post("/v1/readings", {"readings": batch}).json["accepted"] == 28 * 96
    return admin


def test_sites_and_meters_answer_their_attributes(api):
    assert api.get("/v1/sites/site-1").json["attributes"] == {"floor_area": "120"}
    assert api.get("/v1/meters/mtr-1").json["attributes"] == {"phase_count": "3"}


def test_the_preview_through_the_api_shows_the_variables_each_bill_read(api):
    answer = api.as_key("acc_a", "read").get(
        "/v1/customers/cus-1/bill-preview", **{"from": "2026-02-01", "to": "2026-03-01"}
    )

    assert answer.status == 200
    (previewed,) = answer.json["bills"]
    assert previewed["bill"]["total"] == "230.00"  # 120 x 0.5 + 2 + 672 kWh x 0.25
    assert previewed["bill"]["variables"] == RECORDED


def test_a_site_attribute_with_a_bad_name_is_a_422_naming_it(api, fakes):
    before = dict(fakes.catalog.items)

    answer = api.put("/v1/sites/site-1", {**SITE, "attributes": {"floor area": 1}})

    reason = (
        "attribute name 'floor area' must be a letter then letters, digits or '_' and not a Python keyword"
    )
    assert answer.json == problem(
        422, f"attributes.floor area.[key]: {reason}", ("attributes.floor area.[key]", reason)
    )
    assert fakes.catalog.items == before


def test_a_meter_attribute_beyond_the_bounds_is_a_422_naming_it(api, fakes):
    before = dict(fakes.catalog.items)

    answer = api.put("/v1/meters/mtr-1", {**METER, "attributes": {"phase_count": "1e15"}})

    reason = "1E+15 is not less than 1e+15 in size"
    assert answer.json == problem(
        422, f"attributes.phase_count: {reason}", ("attributes.phase_count", reason)
    )
    assert fakes.catalog.items == before
