"""GET /v1/invoices/{id}/xml on the fakes: an issued invoice's Factur-X XML (valid EN 16931), 409 for a
draft or void one, 422 naming what the e-invoice lacks, 404 for an unknown id. The portfolio is
``tests/unit/invoicing_support.py`` (account ``hpo``, Berlin, 1 kWh an hour, 0.30 EUR/kWh, no taxes)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal

import pytest
from lxml import etree

from meterbill.billing.invoice import invoice_id
from meterbill.documents.facturx import NSMAP
from meterbill.domain import Customer
from meterbill.services import billing_settings, billrun
from meterbill.services import catalog as catalog_service
from tests.einvoice import validate
from tests.fakes import FakeInvoiceWorkQueue, FakeStores
from tests.unit.api_support import ApiClient, configure_backend, problem
from tests.unit.invoicing_support import BERLIN, A, portfolio

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics")

RUN_AT = datetime(2026, 2, 17, 1, 0, tzinfo=BERLIN)  # bill day 15 + 2 days' grace: issued
BEFORE_GRACE = datetime(2026, 2, 16, 1, 0, tzinfo=BERLIN)  # periods ended, grace not over: drafts
ALICE = invoice_id(A, "c-alice", date(2026, 1, 15), date(2026, 2, 15))
ADDRESS = {"lines": ["Torstraße 5"], "postal_code": "10119", "city": "Berlin", "country": "DE"}
SELLER = {
    "legal_name": "HPO Energie GmbH",
    "address": {"lines": ["Hauptstraße 1"], "postal_code": "10115", "city": "Berlin", "country": "DE"},
    "vat_id": "DE123456789",
    "bank_account": {"iban": "DE89370400440532013000", "bic": "COBADEFFXXX"},
}


@pytest.fixture
def stores() -> Iterator[FakeStores]:
    from meterbill.api import dependencies

    fakes = portfolio()
    configure_backend(fakes)
    try:
        yield fakes
    finally:
        dependencies.reset()


@pytest.fixture
def api(stores: FakeStores) -> ApiClient:
    from functions.ingest.ingest_handler import lambda_handler

    return ApiClient(lambda_handler, account=A)


def run(stores: FakeStores, now: datetime) -> None:
    queue = FakeInvoiceWorkQueue()
    billrun.run(now, stores.ports(), queue)
    for item in queue.take():
        billrun.work(item, stores.ports())


def with_seller_and_address(stores: FakeStores) -> None:
    current = billing_settings.settings_of(A, stores.accounts)
    body = {**current.model_dump(mode="json", exclude_none=True), "seller": SELLER}
    billing_settings.replace(A, body, stores.accounts, RUN_AT, if_match=None)
    alice = catalog_service.get(A, Customer, "c-alice", stores.catalog).value
    updated = {
        **alice.model_dump(mode="json", exclude={"account_id"}, exclude_none=True),
        "address": ADDRESS,
        "buyer_reference": "PO-4711",
    }
    catalog_service.replace(A, Customer, "c-alice", updated, stores.catalog, if_match=None)


def test_an_issued_invoice_answers_its_einvoice_xml(api: ApiClient, stores: FakeStores) -> None:
    with_seller_and_address(stores)
    run(stores, RUN_AT)
    invoice = api.get(f"/v1/invoices/{ALICE}").json

    answer = api.get(f"/v1/invoices/{ALICE}/xml")

    assert (answer.status, answer.content_type) == (200, "application/xml")
    xml = answer.text.encode("utf-8")
    assert validate(xml).failed == ()
    root = etree.fromstring(xml)

    def text(path: str) -> list[str]:
        return [e.text for e in root.xpath(path, namespaces=NSMAP)]

    assert text("//rsm:ExchangedDocument/ram:ID") == [invoice["number"]]
    assert text("//ram:BuyerReference") == ["PO-4711"]
    assert text("//ram:GrandTotalAmount") == [invoice["total"]]
    # issued 2026-02-17 01:00 in Berlin; due after the account's 14 days
    assert text("//rsm:ExchangedDocument/ram:IssueDateTime/udt:DateTimeString") == ["20260217"]
    assert text("//ram:DueDateDateTime/udt:DateTimeString") == ["20260303"]
    assert sorted(
        set(text("//ram:SpecifiedLineTradeSettlement/ram:AdditionalReferencedDocument/ram:IssuerAssignedID"))
    ) == [
        "common",
        "m-alice",
    ]
    assert Decimal(invoice["total"]) == Decimal(text("//ram:DuePayableAmount")[0])


def test_a_draft_has_no_xml_409_naming_its_state(api: ApiClient, stores: FakeStores) -> None:
    with_seller_and_address(stores)
    run(stores, BEFORE_GRACE)

    answer = api.get(f"/v1/invoices/{ALICE}/xml")

    reason = f"invoice {ALICE!r} is draft: cannot have an e-invoice (only an issued invoice has one)"
    assert answer.json == problem(409, f"state: {reason}", ("state", reason))


def test_without_a_seller_the_xml_is_422_naming_seller(api: ApiClient, stores: FakeStores) -> None:
    run(stores, RUN_AT)

    answer = api.get(f"/v1/invoices/{ALICE}/xml")

    reason = (
        "the account's billing settings name no seller (PUT /v1/settings/billing): an invoice document "
        "must say who issues it"
    )
    assert answer.json == problem(422, f"seller: {reason}", ("seller", reason))


def test_a_customer_without_address_is_422_naming_it(api: ApiClient, stores: FakeStores) -> None:
    with_seller_and_address(stores)
    run(stores, RUN_AT)
    bob = invoice_id(A, "c-bob", date(2026, 1, 15), date(2026, 1, 25))

    answer = api.get(f"/v1/invoices/{bob}/xml")

    assert answer.status == 422
    assert answer.json["errors"][0]["field"] == "buyer.address"


def test_an_unknown_invoice_is_404(api: ApiClient) -> None:
    answer = api.get("/v1/invoices/inv_nobody/xml")

    assert answer.status == 404
