"""The console's meter page in a real browser on the local platform: a site and a meter made through the API,
a day of readings pushed with the ingest key, sign in through the form, a uPlot chart with painted pixels,
switching the resolution changes the series, a 390 px phone does not scroll sideways; no CSP violation or
console error."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import pytest

from local.serve import AccountKeys, LocalPlatform
from tests.e2e.browser import DESKTOP, PHONE, PHONE_WIDTH, assert_clean, emulate
from tests.e2e.conftest import Client

if TYPE_CHECKING:
    from selenium.webdriver.chrome.webdriver import WebDriver

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics")

BERLIN = ZoneInfo("Europe/Berlin")

# The chart's canvas: painted (non-transparent) pixels, and how many are the bars' blue (#0b4f9c at 55 %).
CANVAS_PIXELS = """
const canvas = document.querySelector('#chart canvas');
if (!canvas) return null;
const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
let painted = 0, blue = 0;
for (let i = 0; i < pixels.length; i += 4) {
  if (pixels[i + 3] === 0) continue;
  painted += 1;
  if (pixels[i + 2] > pixels[i] + 40 && pixels[i + 2] > pixels[i + 1] + 20) blue += 1;
}
return blue > 0 ? {painted, blue} : null;
"""
SERIES = "return JSON.parse(document.getElementById('series').textContent)"


def wait_for(driver: WebDriver, script: str, *, seconds: float = 10) -> Any:
    from selenium.webdriver.support.wait import WebDriverWait

    return WebDriverWait(driver, seconds, poll_frequency=0.05).until(lambda d: d.execute_script(script))


def test_a_meters_trend_chart_is_drawn_and_switches_resolution(
    platform: LocalPlatform, account: AccountKeys, admin: Client, collector: Client, browser: WebDriver
) -> None:
    from selenium.webdriver.common.by import By

    assert (
        admin.post("/v1/sites", {"id": "site-1", "name": "Office", "timezone": "Europe/Berlin"}).status_code
        == 201
    )
    meter = {"id": "main-1", "site_id": "site-1", "utility": "electricity", "unit": "kWh", "kind": "main"}
    assert admin.post("/v1/meters", meter).status_code == 201
    yesterday = datetime.now(BERLIN).date() - timedelta(days=1)
    midnight = datetime(yesterday.year, yesterday.month, yesterday.day, tzinfo=BERLIN)
    readings = [
        {
            "meter_id": "main-1",
            "timestamp": (midnight + timedelta(minutes=15 * i)).isoformat(),
            "value": str(1 + (i % 8)),
            "type": "interval",
            "interval_minutes": 15,
        }
        for i in range(96)
        if not 40 <= i < 44  # 10:00-11:00 missing: estimated, shaded
    ]
    pushed = collector.post("/v1/readings", {"readings": readings})
    assert pushed.status_code in (200, 201, 202), pushed.text

    browser.get(f"{platform.url}/console/meters/main-1")
    assert browser.current_url == f"{platform.url}/console/sign-in"
    browser.get(f"{platform.url}/console/sign-in")
    browser.find_element(By.ID, "key").send_keys(account.admin_key)
    browser.find_element(By.CSS_SELECTOR, "form.sign-in button[type=submit]").click()
    wait_for(
        browser, "return document.getElementById('alarm-zone') || document.getElementById('alarm-zone-empty')"
    )
    browser.get(f"{platform.url}/console/meters/main-1")

    assert browser.title == "Meter main-1 · meterbill console"
    assert wait_for(browser, CANVAS_PIXELS)["painted"] > 1000
    by_day = browser.execute_script(SERIES)
    assert (by_day["resolution"], len(by_day["x"])) == ("day", 31)
    assert browser.find_element(By.ID, "chart").get_attribute("data-points") == "31"
    assert by_day["totals"][-2] != "0"  # yesterday's day has usage
    assert_clean(browser)

    browser.find_element(By.CSS_SELECTOR, 'a[data-resolution="hour"]').click()
    wait_for(browser, "return document.querySelector('#chart')?.dataset.points === '48'")
    by_hour = browser.execute_script(SERIES)
    assert by_hour["resolution"] == "hour" and len(by_hour["x"]) == 48
    assert by_hour["estimated"][10] is True and by_hour["estimated"][9] is False
    assert wait_for(browser, CANVAS_PIXELS)["painted"] > 1000
    browser.find_element(By.ID, "as-curve").click()
    assert browser.find_element(By.ID, "as-curve").get_attribute("aria-pressed") == "true"
    assert wait_for(browser, CANVAS_PIXELS)["painted"] > 1000
    assert_clean(browser)

    emulate(browser, PHONE)
    browser.get(f"{platform.url}/console/meters/main-1?resolution=week")
    assert wait_for(browser, CANVAS_PIXELS)["painted"] > 100
    assert browser.execute_script("return window.innerWidth") == PHONE_WIDTH
    assert browser.execute_script("return document.documentElement.scrollWidth") <= PHONE_WIDTH
    assert_clean(browser)
    emulate(browser, DESKTOP)
