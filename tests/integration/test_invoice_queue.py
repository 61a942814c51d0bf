"""The bill run's work queue on SQS (moto): every item one message whose body reads back as the item;
entries SQS refuses are sent again, and what is still refused after that is an error, not a silent loss."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import boto3
import pytest

from meterbill.adapters.invoice_queue import SqsInvoiceWorkQueue
from meterbill.errors import StorageUnavailableError
from meterbill.ports import InvoiceWork
from meterbill.services import billrun
from tests.integration.conftest import REGION

AT = datetime(2026, 2, 1, 0, 30, tzinfo=ZoneInfo("Europe/Berlin"))


def items(count: int) -> list[InvoiceWork]:
    return [InvoiceWork("acc", f"c{i:02d}", date(2026, 1, 1), date(2026, 2, 1), AT) for i in range(count)]


def test_25_items_are_25_messages_that_read_back_as_the_items(aws: None) -> None:
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName="work")["QueueUrl"]

    SqsInvoiceWorkQueue(url, region=REGION).send(items(25))

    bodies = []
    while answer := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
        for message in answer:
            bodies.append(message["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    assert sorted(billrun.work_from_json(json.loads(b)).customer_id for b in bodies) == [
        f"c{i:02d}" for i in range(25)
    ]
    assert json.loads(bodies[0]) == {
        "account": "acc",
        "as_of": "2026-02-01T00:30:00+01:00",
        "customer_id": json.loads(bodies[0])["customer_id"],
        "period_end": "2026-02-01",
        "period_start": "2026-01-01",
    }


class FlakySqs:
    """Refuses the first entry of every batch ``refusals`` times."""

    def __init__(self, refusals: int) -> None:
        self.refusals = refusals
        self.calls: list[list[str]] = []

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.calls.append([e["Id"] for e in Entries])
        if self.refusals > 0:
            self.refusals -= 1
            return {"Failed": [{"Id": Entries[0]["Id"], "SenderFault": False, "Code": "InternalError"}]}
        return {"Successful": [{"Id": e["Id"]} for e in Entries]}


def test_refused_entries_are_sent_again_and_then_reported() -> None:
    flaky = FlakySqs(refusals=1)
    SqsInvoiceWorkQueue("url", client=flaky).send(items(3))
    assert flaky.calls == [["0", "1", "2"], ["0"]]

    with pytest.raises(StorageUnavailableError, match="SQS refused 1 invoice work messages after 3 attempts"):
        SqsInvoiceWorkQueue("url", client=FlakySqs(refusals=3)).send(items(2))
