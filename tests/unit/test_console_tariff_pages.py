"""The console's tariff pages: the list (currency, latest version, customers on each today), a tariff's
versions as readable charges (a TOU + tiered tariff, a formula-modified senior-citizen tier) and what changed
between consecutive versions, and the "what would this bill be" preview of a customer's month under a tariff
it is not on, to the cent, beside what it pays now; the form's errors (422 naming the field, what was typed
kept), another account's tariff or customer (404), a read session, and the sign-in redirect."""

from __future__ import annotations

import copy
import re
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D
from html import unescape
from typing import Any

import pytest

from meterbill.console import tariff_pages
from meterbill.console.tariff_pages import Change, Section
from meterbill.errors import InvalidInputError
from meterbill.ports import RawReading
from meterbill.tariffs.model import Tariff
from tests.fakes import FakeStores
from tests.unit.api_support import ACCOUNT, OTHER_ACCOUNT, ApiClient, HttpAnswer, handler_client, proxy_event
from tests.unit.test_console_pages import handler, sign_in

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics")

PEAK_HOURS = [[0] * 8 + [1] * 12 + [0] * 4 for _ in range(12)]  # weekdays 08:00-20:00
NO_PEAK = [[0] * 24 for _ in range(12)]
TOU = {
    "id": "tou-tiered",
    "name": "Peak and off-peak, tiered",
    "currency": "EUR",
    "unit": "kWh",
    "fixed": [{"description": "Meter rental", "amount": "5.00"}],
    "energy": {
        "periods": [
            {"name": "off-peak", "tiers": [{"rate": "0.20"}]},
            {"name": "peak", "tiers": [{"size": "100", "rate": "0.30"}, {"rate": "0.40"}]},
        ],
        "time_of_use": {"weekday_schedule": PEAK_HOURS, "weekend_schedule": NO_PEAK},
    },
    "demand": {"flat": {"periods": [{"name": "monthly", "tiers": [{"rate": "2.50"}]}]}},
    "minimum": {"amount": "20.00"},
    "taxes": [{"name": "VAT", "percent": "19"}],
}
SENIOR = {
    "id": "senior",
    "name": "Residential, senior tier",
    "currency": "EUR",
    "unit": "kWh",
    "fixed": [{"description": "Base charge", "amount": "9.90"}],
    "energy": {
        "periods": [
            {
                "name": "all day",
                "tiers": [
                    {"size": "150 if senior_citizen else 100", "rate": "0.28"},
                    {"size": "200", "rate": "0.32"},
                    {"rate": "0.36"},
                ],
            }
        ]
    },
    "taxes": [{"name": "VAT", "percent": "19"}],
}
FLAT = {
    "id": "flat",
    "name": "Flat",
    "currency": "EUR",
    "unit": "kWh",
    "fixed": [{"description": "Standing charge", "amount": "10.00"}],
    "energy": {"periods": [{"name": "all", "tiers": [{"rate": "0.25"}]}]},
    "taxes": [{"name": "VAT", "percent": "19"}],
}


def tou_version_2() -> dict[str, Any]:
    """From March 2026: the first peak tier at 0.32, no minimum, a new name."""
    document = copy.deepcopy(TOU)
    document["name"] = "Peak and off-peak, tiered 2026"
    document["energy"]["periods"][1]["tiers"][0]["rate"] = "0.32"
    del document["minimum"]
    return document


# --- the version summary and the diff (pure) ----------------------------------------------------------------


def test_the_summary_of_a_tou_tiered_tariff_names_hours_tiers_demand_minimum_and_tax():
    assert tariff_pages.summary(Tariff.model_validate(TOU)) == [
        Section("Validity", ("Prices kWh in EUR",)),
        Section("Fixed", ("Meter rental: 5.00 EUR per month",)),
        Section(
            "Energy",
            (
                "off-peak: weekdays 00:00–08:00, 20:00–24:00; weekends and holidays all day",
                "off-peak: all kWh at 0.20 EUR/kWh",
                "peak: weekdays 08:00–20:00; weekends and holidays never",
                "peak: tier 1: the first 100 kWh at 0.30 EUR/kWh",
                "peak: tier 2: the rest at 0.40 EUR/kWh",
                "Tier sizes are per month, shrunk for a partial month",
            ),
        ),
        Section(
            "Demand",
            ("Billed on the highest 15-minute average power", "The month's peak: 2.50 EUR/kW"),
        ),
        Section("Minimum", ("At least 20.00 EUR per month",)),
        Section("Taxes", ("VAT: 19%",)),
    ]


