"""The console's customers pages in a real browser on the local platform: a customer, a meter, a tariff and an
assignment made through the API, sign in through the form, the list and the customer's page with their exact
texts, the meter link; a 390 px phone does not scroll sideways; no CSP violation or console error."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from local.serve import AccountKeys, LocalPlatform
from tests.e2e.browser import DESKTOP, PHONE, PHONE_WIDTH, assert_clean, emulate, problems
from tests.e2e.conftest import Client

if TYPE_CHECKING:
    from selenium.webdriver.chrome.webdriver import WebDriver

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics")

TARIFF = {
    "id": "flat-2026",
    "name": "Flat 2026",
    "currency": "EUR",
    "unit": "kWh",
    "energy": {"periods": [{"name": "all", "tiers": [{"rate": "0.25"}]}]},
}


def cells(driver: WebDriver, table: str) -> list[list[str]]:
    from selenium.webdriver.common.by import By

    return [
        [td.text for td in tr.find_elements(By.TAG_NAME, "td")]
        for tr in driver.find_elements(By.CSS_SELECTOR, f"#{table} tbody tr")
    ]


def test_the_customers_list_and_a_customers_page(
    platform: LocalPlatform, account: AccountKeys, admin: Client, browser: WebDriver
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.wait import WebDriverWait

    created = [
        admin.post("/v1/sites", {"id": "site-1", "name": "Office", "timezone": "Europe/Berlin"}),
        admin.post(
            "/v1/meters",
            {"id": "mtr-1", "site_id": "site-1", "utility": "electricity", "unit": "kWh", "kind": "main"},
        ),
        admin.post("/v1/tariffs", TARIFF),
        admin.post(
            "/v1/customers",
            {"id": "cus-1", "name": "Ada Lovelace", "emails": ["ada@example.org"], "bill_day": 3},
        ),
        admin.post(
            "/v1/assignments",
            {
                "id": "asg-1",
                "meter_id": "mtr-1",
                "customer_id": "cus-1",
                "tariff_id": "flat-2026",
                "effective_from": "2026-01-01",
            },
        ),
    ]
    assert [answer.status_code for answer in created] == [201] * 5, [a.text for a in created]

    browser.get(f"{platform.url}/console/customers")
    assert browser.current_url == f"{platform.url}/console/sign-in"
    browser.find_element(By.ID, "key").send_keys(account.admin_key)
    browser.find_element(By.CSS_SELECTOR, "form.sign-in button[type=submit]").click()
    WebDriverWait(browser, 10).until(lambda d: d.current_url == f"{platform.url}/console/")
    browser.get(f"{platform.url}/console/customers")

    assert browser.title == "Customers · meterbill console"
    assert cells(browser, "customers") == [
        ["Ada Lovelace", "cus-1", "ada@example.org", "1", "Flat 2026", "—"]
    ]
    assert_clean(browser)

    browser.find_element(By.LINK_TEXT, "Ada Lovelace").click()
    WebDriverWait(browser, 10).until(lambda d: d.current_url == f"{platform.url}/console/customers/cus-1")
    assert browser.find_element(By.ID, "customer-name").text == "Ada Lovelace"
    assert browser.find_element(By.ID, "customer-email").text == "ada@example.org"
    assert browser.find_element(By.ID, "customer-bill-day").text == "3"
    assert browser.find_element(By.ID, "no-running").text == "Not rated yet."
    assert browser.find_element(By.ID, "no-invoices").text == "No invoices yet."
    assert cells(browser, "assignments") == [["mtr-1", "2026-01-01", "open", "Flat 2026 (flat-2026)", "1"]]
    link = browser.find_element(By.LINK_TEXT, "mtr-1")
    assert link.get_attribute("href") == f"{platform.url}/console/meters/mtr-1"
    assert_clean(browser)

    emulate(browser, PHONE)
    for path in ("/console/customers", "/console/customers/cus-1"):
        browser.get(f"{platform.url}{path}")
        assert browser.execute_script("return window.innerWidth") == PHONE_WIDTH
        assert browser.execute_script("return document.documentElement.scrollWidth") <= PHONE_WIDTH
        assert_clean(browser)
    emulate(browser, DESKTOP)

    browser.get(f"{platform.url}/console/customers/cus-nope")
    assert "No such customer." in browser.find_element(By.TAG_NAME, "main").text
    assert [p.split(" - ")[-1] for p in problems(browser)] == [  # the 404 itself, and nothing else
        "Failed to load resource: the server responded with a status of 404 (Not Found)"
    ]
