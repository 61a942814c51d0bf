"""An invoice's stored PDF over HTTP (fakes): ``GET /v1/invoices/{id}/pdf`` answers a presigned URL valid 5
minutes once the document is stored, 409 naming the state before; the invoice's view shows its state and
the stored document's SHA-256."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from meterbill.services.documents import store_invoice_document
from meterbill.settings import Retention
from tests.fakes import FakeStores, fixed_clock
from tests.unit.api_support import ApiClient, configure_backend, problem
from tests.unit.documents_support import CountingRender, rack_invoice, run, with_seller
from tests.unit.invoicing_support import BERLIN, A, portfolio

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics")

JAN = rack_invoice("2026-01-01", "2026-02-01")


@pytest.fixture
def stores() -> Iterator[FakeStores]:
    from meterbill.api import dependencies

    fakes = portfolio()
    with_seller(fakes)
    run(fakes, datetime(2026, 2, 3, 1, 0, tzinfo=BERLIN))  # c-rack's January: issued
    configure_backend(fakes)
    try:
        yield fakes
    finally:
        dependencies.reset()


@pytest.fixture
def api(stores: FakeStores) -> ApiClient:
    from functions.ingest.ingest_handler import lambda_handler

    return ApiClient(lambda_handler, account=A)


def store(stores: FakeStores) -> None:
    store_invoice_document(
        A,
        JAN,
        stores=stores.ports(),
        documents=stores.documents,
        render=CountingRender(),
        now=datetime(2026, 2, 3, 1, 5, tzinfo=BERLIN),
        retention=Retention(days=1),
        logo=lambda account: None,
    )


def test_an_issued_invoice_not_stored_yet_has_no_pdf_409_naming_its_state(api, stores):
    answer = api.get(f"/v1/invoices/{JAN}/pdf")

    reason = f"invoice '{JAN}' is issued: cannot download its PDF (it is not stored yet)"
    assert (answer.status, answer.json) == (409, problem(409, f"state: {reason}", ("state", reason)))


def test_a_stored_invoice_answers_a_presigned_url_valid_5_minutes(api, stores):
    store(stores)

    answer = api.get(f"/v1/invoices/{JAN}/pdf")

    assert answer.status == 200
    assert answer.json == {
        "url": f"https://documents.invalid/{A}/invoices/{JAN}.pdf?expires=300",  # the fake's presigned URL
        "expires_at": (fixed_clock() + timedelta(minutes=5)).isoformat().replace("+00:00", "Z"),
    }


def test_the_invoice_view_shows_the_state_and_the_stored_documents_sha256(api, stores):
    store(stores)
    body = stores.documents.get(A, f"invoices/{JAN}.pdf")

    answer = api.get(f"/v1/invoices/{JAN}")

    assert (answer.status, answer.json["state"], answer.headers["etag"]) == (200, "stored", '"v3"')
    assert answer.json["document"] == {
        "sha256": hashlib.sha256(body).hexdigest(),
        "size": len(body),
        "stored_at": "2026-02-03T01:05:00+01:00",
        "retain_until": "2026-02-04T01:05:00+01:00",
    }
    assert answer.json["delivered_at"] is None
    listed = api.get("/v1/invoices", state="stored")
    assert [item["id"] for item in listed.json["items"]] == [JAN]


def test_another_accounts_invoice_pdf_is_not_found(api, stores):
    store(stores)

    answer = ApiClient(api.handler, account="acc_other").get(f"/v1/invoices/{JAN}/pdf")

    assert answer.status == 404
