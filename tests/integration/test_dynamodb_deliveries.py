"""DeliveryStore on DynamoDB (moto): an item per (invoice, attempt) beside the invoices; the first attempt is
created once, resends take the next numbers; a write on a version that moved is refused (a claim lost to
another worker)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from meterbill.adapters.dynamodb.deliveries import DynamoDbDeliveryStore
from meterbill.errors import NotFoundError
from meterbill.ports import NewDelivery, Stores
from tests.integration.conftest import Tables

A = "hpo"
AT = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def new(kind: str = "first", invoice_id: str = "inv:2026.01") -> NewDelivery:
    return NewDelivery(
        invoice_id=invoice_id,
        kind=kind,  # type: ignore[arg-type]
        to=("alice@example.org", "alice.work@example.org"),
        cc=(),
        language="de",
        customer_name="Alice Müller",
        document_key="invoices/inv.pdf",
        document_sha256="ab" * 32,
    )


@pytest.fixture
def deliveries(stores: Stores) -> DynamoDbDeliveryStore:
    assert isinstance(stores.deliveries, DynamoDbDeliveryStore)
    return stores.deliveries


def test_the_first_attempt_is_created_once_and_stored_beside_the_invoices(
    deliveries: DynamoDbDeliveryStore, tables: Tables
) -> None:
    first = deliveries.queue(A, new(), at=AT)
    again = deliveries.queue(A, new(), at=AT + timedelta(minutes=1))

    assert (first, again.queued_at) == (again, AT)
    item = tables.catalog("account#hpo#invoice-delivery", "inv:2026.01#000001")
    assert item is not None
    assert (item["state"], item["kind"], item["to"], item["version"], "cc" in item) == (
        {"S": "queued"},
        {"S": "first"},
        {"S": "alice@example.org\nalice.work@example.org"},
        {"N": "1"},
        False,
    )
    assert deliveries.get(A, "inv:2026.01", 1) == first


def test_resends_take_the_next_attempt_numbers_in_order(deliveries: DynamoDbDeliveryStore) -> None:
    deliveries.queue(A, new(), at=AT)
    deliveries.queue(A, new("first", "inv-other"), at=AT)
    second = deliveries.queue(A, new("resend"), at=AT + timedelta(days=1))
    third = deliveries.queue(A, new("resend"), at=AT + timedelta(days=2))

    assert [(r.attempt, r.kind) for r in deliveries.of_invoice(A, "inv:2026.01")] == [
        (1, "first"),
        (2, "resend"),
        (3, "resend"),
    ]
    assert (second.attempt, third.attempt) == (2, 3)


def test_a_write_on_a_version_that_moved_is_refused(deliveries: DynamoDbDeliveryStore) -> None:
    queued = deliveries.queue(A, new(), at=AT)
    mine, theirs = queued.claimed(AT + timedelta(seconds=1)), queued.claimed(AT + timedelta(seconds=2))

    assert deliveries.update(A, queued, theirs) is True
    assert deliveries.update(A, queued, mine) is False
    stored = deliveries.get(A, "inv:2026.01", 1)
    assert (stored.state, stored.claimed_at, stored.claims, stored.version) == (
        "sending",
        theirs.claimed_at,
        1,
        2,
    )


def test_sent_then_events_round_trip_every_field(deliveries: DynamoDbDeliveryStore) -> None:
    claimed = deliveries.queue(A, new(), at=AT).claimed(AT)
    deliveries.update(A, deliveries.get(A, "inv:2026.01", 1), claimed)
    sent = claimed.advanced("sent", AT + timedelta(seconds=1), message_id="0102-abc")
    assert sent is not None and deliveries.update(A, claimed, sent)
    bounced = sent.advanced("bounced", AT + timedelta(seconds=9), detail="Permanent/General: 550")
    assert bounced is not None and deliveries.update(A, sent, bounced)
    assert deliveries.get(A, "inv:2026.01", 1) == bounced


def test_another_accounts_attempt_is_not_found(deliveries: DynamoDbDeliveryStore) -> None:
    deliveries.queue(A, new(), at=AT)
    with pytest.raises(NotFoundError):
        deliveries.get("other", "inv:2026.01", 1)
    assert deliveries.of_invoice("other", "inv:2026.01") == []
