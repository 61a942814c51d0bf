"""Re-rating and adjusting an issued invoice in a real browser on the local platform: March billed through the
deployed schedules (the rating pass, the bill run, the invoice worker on moto's SQS, the PDF stored), then a
corrected reading posted through the API with the collector's key and rated; signed in through the form, the
invoice's Re-rate link shows the difference, Adjust asks for a confirmation and issues the credit note, which
the invoice's notes then list; the pages fit a 390 px phone; no CSP violation or console error."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
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

# 10 March 12:00-13:00 in Berlin (11:00 UTC): 0.400 kWh, not 1.000
CORRECTED = datetime(2026, 3, 10, 12, 0, tzinfo=BERLIN).astimezone(UTC)


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

    march_catalog(platform, account.account_id)
    address = {"lines": ["Torstr. 1"], "postal_code": "10119", "city": "Berlin", "country": "DE"}
    customer = {"id": "c1", "name": "C1", "address": address}  # the e-invoice needs the buyer's address
    catalog_service.replace(
        account.account_id, Customer, "c1", customer, platform.stores.catalog, if_match=None
    )
    seller = {key: value for key, value in SETTINGS.items() if key == "seller"}  # no email: nothing to send
    billing_settings.replace(
        account.account_id, seller, platform.stores.accounts, datetime.now(UTC), if_match=None
    )
    start = datetime(2026, 3, 1, tzinfo=BERLIN).astimezone(UTC)
    end = datetime(2026, 4, 1, tzinfo=BERLIN).astimezone(UTC)
    hours = [start + timedelta(hours=n) for n in range(int((end - start) / timedelta(hours=1)))]
    platform.stores.readings.put_new(
        account.account_id, [RawReading("m1", at, Decimal("1.000"), "interval", 60) for at in hours]
    )
    after_grace = datetime.fromisoformat("2026-04-03T01:00:00+02:00")
    fire("rate", after_grace)
    fire("invoice", after_grace)
    assert drain_invoice_queue()[1] == 0
    (invoice,) = platform.stores.invoices.list(account.account_id, limit=10).items
    assert invoice.number == "INV-000001" and invoice.document is not None, invoice.state

    reading = {
        "meter_id": "m1",
        "timestamp": CORRECTED.isoformat(),
        "value": "0.400",
        "type": "interval",
        "interval_minutes": 60,
    }
    posted = collector.post("/v1/readings", {"readings": [reading]})
    assert posted.status_code == 200, posted.text
    assert posted.json()["replaced"] == 1, posted.text
    fire("rate", datetime.fromisoformat("2026-04-10T09:00:00+02:00"))

    browser.get(f"{platform.url}/console/sign-in")
    browser.find_element(By.ID, "key").send_keys(account.admin_key)
    browser.find_element(By.CSS_SELECTOR, "form.sign-in button[type=submit]").click()
    wait_for(
        browser, "return document.getElementById('alarm-zone') || document.getElementById('alarm-zone-empty')"
    )
    browser.get(f"{platform.url}/console/invoices/{invoice.invoice_id}")
    browser.find_element(By.ID, "rerate").click()
    wait_for(browser, "return document.getElementById('rerate-outcome')")
    # March in Berlin: 743 hours × 1 kWh × 0.30 EUR = 222.90 EUR charged; one hour 0.400 kWh, not 1.000:
    # (743 - 0.6) kWh × 0.30 = 222.72 EUR; difference -0.6 kWh × 0.30 = -0.18 EUR
    changed = browser.find_element(By.CSS_SELECTOR, "#rerate-lines tr.changed")
    assert [cell.text for cell in changed.find_elements(By.TAG_NAME, "td")][3:] == [
        "743 kWh",
        "222.90",
        "742.4 kWh",
        "222.72",
        "-0.6 kWh",
        "-0.18",
    ]
    assert browser.find_element(By.ID, "total-charged").text == "222.90 EUR"
    assert browser.find_element(By.ID, "total-rerated").text == "222.72 EUR"
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
        "(2026-03-01 – 2026-04-01), which stays as it is."
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
    assert browser.find_element(By.ID, "invoice-total").text == "222.90 EUR"  # the invoice stays as issued
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
    fire("invoice", datetime.fromisoformat("2026-04-10T10:00:00+02:00"))
    assert drain_invoice_queue()[1] == 0
    (note,) = [
        n for n in platform.stores.invoices.list(account.account_id, limit=10).items if n.kind != "invoice"
    ]
    assert note.document is not None, note.state
