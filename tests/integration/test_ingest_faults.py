"""Ingest under faults, through the API handler on moto: 10,000 readings in several requests (each under the
1 MB body limit), 30 % of them duplicates (resends and copies within one request) and 10 % malformed (one
share of each kind), while DynamoDB throttles, times out after applying a write, and once refuses a bucket
until the store's retries run out (503: the collector sends the same request again, as collectors do).

Afterwards the readings table holds every valid reading exactly once, and the answers name every malformed
reading with its index in its request and the reason.

The store writes one item per meter, series and UTC day (a GetItem, then a conditional PutItem); the faults
are injected with botocore's event hooks on the adapters' one client (``tests/integration/conftest.py``).
Buckets are written one at a time (``parallel_requests=1``) so that each fault lands on the same call on
every run; backoff is recorded, not slept.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Final

import pytest

from meterbill.adapters.dynamodb import DynamoDb, stores_on
from meterbill.api import dependencies
from meterbill.api.dependencies import Backend
from meterbill.ports import RawReading, Stores
from meterbill.settings import ApiSettings, StorageSettings
from tests.integration.conftest import ATTEMPTS, READINGS_TABLE, Clock, Faults, Tables
from tests.unit.api_support import ApiClient, HttpAnswer, no_idempotency_store

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics")

ACCOUNT: Final = "acc_plant"
NEIGHBOUR: Final = "acc_neighbour"  # another account, with a meter of its own
METERS: Final = tuple(f"mtr-{n}" for n in range(8))
FIRST_INTERVAL: Final = datetime(2026, 2, 1, tzinfo=UTC)
QUARTER_HOUR: Final = timedelta(minutes=15)
NOW: Final = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)  # the server's clock (conftest's Clock)

READINGS: Final = 10_000
UNIQUE: Final = 6_000  # valid and new: 750 quarter hours of each meter (8 UTC days, 64 bucket items)
COPIES_IN_SAME_REQUEST: Final = 1_500
RESENT_LATER: Final = 1_500  # duplicates: 30 % of all readings
MALFORMED: Final = 1_000  # 10 %
REQUESTS: Final = 5  # the 10,000 readings take ~1.1 MB as JSON: more than one request's 1 MB
MAX_READINGS_PER_REQUEST: Final = ApiSettings.model_fields["max_readings_per_request"].default
MAX_BODY_BYTES: Final = 1_000_000
MAX_RESENDS: Final = 5


# --- the readings -------------------------------------------------------------------------------------------


def valid_reading(n: int) -> dict[str, Any]:
    """Unique reading n: meter n % 8, quarter hour n // 8, a value of three decimals below 5."""
    meter, slot, wh = METERS[n % len(METERS)], n // len(METERS), (n * 37) % 5000
    return interval(meter, FIRST_INTERVAL + slot * QUARTER_HOUR, f"{wh // 1000}.{wh % 1000:03d}")


def interval(meter_id: str, start: datetime | str, value: str, **changes: Any) -> dict[str, Any]:
    timestamp = start if isinstance(start, str) else start.isoformat().replace("+00:00", "Z")
    return {
        "meter_id": meter_id,
        "timestamp": timestamp,
        "value": value,
        "type": "interval",
        "interval_minutes": 15,
        **changes,
    }


def malformed_reading(n: int) -> tuple[dict[str, Any], str, str]:
    """Malformed reading n of eight kinds in turn: the reading, the field at fault and the reason."""
    at = FIRST_INTERVAL + (n % 700) * QUARTER_HOUR
    meter = METERS[n % len(METERS)]
    match n % 8:
        case 0:
            ahead = NOW + timedelta(days=1) + n * QUARTER_HOUR
            reason = (
                f"{ahead.isoformat()} is in the future: more than 0:05:00 ahead of the server's clock "
                f"({NOW.isoformat()})"
            )
            return interval(meter, ahead, "1.000"), "timestamp", reason
        case 1:
            return interval(meter, at, "NaN"), "value", "NaN is not a finite number"
        case 2:
            return interval(meter, at, "-0.250"), "value", "negative interval value -0.250"
        case 3:
            return interval("mtr-unknown", at, "1.000"), "meter_id", "no meter 'mtr-unknown'"
        case 4:
            return interval("mtr-neighbour", at, "1.000"), "meter_id", "no meter 'mtr-neighbour'"
        case 5:
            reason = "'gauge' is not 'register' or 'interval'"
            return interval(meter, at, "1.000", type="gauge"), "type", reason
        case 6:
            naive = at.replace(tzinfo=None).isoformat()
            return interval(meter, naive, "1.000"), "timestamp", f"{naive} has no UTC offset"
        case _:
            return (
                interval(meter, at, "1.000", interval_minutes="15"),
                "interval_minutes",
                "Input should be a valid integer",
            )


