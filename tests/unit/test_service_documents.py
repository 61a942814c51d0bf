"""The documents service on the fakes: what an issued invoice's document shows (seller, buyer, dates,
meters, 12-month history, the corrected invoice, title, logo) and storing it once, crash-safe: every crash
point retried gives one stored object, the invoice marked with the SHA-256 of the stored bytes."""

from __future__ import annotations

import hashlib
import io
from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from PIL import Image

from meterbill.documents.model import HistoryMonth, Logo, MeterDetail
from meterbill.documents.signing import SigningKey, signature_problems
from meterbill.domain import Customer
from meterbill.errors import InvalidInputError, InvalidStateError
from meterbill.ports import AccountRecord, InvoiceDocumentRef, InvoiceRecord, RawReading
from meterbill.services import catalog as catalog_service
from meterbill.services.documents import (
    document_key,
    invoice_document,
    register_read,
    signed_renderer,
    store_invoice_document,
    stored_logo,
)
from meterbill.services.logo import put_logo
from meterbill.settings import Retention
from tests.fakes import FakeDocumentStore, FakeReadingStore, FakeSigningKeyStore, FakeStores
from tests.unit.documents_support import CountingRender, rack_invoice, run, with_seller
from tests.unit.invoicing_support import BERLIN, A, populate

D = Decimal
STORE_AT = datetime(2026, 4, 3, 1, 0, tzinfo=BERLIN)
DEV = Retention(days=1)
JAN, FEB, MAR = (
    rack_invoice("2026-01-01", "2026-02-01"),
    rack_invoice("2026-02-01", "2026-03-01"),
    rack_invoice("2026-03-01", "2026-04-01"),
)


def store(stores, documents, render, now=STORE_AT, invoice=MAR):
    return store_invoice_document(
        A,
        invoice,
        stores=stores.ports(),
        documents=documents,
        render=render,
        now=now,
        retention=DEV,
        logo=lambda account: None,
    )


def a_draft(stores: FakeStores) -> InvoiceRecord:
    """A draft of c-rack (its body borrowed from March: the store does not read it)."""
    march = stores.invoices.get(A, MAR)
    draft = InvoiceRecord.draft(
        A,
        "inv_draft",
        customer_id="c-rack",
        kind="invoice",
        period_start=date(2026, 5, 1),
        period_end=date(2026, 6, 1),
        body=march.body,
        at=STORE_AT,
    )
    stores.invoices.put_draft(A, draft)
    return draft


@pytest.fixture
def stores() -> FakeStores:
    """c-rack (bill day 1, 1 kWh an hour on m-rack) invoiced for January, February and March 2026."""
    stores = FakeStores.empty()
    populate(stores, readings_to=datetime(2026, 4, 2, tzinfo=BERLIN))
    with_seller(stores)
    for month in (2, 3, 4):
        run(stores, datetime(2026, month, 3, 1, 0, tzinfo=BERLIN))  # bill day 1 + 2 days' grace
    return stores


# --- what the document shows --------------------------------------------------------------------------------


def test_the_document_names_seller_buyer_dates_and_the_meter_as_the_customer_reads_it(stores):
    record = stores.invoices.get(A, MAR)
    customer = {
        "id": "c-rack",
        "name": "Zoë Łukasz 中",
        "bill_title": "Colocation R12",
        "language": "de",
        "vat_id": "DE987654321",
        "buyer_reference": "04011000-1234512345-06",
    }
    catalog_service.replace(A, Customer, "c-rack", customer, stores.catalog, if_match=None)

    document = invoice_document(A, record, stores.ports(), logo=lambda account: None)

    assert record.issued_at == datetime(2026, 4, 3, 1, 0, tzinfo=BERLIN)
    assert (document.invoice.number, document.issue_date, document.due_date) == (
        record.number,
        date(2026, 4, 3),
        date(2026, 4, 3) + timedelta(days=14),  # payment terms
    )
    assert (document.seller.legal_name, str(document.seller.vat_id)) == (
        "Hausverwaltung Prenzlauer Berg GmbH",
        "DE123456789",
    )
    assert (document.buyer.customer_id, document.buyer.name, document.buyer.buyer_reference) == (
        "c-rack",
        "Zoë Łukasz 中",
        "04011000-1234512345-06",
    )
    assert (document.language, document.title, document.corrected, document.logo) == (
        "de",
        "Colocation R12",
        None,
        None,
    )
    assert document.meters == (
        MeterDetail(
            meter_id="m-rack",
            unit="kWh",
            utility="electricity",
            location="berlin, R12 / A",  # site name, then the labels rack and feed
            serial=None,
            multiplier=D(1),
            start_read=None,  # an interval meter has no register reads
            end_read=None,
        ),
    )


