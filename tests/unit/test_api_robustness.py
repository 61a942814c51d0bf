"""Bad input is never our fault: whatever JSON, query or reading a client sends, the answer is not a 5xx."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.api_support import ApiClient, fake_backend, handler_client

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics")

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
FIELDS = [
    "id", "name", "timezone", "site_id", "utility", "unit", "kind", "meter_id", "customer_id", "tariff_id",
    "share", "effective_from", "effective_to", "readings", "timestamp", "value", "type", "interval_minutes",
    "quality", "scopes", "emails", "attributes", "bill_day", "multiplier", "energy", "labels", "address",
]  # fmt: skip
BODIES = st.dictionaries(st.sampled_from(FIELDS), JSON_VALUES, max_size=6) | JSON_VALUES
QUERIES = st.dictionaries(
    st.sampled_from(
        ["limit", "cursor", "from", "to", "resolution", "format", "meter_id", "effective_from", "id"]
    ),
    st.text(max_size=30),
    max_size=4,
)
WRITES = [
    ("POST", "/v1/customers"),
    ("POST", "/v1/sites"),
    ("POST", "/v1/meters"),
    ("POST", "/v1/assignments"),
    ("POST", "/v1/tariffs"),
    ("POST", "/v1/api-keys"),
    ("POST", "/v1/readings"),
    ("PUT", "/v1/customers/cus-1"),
    ("PUT", "/v1/meters/mtr-1"),
    ("POST", "/v1/tariffs/flat/versions"),
]
READS = [
    "/v1/customers",
    "/v1/meters",
    "/v1/meters/mtr-1/usage",
    "/v1/customers/cus-1/bill-preview",
    "/v1/tariffs",
    "/v1/tariffs/flat/versions/1",
    "/v1/api-keys",
]
READINGS = st.lists(
    st.fixed_dictionaries(
        {
            "meter_id": st.sampled_from(["mtr-1", "mtr-9"]) | JSON_VALUES,
            "timestamp": st.sampled_from(["2026-03-01T00:00:00Z", "2026-03-01T00:07:00+01:00"]) | JSON_VALUES,
            "value": JSON_VALUES,
            "type": st.sampled_from(["interval", "register"]) | JSON_VALUES,
        },
        optional={"interval_minutes": st.integers(-5, 100) | JSON_VALUES, "quality": JSON_VALUES},
    )
    | JSON_VALUES,
    min_size=1,
    max_size=5,
)
CHECKS = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def api() -> Iterator[ApiClient]:
    """One of each object, so that bad input meets existing ones too."""
    with fake_backend():
        client = handler_client()
        client.post("/v1/sites", {"id": "site-1", "name": "Plant", "timezone": "Europe/Berlin"})
        meter = {"id": "mtr-1", "site_id": "site-1", "utility": "electricity", "unit": "kWh", "kind": "main"}
        client.post("/v1/meters", meter)
        client.post("/v1/customers", {"id": "cus-1", "name": "Ada"})
        energy = {"periods": [{"name": "all", "tiers": [{"rate": "0.30"}]}]}
        client.post("/v1/tariffs", {"id": "flat", "name": "Flat", "energy": energy})
        yield client


@CHECKS
@given(route=st.sampled_from(WRITES), body=BODIES, query=QUERIES)
def test_no_body_or_query_makes_a_write_answer_5xx(
    api: ApiClient, route: tuple[str, str], body: Any, query: Any
):
    method, path = route

    answer = api.request(method, path, body=json.dumps(body), query=query)

    assert answer.status < 500, answer.text


@CHECKS
@given(path=st.sampled_from(READS), query=QUERIES)
def test_no_query_makes_a_read_answer_5xx(api: ApiClient, path: str, query: Any):
    assert api.request("GET", path, query=query).status < 500


@CHECKS
@given(readings=READINGS)
def test_no_batch_of_readings_answers_5xx(api: ApiClient, readings: list[Any]):
    answer = api.request("POST", "/v1/readings", body=json.dumps({"readings": readings}))

    assert answer.status in (200, 422), answer.text


@CHECKS
@given(data=st.binary(max_size=200), file_format=st.sampled_from(["csv", "nem12", "greenbutton"]))
def test_no_file_makes_an_import_answer_5xx(api: ApiClient, data: bytes, file_format: str):
    query = {"format": file_format, **({"meter_id": "mtr-1"} if file_format == "csv" else {})}
    body = base64.b64encode(data).decode()

    answer = api.request("POST", "/v1/imports", body=body, query=query, base64_encoded=True)

    assert answer.status < 500, answer.text