def test_the_summary_shows_a_formula_modified_tier_size_with_its_formula():
    assert tariff_pages.summary(Tariff.model_validate(SENIOR)) == [
        Section("Validity", ("Prices kWh in EUR",)),
        Section("Fixed", ("Base charge: 9.90 EUR per month",)),
        Section(
            "Energy",
            (
                "all day: tier 1: the first (formula: 150 if senior_citizen else 100) kWh at 0.28 EUR/kWh",
                "all day: tier 2: the next 200 kWh at 0.32 EUR/kWh",
                "all day: tier 3: the rest at 0.36 EUR/kWh",
                "Tier sizes are per month, shrunk for a partial month",
            ),
        ),
        Section("Taxes", ("VAT: 19%",)),
    ]


def test_the_summary_of_every_other_part_packages_shares_savings_adjustments_and_scoped_taxes():
    compute = Tariff.model_validate(
        {
            "id": "compute",
            "name": "Compute",
            "currency": "USD",
            "unit": "h",
            "seasons": [{"name": "summer", "months": [6, 7, 8]}],
            "variables": {"base": "2 * customer.racks"},
            "fixed": [{"description": "Port", "amount": "base", "per": "day"}],
            "packages": [
                {
                    "description": "Batch job",
                    "threshold_seconds": 1800,
                    "fare": "0.01",
                    "unit_seconds": 300,
                    "unit_rate": "0.0089",
                }
            ],
            "minimum": {"amount": "1.00", "per": "day"},
            "adjustments": [
                {"kind": "discount", "description": "Loyalty", "amount": "5"},
                {"kind": "surcharge", "description": "Green", "percent": "2", "applies_to": ["package"]},
            ],
            "taxes": [{"name": "Sales tax", "percent": "8.25", "applies_to": ["fixed", "package"]}],
        }
    )
    assert tariff_pages.summary(compute) == [
        Section("Validity", ("Prices h in USD",)),
        Section("Seasons", ("summer: Jun–Aug",)),
        Section("Variables", ("base = (formula: 2 * customer.racks)",)),
        Section("Fixed", ("Port: (formula: base) USD per day",)),
        Section(
            "Packages",
            ("Batch job: 0.01 USD a session covers its first 1800 s, then 0.0089 USD per started 300 s",),
        ),
        Section("Minimum", ("At least 1.00 USD per day",)),
        Section(
            "Discounts and surcharges", ("Discount Loyalty: 5 USD per bill", "Surcharge Green: 2% of package")
        ),
        Section("Taxes", ("Sales tax: 8.25% of fixed, package",)),
    ]
    seasonal = Tariff.model_validate(
        {
            "id": "seasonal",
            "name": "Seasonal demand",
            "effective_to": "2027-01-01",
            "demand": {
                "window_minutes": 30,
                "flat": {
                    "periods": [
                        {"name": "winter", "tiers": [{"size": "50", "rate": "3"}, {"rate": "4"}]},
                        {"name": "summer", "tiers": [{"rate": "5"}]},
                    ],
                    "months": [0, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0],
                    "ratchet": {"percent": "80"},
                },
            },
            "shared": {"rate": "0.21"},
            "savings": {"power_rating_w": "250", "price_per_kwh": "0.30", "credit": True},
        }
    )
    assert tariff_pages.summary(seasonal)[1:] == [
        Section(
            "Demand",
            (
                "Billed on the highest 30-minute average power",
                "The month's peak (winter: Jan–May, Sep–Dec): tier 1: the first 50 kW at 3 EUR/kW",
                "The month's peak (winter: Jan–May, Sep–Dec): tier 2: the rest at 4 EUR/kW",
                "The month's peak (summer: Jun–Aug): 5 EUR/kW",
                "At least 80% of the highest peak of the previous 11 months",
            ),
        ),
        Section("Shared usage", ("Shared usage: 0.21 EUR/kWh",)),
        Section("Savings", ("Off-time savings: off-time hours × 250 W × 0.30 EUR/kWh / 1000, credited",)),
    ]
    assert tariff_pages.summary(seasonal)[0] == Section(
        "Validity", ("Prices kWh in EUR", "Ends on 2027-01-01 (exclusive)")
    )


