"""The console's invoices pages through the API's handler on the fakes: the list with its filters (state,
customer, period month) and paging, an invoice's lines and totals to the cent and the notes that correct it,
404s for another account's or an unknown invoice, and the sign-in redirect without a session."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from meterbill.billing.invoice import Invoice, InvoiceLine
from meterbill.domain import Assignment, Customer, Meter, Site
from meterbill.ports import InvoiceDocumentRef, InvoiceRecord, NewDelivery
from meterbill.services import catalog as catalog_service
from tests.fakes import FakeStores
from tests.unit.api_support import ACCOUNT, OTHER_ACCOUNT, HttpAnswer, proxy_event
from tests.unit.test_console_pages import handler, sign_in

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics")

AT = datetime(2026, 2, 3, 1, 0, tzinfo=UTC)
D = Decimal


def a_body(
    invoice_id: str, customer: str, start: date, end: date, kwh: str, rate: str, **extra: str
) -> Invoice:
    energy = (D(kwh) * D(rate)).quantize(D("0.01"))
    lines = (
        InvoiceLine("m-1", "as-1", start, end, "energy", "Energy", D(kwh), "kWh", D(rate), energy),
        InvoiceLine(
            None,
            None,
            start,
            end,
            "tax",
            "VAT 19%",
            energy,
            "EUR",
            D("0.19"),
            (energy * D("0.19")).quantize(D("0.01")),
        ),
    )
    return Invoice(
        id=invoice_id,
        account_id=ACCOUNT,
        customer_id=customer,
        kind=extra.get("kind", "invoice"),  # type: ignore[arg-type]
        period_start=start,
        period_end=end,
        currency="EUR",
        lines=lines,
        computed_at=AT,
        corrects=extra.get("corrects"),
    )


def put(fakes: FakeStores, invoice: Invoice, account: str = ACCOUNT) -> None:
    fakes.invoices.put_draft(
        account,
        InvoiceRecord.draft(
            account,
            invoice.id,
            customer_id=invoice.customer_id,
            kind=invoice.kind,
            period_start=invoice.period_start,
            period_end=invoice.period_end,
            body=invoice.to_json(),
            at=AT,
        ),
    )


@pytest.fixture
def cookies(fakes: FakeStores) -> str:
    """Drafts: inv-jan and inv-feb of c-1, inv-c2 of c-2 (January); Bob's inv-bob."""
    put(fakes, a_body("inv-jan", "c-1", date(2026, 1, 1), date(2026, 2, 1), "1000", "0.2512"))
    put(fakes, a_body("inv-feb", "c-1", date(2026, 2, 1), date(2026, 3, 1), "800", "0.2512"))
    put(fakes, a_body("inv-c2", "c-2", date(2026, 1, 1), date(2026, 2, 1), "10.5", "0.30"))
    put(fakes, a_body("inv-bob", "c-1", date(2026, 1, 1), date(2026, 2, 1), "1", "1"), OTHER_ACCOUNT)
    return sign_in(fakes, "read")[0]


def get(path: str, cookies: str = "", **query: str) -> HttpAnswer:
    headers = {"Cookie": cookies} if cookies else {}
    return handler(proxy_event("GET", path, headers=headers, query=query or None))


def rows(text: str) -> list[list[str]]:
    body = re.search(r'<table id="invoices">.*?<tbody>(.*?)</tbody>', text, re.S)
    assert body is not None, text
    return [
        [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body.group(1), re.S)
    ]


def test_the_list_shows_each_invoice_with_its_total_to_the_cent(cookies):
    answer = get("/console/invoices", cookies)

    assert answer.status == 200
    # totals: 1000 × 0.2512 = 251.20 + 19 % 47.73 = 298.93; 800 × 0.2512 = 200.96 + 38.18 = 239.14;
    # 10.5 × 0.30 = 3.15 + 0.60 = 3.75
    # drafts (no number) by period, then customer: the store's id order was inv-c2, inv-feb, inv-jan
    assert rows(answer.text) == [
        ["—", "invoice", "c-1", "2026-01-01 – 2026-02-01", "298.93 EUR", "draft", "no PDF yet"],
        ["—", "invoice", "c-2", "2026-01-01 – 2026-02-01", "3.75 EUR", "draft", "no PDF yet"],
        ["—", "invoice", "c-1", "2026-02-01 – 2026-03-01", "239.14 EUR", "draft", "no PDF yet"],
    ]
    assert "inv-bob" not in answer.text


def test_the_filters_are_the_apis_customer_state_and_period_month(cookies):
    by_customer = rows(get("/console/invoices", cookies, customer_id="c-1", month="2026-01").text)
    assert by_customer == [
        ["—", "invoice", "c-1", "2026-01-01 – 2026-02-01", "298.93 EUR", "draft", "no PDF yet"]
    ]
    assert rows(get("/console/invoices", cookies, state="issued").text) == [["No invoices."]]


def test_a_bad_filter_is_named_with_422(cookies):
    answer = get("/console/invoices", cookies, month="2026-13")
    assert answer.status == 422
    assert "month: &#39;2026-13&#39; is not a month (YYYY-MM)" in answer.text
    assert get("/console/invoices", cookies, state="paid").status == 422


