"""functions/rate on moto: the schedule's handler invoked with an EventBridge Scheduler event, a large pass
fanned out to SQS, the worker's handler with an SQS batch holding one bad message (a partial batch failure
naming it), and a corrected reading of an invoiced month recorded as a re-rating candidate beside the
invoice."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from types import ModuleType
from typing import Any

import boto3
import pytest

from meterbill.adapters.dynamodb import DynamoDb
from meterbill.adapters.rating import rating_stores
from meterbill.ports import AccountRecord, RatingStores, RawReading, ReratingCandidate, Stores
from meterbill.services import invoicing
from tests.integration.conftest import CATALOG_TABLE, READINGS_TABLE, REGION, Tables
from tests.unit.api_support import LambdaContextStub
from tests.unit.invoicing_support import BERLIN, hourly
from tests.unit.test_service_rating import A, hourly_catalog, two_days

# The schedule fired at 00:30 in Berlin on 30 March 2026 (22:30 UTC on the 29th), the night after the DST day.
SCHEDULER_EVENT = {"time": "2026-03-29T22:30:00Z"}
CONTEXT = LambdaContextStub(function_name="meterbill-rate")


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch, db: DynamoDb) -> Iterator[None]:
    monkeypatch.setenv("CATALOG_TABLE", CATALOG_TABLE)
    monkeypatch.setenv("READINGS_TABLE", READINGS_TABLE)
    monkeypatch.setenv("AWS_REGION", REGION)
    yield


@pytest.fixture
def rating(db: DynamoDb) -> RatingStores:
    stores = rating_stores(db)
    stores.accounts.create(AccountRecord(A, "Account A", datetime(2026, 1, 1, tzinfo=UTC)))
    hourly_catalog(meters=3, store=stores.catalog)
    for n in (1, 2, 3):
        stores.readings.put_new(A, two_days(f"m{n}"))
    return stores


def fresh(module: ModuleType) -> ModuleType:
    """The handler module with its cached backend dropped (each test has its own tables and settings)."""
    cached = getattr(module, "backend", None) or module.stores
    cached.cache_clear()
    return module


def test_a_scheduler_event_runs_one_pass_as_of_its_time(environment: None, rating: RatingStores) -> None:
    from functions.rate import rate_handler

    report = fresh(rate_handler).lambda_handler(SCHEDULER_EVENT, CONTEXT)

    assert (report["meters"], report["days_written"], report["messages_sent"]) == (3, 6, 0)
    assert [d.day for d in rating.metering.days(A, "m2", date(2026, 3, 1), date(2026, 4, 1))] == [
        date(2026, 3, 28),
        date(2026, 3, 29),
    ]
    assert rating.readings.pending_marks(limit=10) == []


def test_a_large_pass_fans_out_to_sqs_and_the_worker_reports_the_bad_message_alone(
    environment: None, rating: RatingStores, monkeypatch: pytest.MonkeyPatch
) -> None:
    from functions.rate import rate_handler, rate_worker_handler

    sqs = boto3.client("sqs", region_name=REGION)
    queue_url = sqs.create_queue(QueueName="meterbill-rate")["QueueUrl"]
    monkeypatch.setenv("RATE_QUEUE_URL", queue_url)
    monkeypatch.setenv("RATE_FAN_OUT_ABOVE", "2")
    monkeypatch.setenv("RATE_BATCH_SIZE", "2")

    report = fresh(rate_handler).lambda_handler(SCHEDULER_EVENT, CONTEXT)

    assert (report["meters"], report["messages_sent"]) == (0, 2)
    received = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    bodies = [json.loads(m["Body"]) for m in received]
    assert sorted(len(b["meters"]) for b in bodies) == [1, 2]
    assert {b["at"] for b in bodies} == {"2026-03-29T22:30:00+00:00"}

    records = [sqs_record(m["MessageId"], m["Body"]) for m in received]
    records.insert(1, sqs_record("bad-1", "not json"))
    answer = fresh(rate_worker_handler).lambda_handler({"Records": records}, CONTEXT)

    assert answer == {"batchItemFailures": [{"itemIdentifier": "bad-1"}]}
    for meter in ("m1", "m2", "m3"):
        assert len(rating.metering.days(A, meter, date(2026, 3, 1), date(2026, 4, 1))) == 2
    assert rating.readings.pending_marks(limit=10) == []


def sqs_record(message_id: str, body: str) -> dict[str, Any]:
    return {
        "messageId": message_id,
        "receiptHandle": f"handle-{message_id}",
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1774823400000"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:{REGION}:123456789012:meterbill-rate",
        "awsRegion": REGION,
    }


def test_a_corrected_reading_of_an_invoiced_month_is_a_candidate_beside_the_unchanged_invoice(
    environment: None, db: DynamoDb, stores: Stores, tables: Tables
) -> None:
    from functions.rate import rate_handler

    # c1 on m1 (0.30 EUR/kWh) from 1 January, bill day 1; 1 kWh an hour to 3 February, rated at 00:30 that
    # night; January issued at 01:00.
    stores.accounts.create(AccountRecord(A, "Account A", datetime(2026, 1, 1, tzinfo=UTC)))
    hourly_catalog(store=stores.catalog)
    stores.readings.put_new(
        A, hourly("m1", datetime(2026, 1, 1, tzinfo=BERLIN), datetime(2026, 2, 3, tzinfo=BERLIN))
    )
    handler = fresh(rate_handler)
    first = handler.lambda_handler({"time": "2026-02-02T23:30:00Z"}, CONTEXT)
    assert (first["days_written"], first["rerating_candidates"], first["failures"]) == (33, 0, [])
    issued = invoicing.invoice_period(
        A, "c1", (date(2026, 1, 1), date(2026, 2, 1)), datetime(2026, 2, 3, 1, tzinfo=BERLIN), stores
    )
    assert issued.state == "issued"
    invoice_key = (f"account#{A}#invoice", issued.invoice_id)
    before = tables.catalog(*invoice_key)

    # 2.5 kWh instead of 1 from 10:00 on 17 January, sent on 3 February; the pass of 09:15 (08:15 UTC).
    stores.readings.put_new(
        A, [RawReading("m1", datetime(2026, 1, 17, 10, tzinfo=BERLIN), Decimal("2.5"), "interval", 60)]
    )
    report = handler.lambda_handler({"time": "2026-02-03T08:15:00Z"}, CONTEXT)

    assert (report["days_written"], report["rerating_candidates"], report["failures"]) == (1, 1, [])
    start, end = "2026-01-16T23:00:00.000000", "2026-01-17T23:00:00.000000"  # 17 January in Berlin
    assert tables.catalog(f"account#{A}#invoice-rerating", f"{issued.invoice_id}#m1#{start}Z#{end}Z") == {
        "pk": {"S": f"account#{A}#invoice-rerating"},
        "sk": {"S": f"{issued.invoice_id}#m1#{start}Z#{end}Z"},
        "invoice_id": {"S": issued.invoice_id},
        "meter_id": {"S": "m1"},
        "start": {"S": f"{start}+0000"},
        "end": {"S": f"{end}+0000"},
        "received_at": {"S": "2026-02-03T08:15:00.000000+0000"},
    }
    assert stores.invoices.rerating_candidates(A, issued.invoice_id) == [
        ReratingCandidate(
            issued.invoice_id,
            "m1",
            datetime(2026, 1, 17, tzinfo=BERLIN),
            datetime(2026, 1, 18, tzinfo=BERLIN),
            datetime(2026, 2, 3, 8, 15, tzinfo=UTC),
        )
    ]
    assert tables.catalog(*invoice_key) == before  # the invoice item, byte for byte

    db.client.update_item(  # the day marked again with nothing new (a crash can leave a mark)
        TableName=CATALOG_TABLE,
        Key={"pk": {"S": "rating-marks#10"}, "sk": {"S": f"{A}#m1#2026-01-17"}},
        UpdateExpression="ADD changes :one",
        ExpressionAttributeValues={":one": {"N": "1"}},
    )
    again = handler.lambda_handler({"time": "2026-02-03T08:30:00Z"}, CONTEXT)
    assert (again["meters"], again["days_written"], again["rerating_candidates"]) == (1, 0, 0)
    assert len(stores.invoices.rerating_candidates(A, issued.invoice_id)) == 1
