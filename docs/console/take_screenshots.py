"""Screenshots of the console for the docs, from the real code: the local platform on moto, an office building
in Berlin seeded as an operator would have it (a main meter over three tenants' sub-meters, the kitchen and a
supply riser; a tariff with a fixed charge and VAT; three customers with addresses; hourly readings from the
first of last month to now, the main meter six hours quiet), last month billed through the deployed
schedules (rating pass, bill run, invoice worker, email worker: issued, stored and emailed invoices), this
month rated so far, three open alerts on the building's meters and two collectors (one offline, one with a
failing meter). Headless Chromium signs in through the form and photographs every page in ``SHOTS``: add a
page there as (name, path, viewport).

    PYTHONPATH=layers/common/python:collector:. .venv/bin/python docs/console/take_screenshots.py
"""

from __future__ import annotations

import logging
import math
import os
import random
import tempfile
import warnings
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from local.demo import SETTINGS
from local.mail import drain_email_queue
from local.schedules import drain_invoice_queue, fire
from local.serve import LocalPlatform
from meterbill.alerts.communication import Heartbeat, MeterStatus
from meterbill.alerts.lifecycle import AlertBook
from meterbill.alerts.model import Subject
from meterbill.alerts.ports import CollectorHeartbeat
from meterbill.domain import Assignment, Customer, Meter, Site
from meterbill.ports import RawReading
from meterbill.services import billing_settings, catalog
from tests.e2e.browser import DESKTOP, PHONE, Viewport, assert_clean, emulate, start_chromium
from tests.e2e.test_console_browser import alert_store, firing, wait_for

if TYPE_CHECKING:
    from selenium.webdriver.chrome.webdriver import WebDriver

HERE = Path(__file__).resolve().parent
BERLIN = ZoneInfo("Europe/Berlin")
SITE = "office"
MAX_HEIGHT = 2400  # CSS pixels: a longer page is cut there


@dataclass(frozen=True)
class Shot:
    """One screenshot: ``docs/console/<name>.png`` of the console's ``path`` (``{invoice}`` is the seeded
    issued invoice's id) in ``viewport``, taken when ``ready`` (a script) returns something true; the page's
    whole height up to ``MAX_HEIGHT``."""

    name: str
    path: str
    viewport: Viewport
    ready: str = "return document.querySelector('main h1')"


# Every page of the console; a new page is one more line (the script names the GET pages it misses).
SHOTS: tuple[Shot, ...] = (
    Shot("sign-in", "/sign-in", DESKTOP, "return document.getElementById('key')"),
    Shot("alarm-zone", "/", DESKTOP, "return document.getElementById('alarm-zone')"),
    Shot("alarm-zone-phone", "/", PHONE, "return document.getElementById('alarm-zone')"),
    Shot("meter", "/meters/office-main", DESKTOP, "return document.querySelector('#chart canvas')"),
    Shot("customers", "/customers", DESKTOP, "return document.getElementById('customers')"),
    Shot("customer", "/customers/tenant-adler", DESKTOP, "return document.getElementById('running')"),
    Shot("invoices", "/invoices", DESKTOP, "return document.querySelector('tr[data-invoice]')"),
    Shot("invoice", "/invoices/{invoice}", DESKTOP, "return document.getElementById('invoice-total')"),
)

# --- the seeded building ------------------------------------------------------------------------------------

# (id, kind, parent, labels, utility, unit, average kW (or m³/h) in office hours, at night)
METERS: tuple[tuple[str, str, str | None, dict[str, str], str, str, float, float], ...] = (
    ("office-main", "main", None, {"room": "Basement", "feed": "Grid"}, "electricity", "kWh", 0, 0),
    ("tenant-adler", "sub", "office-main", {"room": "Ground floor"}, "electricity", "kWh", 9.0, 2.5),
    ("tenant-berg", "sub", "office-main", {"room": "1st floor"}, "electricity", "kWh", 4.2, 0.6),
    ("tenant-calin", "sub", "office-main", {"room": "2nd floor"}, "electricity", "kWh", 2.8, 0.3),
    ("office-kitchen", "sub", "office-main", {"room": "Kitchen"}, "electricity", "kWh", 1.6, 0.2),
    ("office-supply", "sub", "office-main", {"room": "Riser"}, "electricity", "kWh", 1.1, 0.8),
)
CUSTOMERS: tuple[tuple[str, str, str, str], ...] = (
    ("tenant-adler", "Bäckerei Adler GmbH", "tenant-adler", "Torstr. 12"),
    ("tenant-berg", "Kanzlei Berg & Partner", "tenant-berg", "Torstr. 12, 1. OG"),
    ("tenant-calin", "Studio Călin Design", "tenant-calin", "Torstr. 12, 2. OG"),
)
TARIFF = {
    "id": "office-power",
    "name": "Office power 2026",
    "currency": "EUR",
    "fixed": [{"description": "Metering service", "amount": "9.50"}],
    "energy": {"periods": [{"name": "all", "tiers": [{"rate": "0.2870"}]}]},
    "taxes": [{"name": "VAT", "percent": 19}],
}


