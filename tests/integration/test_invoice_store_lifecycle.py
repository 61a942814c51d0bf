"""The InvoiceStore after issuing: ``issued -> stored -> delivered`` (``mark_stored``, ``mark_delivered``),
against the fake and the DynamoDB adapter on moto. Only the state and the document's attributes change: the
issued body never does; retries converge; a state that does not allow the step refuses it."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from meterbill.adapters.dynamodb import DynamoDb
from meterbill.adapters.dynamodb.invoices import DynamoDbInvoiceStore
from meterbill.errors import InvalidStateError, NotFoundError
from meterbill.ports import InvoiceDocumentRef, InvoiceStore, StoredDocument
from tests.fakes import FakeInvoiceStore
from tests.integration.conftest import Clock, Tables
from tests.integration.test_invoice_store_contract import draft, issue

STORED_AT = datetime(2026, 4, 3, 0, 6, tzinfo=UTC)
DELIVERED_AT = datetime(2026, 4, 3, 0, 9, tzinfo=UTC)
RETAIN = datetime(2036, 4, 3, 0, 6, tzinfo=UTC)
PDF = StoredDocument(
    key="invoices/2026/04/inv_march.pdf",
    sha256="ab" * 32,
    size=48_213,
    content_type="application/pdf",
    retain_until=RETAIN,
    version_id="v1",
)


@pytest.fixture(params=["fake", "dynamodb"])
def store(request: pytest.FixtureRequest, clock: Clock) -> InvoiceStore:
    if request.param == "fake":
        return FakeInvoiceStore(clock)
    db: DynamoDb = request.getfixturevalue("db")
    return DynamoDbInvoiceStore(db, clock=clock)


def issued(store: InvoiceStore) -> Any:
    store.put_draft("acme", draft())
    return issue(store, "inv_march")


def test_storing_the_document_moves_an_issued_invoice_to_stored_and_names_the_document(
    store: InvoiceStore, clock: Clock
) -> None:
    before = issued(store)
    clock.advance(minutes=1)

    after = store.mark_stored("acme", "inv_march", PDF, STORED_AT)

    assert (after.state, after.version, after.document, after.delivered_at) == (
        "stored",
        before.version + 1,
        InvoiceDocumentRef(PDF.key, "ab" * 32, 48_213, STORED_AT, RETAIN),
        None,
    )
    assert (after.body, after.number, after.issued_at) == (before.body, before.number, before.issued_at)
    assert store.get("acme", "inv_march") == after


def test_the_record_keeps_the_due_date_its_document_shows(store: InvoiceStore) -> None:
    issued(store)

    store.mark_stored("acme", "inv_march", PDF, STORED_AT, due_date=date(2026, 4, 17))

    document = store.get("acme", "inv_march").document
    assert document is not None and document.due_date == date(2026, 4, 17)


def test_storing_the_same_document_again_changes_nothing_and_another_one_is_refused(
    store: InvoiceStore, clock: Clock
) -> None:
    issued(store)
    first = store.mark_stored("acme", "inv_march", PDF, STORED_AT)
    clock.advance(minutes=1)

    assert store.mark_stored("acme", "inv_march", PDF, STORED_AT + timedelta(minutes=1)) == first
    with pytest.raises(InvalidStateError) as raised:
        store.mark_stored("acme", "inv_march", _other(), STORED_AT)
    assert str(raised.value) == "invoice 'inv_march' is stored with another document: cannot store a document"
    assert store.get("acme", "inv_march") == first


def _other() -> StoredDocument:
    return StoredDocument(PDF.key, "cd" * 32, 50_000, PDF.content_type, RETAIN)


def test_delivering_moves_stored_to_delivered_once(store: InvoiceStore, clock: Clock) -> None:
    issued(store)
    stored = store.mark_stored("acme", "inv_march", PDF, STORED_AT)

    delivered = store.mark_delivered("acme", "inv_march", DELIVERED_AT)
    clock.advance(minutes=1)

    assert (delivered.state, delivered.delivered_at, delivered.version) == (
        "delivered",
        DELIVERED_AT,
        stored.version + 1,
    )
    assert delivered.document == stored.document and delivered.body == stored.body
    assert store.mark_delivered("acme", "inv_march", DELIVERED_AT + timedelta(hours=1)) == delivered
    # storing the same document again after delivery (a retried store step) converges on what is there
    assert store.mark_stored("acme", "inv_march", PDF, STORED_AT) == delivered


def test_steps_out_of_order_are_refused_naming_the_state(store: InvoiceStore) -> None:
    store.put_draft("acme", draft())
    refusals = []
    for step in (
        lambda: store.mark_stored("acme", "inv_march", PDF, STORED_AT),
        lambda: store.mark_delivered("acme", "inv_march", DELIVERED_AT),
    ):
        with pytest.raises(InvalidStateError) as raised:
            step()
        refusals.append(str(raised.value))
    issue(store, "inv_march")
    with pytest.raises(InvalidStateError) as raised:
        store.mark_delivered("acme", "inv_march", DELIVERED_AT)
    refusals.append(str(raised.value))
    store.put_draft("acme", draft("inv_void"))
    store.void("acme", "inv_void")
    with pytest.raises(InvalidStateError) as raised:
        store.mark_stored("acme", "inv_void", PDF, STORED_AT)
    refusals.append(str(raised.value))

    assert refusals == [
        "invoice 'inv_march' is draft: cannot store a document",
        "invoice 'inv_march' is draft: cannot mark it delivered",
        "invoice 'inv_march' is issued: cannot mark it delivered",
        "invoice 'inv_void' is void: cannot store a document",
    ]
    with pytest.raises(NotFoundError):
        store.mark_stored("other", "inv_march", PDF, STORED_AT)


def test_a_stored_invoice_is_issued_for_issue_put_draft_and_void(store: InvoiceStore) -> None:
    issued(store)
    stored = store.mark_stored("acme", "inv_march", PDF, STORED_AT)

    assert issue(store, "inv_march") == stored  # issuing again answers it, no second number
    assert store.put_draft("acme", draft(total="99.99")) == stored
    with pytest.raises(InvalidStateError):
        store.void("acme", "inv_march")


# --- DynamoDB: the issued body is never in a lifecycle write ------------------------------------------------


def test_storing_and_delivering_update_only_the_lifecycle_attributes_conditionally(
    db: DynamoDb, tables: Tables, clock: Clock
) -> None:
    invoices = DynamoDbInvoiceStore(db, clock=clock)
    issued(invoices)
    body_before = tables.catalog("account#acme#invoice", "inv_march")["body"]
    sent: list[dict[str, Any]] = []
    db.client.meta.events.register(
        "before-parameter-build.dynamodb.UpdateItem", lambda params, **_: sent.append(params)
    )

    invoices.mark_stored("acme", "inv_march", PDF, STORED_AT)
    invoices.mark_delivered("acme", "inv_march", DELIVERED_AT)

    names = [sorted(request["ExpressionAttributeNames"].values()) for request in sent]
    assert names == [
        sorted(
            [
                "state",
                "document_key",
                "document_sha256",
                "document_size",
                "document_retain_until",
                "stored_at",
                "version",
                "updated_at",
            ]
        ),
        sorted(["state", "delivered_at", "version", "updated_at"]),
    ]
    assert [request["ConditionExpression"] for request in sent] == ["(#0 = :0 AND #1 = :1)"] * 2
    assert [request["ExpressionAttributeValues"][":0"] for request in sent] == [
        {"S": "issued"},
        {"S": "stored"},
    ]
    item = tables.catalog("account#acme#invoice", "inv_march")
    assert item["body"] == body_before
    assert json.dumps(item["body"]) == json.dumps(body_before)
    assert (item["state"], item["document_sha256"], item["document_size"], item["delivered_at"]) == (
        {"S": "delivered"},
        {"S": "ab" * 32},
        {"N": "48213"},
        {"S": "2026-04-03T00:09:00.000000+0000"},
    )