def test_hours_that_differ_by_month_are_spelled_out_by_month():
    summer = [[0] * 10 + [1] * 8 + [0] * 6 if 6 <= m <= 9 else [0] * 24 for m in range(1, 13)]
    tou = Tariff.model_validate(
        {
            **TOU,
            "energy": {
                **TOU["energy"],
                "time_of_use": {"weekday_schedule": summer, "weekend_schedule": NO_PEAK},
            },
        }
    ).energy
    assert tou is not None and tou.time_of_use is not None
    assert tariff_pages.hours_of(tou.time_of_use, 1) == (
        "weekdays 10:00–18:00 in Jun–Sep; weekends and holidays never"
    )


def test_the_diff_of_consecutive_versions_pairs_each_changed_line_was_and_now():
    before = Tariff.model_validate(TOU)
    after = Tariff.model_validate({**tou_version_2(), "version": 2, "effective_from": "2026-03-01"})

    assert tariff_pages.changes(before, after) == [
        Change("Name", "Peak and off-peak, tiered", "Peak and off-peak, tiered 2026"),
        Change("Effective from", "always", "2026-03-01"),
        Change(
            "Energy",
            "peak: tier 1: the first 100 kWh at 0.30 EUR/kWh",
            "peak: tier 1: the first 100 kWh at 0.32 EUR/kWh",
        ),
        Change("Minimum", "At least 20.00 EUR per month", ""),
    ]
    assert tariff_pages.changes(before, before) == []


# --- the preview's form (pure) ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "field", "reason"),
    [
        ({"month": "2026-02"}, "customer_id", "choose a customer"),
        ({"customer_id": "c", "month": "2026-13"}, "month", "'2026-13' is not a month (YYYY-MM)"),
        ({"customer_id": "c"}, "month", "give a month or from and to dates"),
        (
            {"customer_id": "c", "month": "2026-02", "from": "2026-02-01"},
            "month",
            "give a month or from and to dates, not both",
        ),
        ({"customer_id": "c", "from": "2026-02-01"}, "to", "is required with from and to dates (YYYY-MM-DD)"),
        (
            {"customer_id": "c", "from": "1.2.2026", "to": "2026-03-01"},
            "from",
            "'1.2.2026' is not a date (YYYY-MM-DD)",
        ),
    ],
)
def test_the_form_names_the_field_at_fault(query, field, reason):
    with pytest.raises(InvalidInputError) as raised:
        tariff_pages.preview_ask(query)
    assert (raised.value.field, raised.value.reason) == (field, reason)


def test_a_month_asks_for_its_days_and_an_empty_form_for_nothing():
    ask = tariff_pages.preview_ask({"customer_id": "c", "month": "2026-12", "from": "", "to": ""})
    assert ask == tariff_pages.PreviewAsk("c", date(2026, 12, 1), date(2027, 1, 1), month=True)
    assert tariff_pages.preview_ask({"customer_id": "", "month": "", "from": "", "to": ""}) is None


# --- the pages through the handler --------------------------------------------------------------------------


def get(path: str, cookies: str = "", **query: str) -> HttpAnswer:
    headers = {"Cookie": cookies} if cookies else {}
    return handler(proxy_event("GET", path, headers=headers, query=query or None))


