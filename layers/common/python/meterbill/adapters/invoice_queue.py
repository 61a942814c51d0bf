"""The bill run's work queue on SQS: one message per (customer, period), its body ``InvoiceWork.to_json()``.

``SendMessageBatch`` sends up to 10 messages a request; entries SQS reports as failed are sent again (a few
times), then StorageUnavailableError names how many are left. A standard queue delivers at least once: the
worker is idempotent, so duplicates cost a little work and nothing else.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Final

from meterbill.errors import StorageUnavailableError
from meterbill.ports import InvoiceWork, InvoiceWorkQueue

BATCH: Final = 10  # SQS's limit per SendMessageBatch
ATTEMPTS: Final = 3


class SqsInvoiceWorkQueue(InvoiceWorkQueue):
    def __init__(
        self,
        queue_url: str,
        *,
        client: Any = None,
        region: str | None = None,
        endpoint_url: str | None = None,
    ) -> None:
        self._queue_url = queue_url
        self._client = client
        self._region = region
        self._endpoint_url = endpoint_url

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3  # type: ignore[import-untyped]  # only a function that sends pays for it

            self._client = boto3.client("sqs", region_name=self._region, endpoint_url=self._endpoint_url)
        return self._client

    def send(self, items: Sequence[InvoiceWork]) -> None:
        for first in range(0, len(items), BATCH):
            pending = {str(i): item for i, item in enumerate(items[first : first + BATCH])}
            for _ in range(ATTEMPTS):
                answer = self.client.send_message_batch(
                    QueueUrl=self._queue_url,
                    Entries=[
                        {"Id": key, "MessageBody": json.dumps(item.to_json(), sort_keys=True)}
                        for key, item in pending.items()
                    ],
                )
                pending = {f["Id"]: pending[f["Id"]] for f in answer.get("Failed", [])}
                if not pending:
                    break
            if pending:
                raise StorageUnavailableError(
                    f"SQS refused {len(pending)} invoice work messages after {ATTEMPTS} attempts"
                )
