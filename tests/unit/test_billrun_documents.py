"""The bill run's storage step on the fakes: the worker stores the documents of what it issued; the hourly
run sends the period of every document still unstored (a failed store, a note issued by the API), so each
is stored once, later; an account without a seller is reported, not failed, and stored once it has one."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from meterbill.services import billrun, invoicing
from meterbill.services.documents import DocumentStep
from meterbill.settings import Retention
from tests.fakes import FakeDocumentStore, FakeInvoiceWorkQueue, FakeStores
from tests.unit.documents_support import CountingRender, rack_invoice, with_seller
from tests.unit.invoicing_support import BERLIN, A, hourly, portfolio

FEB3 = datetime(2026, 2, 3, 1, 0, tzinfo=BERLIN)  # c-rack's January is due (bill day 1, 2 days' grace)
JAN = rack_invoice("2026-01-01", "2026-02-01")


@pytest.fixture
def stores() -> FakeStores:
    return portfolio()


def step(render: CountingRender, documents: FakeDocumentStore) -> DocumentStep:
    return DocumentStep(documents=documents, render=render, retention=Retention(days=1), logo=lambda a: None)


def run_and_work(
    stores: FakeStores, now: datetime, documents: DocumentStep, *, unstored: bool = True
) -> list:
    queue = FakeInvoiceWorkQueue()
    billrun.run(now, stores.ports(), queue, unstored=unstored)
    reports = []
    for item in queue.take():
        billrun.work(item, stores.ports())
        reports.append((item, billrun.store_documents(item, stores.ports(), documents, now)))
    return reports


def test_the_worker_stores_the_document_of_the_invoice_it_issued(stores):
    with_seller(stores)
    render, documents = CountingRender(), FakeDocumentStore()

    reports = run_and_work(stores, FEB3, step(render, documents))

    assert [(item.customer_id, report.stored) for item, report in reports] == [("c-rack", (JAN,))]
    assert stores.invoices.get(A, JAN).state == "stored"
    assert (documents.puts, len(render.documents)) == (1, 1)


def test_an_account_without_a_seller_is_reported_and_stored_by_a_later_run_once_it_has_one(stores):
    render, documents = CountingRender(), FakeDocumentStore()

    ((_, report),) = run_and_work(stores, FEB3, step(render, documents))

    assert (report.stored, list(report.refused)) == ((), [JAN])
    assert report.refused[JAN].startswith("seller: the account's billing settings name no seller")
    assert (stores.invoices.get(A, JAN).state, documents.puts) == ("issued", 0)

    with_seller(stores)
    later = run_and_work(stores, datetime(2026, 2, 3, 2, 0, tzinfo=BERLIN), step(render, documents))

    assert [(i.customer_id, i.period_start.isoformat(), r.stored) for i, r in later] == [
        ("c-rack", "2026-01-01", (JAN,))
    ]
    assert (stores.invoices.get(A, JAN).state, documents.puts) == ("stored", 1)
    assert run_and_work(stores, datetime(2026, 2, 3, 3, 0, tzinfo=BERLIN), step(render, documents)) == []


def test_a_note_issued_through_the_api_is_stored_by_the_next_run(stores):
    with_seller(stores)
    render, documents = CountingRender(), FakeDocumentStore()
    run_and_work(stores, FEB3, step(render, documents))
    # m-rack read 0 kWh on 10 January after all: adjust issues a credit note on January
    day = datetime(2026, 1, 10, tzinfo=BERLIN)
    stores.readings.put_new(
        A, hourly("m-rack", day, datetime(2026, 1, 11, tzinfo=BERLIN), lambda _: Decimal(0))
    )
    note = invoicing.adjust(A, JAN, FEB3, stores.ports())
    assert note is not None and (note.kind, note.state) == ("credit_note", "issued")

    later = run_and_work(stores, datetime(2026, 2, 3, 2, 0, tzinfo=BERLIN), step(render, documents))

    assert [r.stored for _, r in later] == [(note.invoice_id,)]
    assert stores.invoices.get(A, note.invoice_id).state == "stored"
    assert documents.puts == 2


def test_without_documents_the_run_sends_no_unstored_work(stores):
    with_seller(stores)
    queue = FakeInvoiceWorkQueue()
    billrun.run(FEB3, stores.ports(), queue)
    for item in queue.take():
        billrun.work(item, stores.ports())

    billrun.run(datetime(2026, 2, 3, 2, 0, tzinfo=BERLIN), stores.ports(), queue)

    assert queue.take() == []