def test_the_history_holds_the_earlier_months_usage_oldest_first(stores):
    document = invoice_document(A, stores.invoices.get(A, MAR), stores.ports(), logo=lambda a: None)

    assert document.history == (
        HistoryMonth(date(2026, 1, 1), D(31 * 24), "kWh"),  # 1 kWh an hour
        HistoryMonth(date(2026, 2, 1), D(28 * 24), "kWh"),
    )
    first = invoice_document(A, stores.invoices.get(A, JAN), stores.ports(), logo=lambda a: None)
    assert first.history == ()


def test_an_account_without_a_seller_has_no_document_and_is_told_which_setting_is_missing(stores):
    from meterbill.services import billing_settings

    current = billing_settings.settings_of(A, stores.accounts).model_dump(mode="json")
    billing_settings.replace(A, {**current, "seller": None}, stores.accounts, STORE_AT, if_match=None)

    with pytest.raises(InvalidInputError) as refused:
        invoice_document(A, stores.invoices.get(A, MAR), stores.ports())

    assert refused.value.field == "seller"
    assert "billing settings name no seller" in refused.value.reason


def test_a_draft_has_no_document(stores):
    draft = stores.invoices.put_draft(A, a_draft(stores))
    with pytest.raises(InvalidStateError, match="is draft: cannot make its document"):
        invoice_document(A, draft, stores.ports())


def test_the_logo_is_the_one_the_account_uploaded():
    buffer = io.BytesIO()
    Image.new("RGB", (40, 20), (0, 90, 160)).save(buffer, "PNG")
    png = buffer.getvalue()
    stores = FakeStores.empty()
    stores.accounts.create(AccountRecord(A, "HPO", STORE_AT))
    assert stored_logo(stores.accounts)(A) is None

    put_logo(A, png, "image/png", stores.accounts, STORE_AT)

    assert stored_logo(stores.accounts)(A) == Logo("image/png", png)


def test_a_register_meter_reads_at_the_bounds_are_its_last_register_reads_within_a_day():
    readings = FakeReadingStore()
    bound = datetime(2026, 3, 1, tzinfo=BERLIN)
    readings.put_new(
        A,
        [
            RawReading("m-reg", bound - timedelta(days=2), D("1000.0"), "register"),  # too early
            RawReading("m-reg", bound - timedelta(hours=6), D("1234.5"), "register"),
            RawReading("m-reg", bound, D("1240.0"), "register"),
            RawReading("m-reg", bound + timedelta(hours=1), D("1241.0"), "register"),  # after the bound
        ],
    )

    assert register_read(A, "m-reg", bound, readings) == D("1240.0")
    assert register_read(A, "m-reg", bound - timedelta(hours=1), readings) == D("1234.5")
    assert register_read(A, "m-reg", bound - timedelta(days=2, seconds=1), readings) is None  # none before


# --- storing it once ----------------------------------------------------------------------------------------


def test_storing_renders_once_writes_once_with_retention_and_marks_the_sha256_of_the_stored_bytes(stores):
    documents, render = FakeDocumentStore(), CountingRender()

    record = store(stores, documents, render)

    body = documents.get(A, "invoices/" + MAR + ".pdf")
    assert body == f"%PDF {record.number} rendering 1".encode()
    assert (record.state, record.document) == (
        "stored",
        InvoiceDocumentRef(
            key=document_key(record),
            sha256=hashlib.sha256(body).hexdigest(),
            size=len(body),
            stored_at=STORE_AT,
            retain_until=STORE_AT + timedelta(days=1),
            # Issued 2026-04-03 01:00 in Berlin (2026-04-02 23:00 UTC) with 14 days to pay: the date the
            # document shows, on the customer's calendar, which the email repeats.
            due_date=date(2026, 4, 3) + timedelta(days=14),
        ),
    )
    assert (len(render.documents), documents.puts) == (1, 1)


def test_a_crash_in_rendering_stores_nothing_and_the_retry_stores_once(stores):
    documents, render = FakeDocumentStore(), CountingRender()

    def crash(document):
        raise SystemExit("killed while rendering")

    with pytest.raises(SystemExit):
        store(stores, documents, crash, now=STORE_AT)
    assert (documents.puts, stores.invoices.get(A, MAR).state) == (0, "issued")

    record = store(stores, documents, render, now=STORE_AT)
    assert (record.state, documents.puts, len(render.documents)) == ("stored", 1, 1)


def test_a_crash_after_the_put_and_before_the_mark_stores_nothing_new_on_retry_and_marks_the_stored_bytes(
    stores, monkeypatch
):
    documents, render = FakeDocumentStore(), CountingRender()

    def crash(*args, **kwargs):
        raise SystemExit("killed after the put")

    with monkeypatch.context() as patch:
        patch.setattr(stores.invoices, "mark_stored", crash)
        with pytest.raises(SystemExit):
            store(stores, documents, render, now=STORE_AT)
    first_bytes = documents.get(A, document_key(stores.invoices.get(A, MAR)))
    assert stores.invoices.get(A, MAR).state == "issued"

    later = STORE_AT + timedelta(minutes=5)
    record = store(stores, documents, render, now=later)

    assert (documents.puts, len(render.documents)) == (1, 1)  # the retry rendered and wrote nothing
    assert record.document is not None
    assert (record.state, record.document.sha256, record.document.stored_at) == (
        "stored",
        hashlib.sha256(first_bytes).hexdigest(),
        later,
    )


