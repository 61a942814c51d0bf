"""Resending an invoice over HTTP (``POST /v1/invoices/{id}/resend``) and its deliveries in
``GET /v1/invoices/{id}``, on the fakes (``tests/unit/delivery_support.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from meterbill.api import dependencies
from meterbill.api.dependencies import Backend
from tests.fakes import fixed_clock
from tests.unit.api_support import SETTINGS, ApiClient, no_idempotency_store, problem
from tests.unit.delivery_support import INVOICE, NOW, A, World

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics")


def serve(world: World) -> ApiClient:
    from functions.ingest.ingest_handler import lambda_handler

    dependencies.configure(
        Backend(
            settings=SETTINGS,
            stores=world.stores.ports(),
            idempotency=no_idempotency_store,
            clock=fixed_clock,
            email_queue=lambda: world.queue,
        )
    )
    return ApiClient(lambda_handler, account=A)


@pytest.fixture
def world() -> Iterator[World]:
    w = World()
    try:
        yield w
    finally:
        dependencies.reset()


def test_a_resend_is_queued_as_a_new_attempt_of_the_same_stored_pdf(world: World) -> None:
    world.store_pdf()
    world.queue_delivery()
    world.deliver()
    api = serve(world)

    answer = api.post(f"/v1/invoices/{INVOICE}/resend")

    assert (answer.status, answer.headers["location"]) == (202, f"/v1/invoices/{INVOICE}")
    assert answer.json == {
        "attempt": 2,
        "kind": "resend",
        "state": "queued",
        "to": ["alice@example.org"],
        "cc": ["buchhaltung@hpo.example"],
        "queued_at": "2026-03-01T12:00:00Z",
        "sent_at": None,
        "updated_at": "2026-03-01T12:00:00Z",
        "message_id": None,
        "detail": None,
    }
    assert [(w.invoice_id, w.attempt) for w in world.queue.sent] == [(INVOICE, 1), (INVOICE, 2)]
    assert world.record(2).document_sha256 == world.record(1).document_sha256


def test_the_invoice_shows_its_deliveries(world: World) -> None:
    world.store_pdf()
    world.queue_delivery()
    message_id = world.deliver().record.message_id
    world.event("delivered", message_id=message_id, at=NOW + timedelta(seconds=4))
    api = serve(world)
    api.post(f"/v1/invoices/{INVOICE}/resend")

    answer = api.get(f"/v1/invoices/{INVOICE}")

    assert answer.status == 200
    assert [(d["attempt"], d["kind"], d["state"], d["message_id"]) for d in answer.json["deliveries"]] == [
        (1, "first", "delivered", "msg-000001"),
        (2, "resend", "queued", None),
    ]
    assert answer.json["state"] == "delivered"


def test_resending_before_the_pdf_is_stored_is_a_conflict(world: World) -> None:
    api = serve(world)

    answer = api.post(f"/v1/invoices/{INVOICE}/resend")

    assert (answer.status, answer.json) == (
        409,
        problem(
            409,
            f"state: invoice {INVOICE!r} is issued: cannot email it before its PDF is stored",
            ("state", f"invoice {INVOICE!r} is issued: cannot email it before its PDF is stored"),
        ),
    )
    assert world.queue.sent == []


def test_resending_an_unknown_invoice_is_not_found(world: World) -> None:
    assert serve(world).post("/v1/invoices/nope/resend").status == 404


def test_a_read_key_cannot_resend(world: World) -> None:
    world.store_pdf()
    answer = serve(world).as_key(A, "read").post(f"/v1/invoices/{INVOICE}/resend")
    assert (answer.status, world.queue.sent) == (403, [])


@pytest.fixture
def idempotency_table(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    import boto3
    from moto import mock_aws

    from meterbill.api.idempotency import dynamodb_store

    for name, value in {
        "AWS_DEFAULT_REGION": "eu-central-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        boto3.client("dynamodb", region_name="eu-central-1").create_table(
            TableName=SETTINGS.idempotency_table,
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield dynamodb_store(SETTINGS)


def test_a_resend_retried_with_its_idempotency_key_queues_one_attempt(
    world: World, idempotency_table: Any
) -> None:
    from functions.ingest.ingest_handler import lambda_handler

    world.store_pdf()
    dependencies.configure(
        Backend(
            settings=SETTINGS,
            stores=world.stores.ports(),
            idempotency=lambda: idempotency_table,
            clock=fixed_clock,
            email_queue=lambda: world.queue,
        )
    )
    api = ApiClient(lambda_handler, account=A)

    first = api.post(f"/v1/invoices/{INVOICE}/resend", headers={"Idempotency-Key": "resend-1"})
    again = api.post(f"/v1/invoices/{INVOICE}/resend", headers={"Idempotency-Key": "resend-1"})

    assert (first.status, again.status, again.json, again.headers.get("idempotent-replayed")) == (
        202,
        202,
        first.json,
        "true",
    )
    assert [(w.invoice_id, w.attempt) for w in world.queue.sent] == [(INVOICE, 2)]