def rows(text: str, table: str) -> list[list[str]]:
    """The text of the cells (td) of each body row of the table ``#table``, all its bodies."""
    found = re.search(rf'<table[^>]*id="{table}">(.*?)</table>', text, re.S)
    assert found is not None, text
    return [
        [
            unescape(re.sub(r"<[^>]+>", "", cell)).strip()
            for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        ]
        for body in re.findall(r"<tbody>(.*?)</tbody>", found.group(1), re.S)
        for row in re.findall(r"<tr(?! class=\"bill-heading\")[^>]*>(.*?)</tr>", body, re.S)
    ]


def headings(text: str, table: str) -> list[str]:
    """The headings of the bills in the table ``#table``."""
    found = re.search(rf'<table[^>]*id="{table}">(.*?)</table>', text, re.S)
    assert found is not None, text
    return [unescape(h).strip() for h in re.findall(r'<th scope="rowgroup"[^>]*>(.*?)</th>', found.group(1))]


def text_of(text: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}"[^>]*>(.*?)</', text, re.S)
    assert found is not None, text
    return unescape(found.group(1)).strip()


FEBRUARY = datetime(2026, 1, 31, 23, tzinfo=UTC)  # 2026-02-01 00:00 in Berlin (CET, no clock change in Feb)
HOURS = 28 * 24


@pytest.fixture
def admin(fakes: FakeStores) -> ApiClient:
    """Site site-1 (Europe/Berlin), hourly meters mtr-1 and mtr-2 using 1 kWh every hour of February 2026 (and
    the days around it); customer cus-z on the flat tariff with mtr-1 from 2026-01-01, cus-s (a senior
    citizen) on the senior tariff with half of mtr-2 until 2026-02-15; tariff tou-tiered with version 2 from
    2026-03-01; Bob's tariff bob-t and customer cus-b."""
    client = handler_client()
    assert (
        client.post("/v1/sites", {"id": "site-1", "name": "Plant", "timezone": "Europe/Berlin"}).status == 201
    )
    meter = {"id": "mtr-1", "site_id": "site-1", "utility": "electricity", "unit": "kWh", "kind": "main"}
    for meter_id in ("mtr-1", "mtr-2"):
        assert client.post("/v1/meters", {**meter, "id": meter_id, "interval_minutes": 60}).status == 201
    for document in (TOU, SENIOR, FLAT):
        assert client.post("/v1/tariffs", document).status == 201
    answer = client.post(
        "/v1/tariffs/tou-tiered/versions", {**tou_version_2(), "effective_from": "2026-03-01"}
    )
    assert answer.status == 201, answer.text
    assert client.post("/v1/customers", {"id": "cus-z", "name": "Zoe Lights"}).status == 201
    senior = {"id": "cus-s", "name": "Sam Senior", "attributes": {"senior_citizen": True}}
    assert client.post("/v1/customers", senior).status == 201
    for assignment in (
        {
            "id": "asg-z",
            "customer_id": "cus-z",
            "tariff_id": "flat",
            "effective_from": "2026-01-01",
            "meter_id": "mtr-1",
        },
        {
            "id": "asg-s",
            "customer_id": "cus-s",
            "tariff_id": "senior",
            "effective_from": "2026-01-01",
            "effective_to": "2026-02-15",
            "share": "0.5",
            "meter_id": "mtr-2",
        },
    ):
        assert client.post("/v1/assignments", assignment).status == 201, assignment
    fakes.readings.put_new(
        ACCOUNT,
        [
            RawReading(meter_id, FEBRUARY + i * timedelta(hours=1), D("1"), "interval", 60)
            for meter_id in ("mtr-1", "mtr-2")
            for i in range(-24, HOURS + 24)
        ],
    )
    bob = client.as_key(OTHER_ACCOUNT, "admin")
    assert bob.post("/v1/tariffs", {**FLAT, "id": "bob-t"}).status == 201
    assert bob.post("/v1/customers", {"id": "cus-b", "name": "Bob's"}).status == 201
    return client


