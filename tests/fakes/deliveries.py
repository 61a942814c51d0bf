"""Delivery records and the email queue in memory."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime

from meterbill.errors import (
    InvalidInputError,
    NotFoundError,
)
from meterbill.ports import (
    DeliveryQueue,
    DeliveryRecord,
    DeliveryStore,
    DeliveryWork,
    NewDelivery,
)


class FakeDeliveryStore(DeliveryStore):
    """``items[(account, invoice_id, attempt)]``; ``writes`` counts the stored changes. ``fail_next_update``
    makes the next ``update`` raise it (a crash between a send and its record)."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str, int], DeliveryRecord] = {}
        self.writes = 0
        self.fail_next_update: Exception | None = None
        self._lock = threading.RLock()

    def queue(self, account: str, delivery: NewDelivery, *, at: datetime) -> DeliveryRecord:
        with self._lock:
            attempts = [a for (acc, inv, a) in self.items if (acc, inv) == (account, delivery.invoice_id)]
            if delivery.kind == "first":
                if 1 in attempts:
                    return self.items[(account, delivery.invoice_id, 1)]
                attempt = 1
            else:
                attempt = max(attempts, default=1) + 1
            record = DeliveryRecord(
                account=account,
                invoice_id=delivery.invoice_id,
                attempt=attempt,
                kind=delivery.kind,
                state="queued",
                to=delivery.to,
                cc=delivery.cc,
                language=delivery.language,
                customer_name=delivery.customer_name,
                document_key=delivery.document_key,
                document_sha256=delivery.document_sha256,
                queued_at=at,
                updated_at=at,
            )
            self.items[(account, delivery.invoice_id, attempt)] = record
            self.writes += 1
            return record

    def get(self, account: str, invoice_id: str, attempt: int) -> DeliveryRecord:
        with self._lock:
            try:
                return self.items[(account, invoice_id, attempt)]
            except KeyError:
                raise NotFoundError("delivery", f"{invoice_id}/{attempt}") from None

    def of_invoice(self, account: str, invoice_id: str) -> Sequence[DeliveryRecord]:
        with self._lock:
            return [
                r for (acc, inv, _), r in sorted(self.items.items()) if (acc, inv) == (account, invoice_id)
            ]

    def update(self, account: str, current: DeliveryRecord, new: DeliveryRecord) -> bool:
        key = (account, current.invoice_id, current.attempt)
        if (new.invoice_id, new.attempt, new.version) != (
            current.invoice_id,
            current.attempt,
            current.version + 1,
        ):
            raise InvalidInputError("version", "the new record must be the current one's next version")
        with self._lock:
            if self.fail_next_update is not None:
                error, self.fail_next_update = self.fail_next_update, None
                raise error
            if key not in self.items or self.items[key].version != current.version:
                return False
            self.items[key] = new
            self.writes += 1
            return True


class FakeDeliveryQueue(DeliveryQueue):
    """``sent`` holds every item sent, in order."""

    def __init__(self) -> None:
        self.sent: list[DeliveryWork] = []

    def send(self, items: Sequence[DeliveryWork]) -> None:
        self.sent.extend(items)
