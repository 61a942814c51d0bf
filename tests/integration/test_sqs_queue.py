"""SqsWorkQueue: messages as JSON, ten per SendMessageBatch, entries SQS reports failed sent again."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from meterbill.adapters.sqs import SqsWorkQueue
from meterbill.errors import StorageUnavailableError
from tests.integration.conftest import REGION


def test_23_messages_go_in_three_batches_and_arrive_as_sent(aws: None) -> None:
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName="work")["QueueUrl"]
    queue = SqsWorkQueue(url, region=REGION)
    calls: list[int] = []
    queue.client.meta.events.register(
        "before-parameter-build.sqs.SendMessageBatch",
        lambda params, **_: calls.append(len(params["Entries"])),
    )

    queue.send([{"n": n} for n in range(23)])

    assert calls == [10, 10, 3]
    received = []
    while answer := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
        received += [json.loads(m["Body"])["n"] for m in answer]
        sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[{"Id": m["MessageId"], "ReceiptHandle": m["ReceiptHandle"]} for m in answer],
        )
    assert sorted(received) == list(range(23))


class FlakyClient:
    """SQS answering that entry "1" failed on the service's side once, or on the sender's side."""

    def __init__(self, sender_fault: bool) -> None:
        self.sent: list[list[str]] = []
        self.sender_fault = sender_fault

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, str]]) -> dict[str, Any]:
        self.sent.append([entry["Id"] for entry in Entries])
        if len(self.sent) == 1:
            return {"Failed": [{"Id": "1", "SenderFault": self.sender_fault, "Code": "X", "Message": "no"}]}
        return {"Successful": [{"Id": entry["Id"]} for entry in Entries]}


def test_an_entry_sqs_failed_is_sent_again_alone() -> None:
    client = FlakyClient(sender_fault=False)
    SqsWorkQueue("url", region=REGION, client=client).send([{"a": 1}, {"b": 2}, {"c": 3}])
    assert client.sent == [["0", "1", "2"], ["1"]]


def test_an_entry_refused_as_the_senders_fault_is_an_error() -> None:
    with pytest.raises(StorageUnavailableError, match="no"):
        SqsWorkQueue("url", region=REGION, client=FlakyClient(sender_fault=True)).send([{"a": 1}, {"b": 2}])