def test_the_list_shows_each_tariff_its_latest_version_and_its_customers_today(admin, fakes):
    cookies, _ = sign_in(fakes, "read")

    answer = get("/console/tariffs", cookies)

    assert answer.status == 200
    # today (the fakes' clock) is 2026-03-01: cus-z is on flat, cus-s left the senior tariff on 2026-02-15
    assert rows(answer.text, "tariffs") == [
        ["Flat", "flat", "EUR", "kWh", "1", "always", "1"],
        ["Peak and off-peak, tiered 2026", "tou-tiered", "EUR", "kWh", "2", "2026-03-01", "0"],
        ["Residential, senior tier", "senior", "EUR", "kWh", "1", "always", "0"],
    ]
    assert "bob-t" not in answer.text


def test_the_tariff_page_shows_every_version_and_what_changed(admin, fakes):
    cookies, _ = sign_in(fakes, "read")

    answer = get("/console/tariffs/tou-tiered", cookies)

    assert answer.status == 200
    text = answer.text
    assert text_of(text, "tariff-name") == "Peak and off-peak, tiered 2026"
    assert text.index('id="version-2"') < text.index('id="version-1"')  # newest first
    assert "<li>peak: tier 1: the first 100 kWh at 0.32 EUR/kWh</li>" in text
    assert "<li>peak: weekdays 08:00–20:00; weekends and holidays never</li>" in text
    assert rows(text, "version-2-changes") == [
        ["Name", "Peak and off-peak, tiered", "Peak and off-peak, tiered 2026"],
        ["Effective from", "always", "2026-03-01"],
        [
            "Energy",
            "peak: tier 1: the first 100 kWh at 0.30 EUR/kWh",
            "peak: tier 1: the first 100 kWh at 0.32 EUR/kWh",
        ],
        ["Minimum", "At least 20.00 EUR per month", "—"],
    ]
    formula = get("/console/tariffs/senior", cookies).text
    assert (
        "<li>all day: tier 1: the first (formula: 150 if senior_citizen else 100) kWh at 0.28 EUR/kWh</li>"
        in formula
    )


def test_each_version_shows_who_stored_it_and_when(admin, fakes):
    cookies, _ = sign_in(fakes, "read")
    version_1 = fakes.catalog.items[(ACCOUNT, "tariff", "tou-tiered@000001")]
    # the API stored both versions with its caller's key id beside the tariff; a version stored without one
    # (the CLI, the demo's seed, before this was recorded) says so
    assert version_1.body["changed_by"] == "0123456789abcdef"
    fakes.catalog.items[(ACCOUNT, "tariff", "tou-tiered@000001")] = replace(
        version_1, body={k: v for k, v in version_1.body.items() if k != "changed_by"}
    )

    text = get("/console/tariffs/tou-tiered", cookies).text

    assert text_of(text, "version-2-changed-by") == "0123456789abcdef"
    assert text_of(text, "version-1-changed-by") == "not recorded"
    created = fakes.catalog.items[(ACCOUNT, "tariff", "tou-tiered@000002")].created_at.astimezone(UTC)
    assert (
        f'<time datetime="{created.isoformat(timespec="minutes")}">{created:%Y-%m-%d %H:%M} UTC</time>'
        in text
    )


