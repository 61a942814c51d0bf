"""The invoice functions end to end on moto: the schedule's handler sends the bill run's work to SQS, the
worker's handler (powertools batch) invoices each message on DynamoDB; a malformed message is a batch item
failure and nothing else is lost."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import boto3
import pytest

from meterbill import invoice_wiring
from meterbill.adapters.invoice_queue import SqsInvoiceWorkQueue
from meterbill.billing.invoice import Invoice
from meterbill.ports import Stores
from meterbill.services import billrun
from tests.integration.conftest import REGION
from tests.unit.api_support import LambdaContextStub
from tests.unit.invoicing_support import BERLIN, A, populate

D = Decimal
HOURS = 31 * 24  # 2026-01-15 .. 2026-02-15 in Berlin


@pytest.fixture
def queue_url(aws: None) -> str:
    url: str = boto3.client("sqs", region_name=REGION).create_queue(QueueName="invoice-work")["QueueUrl"]
    return url


@pytest.fixture
def wired(stores: Stores, queue_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stores]:
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "invoice")
    populate(stores, readings_to=datetime(2026, 2, 16, tzinfo=BERLIN))
    invoice_wiring.configure(stores=stores, queue=SqsInvoiceWorkQueue(queue_url, region=REGION))
    yield stores
    invoice_wiring.reset()


def received(queue_url: str) -> list[dict[str, Any]]:
    """Every message on the queue, as the SQS event source hands them to the worker."""
    sqs = boto3.client("sqs", region_name=REGION)
    records = []
    while True:
        answer = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
        messages = answer.get("Messages", [])
        if not messages:
            return records
        for message in messages:
            records.append(
                {
                    "messageId": message["MessageId"],
                    "receiptHandle": message["ReceiptHandle"],
                    "body": message["Body"],
                    "attributes": {},
                    "messageAttributes": {},
                    "md5OfBody": message["MD5OfBody"],
                    "eventSource": "aws:sqs",
                    "eventSourceARN": "arn:aws:sqs:eu-central-1:123456789012:invoice-work",
                    "awsRegion": REGION,
                }
            )
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def test_the_schedule_and_the_worker_issue_the_portfolios_invoices_on_dynamodb(
    wired: Stores, queue_url: str
) -> None:
    from functions.invoice import invoice_schedule_handler, invoice_worker_handler

    report = invoice_schedule_handler.lambda_handler(
        {"scheduled_time": "2026-02-17T00:30:00+01:00"}, LambdaContextStub()
    )
    assert report == {"accounts": 1, "customers": 5, "sent": 5}
    records = received(queue_url)
    assert [billrun.work_from_json(json.loads(r["body"])).customer_id for r in records] == [
        "c-alice", "c-bob", "c-carol", "c-dave", "c-rack",
    ]  # fmt: skip
    malformed = {**records[0], "messageId": "bad-1", "body": '{"account": "hpo"}'}

    answer = invoice_worker_handler.lambda_handler({"Records": [*records, malformed]}, LambdaContextStub())

    assert answer == {"batchItemFailures": [{"itemIdentifier": "bad-1"}]}
    issued = wired.invoices.list(A, state="issued", limit=10).items
    totals = {r.customer_id: (r.number, Invoice.from_json(r.body).total) for r in issued}
    assert totals == {
        "c-alice": ("HPO-2026-000001", HOURS * D("0.30") + HOURS * D("0.5") * D("0.30")),
        "c-bob": ("HPO-2026-000002", 10 * 24 * D("0.5") * D("0.30")),
        "c-carol": ("HPO-2026-000003", HOURS * D("0.25")),
        "c-dave": ("HPO-2026-000004", HOURS * D("0.30") + HOURS * D("0.20")),
        "c-rack": ("HPO-2026-000005", 31 * 24 * D("0.30")),
    }
    assert {(r.customer_id, r.period_start) for r in issued} >= {("c-rack", date(2026, 1, 1))}

    # The same messages delivered again change nothing.
    again = invoice_worker_handler.lambda_handler({"Records": records}, LambdaContextStub())
    assert again == {"batchItemFailures": []}
    assert wired.invoices.list(A, state="issued", limit=10).items == issued
    assert invoice_schedule_handler.lambda_handler({"time": "2026-02-17T01:30:00Z"}, LambdaContextStub()) == {
        "accounts": 1,
        "customers": 0,
        "sent": 0,
    }


def test_schedules_run_invoice_fires_one_pass_as_of_the_moment_given(
    stores: Stores, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from meterbill.cli import main
    from tests.integration.conftest import CATALOG_TABLE, READINGS_TABLE

    for name, value in {
        "CATALOG_TABLE": CATALOG_TABLE,
        "READINGS_TABLE": READINGS_TABLE,
        "AWS_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    populate(stores, readings_to=datetime(2026, 2, 16, tzinfo=BERLIN))

    assert main(["schedules", "run", "invoice", "--at", "2026-02-15T00:30+01:00", "--aws"]) == 0
    first = capsys.readouterr().out.splitlines()
    assert main(["schedules", "run", "invoice", "--at", "2026-02-17T00:30+01:00", "--aws"]) == 0
    second = capsys.readouterr().out.splitlines()

    assert first == [
        "bill run at 2026-02-15T00:30:00+01:00: 1 accounts, 5 work items",
        "draft                    - hpo c-alice 2026-01-15..2026-02-15 334.80 EUR",
        "issued     HPO-2026-000001 hpo c-bob 2026-01-15..2026-01-25 36.00 EUR",
        "draft                    - hpo c-carol 2026-01-15..2026-02-15 186.00 EUR",
        "draft                    - hpo c-dave 2026-01-15..2026-02-15 372.00 EUR",
        "issued     HPO-2026-000002 hpo c-rack 2026-01-01..2026-02-01 223.20 EUR",
    ]
    assert second == [
        "bill run at 2026-02-17T00:30:00+01:00: 1 accounts, 3 work items",
        "issued     HPO-2026-000003 hpo c-alice 2026-01-15..2026-02-15 334.80 EUR",
        "issued     HPO-2026-000004 hpo c-carol 2026-01-15..2026-02-15 186.00 EUR",
        "issued     HPO-2026-000005 hpo c-dave 2026-01-15..2026-02-15 372.00 EUR",
    ]


def test_schedules_run_invoice_needs_a_moment_with_its_offset(capsys: pytest.CaptureFixture[str]) -> None:
    from meterbill.cli import main

    assert main(["schedules", "run", "invoice", "--at", "2026-02-01T00:30"]) == 2
    assert "has no UTC offset (e.g. 2026-02-01T00:30+01:00)" in capsys.readouterr().err
