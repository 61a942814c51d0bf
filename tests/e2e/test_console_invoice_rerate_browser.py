"""Re-rating and adjusting an issued invoice in a real browser on the local platform: a month (two before the
wall clock's) billed through the deployed schedules (the rating pass, the bill run, the invoice worker on
moto's SQS, the PDF stored), then a corrected reading posted through the API with the collector's key and
rated; signed in through the form, the invoice's Re-rate link shows the difference, Adjust asks for a
confirmation and issues the credit note, which the invoice's notes then list; the pages fit a 390 px phone;
no CSP violation or console error."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest

from local.demo import SETTINGS
from local.schedules import drain_invoice_queue, fire
from local.serve import AccountKeys, LocalPlatform
from meterbill.domain import Customer
from meterbill.ports import RawReading
from meterbill.services import billing_settings
from meterbill.services import catalog as catalog_service
from tests.e2e.browser import DESKTOP, PHONE, PHONE_WIDTH, assert_clean, emulate
from tests.e2e.conftest import Client
from tests.e2e.test_local_schedules import BERLIN, march_catalog

if TYPE_CHECKING:
    from selenium.webdriver.chrome.webdriver import WebDriver

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics")


def billed_month(today: date) -> date:
    """The first day of the month two months before ``today``'s: over (with its grace days and the 10th of
    the month after it) whatever day it is, and well inside the 12 months an invoice can be re-rated in. The
    console's re-rate runs on the platform's wall clock, so fixed dates would stop working a year on."""
    months = today.year * 12 + today.month - 1 - 2
    return date(months // 12, months % 12 + 1, 1)


def month_after(first: date) -> date:
    return date(first.year + first.month // 12, first.month % 12 + 1, 1)


def local(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=BERLIN)


def wait_for(driver: WebDriver, script: str, *, seconds: float = 10) -> Any:
    from selenium.webdriver.support.wait import WebDriverWait

    return WebDriverWait(driver, seconds, poll_frequency=0.05).until(lambda d: d.execute_script(script))


def fits_a_phone(driver: WebDriver, url: str) -> None:
    emulate(driver, PHONE)
    driver.get(url)
    assert driver.execute_script("return window.innerWidth") == PHONE_WIDTH
    assert driver.execute_script("return document.documentElement.scrollWidth") <= PHONE_WIDTH, url
    assert_clean(driver)
    emulate(driver, DESKTOP)


def test_a_corrected_reading_is_rerated_and_adjusted_with_a_credit_note(
    platform: LocalPlatform, account: AccountKeys, collector: Client, browser: WebDriver
) -> None:
    from selenium.webdriver.common.by import By

    first = billed_month(datetime.now(BERLIN).date())
    after = month_after(first)
    march_catalog(platform, account.account_id, first)
    address = {"lines": ["Torstr. 1"], "postal_code": "10119", "city": "Berlin", "country": "DE"}
    customer = {"id": "c1", "name": "C1", "address": address}  # the e-invoice needs the buyer's address
    catalog_service.replace(
        account.account_id, Customer, "c1", customer, platform.stores.catalog, if_match=None
    )
    seller = {key: value for key, value in SETTINGS.items() if key == "seller"}  # no email: nothing to send
    billing_settings.replace(
        account.account_id, seller, platform.stores.accounts, datetime.now(UTC), if_match=None
    )
    # Every hour of the month is read: 1 kWh in each of the 24 hours of the 10th (never a day the clocks
    # change), 0 in all others, so the totals do not depend on the month's length, weekdays or DST.
    start, end = local(first, 0).astimezone(UTC), local(after, 0).astimezone(UTC)
    hours = [start + timedelta(hours=n) for n in range(int((end - start) / timedelta(hours=1)))]
    tenth = (local(first.replace(day=10), 0).astimezone(UTC), local(first.replace(day=11), 0).astimezone(UTC))
    platform.stores.readings.put_new(
        account.account_id,
        [
            RawReading("m1", at, Decimal("1.000" if tenth[0] <= at < tenth[1] else "0.000"), "interval", 60)
            for at in hours
        ],
    )
    after_grace = local(after.replace(day=3), 1)  # the month ended on the 1st, its 2 grace days on the 3rd
    fire("rate", after_grace)
    fire("invoice", after_grace)
    assert drain_invoice_queue()[1] == 0
    (invoice,) = platform.stores.invoices.list(account.account_id, limit=10).items
    assert invoice.number == "INV-000001" and invoice.document is not None, invoice.state

    # the 10th, 12:00-13:00 in Berlin: 0.400 kWh, not 1.000
    corrected = local(first.replace(day=10), 12).astimezone(UTC)
    reading = {
        "meter_id": "m1",
        "timestamp": corrected.isoformat(),
        "value": "0.400",
        "type": "interval",
        "interval_minutes": 60,
    }
    posted = collector.post("/v1/readings", {"readings": [reading]})
    assert posted.status_code == 200, posted.text
    assert posted.json()["replaced"] == 1, posted.text
    fire("rate", local(after.replace(day=10), 9))

    browser.get(f"{platform.url}/console/sign-in")
    browser.find_element(By.ID, "key").send_keys(account.admin_key)
    browser.find_element(By.CSS_SELECTOR, "form.sign-in button[type=submit]").click()
    wait_for(
        browser, "return document.getElementById('alarm-zone') || document.getElementById('alarm-zone-empty')"
    )
    browser.get(f"{platform.url}/console/invoices/{invoice.invoice_id}")
    browser.find_element(By.ID, "rerate").click()
    wait_for(browser, "return document.getElementById('rerate-outcome')")
    # 24 hours × 1 kWh × 0.30 EUR = 7.20 EUR charged; one hour 0.400 kWh, not 1.000:
    # (24 - 0.6) kWh × 0.30 = 7.02 EUR; difference -0.6 kWh × 0.30 = -0.18 EUR
    changed = browser.find_element(By.CSS_SELECTOR, "#rerate-lines tr.changed")
    assert [cell.text for cell in changed.find_elements(By.TAG_NAME, "td")][3:] == [
        "24 kWh",
        "7.20",
        "23.4 kWh",
        "7.02",
        "-0.6 kWh",
        "-0.18",
    ]
    assert browser.find_element(By.ID, "total-charged").text == "7.20 EUR"
    assert browser.find_element(By.ID, "total-rerated").text == "7.02 EUR"
    assert browser.find_element(By.ID, "total-difference").text == "-0.18 EUR"
    assert browser.find_element(By.ID, "rerate-outcome").text == (
        "Adjusting would issue a credit note of -0.18 EUR."
    )
    assert_clean(browser)
    rerate_url = browser.current_url

    browser.find_element(By.ID, "adjust").click()
    wait_for(browser, "return document.getElementById('confirmation-text')")
    assert browser.find_element(By.ID, "confirmation-text").text == (
        "This issues a credit note of -0.18 EUR to customer C1 (c1), correcting invoice INV-000001 "
        f"({first.isoformat()} – {after.isoformat()}), which stays as it is."
    )
    assert_clean(browser)
    adjust_url = browser.current_url
    fits_a_phone(browser, rerate_url)
    fits_a_phone(browser, adjust_url)

    browser.find_element(By.ID, "confirm-adjust").click()
    wait_for(browser, "return document.getElementById('invoice-corrects')")
    assert browser.find_element(By.ID, "invoice-number").text == "CN-000001"
    assert browser.find_element(By.ID, "invoice-total").text == "-0.18 EUR"
    assert_clean(browser)
    note_url = browser.current_url

    browser.find_element(By.ID, "invoice-corrects").click()
    wait_for(browser, "return document.getElementById('notes')")
    assert browser.find_element(By.ID, "notes").text == "credit note CN-000001: -0.18 EUR (issued)"
    assert browser.find_element(By.ID, "invoice-total").text == "7.20 EUR"  # the invoice stays as issued
    browser.get(rerate_url)
    assert browser.find_element(By.ID, "rerate-outcome").text == (
        "Nothing to adjust: the period re-rated today comes to what was charged."
    )
    assert browser.find_elements(By.ID, "adjust") == []
    assert_clean(browser)
    fits_a_phone(browser, note_url)
    notes = [
        n for n in platform.stores.invoices.list(account.account_id, limit=10).items if n.kind != "invoice"
    ]
    assert [(n.kind, n.number, n.body["total"]) for n in notes] == [("credit_note", "CN-000001", "-0.18")]

    # as the confirmation says: the next bill run stores the note's PDF (under Object Lock on AWS)
    fire("invoice", local(after.replace(day=10), 10))
    assert drain_invoice_queue()[1] == 0
    (note,) = [
        n for n in platform.stores.invoices.list(account.account_id, limit=10).items if n.kind != "invoice"
    ]
    assert note.document is not None, note.state


@pytest.mark.parametrize(
    ("today", "first"),
    [
        (date(2026, 12, 4), date(2026, 10, 1)),
        (date(2027, 1, 1), date(2026, 11, 1)),
        (date(2027, 2, 28), date(2026, 12, 1)),
        (date(2031, 5, 31), date(2031, 3, 1)),
    ],
)
def test_the_billed_month_is_the_one_two_before_todays_in_any_year(today: date, first: date) -> None:
    assert billed_month(today) == first
