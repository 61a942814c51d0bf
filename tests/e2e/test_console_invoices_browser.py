"""The console's invoices pages in a real browser on the local platform: March billed through the deployed
schedules (the rating pass, the bill run, the invoice worker on moto's SQS, the PDF stored in the invoices
bucket), signed in through the form: the list and the invoice with exact totals, the PDF link answering the
stored PDF, a 390 px phone not scrolling sideways; no CSP violation or console error."""

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
from tests.e2e.test_local_schedules import BERLIN, march_catalog

if TYPE_CHECKING:
    from selenium.webdriver.chrome.webdriver import WebDriver

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics")

FETCH_PDF = """
const done = arguments[arguments.length - 1];
fetch(arguments[0], {credentials: 'same-origin'}).then(async (r) => {
  const bytes = new Uint8Array(await r.arrayBuffer());
  done({status: r.status, type: r.headers.get('content-type'), size: bytes.length,
        head: String.fromCharCode(...bytes.slice(0, 5))});
}).catch((e) => done({error: String(e)}));
"""


def wait_for(driver: WebDriver, script: str, *, seconds: float = 10) -> Any:
    from selenium.webdriver.support.wait import WebDriverWait

    return WebDriverWait(driver, seconds, poll_frequency=0.05).until(lambda d: d.execute_script(script))


def test_an_issued_invoice_its_totals_and_its_pdf(
    platform: LocalPlatform, account: AccountKeys, browser: WebDriver
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
    assert invoice.document is not None, invoice.state

    browser.get(f"{platform.url}/console/sign-in")
    browser.find_element(By.ID, "key").send_keys(account.admin_key)
    browser.find_element(By.CSS_SELECTOR, "form.sign-in button[type=submit]").click()
    wait_for(
        browser, "return document.getElementById('alarm-zone') || document.getElementById('alarm-zone-empty')"
    )
    browser.get(f"{platform.url}/console/invoices?month=2026-03")
    row = browser.find_element(By.CSS_SELECTOR, f'tr[data-invoice="{invoice.invoice_id}"]')
    cells = [cell.text for cell in row.find_elements(By.TAG_NAME, "td")]
    # March in Berlin has 743 hours: 743 × 1 kWh × 0.30 EUR = 222.90 EUR
    assert cells[:6] == [
        "INV-000001",
        "invoice",
        "C1",  # the customer's name, linking to its page
        "2026-03-01 – 2026-04-01",
        "222.90 EUR",
        invoice.state,
    ]
    assert_clean(browser)

    row.find_element(By.TAG_NAME, "a").click()
    wait_for(browser, "return document.getElementById('invoice-total')")
    assert browser.find_element(By.ID, "invoice-total").text == "222.90 EUR"
    link = browser.find_element(By.ID, "invoice-pdf").get_attribute("href")
    assert link == f"{platform.url}/console/invoices/{invoice.invoice_id}/pdf"
    fetched = browser.execute_async_script(FETCH_PDF, link)
    assert fetched == {
        "status": 200,
        "type": "application/pdf",
        "size": invoice.document.size,
        "head": "%PDF-",
    }
    assert_clean(browser)

    emulate(browser, PHONE)
    browser.get(f"{platform.url}/console/invoices/{invoice.invoice_id}")
    assert browser.execute_script("return window.innerWidth") == PHONE_WIDTH
    assert browser.execute_script("return document.documentElement.scrollWidth") <= PHONE_WIDTH
    browser.get(f"{platform.url}/console/invoices")
    assert browser.execute_script("return document.documentElement.scrollWidth") <= PHONE_WIDTH
    assert_clean(browser)
    emulate(browser, DESKTOP)
