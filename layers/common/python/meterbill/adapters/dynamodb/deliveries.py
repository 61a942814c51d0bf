"""DeliveryStore on the catalog table: one item per (invoice, attempt), beside the invoice's partition.
Items, access patterns and costs: ``docs/storage.md`` ("Deliveries").

pk ``account#<account>#invoice-delivery``, sk ``<invoice id>#<attempt, 6 digits>``: an invoice's attempts are
one Query (``begins_with(sk, "<invoice id>#")``) in attempt order. Every write is a whole-item put,
conditional on what was read: ``attribute_not_exists`` for a new attempt, ``version = <read version>`` for
a claim or an event, so two workers never both claim an attempt and an event never undoes another.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import partial
from typing import Final

from pynamodb.attributes import NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.exceptions import PynamoDBException
from pynamodb.expressions.condition import Condition

from meterbill.adapters.dynamodb import cursor as cursors
from meterbill.adapters.dynamodb.catalog import CONDITION_FAILED
from meterbill.adapters.dynamodb.connection import DynamoDb, response_code
from meterbill.adapters.dynamodb.items import CatalogTableItem, bind
from meterbill.adapters.dynamodb.paging import query_page
from meterbill.adapters.dynamodb.schema import (
    CATALOG_HASH_KEY,
    CATALOG_RANGE_KEY,
    SEPARATOR,
    account_pk,
    key_part,
)
from meterbill.errors import InvalidInputError, NotFoundError, StorageUnavailableError
from meterbill.ports import (
    AttemptKind,
    DeliveryRecord,
    DeliveryState,
    DeliveryStore,
    NewDelivery,
)

ATTEMPT_DIGITS: Final = 6
PAGE: Final = 100
MAX_WRITE_ATTEMPTS: Final = 10
RECIPIENTS_SEPARATOR: Final = "\n"  # an email address holds no line break


def deliveries_pk(account: str) -> str:
    return f"{account_pk(account)}{SEPARATOR}invoice-delivery"


def delivery_sk(invoice_id: str, attempt: int) -> str:
    return f"{key_part(invoice_id, 'invoice_id')}{SEPARATOR}{attempt:0{ATTEMPT_DIGITS}d}"


class DeliveryItem(CatalogTableItem):
    """pk ``account#<account>#invoice-delivery``, sk ``<invoice id>#<attempt, 6 digits>``."""

    invoice_id = UnicodeAttribute()
    attempt = NumberAttribute()
    kind = UnicodeAttribute()
    state = UnicodeAttribute()
    to = UnicodeAttribute()  # addresses, one a line
    cc = UnicodeAttribute(null=True)
    language = UnicodeAttribute()
    customer_name = UnicodeAttribute()
    document_key = UnicodeAttribute()
    document_sha256 = UnicodeAttribute()
    queued_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    claimed_at = UTCDateTimeAttribute(null=True)
    claims = NumberAttribute()
    sent_at = UTCDateTimeAttribute(null=True)
    message_id = UnicodeAttribute(null=True)
    detail = UnicodeAttribute(null=True)
    version = NumberAttribute()


