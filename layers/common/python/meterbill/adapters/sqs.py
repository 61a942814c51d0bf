"""WorkQueue on SQS (boto3): each message a JSON object, sent ten at a time (SendMessageBatch's limit).

The client is made on first use, not at import time or in the constructor, so a handler module that builds its
ports from settings opens no connection until a pass has something to send.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Final

from meterbill.alerts.ports import AlertWorkQueue, ReadingsArrived
from meterbill.errors import StorageUnavailableError
from meterbill.ports import WorkQueue

BATCH_LIMIT: Final = 10  # SendMessageBatch takes at most 10 entries


class SqsWorkQueue(WorkQueue):
    def __init__(
        self, queue_url: str, *, region: str, endpoint_url: str | None = None, client: Any | None = None
    ) -> None:
        self.queue_url = queue_url
        self._region = region
        self._endpoint_url = endpoint_url
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3  # type: ignore[import-untyped]  # only a pass that fans out pays for it

            self._client = boto3.client("sqs", region_name=self._region, endpoint_url=self._endpoint_url)
        return self._client

    def send(self, messages: Sequence[Mapping[str, Any]]) -> None:
        send_json_batches(self.client, self.queue_url, messages, what="work messages")


def send_json_batches(
    client: Any, queue_url: str, bodies: Sequence[Mapping[str, Any]], *, what: str, attempts: int = 3
) -> None:
    """Sends each body as one JSON message, ten to a SendMessageBatch; entries SQS reports failed are sent
    again (``attempts`` in all), except a sender fault (a malformed message), which raises at once.
    StorageUnavailableError names how many ``what`` were left."""
    for first in range(0, len(bodies), BATCH_LIMIT):
        pending = [
            {"Id": str(n), "MessageBody": json.dumps(body, sort_keys=True)}
            for n, body in enumerate(bodies[first : first + BATCH_LIMIT])
        ]
        for _ in range(attempts):
            failures = client.send_message_batch(QueueUrl=queue_url, Entries=pending).get("Failed", [])
            fatal = [f for f in failures if f.get("SenderFault", False)]
            if fatal:
                raise StorageUnavailableError(f"sending to {queue_url}: {fatal[0].get('Message', fatal[0])}")
            retry_ids = {f["Id"] for f in failures}
            pending = [entry for entry in pending if entry["Id"] in retry_ids]
            if not pending:
                break
        if pending:
            raise StorageUnavailableError(f"SQS refused {len(pending)} {what} after {attempts} attempts")


class SqsAlertWorkQueue(AlertWorkQueue):
    """The alerts' readings queue: one message per ``ReadingsArrived`` (its ``to_json()`` as the body)."""

    def __init__(
        self, queue_url: str, *, region: str | None, endpoint_url: str | None = None, client: Any = None
    ) -> None:
        self.queue_url = queue_url
        self._region = region
        self._endpoint_url = endpoint_url
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3  # only a request that stored readings pays for it

            self._client = boto3.client("sqs", region_name=self._region, endpoint_url=self._endpoint_url)
        return self._client

    def send(self, items: Sequence[ReadingsArrived]) -> None:
        bodies = [json.loads(item.to_json()) for item in items]
        send_json_batches(self.client, self.queue_url, bodies, what="readings-arrived messages")
