"""The console's meter page in a real browser on the local platform: a site and a meter made through the API,
a day of readings pushed with the ingest key, sign in through the form, a uPlot chart with painted pixels,
switching the resolution changes the series, a 390 px phone does not scroll sideways; no CSP violation or
console error."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
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
    midnight = datetime(yesterday.year, yesterday.month, yesterday.day, tzinfo=BERLIN).astimezone(UTC)
    today = datetime(*(yesterday + timedelta(days=1)).timetuple()[:3], tzinfo=BERLIN).astimezone(UTC)
    hours = (today - midnight) // timedelta(hours=1)  # 23 or 25 on the days the clocks change
    readings = [
        {
            "meter_id": "main-1",
            "timestamp": (midnight + timedelta(minutes=15 * i)).isoformat(),
            "value": str(1 + (i % 8)),
            "type": "interval",
            "interval_minutes": 15,
        }
        for i in range(4 * hours)
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
    # the last 31 days, but nothing of today (no readings today: nothing of it is over, nor a gap)
    assert (by_day["resolution"], len(by_day["x"])) == ("day", 30)
    assert browser.find_element(By.ID, "chart").get_attribute("data-points") == "30"
    assert by_day["starts"][-1] == midnight.astimezone(BERLIN).isoformat()
    assert by_day["totals"][-1] != "0"  # yesterday's day has usage
    chart = browser.find_element(By.ID, "chart")
    # bars start at 0 (not near the lowest day), the x scale is padded by half a bucket on each side
    assert chart.get_attribute("data-y-min") == "0"
    assert float(chart.get_attribute("data-y-max") or 0) >= max(by_day["y"])
    assert [float(chart.get_attribute("data-x-min") or 0), float(chart.get_attribute("data-x-max") or 0)] == [
        by_day["x_range"][0],
        by_day["x_range"][1],
    ]
    day_ticks = (chart.get_attribute("data-x-ticks") or "").split("|")
    assert day_ticks and all(re.fullmatch(r"\d{1,2} [A-Z][a-z]{2}|", tick) for tick in day_ticks), day_ticks
    assert any(tick for tick in day_ticks), day_ticks  # day first, "4 Nov": never US-style "11/4"
    assert_clean(browser)

    browser.find_element(By.CSS_SELECTOR, 'a[data-resolution="hour"]').click()
    wait_for(browser, f"return document.querySelector('#chart')?.dataset.points === '{hours}'")
    by_hour = browser.execute_script(SERIES)
    assert by_hour["resolution"] == "hour" and len(by_hour["x"]) == hours  # yesterday's, none of today
    assert by_hour["estimated"][10] is True and by_hour["estimated"][9] is False
    hour_ticks = (browser.find_element(By.ID, "chart").get_attribute("data-x-ticks") or "").split("|")
    assert all(re.fullmatch(r"\d\d:00|\d{1,2} [A-Z][a-z]{2}|", tick) for tick in hour_ticks), hour_ticks
    assert any(re.fullmatch(r"(1\d|2[0-3]):00", tick) for tick in hour_ticks), hour_ticks  # 24-hour clock
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
