"""Reading data back: a meter's validated usage on its site's clock, and a customer's bill preview."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fakes import FakeStores
from tests.unit.api_support import OTHER_ACCOUNT, ApiClient, handler_client, problem

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics")


@pytest.fixture
def api(fakes: FakeStores) -> ApiClient:
    """Customer cus-1 is billed for meter mtr-1 (Berlin, 15 minutes) at a flat 0.30 EUR/kWh since February;
    the first hour of 2026-02-01 has four readings of 0.25 kWh. The client holds a read key."""
    admin = handler_client()
    admin.post("/v1/sites", {"id": "site-1", "name": "Plant", "timezone": "Europe/Berlin"})
    meter = {"id": "mtr-1", "site_id": "site-1", "utility": "electricity", "unit": "kWh", "kind": "main"}
    admin.post("/v1/meters", meter)
    admin.post("/v1/customers", {"id": "cus-1", "name": "Ada"})
    energy = {"periods": [{"name": "all", "tiers": [{"rate": "0.30"}]}]}
    admin.post("/v1/tariffs", {"id": "flat", "name": "Flat", "energy": energy})
    assignment = {"id": "asg-1", "meter_id": "mtr-1", "customer_id": "cus-1", "tariff_id": "flat"}
    assert admin.post("/v1/assignments", {**assignment, "effective_from": "2026-02-01"}).status == 201
    readings = [
        {
            "meter_id": "mtr-1",
            "timestamp": f"2026-02-01T00:{minute:02d}:00+01:00",
            "value": "0.25",
            "type": "interval",
            "interval_minutes": 15,
        }
        for minute in (0, 15, 30, 45)
    ]
    assert admin.post("/v1/readings", {"readings": readings}).json["accepted"] == 4
    return admin.as_key("acc_a", "read")


def counts(actual: int = 0, missing: int = 0) -> dict[str, int]:
    return {"actual": actual, "estimated": 0, "substituted": 0, "final_substitute": 0, "missing": missing}


def test_usage_comes_in_buckets_of_the_sites_local_hours_with_quality_counts(api):
    answer = api.get(
        "/v1/meters/mtr-1/usage",
        **{"from": "2026-02-01", "to": "2026-02-01T02:00:00+01:00", "resolution": "hour"},
    )

    assert answer.status == 200
    assert answer.json == {
        "meter_id": "mtr-1",
        "unit": "kWh",
        "timezone": "Europe/Berlin",
        "resolution": "hour",
        "interval_minutes": 15,
        "start": "2026-02-01T00:00:00+01:00",
        "end": "2026-02-01T02:00:00+01:00",
        "total": "1.00",  # 4 * 0.25
        "estimated": "0.00",
        "qualities": counts(actual=4, missing=4),
        "buckets": [
            {
                "start": "2026-02-01T00:00:00+01:00",
                "end": "2026-02-01T01:00:00+01:00",
                "total": "1.00",
                "qualities": counts(actual=4),
            },
            {
                "start": "2026-02-01T01:00:00+01:00",
                "end": "2026-02-01T02:00:00+01:00",
                "total": "0.00",
                "qualities": counts(missing=4),
            },
        ],
        "events": [
            {
                "at": "2026-02-01T01:00:00+01:00",
                "kind": "gap",
                "detail": "no readings after 2026-02-01T01:00:00+01:00; filled: null",
            }
        ],
    }


def test_an_offset_whose_plus_became_a_space_in_the_query_string_is_read_as_plus(api):
    answer = api.get(
        "/v1/meters/mtr-1/usage", **{"from": "2026-02-01T00:00:00 01:00", "to": "2026-02-01T01:00:00Z"}
    )

    assert (answer.json["start"], answer.json["end"]) == (
        "2026-02-01T00:00:00+01:00",
        "2026-02-01T02:00:00+01:00",
    )


@pytest.mark.parametrize(
    ("query", "error"),
    [
        (
            {"from": "2026-02-01T00:00:00", "to": "2026-02-02"},
            ("from", "'2026-02-01T00:00:00' has no UTC offset; add one (e.g. +01:00 or Z), or give a date"),
        ),
        (
            {"from": "01/02/2026", "to": "2026-02-02"},
            ("from", "'01/02/2026' is not an ISO 8601 date-time such as 2026-03-01T00:15:00+01:00"),
        ),
        ({"to": "2026-02-02"}, ("from", "required field is missing")),
        (
            {"from": "2026-02-01", "to": "2026-02-02", "resolution": "week"},
            ("resolution", "Input should be 'interval', 'hour', 'day' or 'month'"),
        ),
        (
            {"from": "2026-02-02", "to": "2026-02-01"},
            ("to", "2026-02-01T00:00:00+01:00 is not after from 2026-02-02T00:00:00+01:00"),
        ),
        ({"from": "2026-02-01", "to": "2027-02-03"}, ("to", "more than 366 days after from")),
    ],
)
def test_a_bad_usage_query_answers_422_naming_the_parameter(api, query, error):
    answer = api.get("/v1/meters/mtr-1/usage", **query)

    assert answer.json == problem(422, f"{error[0]}: {error[1]}", error)


def test_the_bill_preview_rates_the_usage_known_now(api, fakes):
    stored_before = dict(fakes.catalog.items)

    answer = api.get("/v1/customers/cus-1/bill-preview", **{"from": "2026-02-01", "to": "2026-02-02"})

    line: dict[str, Any] = {
        "component": "energy",
        "description": "Energy",
        "quantity": "1",
        "unit": "kWh",
        "rate": "0.30",
        "amount": "0.30",  # 1 kWh * 0.30 EUR/kWh
        "period": "all",
        "tier": None,
        "season": None,
    }
    assert answer.json == {
        "customer_id": "cus-1",
        "start": "2026-02-01",
        "end": "2026-02-02",
        "bills": [
            {
                "assignment_id": "asg-1",
                "meter_id": "mtr-1",
                "share": "1",
                "bill": {
                    "tariff": {"id": "flat", "version": 1},
                    "start": "2026-02-01T00:00:00+01:00",
                    "end": "2026-02-02T00:00:00+01:00",
                    "currency": "EUR",
                    "subtotal": "0.30",
                    "taxes": "0.00",
                    "total": "0.30",
                    "lines": [line],
                    "memos": [],
                    # Only the first hour has readings: the other 92 quarter hours have no data at all.
                    "usage": {
                        "total": "1",
                        "estimated": "0",
                        "unit": "kWh",
                        "peak_demand": None,
                        "missing_intervals": 96 - 4,
                    },
                    "variables": {},  # a flat rate: no formula read anything
                },
            }
        ],
    }
    assert fakes.catalog.items == stored_before  # nothing is stored


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ({"from": "2026-02-02", "to": "2026-02-01"}, ("to", "2026-02-01 is not after from 2026-02-02")),
        (
            {"from": "2026-02-01T00:00:00+01:00", "to": "2026-02-02"},
            ("from", "'2026-02-01T00:00:00+01:00' is not a date written YYYY-MM-DD"),
        ),
        ({"from": "2026-02-01"}, ("to", "required field is missing")),
    ],
)
def test_a_bad_preview_period_answers_422_naming_it(api, query, error):
    answer = api.get("/v1/customers/cus-1/bill-preview", **query)

    assert answer.json == problem(422, f"{error[0]}: {error[1]}", error)


@pytest.mark.parametrize(
    ("path", "detail"),
    [
        ("/v1/meters/mtr-1/usage", "meter 'mtr-1' not found"),
        ("/v1/customers/cus-1/bill-preview", "customer 'cus-1' not found"),
    ],
)
def test_another_accounts_meter_or_customer_is_not_found(api, path, detail):
    answer = api.as_key(OTHER_ACCOUNT, "read").get(path, **{"from": "2026-02-01", "to": "2026-02-02"})

    assert answer.json == problem(404, detail)
