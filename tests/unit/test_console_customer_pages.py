"""The console's customer pages through the API's handler on the fakes: the list (by name, meters, tariffs,
month-to-date cost), a customer's details, assignments, running cost and projection, invoices; empty
states; 404 for another account's or an unknown customer; 303 to sign-in without a session."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D
from html import unescape

import pytest

from meterbill.ports import InvoiceRecord, IssuedBody, RunningCost, UsageSoFar
from tests.fakes import FakeStores
from tests.unit.api_support import ACCOUNT, OTHER_ACCOUNT, ApiClient, HttpAnswer, handler_client, proxy_event
from tests.unit.test_console_pages import handler, sign_in

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics")

TARIFF = {
    "id": "flat-2026",
    "name": "Flat 2026",
    "currency": "EUR",
    "unit": "kWh",
    "energy": {"periods": [{"name": "all", "tiers": [{"rate": "0.25"}]}]},
}
AT = datetime(2026, 3, 2, 8, tzinfo=UTC)


def get(path: str, cookies: str = "") -> HttpAnswer:
    headers = {"Cookie": cookies} if cookies else {}
    return handler(proxy_event("GET", path, headers=headers))


def rows(text: str, table: str) -> list[list[str]]:
    """The text of each body row's cells of the table ``#table``."""
    found = re.search(rf'<table[^>]*id="{table}">.*?<tbody>(.*?)</tbody>', text, re.S)
    assert found is not None, text
    return [
        [
            unescape(re.sub(r"<[^>]+>", "", cell)).strip()
            for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        ]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", found.group(1), re.S)
    ]


def text_of(text: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}">(.*?)</', text, re.S)
    assert found is not None, text
    return unescape(found.group(1)).strip()


@pytest.fixture
def admin(fakes: FakeStores) -> ApiClient:
    """Customers Zoe (two meters on the flat tariff, running cost €12.34 projected €38.25, one draft and one
    issued invoice) and ada (none); Bob's customer cus-b."""
    client = handler_client()
    assert (
        client.post("/v1/sites", {"id": "site-1", "name": "Plant", "timezone": "Europe/Berlin"}).status == 201
    )
    for meter in ("mtr-1", "mtr-2"):
        body = {"id": meter, "site_id": "site-1", "utility": "electricity", "unit": "kWh", "kind": "main"}
        assert client.post("/v1/meters", body).status == 201
    assert client.post("/v1/tariffs", TARIFF).status == 201
    zoe = {
        "id": "cus-z",
        "name": "Zoe Lights",
        "emails": ["zoe@example.org"],
        "language": "de",
        "bill_day": 5,
        "address": {"lines": ["Hauptstr. 1"], "postal_code": "10115", "city": "Berlin", "country": "DE"},
    }
    assert client.post("/v1/customers", zoe).status == 201
    assert client.post("/v1/customers", {"id": "cus-a", "name": "ada"}).status == 201
    for n, (meter, start, end) in enumerate(
        [("mtr-2", "2026-02-01", None), ("mtr-1", "2026-01-01", "2026-02-01")], start=1
    ):
        body = {
            "id": f"asg-{n}",
            "meter_id": meter,
            "customer_id": "cus-z",
            "tariff_id": "flat-2026",
            "effective_from": start,
        }
        if end:
            body["effective_to"] = end
        assert client.post("/v1/assignments", body).status == 201
    fakes.metering.put_running_cost(
        ACCOUNT,
        RunningCost(
            customer_id="cus-z",
            period_start=date(2026, 3, 1),
            period_end=date(2026, 4, 1),
            as_of=date(2026, 3, 4),
            currency="EUR",
            usage=(UsageSoFar("kWh", D("49.36"), D("0")),),
            cost=D("49.36") * D("0.25"),  # €12.34
            projected=D("12.34") * 31 / 10,  # €38.254 → shown €38.25 (the ratio as the rating pass stores it)
            computed_at=AT,
        ),
    )
    fakes.metering.put_running_cost(  # ada's period ended before today (2026-03-01): not month to date
        ACCOUNT,
        RunningCost(
            customer_id="cus-a",
            period_start=date(2026, 1, 1),
            period_end=date(2026, 2, 1),
            as_of=date(2026, 1, 31),
            currency="EUR",
            usage=(),
            cost=D("5"),
            projected=D("5"),
            computed_at=AT,
        ),
    )
    for invoice_id, first, after, total in [
        ("inv-1", date(2026, 1, 5), date(2026, 2, 5), "1234.5"),
        ("inv-2", date(2026, 2, 5), date(2026, 3, 5), "99.999"),
    ]:
        fakes.invoices.put_draft(
            ACCOUNT,
            InvoiceRecord.draft(
                ACCOUNT,
                invoice_id,
                customer_id="cus-z",
                kind="invoice",
                period_start=first,
                period_end=after,
                body={"currency": "EUR", "total": total, "subtotal": total, "taxes": "0"},
                at=AT,
            ),
        )
    fakes.invoices.issue(
        ACCOUNT, "inv-1", series="Z-", at=AT, render=lambda draft, n: IssuedBody(f"Z-{n:04d}", draft.body)
    )
    bob = client.as_key(OTHER_ACCOUNT, "admin")
    assert bob.post("/v1/customers", {"id": "cus-b", "name": "Bob's"}).status == 201
    return client


