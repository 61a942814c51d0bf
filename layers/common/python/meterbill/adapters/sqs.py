"""WorkQueue on SQS (boto3): each message a JSON object, sent ten at a time (SendMessageBatch's limit).

The client is made on first use, not at import time or in the constructor, so a handler module that builds its
ports from settings opens no connection until a pass has something to send.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

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
        for first in range(0, len(messages), BATCH_LIMIT):
            chunk = messages[first : first + BATCH_LIMIT]
            entries = [
                {"Id": str(n), "MessageBody": json.dumps(message, sort_keys=True)}
                for n, message in enumerate(chunk)
            ]
            self._send_batch(entries)

    def _send_batch(self, entries: list[dict[str, str]], attempts: int = 3) -> None:
        """Sends the entries; re-sends those SQS reports failed (a sender fault is not retried)."""
        pending = entries
        for _ in range(attempts):
            answer = self.client.send_message_batch(QueueUrl=self.queue_url, Entries=pending)
            failed: Callable[[dict[str, Any]], bool] = lambda f: not f.get("SenderFault", False)  # noqa: E731
            retry_ids = {f["Id"] for f in answer.get("Failed", []) if failed(f)}
            fatal = [f for f in answer.get("Failed", []) if not failed(f)]
            if fatal:
                raise StorageUnavailableError(
                    f"sending to {self.queue_url}: {fatal[0].get('Message', fatal[0])}"
                )
            pending = [entry for entry in pending if entry["Id"] in retry_ids]
            if not pending:
                return
        raise StorageUnavailableError(f"sending to {self.queue_url}: {len(pending)} messages kept failing")