def test_the_invoice_page_shows_its_lines_and_totals(cookies):
    answer = get("/console/invoices/inv-jan", cookies)

    assert answer.status == 200
    text = answer.text
    assert re.search(r'id="invoice-subtotal">251.20 EUR<', text)  # 1000 × 0.2512
    assert re.search(r'id="invoice-taxes">47.73 EUR<', text)  # 251.20 × 0.19 = 47.728
    assert re.search(r'id="invoice-total">298.93 EUR<', text)  # 251.20 + 47.73
    assert "<td>m-1</td><td>energy</td><td>Energy</td>" in text
    assert 'id="invoice-pdf"' not in text  # a draft has no PDF


def test_another_accounts_or_an_unknown_invoice_is_404(cookies):
    assert get("/console/invoices/inv-bob", cookies).status == 404
    assert get("/console/invoices/nope", cookies).status == 404


def test_without_a_session_the_pages_send_to_sign_in(cookies):
    for path in ("/console/invoices", "/console/invoices/inv-jan"):
        answer = get(path)
        assert (answer.status, answer.headers["location"]) == (303, "/console/sign-in")


PDF = b"%PDF-1.7\n\x00\xff\xfe binary \r\n%%EOF\n"


def stored(fakes: FakeStores, invoice_id: str, number: str) -> None:
    """Marks the draft stored under ``number`` with PDF as its document (as the issue and store steps do)."""
    key = f"{ACCOUNT}/{invoice_id}.pdf"
    document = fakes.documents.put_once(
        ACCOUNT, key, PDF, content_type="application/pdf", retain_until=AT + timedelta(days=3650)
    )
    record = fakes.invoices.items[(ACCOUNT, invoice_id)]
    fakes.invoices.items[(ACCOUNT, invoice_id)] = replace(
        record,
        state="stored",
        number=number,
        body={**record.body, "state": "issued", "number": number, "issued_at": AT.isoformat()},
        issued_at=AT,
        document=InvoiceDocumentRef(key, document.sha256, document.size, AT),
    )


def test_a_stored_invoice_links_its_pdf_served_byte_for_byte(fakes, cookies):
    stored(fakes, "inv-jan", "ADA-2026-0001")

    page = get("/console/invoices/inv-jan", cookies)
    assert 'href="/console/invoices/inv-jan/pdf"' in page.text
    assert re.search(r'id="invoice-number">ADA-2026-0001<', page.text)
    assert rows(get("/console/invoices", cookies, state="stored").text) == [
        [
            "ADA-2026-0001",
            "invoice",
            "c-1",
            "2026-01-01 – 2026-02-01",
            "298.93 EUR",
            "stored",
            "PDF stored, not delivered yet",
        ]
    ]

    answer = handler(proxy_event("GET", "/console/invoices/inv-jan/pdf", headers={"Cookie": cookies}))
    assert answer.status == 200
    assert answer.headers["content-type"] == "application/pdf"
    assert answer.headers["content-disposition"] == 'inline; filename="ADA-2026-0001.pdf"'
    assert answer.content == PDF


def test_the_pdf_of_a_draft_others_or_without_a_session(cookies):
    assert get("/console/invoices/inv-feb/pdf", cookies).status == 409
    assert get("/console/invoices/inv-bob/pdf", cookies).status == 404
    assert get("/console/invoices/inv-jan/pdf").status == 303


def test_the_invoice_shows_the_notes_that_correct_it_and_a_note_what_it_corrects(fakes, cookies):
    note = a_body(
        "cn-1",
        "c-1",
        date(2026, 1, 1),
        date(2026, 2, 1),
        "-100",
        "0.2512",
        kind="credit_note",
        corrects="inv-jan",
    )
    put(fakes, note)

    invoice = get("/console/invoices/inv-jan", cookies).text
    notes = re.search(r'<ul id="notes">(.*?)</ul>', invoice, re.S)
    assert notes is not None, invoice
    # -100 × 0.2512 = -25.12, VAT -25.12 × 0.19 = -4.77 (-4.7728): -29.89
    assert re.sub(r"<[^>]+>", "", notes.group(1)).strip() == "credit note —: -29.89 EUR (draft)"
    assert 'id="invoice-corrects"' in get("/console/invoices/cn-1", cookies).text


def test_the_months_export_is_the_apis_csv(fakes, cookies):
    stored(fakes, "inv-jan", "ADA-2026-0001")
    listed = get("/console/invoices", cookies, month="2026-01").text
    assert 'href="/console/invoices/export?month=2026-01"' in listed

    answer = get("/console/invoices/export", cookies, month="2026-02")  # issued 2026-02-03

    assert answer.status == 200
    assert answer.headers["content-disposition"] == 'attachment; filename="invoices-2026-02.csv"'
    assert answer.text == (
        "number,kind,issue_date,customer_id,period_start,period_end,meter_id,component,quantity,unit,rate,"
        "amount,tax,currency\r\n"
        "ADA-2026-0001,invoice,2026-02-03,c-1,2026-01-01,2026-02-01,m-1,energy,1000,kWh,0.2512,251.20,0.00,EUR\r\n"
        "ADA-2026-0001,invoice,2026-02-03,c-1,2026-01-01,2026-02-01,,tax,251.20,EUR,0.19,0.00,47.73,EUR\r\n"
    )  # 1000 × 0.2512 = 251.20; 251.20 × 0.19 = 47.73
    assert get("/console/invoices/export", cookies, month="26-2").status == 422


