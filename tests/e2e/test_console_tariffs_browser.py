"""The console's tariff pages in a real browser on the local platform: a TOU + tiered tariff with two versions
and a customer on a flat tariff, made through the API, with February 2026's readings; signed in through the
form: the list, the tariff's versions and what changed, the "what would this bill be" preview run from its
form (htmx swaps the result in, the URL keeps the query) with the exact totals and the difference to the
flat tariff; a 390 px phone does not scroll sideways; no CSP violation or console error."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest

from local.serve import AccountKeys, LocalPlatform
from meterbill.ports import RawReading
from tests.e2e.browser import DESKTOP, PHONE, PHONE_WIDTH, assert_clean, emulate
from tests.e2e.conftest import Client
from tests.unit.test_console_tariff_pages import FLAT, TOU, tou_version_2

if TYPE_CHECKING:
    from selenium.webdriver.chrome.webdriver import WebDriver

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics")

FEBRUARY = datetime(2026, 1, 31, 23, tzinfo=UTC)  # 2026-02-01 00:00 in Berlin


def cells(driver: WebDriver, table: str) -> list[list[str]]:
    from selenium.webdriver.common.by import By

    return [
        [td.text for td in tr.find_elements(By.TAG_NAME, "td")]
        for tr in driver.find_elements(By.CSS_SELECTOR, f"#{table} tbody tr")
    ]


def wait_for(driver: WebDriver, script: str, *, seconds: float = 10) -> Any:
    from selenium.webdriver.support.wait import WebDriverWait

    return WebDriverWait(driver, seconds, poll_frequency=0.05).until(lambda d: d.execute_script(script))


def test_a_tariffs_versions_and_a_preview_under_it(
    platform: LocalPlatform, account: AccountKeys, admin: Client, browser: WebDriver
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.select import Select

    meter = {"id": "mtr-1", "site_id": "site-1", "utility": "electricity", "unit": "kWh", "kind": "main"}
    created = [
        admin.post("/v1/sites", {"id": "site-1", "name": "Office", "timezone": "Europe/Berlin"}),
        admin.post("/v1/meters", {**meter, "interval_minutes": 60}),
        admin.post("/v1/tariffs", TOU),
        admin.post("/v1/tariffs/tou-tiered/versions", {**tou_version_2(), "effective_from": "2026-03-01"}),
        admin.post("/v1/tariffs", FLAT),
        admin.post("/v1/customers", {"id": "cus-z", "name": "Zoe Lights"}),
        admin.post(
            "/v1/assignments",
            {
                "id": "asg-z",
                "meter_id": "mtr-1",
                "customer_id": "cus-z",
                "tariff_id": "flat",
                "effective_from": "2026-01-01",
            },
        ),
    ]
    assert [answer.status_code for answer in created] == [201] * 7, [a.text for a in created]
    platform.stores.readings.put_new(  # 1 kWh every hour of February 2026 and the days around it
        account.account_id,
        [
            RawReading("mtr-1", FEBRUARY + n * timedelta(hours=1), Decimal("1"), "interval", 60)
            for n in range(-24, 28 * 24 + 24)
        ],
    )

    browser.get(f"{platform.url}/console/sign-in")
    browser.find_element(By.ID, "key").send_keys(account.admin_key)
    browser.find_element(By.CSS_SELECTOR, "form.sign-in button[type=submit]").click()
    wait_for(
        browser, "return document.getElementById('alarm-zone') || document.getElementById('alarm-zone-empty')"
    )
    browser.find_element(By.LINK_TEXT, "Tariffs").click()
    wait_for(browser, "return document.getElementById('tariffs')")
    assert browser.title == "Tariffs · meterbill console"
    assert cells(browser, "tariffs") == [
        ["Flat", "flat", "EUR", "kWh", "1", "always", "1"],
        ["Peak and off-peak, tiered 2026", "tou-tiered", "EUR", "kWh", "2", "2026-03-01", "0"],
    ]
    assert_clean(browser)

    browser.find_element(By.LINK_TEXT, "Peak and off-peak, tiered 2026").click()
    wait_for(browser, "return document.getElementById('tariff-name')")
    assert browser.current_url == f"{platform.url}/console/tariffs/tou-tiered"
    charges = browser.find_element(By.ID, "version-1-charges").text
    assert "peak: tier 1: the first 100 kWh at 0.30 EUR/kWh" in charges
    assert "peak: weekdays 08:00–20:00; weekends and holidays never" in charges
    assert cells(browser, "version-2-changes")[2] == [
        "Energy",
        "peak: tier 1: the first 100 kWh at 0.30 EUR/kWh",
        "peak: tier 1: the first 100 kWh at 0.32 EUR/kWh",
    ]

    browser.execute_script("window.stillThisPage = true")  # an htmx swap keeps the page; a navigation not
    Select(browser.find_element(By.ID, "p-customer")).select_by_value("cus-z")
    month = browser.find_element(By.ID, "p-month")
    browser.execute_script("arguments[0].value = '2026-02'", month)  # a month input's typing is locale-bound
    browser.find_element(By.CSS_SELECTOR, "#preview-form button[type=submit]").click()
    wait_for(browser, "return document.getElementById('preview-total-EUR')")
    # 240 kWh peak (20 weekdays × 12 h): 100 × 0.30 + 140 × 0.40; 432 kWh off-peak × 0.20; 5.00 fixed;
    # 1 kW × 2.50 demand: 179.90, VAT 34.18; on flat now: 10.00 + 672 × 0.25 = 178.00 + 33.82 VAT.
    assert browser.find_element(By.ID, "preview-subtotal-EUR").text == "€179.90"
    assert browser.find_element(By.ID, "preview-total-EUR").text == "€214.08"
    assert browser.find_element(By.ID, "current-total-EUR").text == "€211.82"
    assert browser.find_element(By.ID, "difference-EUR").text == "+€2.26"
    assert [row[-1] for row in cells(browser, "preview-lines") if row] == [
        "€5.00",
        "€86.40",
        "€30.00",
        "€56.00",
        "€2.50",
        "€34.18",
    ]
    assert (
        browser.current_url
        == f"{platform.url}/console/tariffs/tou-tiered?customer_id=cus-z&month=2026-02&from=&to="
    )
    assert browser.execute_script("return window.stillThisPage") is True  # htmx swapped the preview in
    assert browser.find_element(By.ID, "version-2")  # and the versions stayed
    assert_clean(browser)

    emulate(browser, PHONE)
    for path in ("/console/tariffs", "/console/tariffs/tou-tiered?customer_id=cus-z&month=2026-02"):
        browser.get(f"{platform.url}{path}")
        assert browser.execute_script("return window.innerWidth") == PHONE_WIDTH
        assert browser.execute_script("return document.documentElement.scrollWidth") <= PHONE_WIDTH
        assert_clean(browser)
    assert browser.find_element(By.ID, "preview-total-EUR").text == "€214.08"  # without htmx: the page itself
    emulate(browser, DESKTOP)