def hourly_use(rng: random.Random, at: datetime, day_kw: float, night_kw: float) -> Decimal:
    """A working building: office hours on weekdays, a ramp in the morning and evening, a little noise."""
    local = at.astimezone(BERLIN)
    working = local.weekday() < 5
    hour = local.hour + 0.5
    ramp = max(0.0, math.sin(math.pi * (hour - 6) / 13)) if working and 6 <= hour <= 19 else 0.0
    kw = night_kw + (day_kw - night_kw) * ramp
    return Decimal(str(round(kw * rng.uniform(0.9, 1.1), 3)))


def seed_building(platform: LocalPlatform, account: str, now: datetime) -> str:
    """The office building, its readings from the first of last month to now, last month billed and this
    month rated; the id of an issued invoice."""
    store = platform.stores.catalog
    first = now.astimezone(BERLIN).date().replace(day=1)
    last_first = (first - timedelta(days=1)).replace(day=1)
    address = {"lines": ["Torstr. 12"], "postal_code": "10119", "city": "Berlin", "country": "DE"}
    site = {"id": SITE, "name": "Torstraße 12", "timezone": "Europe/Berlin", "address": address}
    catalog.create(account, Site, site, store)
    for meter_id, kind, parent, labels, utility, unit, _, _ in METERS:
        body: dict[str, Any] = {
            "id": meter_id,
            "site_id": SITE,
            "utility": utility,
            "unit": unit,
            "kind": kind,
            "interval_minutes": 60,
            "labels": labels,
        }
        if parent is not None:
            body["parent_id"] = parent
        catalog.create(account, Meter, body, store)
    catalog.create_tariff(account, {**TARIFF, "effective_from": last_first.isoformat()}, store)
    for customer_id, name, meter_id, street in CUSTOMERS:
        where = {**address, "lines": [street]}
        emails = [f"buchhaltung@{customer_id.removeprefix('tenant-')}.example"]
        catalog.create(
            account, Customer, {"id": customer_id, "name": name, "address": where, "emails": emails}, store
        )
        assignment = {
            "id": f"as-{customer_id}",
            "meter_id": meter_id,
            "customer_id": customer_id,
            "tariff_id": TARIFF["id"],
            "effective_from": last_first.isoformat(),
        }
        catalog.create(account, Assignment, assignment, store)
    billing_settings.replace(account, SETTINGS, platform.stores.accounts, now, if_match=None)

    rng = random.Random(13)
    start = datetime.combine(last_first, datetime.min.time(), BERLIN).astimezone(UTC)
    hours = [start + timedelta(hours=n) for n in range(int((now - start) / timedelta(hours=1)))]
    gap = {at for at in hours if now - timedelta(days=9, hours=6) <= at < now - timedelta(days=9)}
    readings: list[RawReading] = []
    mains: dict[datetime, Decimal] = {}
    for meter_id, kind, _, _, _, _, day_kw, night_kw in METERS:
        if kind == "main":
            continue
        for at in hours:
            used = hourly_use(rng, at, day_kw, night_kw)
            mains[at] = mains.get(at, Decimal(0)) + used
            readings.append(RawReading(meter_id, at, used, "interval", 60))
    # The main meter sees the sub-meters and the common areas' lighting; its collector lost six hours.
    readings += [
        RawReading("office-main", at, mains[at] + Decimal("1.800"), "interval", 60)
        for at in hours
        if at not in gap
    ]
    # Last month's readings, its bill run (bill day 1, two grace days), then this month's and its rating.
    this_month = datetime.combine(first, datetime.min.time(), BERLIN)
    platform.stores.readings.put_new(account, [r for r in readings if r.timestamp < this_month])
    fire("rate", this_month + timedelta(minutes=30))
    fire("invoice", this_month + timedelta(days=2, hours=1))
    if drain_invoice_queue()[1]:
        raise SystemExit("the invoice worker failed: see the log above")
    assert platform.mailer is not None
    drain_email_queue(platform.mailer)  # the invoices are emailed (as .eml into the platform's mail folder)
    platform.stores.readings.put_new(account, [r for r in readings if r.timestamp >= this_month])
    fire("rate", now)
    issued = [r for r in platform.stores.invoices.list(account, limit=100).items if r.document is not None]
    if not issued:
        raise SystemExit("last month's bill run issued no invoice with a stored PDF")
    return next(r.invoice_id for r in issued if r.customer_id == "tenant-adler")