def test_the_list_is_in_number_order_with_the_drafts_last(fakes, cookies):
    stored(fakes, "inv-c2", "ADA-2026-0010")  # ids: inv-c2 < inv-feb < inv-jan
    stored(fakes, "inv-jan", "ADA-2026-0009")

    numbers = [(r[0], r[2]) for r in rows(get("/console/invoices", cookies).text)]

    # 0009 before 0010 (and "ADA-2026-10" would follow "ADA-2026-9" too: digit runs compare as numbers)
    assert numbers == [("ADA-2026-0009", "c-1"), ("ADA-2026-0010", "c-2"), ("—", "c-1")]


def customer_in_berlin(fakes: FakeStores) -> None:
    """c-1 "Café Adler" with meter m-1 at a Berlin site (its bills are on Berlin's clock)."""
    catalog = fakes.catalog
    catalog_service.create(
        ACCOUNT, Site, {"id": "s-1", "name": "Office", "timezone": "Europe/Berlin"}, catalog
    )
    meter = {"id": "m-1", "site_id": "s-1", "utility": "electricity", "unit": "kWh", "kind": "main"}
    catalog_service.create(ACCOUNT, Meter, meter, catalog)
    catalog_service.create(ACCOUNT, Customer, {"id": "c-1", "name": "Café Adler"}, catalog)
    flat = {
        "id": "flat",
        "name": "Flat",
        "energy": {"periods": [{"name": "all", "tiers": [{"rate": "0.2"}]}]},
    }
    catalog_service.create_tariff(ACCOUNT, {**flat, "effective_from": "2026-01-01"}, catalog)
    assignment = {"id": "as-1", "meter_id": "m-1", "customer_id": "c-1", "tariff_id": "flat"}
    catalog_service.create(ACCOUNT, Assignment, {**assignment, "effective_from": "2026-01-01"}, catalog)


def delivered(fakes: FakeStores, invoice_id: str, at: datetime) -> None:
    record = fakes.invoices.items[(ACCOUNT, invoice_id)]
    fakes.invoices.items[(ACCOUNT, invoice_id)] = replace(record, state="delivered", delivered_at=at)
    queued = fakes.deliveries.queue(
        ACCOUNT,
        NewDelivery(
            invoice_id=invoice_id,
            kind="first",
            to=("ap@adler.example",),
            cc=(),
            language="en",
            customer_name="Café Adler",
            document_key=record.document.key if record.document else "",
            document_sha256=record.document.sha256 if record.document else "",
        ),
        at=at - timedelta(minutes=1),
    )
    key = (ACCOUNT, invoice_id, queued.attempt)
    fakes.deliveries.items[key] = replace(queued, state="sent", sent_at=at, updated_at=at)


SENT = datetime(2026, 2, 3, 8, 5, tzinfo=UTC)  # 09:05 in Berlin (CET)


def test_the_invoice_shows_its_customers_name_and_delivery_times_on_the_customers_clock(fakes, cookies):
    customer_in_berlin(fakes)
    stored(fakes, "inv-jan", "ADA-2026-0001")
    delivered(fakes, "inv-jan", SENT)

    text = get("/console/invoices/inv-jan", cookies).text

    assert '<dd id="invoice-customer"><a href="/console/customers/c-1">Café Adler</a></dd>' in text
    assert (
        '<dd id="invoice-delivery">delivered'
        ' <time datetime="2026-02-03T09:05+01:00">3 Feb 09:05 CET</time></dd>' in text
    )
    assert (
        "#1 first to ap@adler.example: sent"
        ' (<time datetime="2026-02-03T09:05+01:00">3 Feb 09:05 CET</time>)' in text
    )
    listed = rows(get("/console/invoices", cookies, state="delivered").text)
    assert listed == [
        [
            "ADA-2026-0001",
            "invoice",
            "Café Adler",
            "2026-01-01 – 2026-02-01",
            "298.93 EUR",
            "delivered",
            "delivered 3 Feb 09:05 CET",
        ]
    ]


def test_a_customer_without_a_site_sees_delivery_times_in_utc_labelled_utc(fakes, cookies):
    stored(fakes, "inv-c2", "ADA-2026-0002")  # c-2 is not in the catalog (no meter, no site)
    delivered(fakes, "inv-c2", SENT)

    text = get("/console/invoices/inv-c2", cookies).text

    assert '<dd id="invoice-customer"><a href="/console/customers/c-2">c-2</a></dd>' in text
    assert '<time datetime="2026-02-03T08:05+00:00">3 Feb 08:05 UTC</time></dd>' in text