def test_the_list_shows_customers_by_name_with_meters_tariff_and_month_to_date_cost(
    fakes: FakeStores, admin: ApiClient
) -> None:
    cookies, _ = sign_in(fakes, "read")
    answer = get("/console/customers", cookies)
    assert answer.status == 200
    assert rows(answer.text, "customers") == [
        ["ada", "cus-a", "—", "0", "—", "—"],
        ["Zoe Lights", "cus-z", "zoe@example.org", "2", "Flat 2026", "€12.34"],  # 49.36 kWh × €0.25
    ]
    assert 'href="/console/customers/cus-z"' in answer.text
    assert "cus-b" not in answer.text
    assert answer.headers["content-security-policy"].startswith("default-src 'none'")


def test_the_list_reads_every_assignment_not_only_the_first_thousand(
    fakes: FakeStores, admin: ApiClient
) -> None:
    # ada held mtr-1 for a day each on 1,000 days from 2000 on: their ids sort before Zoe's two assignments.
    for n in range(1000):
        day = date(2000, 1, 1) + timedelta(days=n)
        body = {
            "id": f"aaa-{n:04d}",
            "account_id": ACCOUNT,
            "meter_id": "mtr-1",
            "customer_id": "cus-a",
            "tariff_id": "flat-2026",
            "effective_from": day.isoformat(),
            "effective_to": (day + timedelta(days=1)).isoformat(),
        }
        fakes.catalog.create(ACCOUNT, "assignment", body["id"], body)
    cookies, _ = sign_in(fakes, "read")

    listed = rows(get("/console/customers", cookies).text, "customers")

    assert [row[:4] for row in listed] == [
        ["ada", "cus-a", "—", "1"],
        ["Zoe Lights", "cus-z", "zoe@example.org", "2"],
    ]


def test_a_customer_shows_details_assignments_running_cost_and_invoices(
    fakes: FakeStores, admin: ApiClient
) -> None:
    cookies, _ = sign_in(fakes, "read")
    answer = get("/console/customers/cus-z", cookies)
    assert answer.status == 200
    text = answer.text
    assert text_of(text, "customer-name") == "Zoe Lights"
    assert text_of(text, "customer-email") == "zoe@example.org"
    assert "Hauptstr. 1<br>10115 Berlin<br>DE" in text
    assert text_of(text, "customer-language") == "de"
    assert text_of(text, "customer-bill-day") == "5"
    assert text_of(text, "running-period") == "2026-03-01 – 2026-04-01"
    assert text_of(text, "running-as-of") == "2026-03-04"
    assert text_of(text, "running-usage") == "49.36 kWh"
    assert text_of(text, "running-cost") == "€12.34"  # 49.36 × 0.25
    assert text_of(text, "running-projected") == "€38.25"  # 12.34 × 31 / 10 = 38.254
    assert rows(text, "assignments") == [
        ["mtr-1", "2026-01-01", "2026-02-01", "Flat 2026 (flat-2026)", "1"],
        ["mtr-2", "2026-02-01", "open", "Flat 2026 (flat-2026)", "1"],
    ]
    assert 'href="/console/meters/mtr-1"' in text
    assert rows(text, "invoices") == [
        ["Z-0001", "2026-01-05 – 2026-02-05", "€1,234.50", "issued"],
        ["draft", "2026-02-05 – 2026-03-05", "€100.00", "draft"],  # 99.999 rounded to the cent
    ]
    assert 'href="/console/invoices/inv-1"' in text and 'href="/console/invoices/inv-2"' in text


