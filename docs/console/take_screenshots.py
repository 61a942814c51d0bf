"""Screenshots of the console for the docs, from the real code: the local platform on moto, an account with
three open alerts, headless Chromium signed in through the form; desktop and phone.

    PYTHONPATH=layers/common/python:collector:. .venv/bin/python docs/console/take_screenshots.py
"""

from __future__ import annotations

import logging
import os
import tempfile
import warnings
from pathlib import Path

from local.serve import LocalPlatform
from meterbill.alerts.lifecycle import AlertBook
from tests.e2e.browser import DESKTOP, PHONE, assert_clean, emulate, start_chromium
from tests.e2e.test_console_browser import alert_store, firing, wait_for

HERE = Path(__file__).resolve().parent


def main() -> None:
    from selenium.webdriver.common.by import By

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    warnings.filterwarnings("ignore", message="No application metrics")
    with LocalPlatform() as platform, tempfile.TemporaryDirectory() as folder:
        keys = platform.create_account("Screenshots")
        account = keys.account_id
        alerts = [
            firing(
                account, 1, "abnormal_usage", "info", "office-kitchen", "office-kitchen used 3× its baseline"
            ),
            firing(account, 2, "energy_evasion", "warning", "office-supply", "18.8 kWh unmetered (32 %)"),
            firing(account, 3, "communication", "critical", "office-water", "office-water stopped reporting"),
        ]
        alert_store(platform).save_book(account, AlertBook(account, tuple(alerts)), alerts, [])
        driver = start_chromium(Path(folder))
        try:
            driver.get(f"{platform.url}/console/sign-in")
            driver.save_screenshot(str(HERE / "sign-in.png"))
            driver.find_element(By.ID, "key").send_keys(keys.admin_key)
            driver.find_element(By.CSS_SELECTOR, "form.sign-in button[type=submit]").click()
            wait_for(driver, "return document.getElementById('alarm-zone')")
            driver.save_screenshot(str(HERE / "alarm-zone.png"))
            emulate(driver, PHONE)
            driver.get(f"{platform.url}/console/")
            driver.save_screenshot(str(HERE / "alarm-zone-phone.png"))
            emulate(driver, DESKTOP)
            assert_clean(driver)
        finally:
            driver.quit()


if __name__ == "__main__":
    main()