def test_the_preview_prices_a_customers_month_under_another_tariff_to_the_cent(admin, fakes):
    cookies, _ = sign_in(fakes, "read")

    answer = get("/console/tariffs/tou-tiered", cookies, customer_id="cus-z", month="2026-02")

    assert answer.status == 200, answer.text
    text = answer.text
    # February 2026 under version 1 (version 2 starts in March): 20 weekdays (Mon 2 - Fri 27) of 12 peak hours
    # at 1 kWh = 240 kWh peak; 28 × 24 - 240 = 432 kWh off-peak; the peak: 1 kWh in an hour = 1 kW.
    peak, off_peak = 20 * 12 * D("1"), (28 * 24 - 20 * 12) * D("1")
    assert (peak, off_peak) == (D("240"), D("432"))
    tier_1, tier_2 = D("100") * D("0.30"), (peak - 100) * D("0.40")  # 30.00, 56.00
    energy = off_peak * D("0.20")  # 86.40
    demand = D("1") * D("2.50")
    subtotal = D("5.00") + energy + tier_1 + tier_2 + demand  # 179.90 (over the 20.00 minimum)
    vat = (subtotal * D("0.19")).quantize(D("0.01"))  # 34.181 → 34.18
    assert (subtotal, vat, subtotal + vat) == (D("179.90"), D("34.18"), D("214.08"))
    assert text_of(text, "preview-subtotal-EUR") == "€179.90"
    assert text_of(text, "preview-taxes-EUR") == "€34.18"
    assert text_of(text, "preview-total-EUR") == "€214.08"
    # What cus-z pays now on flat: 10.00 + 672 kWh × 0.25 = 178.00, VAT 33.82 → 211.82
    now = D("10.00") + 28 * 24 * D("0.25")
    now_total = now + (now * D("0.19")).quantize(D("0.01"))
    assert now_total == D("211.82")
    assert text_of(text, "current-total-EUR") == "€211.82"
    assert text_of(text, "difference-EUR") == f"+€{subtotal + vat - now_total}" == "+€2.26"
    lines = rows(text, "preview-lines")
    assert lines == [
        ["fixed", "Meter rental", "1 month", "5.00", "€5.00"],
        ["energy", "Energy, off-peak", "432 kWh", "0.20", "€86.40"],
        ["energy", "Energy, peak, tier 1", "100 kWh", "0.30", "€30.00"],
        ["energy", "Energy, peak, tier 2", "140 kWh", "0.40", "€56.00"],
        ["demand", "Demand, monthly", "1 kW", "2.50", "€2.50"],
        ["tax", "VAT (19%)", "179.90 EUR", "0.19", "€34.18"],
    ]
    assert headings(text, "preview-lines") == [
        "mtr-1 · 2026-02-01 – 2026-03-01 · Peak and off-peak, tiered 2026 v1"
    ]
    assert headings(text, "current-lines") == ["mtr-1 · 2026-02-01 – 2026-03-01 · Flat v1"]
    # the form keeps what was asked
    assert '<option value="cus-z" selected>' in text
    assert 'name="month" type="month" value="2026-02"' in text


def test_the_formula_tariff_reads_the_customers_attributes_in_the_preview(admin, fakes):
    cookies, _ = sign_in(fakes, "read")

    answer = get(
        "/console/tariffs/senior", cookies, customer_id="cus-s", **{"from": "2026-02-01", "to": "2026-02-15"}
    )

    assert answer.status == 200, answer.text
    # cus-s: half of mtr-2 for 14 days = 14 × 24 × 1 kWh × 0.5 = 168 kWh; a senior's first tier is 150 kWh,
    # shrunk to 14/28 of the month = 75 kWh; the second tier 200 × 14/28 = 100 kWh.
    usage = 14 * 24 * D("1") * D("0.5")
    first, second = D("150") * 14 / 28, D("200") * 14 / 28
    assert (usage, first, second) == (D("168"), D("75"), D("100"))
    base = (D("9.90") * 14 / 28).quantize(D("0.01"))  # 4.95
    energy = [(first * D("0.28")).quantize(D("0.01")), ((usage - first) * D("0.32")).quantize(D("0.01"))]
    assert energy == [D("21.00"), D("29.76")]  # 75 × 0.28, 93 × 0.32 (the third tier is not reached)
    subtotal = base + sum(energy)
    total = subtotal + (subtotal * D("0.19")).quantize(D("0.01"))  # 55.71 + 10.58 (55.71 × 0.19 = 10.5849)
    assert text_of(answer.text, "preview-total-EUR") == f"€{total}" == "€66.29"
    assert text_of(answer.text, "difference-EUR") == "€0.00"  # the same tariff it is on


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            {"customer_id": "cus-z", "month": "2026-04"},
            "month: 2026-04-01 has not begun on the clock of site &#39;site-1&#39;: no usage to price yet",
        ),
        (
            {"customer_id": "cus-z", "from": "2026-02-10", "to": "2026-02-01"},
            "to: 2026-02-01 is not after from 2026-02-10",
        ),
        (
            {"customer_id": "cus-z", "from": "2025-01-01", "to": "2026-02-01"},
            "to: more than 366 days after from",
        ),
        ({"customer_id": "", "month": "2026-02"}, "customer_id: choose a customer"),
        (
            {"customer_id": "cus-s", "month": "2026-03"},
            "customer_id: customer &#39;cus-s&#39; has no meter measuring kWh assigned "
            "from 2026-03-01 to 2026-04-01",
        ),
    ],
)
def test_bad_preview_input_is_a_422_naming_the_field_with_the_form_kept(admin, fakes, query, message):
    cookies, _ = sign_in(fakes, "read")

    answer = get("/console/tariffs/tou-tiered", cookies, **query)

    assert answer.status == 422
    assert f'id="preview-error" role="alert">{message}</p>' in answer.text
    for name in ("month", "from", "to"):
        if query.get(name):
            assert (
                f'name="{name}" type="{"month" if name == "month" else "date"}" value="{query[name]}"'
                in answer.text
            )
    assert 'aria-invalid="true"' in answer.text
    assert 'id="preview-result"' not in answer.text


