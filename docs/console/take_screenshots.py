"""Screenshots of the console for the docs, on the demo's portfolio: ``meterbill demo --serve`` runs in a
process of its own (tests/e2e/served_demo.py; about as long as the demo itself), headless Chromium signs in
through the form with the admin key it prints and photographs every page in ``SHOTS`` (add a page there as
name, path, viewport, and when the page is ready), then SIGTERM stops the demo. It fails, naming them, when a
console GET page has no shot. ``--url URL --admin-key KEY`` photographs a demo already serving instead (a
template change, then the pages again, in seconds).

    PYTHONPATH=layers/common/python:collector:. .venv/bin/python docs/console/take_screenshots.py
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import requests

from tests.e2e.browser import DESKTOP, PHONE, Viewport, assert_clean, emulate, start_chromium
from tests.e2e.served_demo import served_demo
from tests.e2e.test_console_browser import wait_for

if TYPE_CHECKING:
    from selenium.webdriver.chrome.webdriver import WebDriver

HERE = Path(__file__).resolve().parent
MAX_HEIGHT = 2400  # CSS pixels: a longer page is cut there
# The colocation room's rack R01 opened down to its PDUs (racks, feeds and phases start closed).
OPEN_RACK = """
const rack = 'li[data-path="site/room:hall-1/rack:R01"]';
document.querySelectorAll(`${rack} > details, ${rack} details`).forEach((d) => { d.open = true; });
"""
NOVEMBER = "resolution=day&from=2026-11-01&to=2026-12-01"  # the demo's readings end on 1 December


@dataclass(frozen=True)
class Shot:
    """One screenshot: ``docs/console/<name>.png`` of the console's ``path`` (``{invoice}`` is the bakery's
    November invoice, the one a corrected reading re-rated into a credit note) in ``viewport``, taken when
    ``ready`` (a script) returns something true, after ``prepare`` (a script) ran; the page's whole height up
    to ``MAX_HEIGHT``."""

    name: str
    path: str
    viewport: Viewport
    ready: str = "return document.querySelector('main h1')"
    prepare: str = ""


TREE = "return document.getElementById('tree')"
CHART = "return document.querySelector('#chart canvas')"
# Every page of the console; a new page is one more line (the script fails naming the GET pages it misses).
SHOTS: tuple[Shot, ...] = (
    Shot("sign-in", "/sign-in", DESKTOP, "return document.getElementById('key')"),
    Shot("alarm-zone", "/", DESKTOP, "return document.getElementById('alarm-zone')"),
    Shot("alarm-zone-phone", "/", PHONE, "return document.getElementById('alarm-zone')"),
    Shot("sites", "/sites", DESKTOP, "return document.getElementById('sites')"),
    Shot("site", "/sites/colo-fra?month=2026-11", DESKTOP, TREE, OPEN_RACK),
    Shot("site-phone", "/sites/colo-fra?month=2026-11", PHONE, TREE, OPEN_RACK),
    Shot("meter", f"/meters/r02-b?{NOVEMBER}", DESKTOP, CHART),
    Shot("meter-phone", f"/meters/r02-b?{NOVEMBER}", PHONE, CHART),
    Shot("customers", "/customers", DESKTOP, "return document.getElementById('customers')"),
    Shot("customer", "/customers/law", DESKTOP, "return document.getElementById('running')"),
    Shot("invoices", "/invoices", DESKTOP, "return document.querySelector('tr[data-invoice]')"),
    Shot("invoice", "/invoices/{invoice}", DESKTOP, "return document.getElementById('invoice-total')"),
    Shot(
        "invoice-rerate",
        "/invoices/{invoice}/rerate",
        DESKTOP,
        "return document.getElementById('rerate-outcome')",
    ),
    Shot("invoice-adjust", "/invoices/{invoice}/adjust", DESKTOP),
    Shot("tariffs", "/tariffs", DESKTOP, "return document.getElementById('tariffs')"),
    Shot(
        "tariff",
        "/tariffs/office-power?customer_id=law&month=2026-11",
        DESKTOP,
        "return document.getElementById('preview')",
    ),
)


def photograph(driver: WebDriver, url: str, shot: Shot, target: Path) -> None:
    emulate(driver, shot.viewport)
    driver.get(url)
    wait_for(driver, shot.ready)
    if shot.prepare:
        driver.execute_script(shot.prepare)
    height = min(MAX_HEIGHT, int(driver.execute_script("return document.documentElement.scrollHeight")))
    emulate(driver, replace(shot.viewport, height=max(height, shot.viewport.height)))
    wait_for(driver, shot.ready)
    driver.save_screenshot(str(target))
    assert_clean(driver)


def unphotographed(ids: dict[str, str]) -> list[str]:
    """The console's GET pages (from the resolver's routes) that no shot shows: files are not pages."""
    from meterbill.api.app import create_app

    app = create_app()
    shown = [f"/console{shot.path.format(**ids)}".split("?")[0].rstrip("/") for shot in SHOTS]
    return [
        route.path
        for route in app._static_routes + app._dynamic_routes
        if route.method == "GET"
        and route.path.startswith("/console")
        and not any(part in route.path for part in ("/static/", "/pdf", "/export"))
        and not any(route.rule.match(path) for path in shown)
    ]


def the_ids(url: str, key: str) -> dict[str, str]:
    """The ids the shots' paths name: the bakery's November invoice (INV-000014)."""
    answer = requests.get(
        f"{url}/v1/invoices", params={"limit": "100"}, headers={"Authorization": f"Bearer {key}"}, timeout=30
    )
    answer.raise_for_status()
    invoice = next(
        item["id"]
        for item in answer.json()["items"]
        if item["customer_id"] == "baker"
        and item["kind"] == "invoice"
        and item["period_start"] == "2026-11-01"
    )
    return {"invoice": invoice}


def photograph_all(url: str, admin_key: str, workdir: Path) -> None:
    from selenium.webdriver.common.by import By

    ids = the_ids(url, admin_key)
    driver = start_chromium(workdir)
    try:
        emulate(driver, DESKTOP)
        driver.get(f"{url}/console/sign-in")
        driver.find_element(By.ID, "key").send_keys(admin_key)
        driver.find_element(By.CSS_SELECTOR, "form.sign-in button[type=submit]").click()
        wait_for(driver, "return document.getElementById('alarm-zone')")
        for shot in SHOTS:
            photograph(driver, f"{url}/console{shot.path.format(**ids)}", shot, HERE / f"{shot.name}.png")
            print(f"docs/console/{shot.name}.png  {shot.path}  {shot.viewport.width} px")
    finally:
        driver.quit()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="photograph a demo already serving there (http://127.0.0.1:8080)")
    parser.add_argument("--admin-key", help="with --url: the admin key it printed")
    arguments = parser.parse_args(argv)
    missing = unphotographed({"invoice": "inv"})
    if missing:
        raise SystemExit(
            "not photographed: " + ", ".join(f"GET {p}" for p in missing) + " (add them to SHOTS)"
        )
    with tempfile.TemporaryDirectory() as folder:
        if arguments.url:
            if not arguments.admin_key:
                raise SystemExit("--url needs --admin-key")
            photograph_all(arguments.url.rstrip("/"), arguments.admin_key, Path(folder))
            return
        with served_demo(Path(folder) / "demo-out") as demo:
            print(f"the demo serves at {demo.url}")
            photograph_all(demo.url, demo.admin_key, Path(folder))


if __name__ == "__main__":
    main()
