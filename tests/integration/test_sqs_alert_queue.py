"""SqsAlertWorkQueue: each ReadingsArrived one message whose body is its ``to_json()``, read back whole."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import boto3

from meterbill.adapters.sqs import SqsAlertWorkQueue
from meterbill.alerts.ports import ReadingsArrived
from tests.integration.conftest import REGION


def test_each_item_arrives_as_its_json_and_reads_back_equal(aws: None) -> None:
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName="alert-readings")["QueueUrl"]
    items = [
        ReadingsArrived(
            "acc_a",
            ("mtr-1", "mtr-2"),
            datetime(2026, 3, 1, 9, 0, tzinfo=UTC),
            datetime(2026, 3, 1, 10, 15, tzinfo=timezone(timedelta(hours=1))),
        ),
        ReadingsArrived(
            "acc_b", ("mtr-b",), datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 2, tzinfo=UTC)
        ),
    ]

    SqsAlertWorkQueue(url, region=REGION).send(items)

    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert sorted(m["Body"] for m in messages) == sorted(item.to_json() for item in items)
    assert sorted((ReadingsArrived.from_json(m["Body"]) for m in messages), key=lambda i: i.account) == items