def seed_alerts(platform: LocalPlatform, account: str, now: datetime) -> None:
    """Three open alerts on the building's meters (its clock: CET), two collectors."""
    alerts = [
        firing(account, 1, "abnormal_usage", "info", "office-kitchen", "office-kitchen used 3× its baseline"),
        firing(account, 2, "energy_evasion", "warning", "office-main", "18.8 kWh unmetered (32 %)"),
        firing(account, 3, "communication", "critical", "office-main", "office-main stopped reporting"),
    ]
    alerts = [replace(a, subject=Subject(a.subject.kind, a.subject.id, SITE)) for a in alerts]
    store = alert_store(platform)
    store.save_book(account, AlertBook(account, tuple(alerts)), alerts, [])
    basement = (
        MeterStatus("office-main", now - timedelta(hours=3), "Modbus timeout (unit 4)"),
        *(MeterStatus(m, now) for m in ("tenant-adler", "office-kitchen", "office-supply")),
    )
    roof = tuple(MeterStatus(m, now - timedelta(hours=2)) for m in ("tenant-berg", "tenant-calin"))
    for collector_id, seen, meters in (
        ("gw-basement", now, basement),
        ("gw-roof", now - timedelta(hours=2), roof),
    ):
        beat = Heartbeat(collector_id, seen, meters, SITE, ())
        store.put_heartbeat(account, CollectorHeartbeat(beat, version="1.4.2", spool_depth=0))


# --- the photographs ----------------------------------------------------------------------------------------


def photograph(driver: WebDriver, url: str, shot: Shot, target: Path) -> None:
    emulate(driver, shot.viewport)
    driver.get(url)
    wait_for(driver, shot.ready)
    height = min(MAX_HEIGHT, int(driver.execute_script("return document.documentElement.scrollHeight")))
    emulate(driver, replace(shot.viewport, height=max(height, shot.viewport.height)))
    wait_for(driver, shot.ready)
    driver.save_screenshot(str(target))
    assert_clean(driver)


def unphotographed(ids: dict[str, str]) -> list[str]:
    """The console's GET pages (from the resolver's routes) that no shot shows: files are not pages."""
    from meterbill.api.app import create_app

    app = create_app()
    shown = [f"/console{shot.path.format(**ids)}".rstrip("/") for shot in SHOTS]
    return [
        route.path
        for route in app._static_routes + app._dynamic_routes
        if route.method == "GET"
        and route.path.startswith("/console")
        and not any(part in route.path for part in ("/static/", "/pdf", "/export"))
        and not any(route.rule.match(path) for path in shown)
    ]


def main() -> None:
    from selenium.webdriver.common.by import By

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    warnings.filterwarnings("ignore", message="No application metrics")
    with tempfile.TemporaryDirectory() as folder, LocalPlatform(mail_dir=Path(folder) / "mail") as platform:
        keys = platform.create_account("Hausverwaltung Gartenstraße")
        account = keys.account_id
        now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        ids = {"invoice": seed_building(platform, account, now)}
        seed_alerts(platform, account, now)
        driver = start_chromium(Path(folder))
        try:
            emulate(driver, DESKTOP)
            driver.get(f"{platform.url}/console/sign-in")
            driver.find_element(By.ID, "key").send_keys(keys.admin_key)
            driver.find_element(By.CSS_SELECTOR, "form.sign-in button[type=submit]").click()
            wait_for(driver, "return document.getElementById('alarm-zone')")
            for shot in SHOTS:
                url = f"{platform.url}/console{shot.path.format(**ids)}"
                photograph(driver, url, shot, HERE / f"{shot.name}.png")
                print(f"docs/console/{shot.name}.png  {shot.path}  {shot.viewport.width} px")
        finally:
            driver.quit()
        for path in unphotographed(ids):
            print(f"not photographed: GET {path} (add it to SHOTS)")


if __name__ == "__main__":
    main()
