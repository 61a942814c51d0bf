"""Issue 8, items 14 and 19 through the API: the batch limits agree (any 4,000 valid readings fit the 1 MB
body, so a client that keeps to the documented count is never refused for size), and an out-of-range
timestamp is its item's rejection - 200 with the valid items stored, never a 500."""

from __future__ import annotations

import json
from typing import Any

import pytest

from meterbill.api.schema_fields import MAX_READINGS
from tests.fakes import FakeStores
from tests.unit.api_support import ACCOUNT, SETTINGS, ApiClient, handler_client

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics")

LONGEST_ID = "m" * 64
LARGEST_VALUE = "123456789012345.123456789"  # 15 whole digits and 9 decimals: the most ingest lets in


@pytest.fixture
def api(fakes: FakeStores) -> ApiClient:
    client = handler_client()
    admin = client.as_key(ACCOUNT, "admin")
    admin.post("/v1/sites", {"id": "site-1", "name": "Plant", "timezone": "Europe/Berlin"})
    for meter_id in ("mtr-1", LONGEST_ID):
        meter = {"id": meter_id, "site_id": "site-1", "utility": "electricity", "unit": "kWh", "kind": "main"}
        assert admin.post("/v1/meters", meter).status == 201
    return client.as_key(ACCOUNT, "ingest")


def largest_register_read(n: int) -> dict[str, Any]:
    seconds, micro = divmod(n, 1000)
    return {
        "meter_id": LONGEST_ID,
        "timestamp": f"2026-03-01T00:{seconds // 60:02d}:{seconds % 60:02d}.{micro:06d}+01:00",
        "value": LARGEST_VALUE,
        "type": "register",
        "quality": "A",
    }


def test_the_documented_batch_size_is_4000_readings() -> None:
    assert (MAX_READINGS, SETTINGS.max_readings_per_request, SETTINGS.max_body_bytes) == (
        4000,
        4000,
        1_000_000,
    )


def test_4000_of_the_largest_readings_fit_the_body_limit_and_are_stored(
    api: ApiClient, fakes: FakeStores
) -> None:
    largest_interval = {
        "meter_id": LONGEST_ID,
        "timestamp": "2026-03-01T00:15:00.000000+01:00",
        "value": LARGEST_VALUE,
        "type": "interval",
        "interval_minutes": 15,
        "quality": "A",
    }
    readings = [largest_register_read(n) for n in range(MAX_READINGS)]
    body = json.dumps({"readings": readings})  # json.dumps' default spacing, as most clients send it

    answer = api.request("POST", "/v1/readings", body=body)

    assert (
        len(json.dumps({"readings": [largest_interval] * MAX_READINGS}).encode()) <= SETTINGS.max_body_bytes
    )
    assert len(body.encode()) <= SETTINGS.max_body_bytes
    assert (answer.status, answer.json["accepted"], answer.json["rejected_count"]) == (200, 4000, 0)
    assert len(fakes.readings.items[ACCOUNT]) == 4000


def test_a_timestamp_at_the_calendars_start_beside_valid_readings_is_rejected_alone(
    api: ApiClient, fakes: FakeStores
) -> None:
    def reading(at: str) -> dict[str, Any]:
        return {
            "meter_id": "mtr-1",
            "timestamp": at,
            "value": "1.5",
            "type": "interval",
            "interval_minutes": 15,
        }

    answer = api.post(
        "/v1/readings",
        {
            "readings": [
                reading("2026-03-01T00:00:00+01:00"),
                reading("0001-01-01T00:00:00+14:00"),
                reading("2026-03-01T00:07:00+01:00"),
                reading("2026-03-01T00:15:00+01:00"),
            ]
        },
    )

    assert (answer.status, answer.json["accepted"], answer.json["rejected"]) == (
        200,
        2,
        [
            {
                "index": 1,
                "meter_id": "mtr-1",
                "field": "timestamp",
                "reason": "0001-01-01T00:00:00+14:00 is before 2000-01-01T00:00:00+00:00, the earliest "
                "reading",
            },
            {
                "index": 2,
                "meter_id": "mtr-1",
                "field": "timestamp",
                "reason": "2026-03-01T00:07:00+01:00 is not on meter 'mtr-1''s 15-minute grid: an "
                "interval starts a whole number of 15 minutes after midnight on UTC or any site's clock, "
                "with no seconds",
            },
        ],
    )
    assert len(fakes.readings.items[ACCOUNT]) == 2


@pytest.mark.parametrize(
    ("member", "field", "reason"),
    [
        ('"value":1' + "0" * 5000, "value", "1" + "0" * 36 + "... is too large (the limit is 10^15)"),
        (
            '"value":"1e999999999999999999"',
            "value",
            "1E+999999999999999999 is too large (the limit is 10^15)",
        ),
        ('"value":NaN', "value", "NaN is not a finite number"),
        (
            '"value":1,"interval_minutes":1' + "0" * 5000,
            "interval_minutes",
            "Input should be a valid integer",
        ),
    ],
    ids=["5001-digit integer", "huge exponent", "NaN", "5001-digit interval"],
)
def test_a_number_no_reading_can_hold_is_its_items_rejection_not_the_batchs(
    api: ApiClient, fakes: FakeStores, member: str, field: str, reason: str
) -> None:
    good = (
        '{"meter_id":"mtr-1","timestamp":"2026-03-01T00:00:00Z","value":1,"type":"interval",'
        '"interval_minutes":15}'
    )
    bad = '{"meter_id":"mtr-1","timestamp":"2026-03-01T00:15:00Z","type":"interval",' + member
    if "interval_minutes" not in member:
        bad += ',"interval_minutes":15'
    body = '{"readings":[' + good + "," + bad + "}]}"

    answer = api.request("POST", "/v1/readings", body=body)

    assert (answer.status, answer.json["accepted"], answer.json["rejected"]) == (
        200,
        1,
        [{"index": 1, "meter_id": "mtr-1", "field": field, "reason": reason}],
    )
    assert len(fakes.readings.items[ACCOUNT]) == 1