def test_a_customer_without_meters_cost_or_invoices_shows_the_empty_states(
    fakes: FakeStores, admin: ApiClient
) -> None:
    cookies, _ = sign_in(fakes, "admin")
    text = get("/console/customers/cus-a", cookies).text
    assert text_of(text, "no-running") == "Not rated yet."  # its only running cost is January's
    assert text_of(text, "no-assignments") == "No meters assigned."
    assert text_of(text, "no-invoices") == "No invoices yet."
    assert text_of(text, "customer-email") == "—"
    assert text_of(text, "customer-bill-day") == "the account's"


def test_an_account_without_customers_says_so(fakes: FakeStores) -> None:
    cookies, _ = sign_in(fakes, "read")
    answer = get("/console/customers", cookies)
    assert answer.status == 200
    assert text_of(answer.text, "no-customers") == "No customers yet."


@pytest.mark.parametrize("customer_id", ["cus-b", "cus-nope"])
def test_another_accounts_or_an_unknown_customer_is_404(
    fakes: FakeStores, admin: ApiClient, customer_id: str
) -> None:
    cookies, _ = sign_in(fakes, "admin")
    answer = get(f"/console/customers/{customer_id}", cookies)
    assert answer.status == 404
    assert "No such customer." in answer.text
    assert "Bob" not in answer.text


@pytest.mark.parametrize("path", ["/console/customers", "/console/customers/cus-z"])
def test_without_a_session_the_pages_send_to_sign_in(admin: ApiClient, path: str) -> None:
    answer = get(path)
    assert answer.status == 303
    assert answer.headers["location"] == "/console/sign-in"


@pytest.mark.parametrize(
    "path", ["/console/", "/console/sites", "/console/customers", "/console/invoices", "/console/tariffs"]
)
def test_every_signed_in_page_links_to_the_alarms_customers_and_invoices(
    fakes: FakeStores, path: str
) -> None:
    cookies, _ = sign_in(fakes, "read")

    page = get(path, cookies)

    assert page.status == 200
    nav = re.search(r'<nav class="pages"[^>]*>(.*?)</nav>', page.text, re.S)
    assert nav is not None
    assert re.findall(r'<a href="([^"]+)">([^<]+)</a>', nav.group(1)) == [
        ("/console/", "Alarms"),
        ("/console/sites", "Sites"),
        ("/console/customers", "Customers"),
        ("/console/invoices", "Invoices"),
        ("/console/tariffs", "Tariffs"),
    ]


def test_on_the_first_day_of_a_period_the_customer_pages_say_not_rated_yet(
    fakes: FakeStores, admin: ApiClient
) -> None:
    fakes.metering.put_running_cost(  # the rating pass on 2026-03-01, day 1 of the period: nothing priced
        ACCOUNT,
        RunningCost(
            customer_id="cus-z",
            period_start=date(2026, 3, 1),
            period_end=date(2026, 4, 1),
            as_of=date(2026, 3, 1),
            currency="",
            usage=(),
            cost=D("0"),
            projected=D("0"),
            computed_at=AT,
        ),
    )
    cookies, _ = sign_in(fakes, "admin")

    listed = get("/console/customers", cookies)
    page = get("/console/customers/cus-z", cookies)

    assert (listed.status, page.status) == (200, 200)
    assert rows(listed.text, "customers")[1][-1] == "—"
    assert text_of(page.text, "no-running") == "Not rated yet."