def test_a_period_no_version_is_in_force_on_names_the_month(admin, fakes):
    cookies, _ = sign_in(fakes, "read")
    assert admin.post("/v1/tariffs", {**FLAT, "id": "later", "effective_from": "2026-02-15"}).status == 201

    answer = get("/console/tariffs/later", cookies, customer_id="cus-z", month="2026-02")

    assert answer.status == 422
    assert (
        "month: tariff &#39;later&#39; (for assignment &#39;asg-z&#39;): "
        "no version of the tariff is in force from 2026-02-01 to 2026-02-15" in answer.text
    )


def test_another_accounts_tariff_or_customer_is_404(admin, fakes):
    cookies, _ = sign_in(fakes, "read")

    assert get("/console/tariffs/bob-t", cookies).status == 404
    assert get("/console/tariffs/nope", cookies).status == 404
    for customer in ("cus-b", "nobody"):  # another account's and an unknown id answer alike
        answer = get("/console/tariffs/flat", cookies, customer_id=customer, month="2026-02")
        assert answer.status == 404
        assert (
            'id="preview-error" role="alert">customer_id: no such customer in this account</p>' in answer.text
        )
        assert f'<option value="{customer}" selected>{customer}</option>' in answer.text


def test_a_read_session_sees_the_pages_and_the_preview_without_change_buttons(admin, fakes):
    cookies, _ = sign_in(fakes, "read")

    page = get("/console/tariffs/flat", cookies, customer_id="cus-z", month="2026-02")

    assert page.status == 200
    assert text_of(page.text, "preview-total-EUR") == "€211.82"  # its own tariff: the same as now
    assert re.findall(r'<form method="post"[^>]*action="([^"]+)"', page.text) == ["/console/sign-out"]


def test_without_a_session_the_pages_send_to_sign_in(admin):
    for path in ("/console/tariffs", "/console/tariffs/flat"):
        answer = get(path)
        assert (answer.status, answer.headers["location"]) == (303, "/console/sign-in")


@pytest.mark.parametrize(
    "query",
    [
        {"customer_id": "x" * 5000, "month": "2026-02"},
        {"customer_id": "cus-z", "month": "\x00\ud7ff" * 40},
        {"customer_id": "cus-z", "from": "9999-12-31", "to": "0001-01-01"},
        {"customer_id": "cus-z", "from": "2026-02-01", "to": "2126-02-01"},
        {"customer_id": "<script>alert(1)</script>", "month": "2026-02"},
    ],
)
def test_hostile_preview_queries_answer_4xx_never_5xx(admin, fakes, query):
    cookies, _ = sign_in(fakes, "read")

    answer = get("/console/tariffs/tou-tiered", cookies, **query)

    assert 400 <= answer.status < 500
    assert "<script>alert" not in answer.text


def test_an_htmx_request_without_a_session_navigates_to_sign_in(admin):
    answer = handler(proxy_event("GET", "/console/tariffs/flat", headers={"HX-Request": "true"}))
    assert (answer.status, answer.headers["hx-redirect"]) == (200, "/console/sign-in")