@dataclass
class Item:
    reading: dict[str, Any]
    fault: tuple[str, str] | None = None  # (field, reason) of a malformed reading


def requests_of_the_collector() -> list[list[Item]]:
    """The 10,000 readings in REQUESTS requests: the unique ones spread evenly, COPIES_IN_SAME_REQUEST of them
    twice in their request, RESENT_LATER of them again in a later request, the malformed ones anywhere; each
    request shuffled. Seeded: the same requests on every run."""
    rng = random.Random(20260301)
    unique = list(range(UNIQUE))
    rng.shuffle(unique)
    request_of = {n: i % REQUESTS for i, n in enumerate(unique)}
    requests: list[list[Item]] = [[] for _ in range(REQUESTS)]
    for n in unique:
        requests[request_of[n]].append(Item(valid_reading(n)))
    for n in rng.sample(unique, COPIES_IN_SAME_REQUEST):
        requests[request_of[n]].append(Item(valid_reading(n)))
    not_in_the_last_request = [n for n in unique if request_of[n] < REQUESTS - 1]
    for n in rng.sample(not_in_the_last_request, RESENT_LATER):
        requests[rng.randrange(request_of[n] + 1, REQUESTS)].append(Item(valid_reading(n)))
    for n in range(MALFORMED):
        reading, field, reason = malformed_reading(n)
        requests[rng.randrange(REQUESTS)].append(Item(reading, (field, reason)))
    for request in requests:
        rng.shuffle(request)
    return requests


# --- the deployment -----------------------------------------------------------------------------------------


@pytest.fixture
def api(db: DynamoDb, clock: Clock, storage_settings: StorageSettings) -> Iterator[ApiClient]:
    """The API handler on the moto tables, its readings store writing one bucket at a time; meters mtr-0 to
    mtr-7 of ACCOUNT, and meter mtr-neighbour of another account. The client holds an ingest key."""
    assert clock() == NOW
    stores = stores_on(db, clock=clock, parallel_requests=1)
    settings = ApiSettings(storage=storage_settings, idempotency_table="meterbill-idempotency")
    dependencies.configure(
        Backend(settings=settings, stores=stores, idempotency=no_idempotency_store, clock=clock)
    )
    from functions.ingest.ingest_handler import lambda_handler

    try:
        for account, meters in ((ACCOUNT, METERS), (NEIGHBOUR, ("mtr-neighbour",))):
            admin = ApiClient(lambda_handler, account, ("admin",))
            site = {"id": "site-1", "name": "Plant", "timezone": "Europe/Berlin"}
            assert admin.post("/v1/sites", site).status == 201
            for meter_id in meters:
                meter = {
                    "id": meter_id,
                    "site_id": "site-1",
                    "utility": "electricity",
                    "unit": "kWh",
                    "kind": "main",
                }
                assert admin.post("/v1/meters", meter).status == 201  # 15-minute intervals by default
        yield ApiClient(lambda_handler, ACCOUNT, ("ingest",))
    finally:
        dependencies.reset()