class DynamoDbDeliveryStore(DeliveryStore):
    def __init__(self, db: DynamoDb) -> None:
        self._db = db
        self._items = bind(DeliveryItem, db)

    def queue(self, account: str, delivery: NewDelivery, *, at: datetime) -> DeliveryRecord:
        if at.tzinfo is None:
            raise InvalidInputError("at", "must be timezone-aware")
        for _ in range(MAX_WRITE_ATTEMPTS):
            if delivery.kind == "first":
                attempt = 1
            else:
                existing = self.of_invoice(account, delivery.invoice_id)
                attempt = max((r.attempt for r in existing), default=1) + 1
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
            if self._put(
                self._item(account, record), self._items.pk.does_not_exist(), what="queueing a delivery"
            ):
                return record
            if delivery.kind == "first":
                return self.get(account, delivery.invoice_id, 1)
            # another resend took the number: count again
        raise self._db.give_up(
            f"queueing a resend of invoice {delivery.invoice_id!r}", "others kept taking it"
        )

    def get(self, account: str, invoice_id: str, attempt: int) -> DeliveryRecord:
        answer = self._db.run(
            partial(
                self._db.catalog_table.get_item,
                deliveries_pk(account),
                delivery_sk(invoice_id, attempt),
                consistent_read=True,
            ),
            what="reading a delivery",
            idempotent=True,
        )
        raw = answer.get("Item")
        if raw is None:
            raise NotFoundError("delivery", f"{invoice_id}/{attempt}")
        return _record(account, self._items.from_raw_data(raw))

    def of_invoice(self, account: str, invoice_id: str) -> Sequence[DeliveryRecord]:
        prefix = f"{key_part(invoice_id, 'invoice_id')}{SEPARATOR}"
        found: list[DeliveryRecord] = []
        start: cursors.StartKey | None = None
        while True:
            raw_items, next_cursor = query_page(
                self._db,
                deliveries_pk(account),
                limit=PAGE,
                start_key=start,
                cursor_key_names=(CATALOG_HASH_KEY, CATALOG_RANGE_KEY),
                range_key_condition=self._items.sk.startswith(prefix),
                what="reading an invoice's deliveries",
            )
            found.extend(_record(account, self._items.from_raw_data(raw)) for raw in raw_items)
            if next_cursor is None:
                return found
            start = cursors.decode(next_cursor, checks={CATALOG_HASH_KEY: bool, CATALOG_RANGE_KEY: bool})

    def update(self, account: str, current: DeliveryRecord, new: DeliveryRecord) -> bool:
        if (new.invoice_id, new.attempt, new.version) != (
            current.invoice_id,
            current.attempt,
            current.version + 1,
        ):
            raise InvalidInputError("version", "the new record must be the current one's next version")
        condition: Condition = self._items.version == current.version
        return self._put(self._item(account, new), condition, what=f"recording delivery {new.state}")

    def _put(self, item: DeliveryItem, condition: Condition, *, what: str) -> bool:
        try:
            self._db.run(partial(item.save, condition=condition), what=what, idempotent=True)
        except PynamoDBException as error:
            if response_code(error) == CONDITION_FAILED:
                return False
            raise StorageUnavailableError(f"{what}: {error}") from error
        return True

    def _item(self, account: str, record: DeliveryRecord) -> DeliveryItem:
        return self._items(
            deliveries_pk(account),
            delivery_sk(record.invoice_id, record.attempt),
            invoice_id=record.invoice_id,
            attempt=record.attempt,
            kind=record.kind,
            state=record.state,
            to=RECIPIENTS_SEPARATOR.join(record.to),
            cc=RECIPIENTS_SEPARATOR.join(record.cc) or None,
            language=record.language,
            customer_name=record.customer_name,
            document_key=record.document_key,
            document_sha256=record.document_sha256,
            queued_at=record.queued_at,
            updated_at=record.updated_at,
            claimed_at=record.claimed_at,
            claims=record.claims,
            sent_at=record.sent_at,
            message_id=record.message_id,
            detail=record.detail,
            version=record.version,
        )


def _record(account: str, item: DeliveryItem) -> DeliveryRecord:
    kind: AttemptKind = item.kind  # type: ignore[assignment]
    state: DeliveryState = item.state  # type: ignore[assignment]
    return DeliveryRecord(
        account=account,
        invoice_id=item.invoice_id,
        attempt=int(item.attempt),
        kind=kind,
        state=state,
        to=tuple(item.to.split(RECIPIENTS_SEPARATOR)),
        cc=tuple(item.cc.split(RECIPIENTS_SEPARATOR)) if item.cc else (),
        language=item.language,
        customer_name=item.customer_name,
        document_key=item.document_key,
        document_sha256=item.document_sha256,
        queued_at=item.queued_at,
        updated_at=item.updated_at,
        claimed_at=item.claimed_at,
        claims=int(item.claims),
        sent_at=item.sent_at,
        message_id=item.message_id,
        detail=item.detail,
        version=int(item.version),
    )
