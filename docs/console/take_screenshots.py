"""Screenshots of the console for the docs, from the real code: the local platform on moto, an account with
three open alerts, two collectors (one offline, one with a failing meter) on a Berlin site, two customers'
running costs, headless Chromium signed in through the form; desktop and phone.

    PYTHONPATH=layers/common/python:collector:. .venv/bin/python docs/console/take_screenshots.py
"""

from __future__ import annotations

import logging
import os
import tempfile
import warnings
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from local.serve import LocalPlatform
from meterbill.alerts.communication import Heartbeat, MeterStatus
from meterbill.alerts.lifecycle import AlertBook
from meterbill.alerts.ports import CollectorHeartbeat
from meterbill.domain import Site
from meterbill.ports import RunningCost
from meterbill.services import catalog
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
        store = alert_store(platform)
        store.save_book(account, AlertBook(account, tuple(alerts)), alerts, [])
        catalog.create(
            account,
            Site,
            {"id": "office", "name": "Office", "timezone": "Europe/Berlin"},
            platform.stores.catalog,
        )
        now = datetime.now(UTC).replace(microsecond=0)
        failing = (MeterStatus("office-water", now - timedelta(hours=3), "Modbus timeout (unit 4)"),)
        for collector_id, seen, meters in (
            ("gw-basement", now, failing),
            ("gw-roof", now - timedelta(hours=2), ()),
        ):
            beat = Heartbeat(collector_id, seen, meters, "office", ())
            store.put_heartbeat(account, CollectorHeartbeat(beat, version="1.4.2", spool_depth=0))
        metering = platform.stores.metering
        assert metering is not None
        today = now.date()
        for customer_id, cost in (("tenant-a", "412.37"), ("tenant-b", "96.05")):
            metering.put_running_cost(
                account,
                RunningCost(
                    customer_id,
                    today.replace(day=1),
                    today + timedelta(days=31),
                    today,
                    "EUR",
                    (),
                    Decimal(cost),
                    Decimal(cost) * 2,
                    now,
                ),
            )
        driver = start_chromium(Path(folder))
        try:
            driver.get(f"{platform.url}/console/sign-in")
            driver.save_screenshot(str(HERE / "sign-in.png"))
            driver.find_element(By.ID, "key").send_keys(keys.admin_key)
            driver.find_element(By.CSS_SELECTOR, "form.sign-in button[type=submit]").click()
            wait_for(driver, "return document.getElementById('alarm-zone')")
            driver.set_window_size(1280, 1400)
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