def faulty_dynamodb(faults: Faults) -> Counter[str]:
    """From now on, by the number n of each kind of call (from 1): PutItem calls 200 to 205 throttled - every
    attempt at one bucket of the third request, which answers 503 and is sent again; of the other PutItem
    calls every 7th throttled (not applied) and every 11th applied but its answer lost (a read timeout);
    every 13th GetItem throttled. Returns how often each fault struck."""
    struck: Counter[str] = Counter()

    def when(fault: str, applies: Callable[[int], bool]) -> Callable[[int], bool]:
        def strikes(n: int) -> bool:
            struck[fault] += applies(n)
            return applies(n)

        return strikes

    faults.refuse("PutItem", "ThrottlingException", when=when("burst", lambda n: 200 <= n < 200 + ATTEMPTS))
    put_throttled = when("put throttled", lambda n: n % 7 == 0)
    faults.refuse("PutItem", "ProvisionedThroughputExceededException", when=put_throttled)
    faults.lose_answer("PutItem", when=when("put answer lost", lambda n: n % 11 == 0))
    get_throttled = when("get throttled", lambda n: n % 13 == 0)
    faults.refuse("GetItem", "ProvisionedThroughputExceededException", when=get_throttled)
    return struck


def send_until_answered(api: ApiClient, items: list[Item]) -> tuple[HttpAnswer, int]:
    """What a collector does: the request, sent again while the API answers 503; the last answer and how many
    times it was sent."""
    body = json.dumps({"readings": [item.reading for item in items]}, separators=(",", ":"))
    assert len(body.encode()) <= MAX_BODY_BYTES
    for attempt in range(1, MAX_RESENDS + 1):
        answer = api.request("POST", "/v1/readings", body=body, headers={"Content-Type": "application/json"})
        if answer.status != 503:
            return answer, attempt
    raise AssertionError(f"still 503 after {MAX_RESENDS} attempts")


def stored_readings(storage_settings: StorageSettings) -> list[RawReading]:
    """Every reading of ACCOUNT's meters, read back with a client of its own (no faults)."""
    stores: Stores = stores_on(DynamoDb(storage_settings))
    end = FIRST_INTERVAL + timedelta(days=40)
    return [r for meter in METERS for r in stores.readings.between(ACCOUNT, meter, FIRST_INTERVAL, end)]


# --- the test -----------------------------------------------------------------------------------------------


def test_under_faults_every_valid_reading_is_stored_once_and_every_malformed_one_reported(
    api: ApiClient, faults: Faults, storage_settings: StorageSettings, tables: Tables
) -> None:
    requests = requests_of_the_collector()
    assert sum(map(len, requests)) == READINGS
    assert max(map(len, requests)) <= MAX_READINGS_PER_REQUEST
    struck = faulty_dynamodb(faults)

    answers = [send_until_answered(api, request) for request in requests]

    assert [sends for _, sends in answers] == [1, 1, 2, 1, 1]  # the burst of refusals: the third request
    for (answer, _), request in zip(answers, requests, strict=True):
        expected_rejections = [
            {
                "index": index,
                "meter_id": item.reading["meter_id"],
                "field": item.fault[0],
                "reason": item.fault[1],
            }
            for index, item in enumerate(request)
            if item.fault is not None
        ]
        valid = sum(item.fault is None for item in request)
        assert answer.status == 200
        assert answer.json["rejected"] == expected_rejections
        assert answer.json["rejected_count"] == len(expected_rejections)
        # Stored now or before: a reading whose write answer was lost, or whose request was sent again after
        # a 503, is found stored on the retry and counted as a duplicate, so only the sum is exact.
        assert answer.json["accepted"] + answer.json["duplicates"] == valid

    expected = {
        (r["meter_id"], datetime.fromisoformat(r["timestamp"]), Decimal(r["value"]))
        for r in map(valid_reading, range(UNIQUE))
    }
    stored = stored_readings(storage_settings)
    assert len(stored) == UNIQUE
    assert {(r.meter_id, r.timestamp, r.value) for r in stored} == expected
    buckets = tables.all(READINGS_TABLE)
    assert len(buckets) == len(METERS) * 8  # a bucket item per meter and UTC day
    assert [name for bucket in buckets for name in bucket if "~" in name] == []  # no second value anywhere
    assert struck["burst"] == ATTEMPTS
    assert min(struck.values()) > 0
    assert sum(answer.json["accepted"] for answer, _ in answers) <= UNIQUE