def test_a_crash_after_the_mark_is_answered_the_stored_record_on_retry(stores):
    documents, render = FakeDocumentStore(), CountingRender()
    first = store(stores, documents, render, now=STORE_AT)
    writes = stores.invoices.writes

    again = store(stores, documents, render, now=STORE_AT + timedelta(hours=1))

    assert again == first
    assert (documents.puts, len(render.documents), stores.invoices.writes) == (1, 1, writes)


def test_a_worker_that_loses_the_race_to_put_marks_the_winners_object(stores):
    documents, render = FakeDocumentStore(), CountingRender()

    class RacedDocuments(FakeDocumentStore):
        """Another worker's rendering lands between this worker's head and its put."""

        def put_once(self, account, key, body, *, content_type, retain_until):
            other = b"%PDF the other worker's"
            documents.put_once(account, key, other, content_type=content_type, retain_until=retain_until)
            return documents.put_once(
                account, key, body, content_type=content_type, retain_until=retain_until
            )

        def head(self, account, key):
            return documents.head(account, key)

    record = store(stores, RacedDocuments(), render)

    assert record.document is not None
    assert record.document.sha256 == hashlib.sha256(b"%PDF the other worker's").hexdigest()
    assert documents.puts == 1


def test_production_retention_runs_from_the_end_of_the_year_of_issue():
    retention = Retention.model_validate({"days": 3653, "from": "year_end"})

    until = retention.until(stored_at=STORE_AT, issue_date=date(2026, 4, 3), zone=BERLIN)

    assert until == datetime(2027, 1, 1, tzinfo=BERLIN) + timedelta(days=3653)
    assert until == datetime(2037, 1, 1, tzinfo=BERLIN)  # 10 years after the end of 2026 (2028, 2032: leap)


def test_a_draft_or_void_invoice_is_not_stored(stores):
    documents = FakeDocumentStore()
    draft = a_draft(stores)
    stores.invoices.put_draft(A, replace(draft, invoice_id="inv_void"))
    stores.invoices.void(A, "inv_void")

    for invoice, state in (("inv_draft", "draft"), ("inv_void", "void")):
        with pytest.raises(InvalidStateError, match=f"'{invoice}' is {state}: cannot store its document"):
            store(stores, documents, CountingRender(), invoice=invoice)
    assert documents.puts == 0


def test_one_changed_byte_of_the_stored_pdf_fails_the_hash_check(stores):
    from meterbill.services.documents import document_problems

    documents = stores.documents
    record = store(stores, documents, CountingRender())
    assert document_problems(A, MAR, stores.ports()) == []
    assert record.document is not None
    body, head = documents.objects[(A, record.document.key)]
    tampered = body[:5] + bytes([body[5] ^ 1]) + body[6:]
    documents.objects[(A, record.document.key)] = (tampered, head)  # written behind S3's lock: a test only

    assert document_problems(A, MAR, stores.ports()) == [
        f"sha256: {hashlib.sha256(tampered).hexdigest()} stored, {hashlib.sha256(body).hexdigest()} recorded"
    ]


# --- the real renderer --------------------------------------------------------------------------------------


def test_the_real_renderer_signs_with_a_key_made_once_and_kept_for_the_account(stores):
    address = {"lines": ["Torstraße 1"], "postal_code": "10119", "city": "Berlin", "country": "DE"}
    catalog_service.replace(
        A,
        Customer,
        "c-rack",
        {"id": "c-rack", "name": "Rack", "address": address},
        stores.catalog,
        if_match=None,
    )
    keys = FakeSigningKeyStore()
    render = signed_renderer(keys, clock=lambda: STORE_AT)

    march = render(invoice_document(A, stores.invoices.get(A, MAR), stores.ports(), logo=lambda a: None))
    february = render(invoice_document(A, stores.invoices.get(A, FEB), stores.ports(), logo=lambda a: None))

    kept = keys.keys[A]
    trusted = SigningKey(kept.private_key_pem.encode(), kept.certificate_pem.encode())
    assert (signature_problems(march, trusted), signature_problems(february, trusted)) == ([], [])
    assert len(keys.keys) == 1


def test_the_real_renderer_refuses_a_buyer_without_an_address_naming_it(stores):
    render = signed_renderer(FakeSigningKeyStore(), clock=lambda: STORE_AT)
    document = invoice_document(A, stores.invoices.get(A, MAR), stores.ports(), logo=lambda a: None)

    with pytest.raises(InvalidInputError) as refused:
        render(document)

    assert refused.value.field == "buyer.address"
