"""The email queue on SQS: one message per delivery attempt (``DeliveryWork.to_json()``), and putting a
received message back for a while (``retry_later``: its visibility timeout), which is how a throttled or
undecided send comes back later without a worker sleeping on it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from meterbill.adapters.sqs import send_json_batches
from meterbill.errors import InvalidInputError
from meterbill.ports import DeliveryQueue, DeliveryWork

MAX_VISIBILITY_SECONDS: Final = 12 * 60 * 60  # SQS's limit


class SqsDeliveryQueue(DeliveryQueue):
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
            import boto3  # type: ignore[import-untyped]  # only a function that queues pays for it

            self._client = boto3.client("sqs", region_name=self._region, endpoint_url=self._endpoint_url)
        return self._client

    def send(self, items: Sequence[DeliveryWork]) -> None:
        send_json_batches(
            self.client, self.queue_url, [item.to_json() for item in items], what="email messages"
        )

    def retry_later(self, receipt_handle: str, seconds: int) -> None:
        """The received message becomes visible again in ``seconds`` (0 to 12 hours)."""
        self.client.change_message_visibility(
            QueueUrl=self.queue_url,
            ReceiptHandle=receipt_handle,
            VisibilityTimeout=max(0, min(MAX_VISIBILITY_SECONDS, seconds)),
        )


def work_from_json(body: object) -> DeliveryWork:
    """A queue message's body as DeliveryWork; InvalidInputError naming the field."""
    if not isinstance(body, dict):
        raise InvalidInputError("body", "an email message is a JSON object")
    account, invoice_id, attempt = body.get("account"), body.get("invoice_id"), body.get("attempt")
    if not isinstance(account, str) or not account:
        raise InvalidInputError("account", "missing or not a string")
    if not isinstance(invoice_id, str) or not invoice_id:
        raise InvalidInputError("invoice_id", "missing or not a string")
    if not isinstance(attempt, int) or isinstance(attempt, bool) or attempt < 1:
        raise InvalidInputError("attempt", "missing or not a positive integer")
    return DeliveryWork(account, invoice_id, attempt)
