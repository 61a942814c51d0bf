"""The bill run's work queue on SQS: one message per (customer, period), its body ``InvoiceWork.to_json()``.

``SendMessageBatch`` sends up to 10 messages a request; entries SQS reports as failed are sent again (a few
times), then StorageUnavailableError names how many are left. A standard queue delivers at least once: the
worker is idempotent, so duplicates cost a little work and nothing else.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from meterbill.adapters.sqs import send_json_batches
from meterbill.ports import InvoiceWork, InvoiceWorkQueue


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
        send_json_batches(
            self.client, self._queue_url, [item.to_json() for item in items], what="invoice work messages"
        )
