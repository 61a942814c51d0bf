"""GET /v1/reports/savings: the savings report's figures as JSON, the caller's nodes only."""

from __future__ import annotations

import pytest

from tests.fakes import FakeStores
from tests.unit.api_support import OTHER_ACCOUNT, ApiClient, handler_client, problem

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics")


@pytest.fixture
def api(fakes: FakeStores) -> ApiClient:
    """Node n1 (a 60 W on_time meter, hourly) at site berlin under tariff alpiron (0.30 EUR/kWh off-time
    savings, its rating read from the meter), on for the first 10 of the 24 hours of 2026-02-10 (the API's
    test clock is 2026-03-01)."""
    admin = handler_client()
    admin.post("/v1/sites", {"id": "berlin", "name": "Berlin Plant", "timezone": "Europe/Berlin"})
    meter = {"id": "n1", "site_id": "berlin", "utility": "on_time", "unit": "h", "kind": "main"}
    assert (
        admin.post(
            "/v1/meters", {**meter, "interval_minutes": 60, "attributes": {"power_rating_w": 60}}
        ).status
        == 201
    )
    admin.post("/v1/customers", {"id": "cus-1", "name": "Ada"})
    savings = {"power_rating_w": "meter.power_rating_w", "price_per_kwh": "0.30"}
    assert (
        admin.post("/v1/tariffs", {"id": "alpiron", "name": "A", "unit": "h", "savings": savings}).status
        == 201
    )
    assignment = {"id": "asg-1", "meter_id": "n1", "customer_id": "cus-1", "tariff_id": "alpiron"}
    assert admin.post("/v1/assignments", {**assignment, "effective_from": "2026-02-01"}).status == 201
    readings = [
        {
            "meter_id": "n1",
            "timestamp": f"2026-02-{day}T{hour:02d}:00:00Z",
            "value": "1" if (day, hour) < ("10", 9) else "0",
            "type": "interval",
            "interval_minutes": 60,
        }
        for day, hours in (("09", range(23, 24)), ("10", range(24)), ("11", range(3)))
        for hour in hours
    ]
    assert admin.post("/v1/readings", {"readings": readings}).json["accepted"] == len(readings)
    return admin.as_key("acc_a", "read")


def test_the_savings_report_answers_each_nodes_hours_rating_price_and_savings(api):
    answer = api.get("/v1/reports/savings", **{"from": "2026-02-10", "to": "2026-02-11"})

    assert answer.status == 200, answer.text
    # The day starts 2026-02-09T23:00Z; on 23:00Z-09:00Z = 10 h;
    # off 24 - 10 = 14 h x 60 W x 0.30 / 1000 = 0.252 -> 0.25
    row = {
        "node_id": "n1",
        "start": "2026-02-10T00:00:00+01:00",
        "end": "2026-02-11T00:00:00+01:00",
        "hours": "24",
        "on_hours": "10",
        "off_hours": "14",
        "power_rating_w": "60",
        "price_per_kwh": "0.30",
        "currency": "EUR",
        "savings": "0.25",
    }
    total = [{"currency": "EUR", "amount": "0.25"}]
    assert answer.json == {
        "start": "2026-02-10",
        "end": "2026-02-11",
        "installations": [{"id": "berlin", "name": "Berlin Plant", "nodes": [row], "totals": total}],
        "totals": total,
    }


def test_another_accounts_report_holds_none_of_these_nodes(api):
    answer = api.as_key(OTHER_ACCOUNT, "read").get(
        "/v1/reports/savings", **{"from": "2026-02-10", "to": "2026-02-11"}
    )

    assert answer.json == {"start": "2026-02-10", "end": "2026-02-11", "installations": [], "totals": []}


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ({"from": "2026-10-26", "to": "2026-10-25"}, ("to", "2026-10-25 is not after from 2026-10-26")),
        ({"from": "2026-01-01", "to": "2027-01-03"}, ("to", "more than 366 days after from 2026-01-01")),
        (
            {"from": "2026-10-25T00:00:00+02:00", "to": "2026-10-26"},
            ("from", "'2026-10-25T00:00:00+02:00' is not a date written YYYY-MM-DD"),
        ),
        ({"from": "2026-10-25"}, ("to", "required field is missing")),
    ],
)
def test_a_bad_report_span_answers_422_naming_from_or_to(api, query, error):
    answer = api.get("/v1/reports/savings", **query)

    assert answer.json == problem(422, f"{error[0]}: {error[1]}", error)
