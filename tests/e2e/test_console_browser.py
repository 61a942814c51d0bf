"""The console in a real browser on the local platform: sign in through the form, the alarm zone sorted by
severity, acknowledge an alert with one click (htmx), fit a 390 px phone, sign out; no CSP violation or
console error anywhere."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import pytest

from local.serve import AccountKeys, LocalPlatform
from meterbill.alerts.lifecycle import Alert, AlertBook, StateChange
from meterbill.alerts.model import Subject
from meterbill.alerts.ports import AlertStore
from tests.e2e.browser import DESKTOP, PHONE, PHONE_WIDTH, assert_clean, emulate

if TYPE_CHECKING:
    from selenium.webdriver.chrome.webdriver import WebDriver

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics")

SEEN = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)


def alert_store(platform: LocalPlatform) -> AlertStore:
    from meterbill.adapters.dynamodb import build_alert_store  # type: ignore[attr-defined,unused-ignore]

    store: AlertStore = build_alert_store(platform.settings.storage)
    return store


def firing(account: str, n: int, kind: str, severity: str, meter: str, summary: str) -> Alert:
    seen = SEEN + timedelta(minutes=n)
    return Alert(
        id=f"console{n:04d}-{seen:%Y%m%dT%H%M%SZ}",
        fingerprint=f"console{n:04d}",
        account_id=account,
        kind=kind,  # type: ignore[arg-type]
        subject=Subject("meter", meter, "site-1"),
        state="firing",
        severity=severity,  # type: ignore[arg-type]
        summary=summary,
        facts={},
        depends_on=(),
        first_seen=seen,
        last_seen=seen,
        active_since=seen,
        fired_at=seen,
        history=(StateChange(seen, "firing", summary),),
    )


def wait_for(driver: WebDriver, script: str, *, seconds: float = 10) -> object:
    from selenium.webdriver.support.wait import WebDriverWait

    return WebDriverWait(driver, seconds, poll_frequency=0.05).until(lambda d: d.execute_script(script))


ROWS = "return [...document.querySelectorAll('#alarm-zone > li')].map(li => li.dataset.alertId)"


def test_sign_in_see_the_alarm_zone_acknowledge_and_sign_out(
    platform: LocalPlatform, account: AccountKeys, browser: WebDriver
) -> None:
    from selenium.webdriver.common.by import By

    store = alert_store(platform)
    # the warning fired first: the critical one still comes first
    warning = firing(account.account_id, 1, "flat_line", "warning", "water-1", "water-1 reads the same value")
    critical = firing(
        account.account_id, 2, "communication", "critical", "main-1", "main-1 stopped reporting"
    )
    store.save_book(
        account.account_id, AlertBook(account.account_id, (warning, critical)), [warning, critical], []
    )

    browser.get(f"{platform.url}/console/")
    assert browser.current_url == f"{platform.url}/console/sign-in"
    assert browser.title == "Sign in · meterbill console"
    browser.find_element(By.ID, "key").send_keys(account.admin_key)
    browser.find_element(By.CSS_SELECTOR, "form.sign-in button[type=submit]").click()
    wait_for(browser, "return document.getElementById('alarm-zone')")

    assert browser.current_url == f"{platform.url}/console/"
    assert browser.execute_script(ROWS) == [critical.id, warning.id]
    rows = browser.find_elements(By.CSS_SELECTOR, "#alarm-zone > li")
    assert [row.find_element(By.CLASS_NAME, "severity").text for row in rows] == ["CRITICAL", "WARNING"]
    assert rows[0].find_element(By.CLASS_NAME, "subject").text == "meter main-1"
    assert "flagged" in (rows[0].get_attribute("class") or "")
    assert_clean(browser)

    rows[0].find_element(By.CSS_SELECTOR, "form.ack button").click()
    wait_for(browser, f"return document.querySelector('#alert-{critical.id} .acknowledged')")

    acknowledged = browser.find_element(By.ID, f"alert-{critical.id}")
    assert acknowledged.find_element(By.CLASS_NAME, "acknowledged").text.startswith("Acknowledged ")
    assert acknowledged.find_elements(By.CSS_SELECTOR, "form.ack") == []
    assert browser.current_url == f"{platform.url}/console/"  # swapped in place, no navigation
    stored = store.get_alert(account.account_id, critical.id)
    assert stored.acknowledged_at is not None
    assert store.get_alert(account.account_id, warning.id).acknowledged_at is None
    assert_clean(browser)

    emulate(browser, PHONE)
    browser.get(f"{platform.url}/console/")
    assert browser.execute_script("return window.innerWidth") == PHONE_WIDTH
    assert browser.execute_script("return document.documentElement.scrollWidth") <= PHONE_WIDTH
    assert browser.execute_script(ROWS) == [critical.id, warning.id]
    assert_clean(browser)
    emulate(browser, DESKTOP)

    browser.find_element(By.CSS_SELECTOR, "form.sign-out button").click()
    wait_for(browser, "return document.getElementById('key')")
    assert browser.current_url == f"{platform.url}/console/sign-in"
    browser.get(f"{platform.url}/console/")
    assert browser.current_url == f"{platform.url}/console/sign-in"
    assert_clean(browser)


def test_a_click_after_the_session_ended_goes_to_the_sign_in_page(
    platform: LocalPlatform, account: AccountKeys, browser: WebDriver
) -> None:
    from selenium.webdriver.common.by import By

    store = alert_store(platform)
    info = firing(account.account_id, 3, "flat_line", "info", "gas-1", "gas-1 reads the same value")
    store.save_book(account.account_id, AlertBook(account.account_id, (info,)), [info], [])
    browser.get(f"{platform.url}/console/sign-in")
    browser.find_element(By.ID, "key").send_keys(account.admin_key)
    browser.find_element(By.CSS_SELECTOR, "form.sign-in button[type=submit]").click()
    wait_for(browser, "return document.getElementById('alarm-zone')")

    browser.delete_cookie("mb_session")  # as if the 8 hours had passed
    browser.find_element(By.CSS_SELECTOR, "#alarm-zone form.ack button").click()
    wait_for(browser, "return document.getElementById('key')")

    assert browser.current_url == f"{platform.url}/console/sign-in"
    assert store.get_alert(account.account_id, info.id).acknowledged_at is None
    assert_clean(browser)


def test_a_heartbeat_posted_with_the_ingest_key_appears_on_the_home_page_on_its_sites_clock(
    platform: LocalPlatform, account: AccountKeys, phone_browser: WebDriver
) -> None:
    import requests
    from selenium.webdriver.common.by import By

    from meterbill.console.home import shown_time

    admin = {"Authorization": f"Bearer {account.admin_key}"}
    made = requests.post(
        f"{platform.url}/v1/sites",
        json={"id": "lhi", "name": "Lord Howe", "timezone": "Australia/Lord_Howe"},
        headers=admin,
        timeout=30,
    )
    assert made.status_code == 201, made.text
    posted = requests.post(
        f"{platform.url}/v1/collectors/edge-1/heartbeats",
        json={"version": "2.0.1", "spool_depth": 12, "site_id": "lhi", "warnings": ["spool near its quota"]},
        headers={"Authorization": f"Bearer {account.ingest_key}"},
        timeout=30,
    )
    assert posted.status_code == 202, posted.text
    received = datetime.fromisoformat(posted.json()["received_at"])
    expected = shown_time(received, ZoneInfo("Australia/Lord_Howe"))

    phone_browser.get(f"{platform.url}/console/sign-in")
    phone_browser.find_element(By.ID, "key").send_keys(account.admin_key)
    phone_browser.find_element(By.CSS_SELECTOR, "form.sign-in button[type=submit]").click()
    wait_for(phone_browser, "return document.getElementById('collector-edge-1')")

    row = phone_browser.find_element(By.ID, "collector-edge-1")
    assert "offline" not in (row.get_attribute("class") or "")
    shown = row.find_element(By.CSS_SELECTOR, ".heartbeat time")
    assert (shown.text, shown.get_attribute("datetime")) == (expected.text, expected.iso)
    assert row.find_element(By.CLASS_NAME, "version").text == "version 2.0.1"
    assert row.find_element(By.CLASS_NAME, "spool").text == "spool 12"
    assert row.find_element(By.CSS_SELECTOR, ".warnings li").text == "spool near its quota"
    assert phone_browser.find_element(By.ID, "revenue-empty").text == "No rated usage yet this month."
    assert phone_browser.execute_script("return window.innerWidth") == PHONE_WIDTH
    assert phone_browser.execute_script("return document.documentElement.scrollWidth") <= PHONE_WIDTH
    assert_clean(phone_browser)
