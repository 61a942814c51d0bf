"""A real browser for the console's tests: Debian's headless Chromium driven by selenium through Debian's
chromedriver (no browser download, no network), one browser per test module.

- ``browser``: the selenium ``WebDriver`` on a fresh page (about:blank, no cookies) at a desktop size;
  ``phone_browser``: the same, emulating a 390 px wide phone (a mobile viewport: a page without
  ``<meta name="viewport">`` lays out 980 px wide there, as on a real phone).
- Every console error (``goog:loggingPrefs`` browser log, level SEVERE: uncaught exceptions,
  ``console.error``, failed loads, CSP refusals) and every CSP violation (a ``securitypolicyviolation``
  listener injected into each document through CDP before the page's own scripts) fails the test:
  ``assert_clean(driver)`` raises ``BrowserProblems`` naming them, and runs by itself when the test ends.
  A problem is reported once.
- Without /usr/bin/chromium or /usr/bin/chromedriver the tests skip, naming the Debian packages and
  ``.ci/run``.

Registered for every e2e test by ``tests/e2e/conftest.py``.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from selenium.webdriver.chrome.webdriver import WebDriver

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
MISSING = (
    "headless Chromium is not installed: the browser tests need Debian's packages chromium and "
    "chromium-driver (/usr/bin/chromium, /usr/bin/chromedriver); `apt-get install chromium chromium-driver`, "
    "or run .ci/run, which installs them"
)
# Without the networking flags Chromium keeps trying hosts this machine cannot reach (toolchain notes).
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)


@dataclass(frozen=True)
class Viewport:
    width: int
    height: int
    scale: float = 1
    mobile: bool = False


DESKTOP = Viewport(1280, 800)
PHONE_WIDTH = 390
PHONE = Viewport(PHONE_WIDTH, 844, scale=3, mobile=True)

# Runs in every new document before its own scripts; CDP injects it, so the page's CSP does not apply to it.
WATCH_CSP = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__cspViolations.push(
    `${e.effectiveDirective} blocked ${e.blockedURI || '(inline)'} at ${e.sourceFile || e.documentURI}` +
    `:${e.lineNumber}` + (e.sample ? ` (${e.sample})` : ''));
});
"""
# Waits one task so violation events already queued are delivered, then hands over and forgets them.
TAKE_CSP = """
const done = arguments[arguments.length - 1];
setTimeout(() => {
  const seen = window.__cspViolations || [];
  window.__cspViolations = [];
  done(seen);
}, 0);
"""


class BrowserProblems(AssertionError):
    """Console errors or CSP violations in the browser."""


def problems(driver: WebDriver) -> list[str]:
    """The console errors and CSP violations since the last call (each is reported once)."""
    violations: list[str] = driver.execute_async_script(TAKE_CSP) or []
    logged: list[dict[str, Any]] = driver.get_log("browser")  # type: ignore[no-untyped-call]
    errors = [
        f"console {entry['source']}: {entry['message']}" for entry in logged if entry["level"] == "SEVERE"
    ]
    return [f"CSP violation: {violation}" for violation in violations] + errors


def assert_clean(driver: WebDriver) -> None:
    """Fail when the browser logged a console error or saw a CSP violation since the last check."""
    found = problems(driver)
    if found:
        raise BrowserProblems(f"{len(found)} browser problem(s):\n" + "\n".join(found))


def emulate(driver: WebDriver, viewport: Viewport) -> None:
    """Lay pages out in ``viewport`` (CSS pixels), from now on."""
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {
            "width": viewport.width,
            "height": viewport.height,
            "deviceScaleFactor": viewport.scale,
            "mobile": viewport.mobile,
        },
    )


def require_chromium() -> None:
    """Skip the test when Debian's Chromium or its driver is missing, or selenium is not installed."""
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.skip(MISSING)
    pytest.importorskip("selenium", reason="selenium is in the dev extra: pip install -e '.[dev]'")


def start_chromium(workdir: Path) -> WebDriver:
    """Chromium with a fresh profile in ``workdir``, and chromedriver's log beside it."""
    from selenium.webdriver import ChromeOptions
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.chrome.webdriver import WebDriver

    options = ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={workdir / 'profile'}")
    options.add_argument(f"--window-size={DESKTOP.width},{DESKTOP.height}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=str(CHROMEDRIVER), log_output=str(workdir / "chromedriver.log"))
    try:
        driver = WebDriver(options=options, service=service)
    except Exception as failed:
        log = workdir / "chromedriver.log"
        said = log.read_text(errors="replace")[-2000:] if log.exists() else "(no log)"
        raise RuntimeError(f"headless Chromium did not start; chromedriver's log ends:\n{said}") from failed
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": WATCH_CSP})
    return driver


@pytest.fixture(scope="module")
def chromium() -> Iterator[WebDriver]:
    """One headless Chromium for the test module; tests take it through ``browser`` or ``phone_browser``."""
    require_chromium()
    workdir = Path(tempfile.mkdtemp(prefix="meterbill-chromium-"))
    try:
        driver = start_chromium(workdir)
        try:
            yield driver
        finally:
            driver.quit()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def fresh_page(driver: WebDriver, viewport: Viewport) -> Iterator[WebDriver]:
    driver.get("about:blank")
    driver.execute_cdp_cmd("Network.clearBrowserCookies", {})
    emulate(driver, viewport)
    problems(driver)  # what an earlier test left behind was reported there
    yield driver
    assert_clean(driver)


@pytest.fixture
def browser(chromium: WebDriver) -> Iterator[WebDriver]:
    """The module's Chromium on a blank page at a desktop size; fails the test on console errors or CSP
    violations not already reported by ``assert_clean``."""
    yield from fresh_page(chromium, DESKTOP)


@pytest.fixture
def phone_browser(chromium: WebDriver) -> Iterator[WebDriver]:
    """As ``browser``, on a phone 390 CSS pixels wide."""
    yield from fresh_page(chromium, PHONE)
