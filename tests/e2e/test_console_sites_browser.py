"""The console's sites pages in a real browser on the local platform: a colocation room (hall-1, racks R01 and
R02 with a PDU each on feed A phase L1, the phase's master meter) made through the API, this month's hourly
readings rated by the rating schedule, sign in through the form, the sites list, the tree with its exact
sums, a rack opened from the keyboard, a device's link followed to its meter page, a 390 px phone does not
scroll sideways; no CSP violation or console error."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import pytest

from local.schedules import fire
from local.serve import AccountKeys, LocalPlatform
from meterbill.ports import RawReading
from tests.e2e.browser import DESKTOP, PHONE, PHONE_WIDTH, assert_clean, emulate
from tests.e2e.conftest import Client

if TYPE_CHECKING:
    from selenium.webdriver.chrome.webdriver import WebDriver

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics")

BERLIN = ZoneInfo("Europe/Berlin")
RACK = 'li[data-path="site/room:hall-1/rack:R01"]'
# kWh per hour, alternating (no flat line for validation to question): the master measures both PDUs and more.
PATTERNS = {"pdu-R01": ("0.200", "0.300"), "pdu-R02": ("0.400", "0.600"), "m-A-L1": ("0.700", "1.000")}


def wait_for(driver: WebDriver, script: str, *, seconds: float = 10) -> Any:
    from selenium.webdriver.support.wait import WebDriverWait

    return WebDriverWait(driver, seconds, poll_frequency=0.05).until(lambda d: d.execute_script(script))


def kwh(amount: Decimal) -> str:
    return f"{amount:,.3f} kWh"


def percent(part: Decimal, whole: Decimal) -> str:
    return f"{(part * 100 / whole).quantize(Decimal('0.1'), rounding=ROUND_HALF_UP)} %"


def test_a_sites_tree_its_sums_a_rack_opened_and_a_device_followed_to_its_meter(
    platform: LocalPlatform, account: AccountKeys, admin: Client, browser: WebDriver
) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    site = {"id": "colo", "name": "Colo Berlin", "timezone": "Europe/Berlin"}
    assert admin.post("/v1/sites", site).status_code == 201
    common = {"site_id": "colo", "utility": "electricity", "unit": "kWh", "interval_minutes": 60}
    master = {"room": "hall-1", "feed": "A", "phase": "L1", "device": "Master A-L1"}
    assert (
        admin.post("/v1/meters", {**common, "id": "m-A-L1", "kind": "main", "labels": master}).status_code
        == 201
    )
    for rack in ("R01", "R02"):
        labels = {"room": "hall-1", "rack": rack, "feed": "A", "phase": "L1", "device": f"PDU {rack}"}
        body = {**common, "id": f"pdu-{rack}", "kind": "sub", "parent_id": "m-A-L1", "labels": labels}
        assert admin.post("/v1/meters", body).status_code == 201

    # This month's hours so far on Berlin's clock (at least one), rated by the rating schedule.
    now = datetime.now(UTC)
    local = now.astimezone(BERLIN)
    start = datetime(local.year, local.month, 1, tzinfo=BERLIN).astimezone(UTC)
    hours = max(1, int((now - start) / timedelta(hours=1)))
    totals: dict[str, Decimal] = {}
    for meter_id, pattern in PATTERNS.items():
        values = [Decimal(pattern[n % 2]) for n in range(hours)]
        totals[meter_id] = sum(values, Decimal(0))
        platform.stores.readings.put_new(
            account.account_id,
            [
                RawReading(meter_id, start + timedelta(hours=n), v, "interval", 60)
                for n, v in enumerate(values)
            ],
        )
    fire("rate", start + timedelta(hours=hours))
    room, r01 = totals["m-A-L1"], totals["pdu-R01"]
    accounted = totals["pdu-R01"] + totals["pdu-R02"]

    created = admin.post("/v1/api-keys", {"name": "operator", "scopes": ["read"]})
    assert created.status_code == 201, created.text
    browser.get(f"{platform.url}/console/sign-in")
    browser.find_element(By.ID, "key").send_keys(created.json()["key"])  # a read session sees it all
    browser.find_element(By.CSS_SELECTOR, "form.sign-in button[type=submit]").click()
    wait_for(
        browser, "return document.getElementById('alarm-zone') || document.getElementById('alarm-zone-empty')"
    )
    browser.find_element(By.LINK_TEXT, "Sites").click()
    wait_for(browser, "return document.getElementById('sites')")
    cells = [td.text for td in browser.find_elements(By.CSS_SELECTOR, "#site-colo td")]
    assert cells == [
        "Colo Berlin",
        "Europe/Berlin",
        "3",
        "0",
        "ok",
        f"electricity {kwh(room)} ({local:%Y-%m})",
    ]
    assert_clean(browser)

    browser.find_element(By.LINK_TEXT, "Colo Berlin").click()
    wait_for(browser, "return document.getElementById('tree')")
    assert browser.title == "Site Colo Berlin · meterbill console"
    hall = browser.find_element(By.CSS_SELECTOR, 'li[data-path="site/room:hall-1"] > details > summary')
    assert hall.text == f"ROOM hall-1 {kwh(room)} · 100.0 % ok"
    rack = browser.find_element(By.CSS_SELECTOR, f"{RACK} > details")
    assert rack.get_attribute("open") is None  # racks start closed
    device = browser.find_element(By.CSS_SELECTOR, f'{RACK} a[href$="/console/meters/pdu-R01"]')
    assert not device.is_displayed()
    summary = rack.find_element(By.TAG_NAME, "summary")
    assert summary.text == f"RACK R01 {kwh(r01)} · {percent(r01, room)} ok"
    browser.execute_script("arguments[0].focus()", summary)
    ActionChains(browser).send_keys(Keys.ENTER).perform()  # the keyboard opens it
    assert rack.get_attribute("open") == "true"
    for name in ("feed:A", "feed:A/phase:L1"):  # feeds and phases start closed too
        browser.find_element(
            By.CSS_SELECTOR, f'li[data-path="site/room:hall-1/rack:R01/{name}"] > details > summary'
        ).click()
    assert device.is_displayed() and device.text == "PDU R01"
    master_row = browser.find_element(
        By.CSS_SELECTOR, 'li[data-path="site/room:hall-1/feed:A/phase:L1/meter:m-A-L1"] .sub-metering'
    )
    covered = percent(accounted, room)
    assert (
        master_row.get_attribute("textContent").split()
        == (
            f"2 sub-meters: {kwh(accounted)} ({covered}) accounted, {kwh(room - accounted)} unaccounted"
        ).split()
    )
    assert_clean(browser)

    device.click()
    wait_for(browser, "return document.title.startsWith('Meter pdu-R01')")
    assert browser.current_url == f"{platform.url}/console/meters/pdu-R01"
    assert_clean(browser)

    emulate(browser, PHONE)
    browser.get(f"{platform.url}/console/sites/colo")
    wait_for(browser, "return document.getElementById('tree')")
    browser.execute_script("document.querySelectorAll('details').forEach(d => { d.open = true; })")
    assert browser.execute_script("return window.innerWidth") == PHONE_WIDTH
    assert browser.execute_script("return document.documentElement.scrollWidth") <= PHONE_WIDTH
    browser.get(f"{platform.url}/console/sites")
    assert browser.execute_script("return document.documentElement.scrollWidth") <= PHONE_WIDTH
    assert_clean(browser)
    emulate(browser, DESKTOP)
