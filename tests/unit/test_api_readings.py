"""POST /v1/readings: valid readings are stored once and exactly, each bad one is rejected alone with its
field and reason, a batch with nothing valid answers 422, and an Idempotency-Key answers the first answer
again."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import boto3
import pytest
from moto import mock_aws

from meterbill.api.idempotency import dynamodb_store
from meterbill.ports import RawReading
from tests.fakes import FakeStores
from tests.unit.api_support import (
    ACCOUNT,
    OTHER_ACCOUNT,
    SETTINGS,
    ApiClient,
    configure_backend,
    handler_client,
    problem,
)

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics")

PLUS_ONE = timezone(timedelta(hours=1))


@pytest.fixture
def api(fakes: FakeStores) -> ApiClient:
    """Account A has site site-1 with the 15-minute meter mtr-1; account B has meter mtr-b."""
    client = handler_client()
    for account, meter_id in ((ACCOUNT, "mtr-1"), (OTHER_ACCOUNT, "mtr-b")):
        admin = client.as_key(account, "admin")
        admin.post("/v1/sites", {"id": "site-1", "name": "Plant", "timezone": "Europe/Berlin"})
        meter = {"id": meter_id, "site_id": "site-1", "utility": "electricity", "unit": "kWh", "kind": "main"}
        assert admin.post("/v1/meters", meter).status == 201
    return client.as_key(ACCOUNT, "ingest")


def reading(at: str, value: Any, meter_id: str = "mtr-1", **fields: Any) -> dict[str, Any]:
    return {
        "meter_id": meter_id,
        "timestamp": at,
        "value": value,
        "type": "interval",
        "interval_minutes": 15,
        **fields,
    }


def stored(at: datetime, value: str, meter_id: str = "mtr-1") -> RawReading:
    return RawReading(meter_id, at, Decimal(value), "interval", 15, "A")


def send(api: ApiClient, *readings: dict[str, Any], **options: Any) -> Any:
    return api.post("/v1/readings", {"readings": list(readings)}, **options)


# --- stored -------------------------------------------------------------------------------------------------


def test_a_valid_batch_is_stored_and_counted(api, fakes):
    answer = send(
        api, reading("2026-03-01T00:00:00+01:00", "1.250"), reading("2026-03-01T00:15:00+01:00", 0.75)
    )

    assert (answer.status, answer.json) == (
        200,
        {"accepted": 2, "duplicates": 0, "rejected": [], "rejected_count": 0, "replaced": 0},
    )
    assert fakes.readings.items[ACCOUNT] == [
        stored(datetime(2026, 3, 1, 0, 0, tzinfo=PLUS_ONE), "1.250"),
        stored(datetime(2026, 3, 1, 0, 15, tzinfo=PLUS_ONE), "0.75"),
    ]


def test_a_resent_batch_stores_nothing_twice(api, fakes):
    batch = [reading("2026-03-01T00:00:00+01:00", "1.250"), reading("2026-03-01T00:15:00+01:00", "0.750")]
    send(api, *batch)

    again = send(api, *batch, reading("2026-03-01T00:30:00+01:00", "0.5"))

    assert again.json == {"accepted": 1, "duplicates": 2, "rejected": [], "rejected_count": 0, "replaced": 0}
    assert len(fakes.readings.items[ACCOUNT]) == 3


def test_numbers_are_stored_with_every_digit_a_float_would_lose(api, fakes):
    api.request(
        "POST",
        "/v1/readings",
        body='{"readings": [{"meter_id": "mtr-1", "timestamp": "2026-03-01T00:00:00Z", "type": "register",'
        ' "value": 123456789.123456789}]}',
    )

    assert float("123456789.123456789") != Decimal("123456789.123456789")  # what json.loads alone would keep
    assert [r.value for r in fakes.readings.items[ACCOUNT]] == [Decimal("123456789.123456789")]


def test_a_reading_may_be_up_to_five_minutes_ahead_of_the_servers_clock(api, fakes):
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)  # the fakes' clock
    at_limit = (now + timedelta(minutes=5)).isoformat()
    beyond = (now + timedelta(minutes=5, seconds=1)).isoformat()

    answer = send(api, reading(at_limit, "1", type="register", interval_minutes=None), reading(beyond, "1"))

    reason = (
        "2026-03-01T12:05:01+00:00 is in the future: more than 0:05:00 ahead of the server's clock "
        "(2026-03-01T12:00:00+00:00)"
    )
    assert answer.json == {
        "accepted": 1,
        "duplicates": 0,
        "rejected": [{"index": 1, "meter_id": "mtr-1", "field": "timestamp", "reason": reason}],
        "rejected_count": 1,
        "replaced": 0,
    }


# --- rejected one by one ------------------------------------------------------------------------------------


def test_each_bad_reading_is_rejected_alone_with_its_position_field_and_reason(api, fakes):
    answer = send(
        api,
        reading("2026-03-01T00:00:00+01:00", "1.0"),
        reading("2026-03-01T00:15:00+01:00", "-0.5"),
        reading("2026-03-01T00:30:00+01:00", "abc"),
        7,
        reading("2026-03-01T00:45:00+01:00", "1", unit="kWh"),
        reading("2026-03-01T01:00:00+01:00", "1", meter_id="mtr-b"),
        reading("2026-03-01T01:15:00", "1"),
        reading("yesterday", "1"),
        reading("2026-03-01T01:30:00+01:00", True),
        reading("2026-03-01T01:45:00+01:00", "1", interval_minutes=30),
        {**reading("2026-03-01T02:00:00+01:00", "1"), "meter_id": 42},
        reading("2026-03-01T02:15:00+01:00", "1", quality="X"),
    )

    def rejected(index: int, meter_id: str, field: str, reason: str) -> dict[str, Any]:
        return {"index": index, "meter_id": meter_id, "field": field, "reason": reason}

    assert answer.status == 200
    assert answer.json == {
        "accepted": 1,
        "duplicates": 0,
        "rejected": [
            rejected(1, "mtr-1", "value", "negative interval value -0.5"),
            rejected(2, "mtr-1", "value", "'abc' is not a number"),
            rejected(3, "", "reading", "expected a JSON object, got a number"),
            rejected(4, "mtr-1", "unit", "unknown field"),
            rejected(5, "mtr-b", "meter_id", "no meter 'mtr-b'"),
            rejected(6, "mtr-1", "timestamp", "2026-03-01T01:15:00 has no UTC offset"),
            rejected(
                7,
                "mtr-1",
                "timestamp",
                "'yesterday' is not an ISO 8601 date-time such as 2026-03-01T00:15:00+01:00",
            ),
            rejected(8, "mtr-1", "value", "true is not a number"),
            rejected(9, "mtr-1", "interval_minutes", "meter 'mtr-1' records 15-minute intervals"),
            rejected(10, "", "meter_id", "Input should be a valid string"),
            rejected(11, "mtr-1", "quality", "'X' is not a quality flag (A, E, S, F or N)"),
        ],
        "rejected_count": 11,
        "replaced": 0,
    }
    assert fakes.readings.items[ACCOUNT] == [stored(datetime(2026, 3, 1, 0, 0, tzinfo=PLUS_ONE), "1.0")]


def test_not_a_number_and_infinity_are_rejected_per_reading(api, fakes):
    answer = api.request(
        "POST",
        "/v1/readings",
        body=json.dumps(
            {
                "readings": [
                    reading("2026-03-01T00:00:00Z", float("nan")),
                    reading("2026-03-01T00:15:00Z", "Infinity"),
                ]
            }
        ),
    )

    assert [(r["field"], r["reason"]) for r in answer.json["rejected"]] == [
        ("value", "NaN is not a finite number"),
        ("value", "Infinity is not a finite number"),
    ]
    assert ACCOUNT not in fakes.readings.items


@pytest.mark.parametrize(
    ("value", "stored_or_reason"),
    [
        ("0.250", Decimal("0.250")),
        (" 2.5 ", Decimal("2.5")),
        ("1e3", Decimal("1E+3")),
        ("1_000", "'1_000' is not a number"),
        ("١٢٣", "'١٢٣' is not a number"),
        ("0x10", "'0x10' is not a number"),
        ([1], "[1] is not a number"),
    ],
)
def test_a_value_is_a_json_number_or_plain_decimal_text(api, fakes, value, stored_or_reason):
    answer = send(api, reading("2026-03-01T00:00:00Z", value, type="register", interval_minutes=None))

    if isinstance(stored_or_reason, Decimal):
        assert [r.value for r in fakes.readings.items[ACCOUNT]] == [stored_or_reason]
    else:
        assert answer.json["rejected"] == [
            {"index": 0, "meter_id": "mtr-1", "field": "value", "reason": stored_or_reason}
        ]


def test_a_batch_without_one_valid_reading_answers_422_with_the_same_report(api, fakes):
    answer = send(api, reading("2026-03-01T00:00:00+01:00", "1", meter_id="mtr-9"), "not a reading")

    report = {
        "accepted": 0,
        "duplicates": 0,
        "rejected": [
            {"index": 0, "meter_id": "mtr-9", "field": "meter_id", "reason": "no meter 'mtr-9'"},
            {
                "index": 1,
                "meter_id": "",
                "field": "reading",
                "reason": "expected a JSON object, got a string",
            },
        ],
        "rejected_count": 2,
        "replaced": 0,
    }
    assert answer.status == 422
    assert answer.content_type == "application/problem+json"
    assert answer.json == problem(
        422,
        "no reading was stored: 2 rejected",
        ("readings[0].meter_id", "no meter 'mtr-9'"),
        ("readings[1].reading", "expected a JSON object, got a string"),
        **report,
    )
    assert fakes.readings.items == {}


# --- refused batches ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"readings": []}, ("readings", "List should have at least 1 item after validation, not 0")),
        ({"readings": {}}, ("readings", "Input should be a valid list")),
        ({}, ("readings", "required field is missing")),
        ({"readings": [], "account_id": OTHER_ACCOUNT}, ("account_id", "unknown field")),
    ],
)
def test_a_body_that_is_not_a_batch_answers_422_naming_the_field(api, fakes, body, error):
    answer = api.post("/v1/readings", body)

    assert answer.status == 422
    assert error in [(e["field"], e["reason"]) for e in answer.json["errors"]]
    assert fakes.readings.items == {}


def test_more_than_4000_readings_answer_422_naming_readings(api, fakes):
    one = {"meter_id": "m", "timestamp": "2026-03-01T00:00Z", "value": 1, "type": "register"}
    body = json.dumps({"readings": [one] * 4_001}, separators=(",", ":"))  # 308 kB: within the size limit

    answer = api.request("POST", "/v1/readings", body=body)

    reason = "List should have at most 4000 items after validation, not 4001"
    assert answer.json == problem(422, f"readings: {reason}", ("readings", reason))


def test_the_configured_reading_limit_applies(api, fakes):
    configure_backend(fakes, settings=SETTINGS.model_copy(update={"max_readings_per_request": 2}))

    answer = send(api, *[reading(f"2026-03-01T00:{m:02d}:00Z", "1") for m in (0, 15, 30)])

    reason = "3 readings; send at most 2 per request"
    assert answer.json == problem(422, f"readings: {reason}", ("readings", reason))


def test_a_body_over_one_megabyte_answers_413_before_it_is_read(api, fakes):
    body = json.dumps({"readings": [reading("2026-03-01T00:00:00Z", "1", meter_id="m" * 1_000_000)]})

    answer = api.request("POST", "/v1/readings", body=body, headers={"Content-Type": "application/json"})

    size = len(body.encode())
    assert answer.json == problem(413, f"the request body has {size} bytes; this route takes at most 1000000")
    assert fakes.readings.items == {}


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ("{", "body: not valid JSON: Expecting property name enclosed in double quotes at character 1"),
        ('{"readings": [], "readings": []}', "body: not valid JSON: duplicate key 'readings' at character 0"),
    ],
)
def test_a_body_that_is_not_json_answers_400(api, body, detail):
    answer = api.request("POST", "/v1/readings", body=body, headers={"Content-Type": "application/json"})

    assert answer.json == problem(400, detail, ("body", detail.removeprefix("body: ")))


def test_a_body_that_is_not_utf8_answers_400(api):
    answer = api.request("POST", "/v1/readings", body="/w==", base64_encoded=True)  # the byte 0xff

    reason = "not UTF-8 text: invalid start byte at byte 0"
    assert answer.json == problem(400, f"body: {reason}", ("body", reason))


@pytest.mark.parametrize(
    "media_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]
)
def test_a_body_that_is_not_json_by_its_media_type_answers_415(api, media_type):
    answer = api.request("POST", "/v1/readings", body="readings=1", headers={"Content-Type": media_type})

    reason = f"Content-Type {media_type!r} is not one of: application/json"
    assert answer.json == problem(415, f"Content-Type: {reason}", ("Content-Type", reason))


# --- Idempotency-Key ----------------------------------------------------------------------------------------


@pytest.fixture
def idempotent(fakes: FakeStores, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The idempotency table on moto."""
    for name, value in {
        "AWS_DEFAULT_REGION": "eu-central-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        boto3.client("dynamodb", region_name="eu-central-1").create_table(
            TableName=SETTINGS.idempotency_table,
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        store = dynamodb_store(SETTINGS)
        configure_backend(fakes, idempotency=lambda: store)
        yield


def test_the_same_key_and_body_answer_the_first_answer_again_without_storing(api, fakes, idempotent):
    batch = [reading("2026-03-01T00:00:00+01:00", "1.250")]
    first = send(api, *batch, headers={"Idempotency-Key": "batch-1"})
    fakes.readings.items.clear()  # were the batch run again, it would be stored again

    again = send(api, *batch, headers={"idempotency-key": "batch-1"})

    assert (
        (first.status, first.json)
        == (again.status, again.json)
        == (200, {"accepted": 1, "duplicates": 0, "rejected": [], "rejected_count": 0, "replaced": 0})
    )
    assert "idempotent-replayed" not in first.headers
    assert again.headers["idempotent-replayed"] == "true"
    assert fakes.readings.items == {}


def test_a_key_used_for_another_body_answers_422_and_stores_nothing(api, fakes, idempotent):
    send(api, reading("2026-03-01T00:00:00+01:00", "1.250"), headers={"Idempotency-Key": "batch-1"})

    answer = send(api, reading("2026-03-01T00:15:00+01:00", "9"), headers={"Idempotency-Key": "batch-1"})

    reason = "was used before for a different request body; use a new key for a new request"
    assert answer.json == problem(422, f"Idempotency-Key: {reason}", ("Idempotency-Key", reason))
    assert len(fakes.readings.items[ACCOUNT]) == 1


def test_keys_are_per_account(api, fakes, idempotent):
    send(api, reading("2026-03-01T00:00:00+01:00", "1"), headers={"Idempotency-Key": "k"})

    answer = send(
        api.as_key(OTHER_ACCOUNT, "ingest"),
        reading("2026-03-01T00:00:00+01:00", "1", meter_id="mtr-b"),
        headers={"Idempotency-Key": "k"},
    )

    assert (answer.status, answer.json["accepted"], "idempotent-replayed" in answer.headers) == (
        200,
        1,
        False,
    )


def test_a_batch_without_one_valid_reading_is_answered_again_as_422(api, fakes, idempotent):
    bad = reading("2026-03-01T00:00:00+01:00", "1", meter_id="mtr-9")
    first = send(api, bad, headers={"Idempotency-Key": "k"})

    again = send(api, bad, headers={"Idempotency-Key": "k"})

    assert (first.status, again.status) == (422, 422)
    assert again.json == first.json
    assert again.headers["idempotent-replayed"] == "true"


def test_a_request_refused_before_it_runs_does_not_use_up_its_key(api, fakes, idempotent):
    refused = send(api, headers={"Idempotency-Key": "k"})  # no readings: 422 before anything runs

    answer = send(api, reading("2026-03-01T00:00:00+01:00", "1"), headers={"Idempotency-Key": "k"})

    assert (refused.status, answer.status, answer.json["accepted"]) == (422, 200, 1)


def test_an_idempotency_key_longer_than_255_characters_answers_422(api, fakes):
    answer = send(api, reading("2026-03-01T00:00:00+01:00", "1"), headers={"Idempotency-Key": "k" * 256})

    reason = "String should have at most 255 characters"
    assert answer.json == problem(422, f"Idempotency-Key: {reason}", ("Idempotency-Key", reason))
