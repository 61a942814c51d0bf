"""The browser harness and the vendored libraries together, before any console page exists: a page served
under the console's strict CSP loads htmx and uPlot from /static/vendor/, draws a chart, swaps in a fragment
and fits a phone; and the harness fails a test on a CSP violation or a console error."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.e2e import browser as harness
from tests.e2e.browser import PHONE_WIDTH, BrowserProblems, assert_clean, problems, require_chromium

if TYPE_CHECKING:
    from selenium.webdriver.chrome.webdriver import WebDriver

STATIC = Path(__file__).resolve().parents[2] / "layers/common/python/meterbill/console/static"
PAGES = Path(__file__).resolve().parent / "browser_pages"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".md": "text/markdown; charset=utf-8",
}
FRAGMENT = '<p id="fragment">Swapped in by htmx: 12 readings</p>'


@dataclass
class Site:
    """meterbill/console/static/ at /static/, tests/e2e/browser_pages/ at /, and /fragment for htmx."""

    url: str
    fragment_requests: list[dict[str, str]] = field(default_factory=list)


def serve(site: Site) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/fragment":
                self.fragment_requests()
            elif self.path.startswith("/static/"):
                self.file(STATIC, self.path.removeprefix("/static/"))
            else:
                self.file(PAGES, self.path.removeprefix("/"))

        def fragment_requests(self) -> None:
            site.fragment_requests.append({"HX-Request": self.headers.get("HX-Request", "")})
            self.reply(200, ".html", FRAGMENT.encode())

        def file(self, root: Path, name: str) -> None:
            path = (root / name).resolve()
            if path.is_relative_to(root) and path.is_file():
                self.reply(200, path.suffix, path.read_bytes())
            else:
                self.reply(404, ".txt", b"not found")

        def reply(self, status: int, suffix: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", TYPES[suffix])
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Content-Security-Policy", CSP)
            self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    served = Site(url="")
    server = ThreadingHTTPServer(("127.0.0.1", 0), serve(served))
    served.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield served
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


# The chart's canvas pixels, counted once the known series (drawn in pure blue) shows: blue pixels prove uPlot
# drew the line, not just the axes.
CANVAS_PIXELS = """
const canvas = document.querySelector('#chart canvas');
if (!canvas) return null;
const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
let painted = 0, blue = 0;
for (let i = 0; i < pixels.length; i += 4) {
  if (pixels[i + 3] === 0) continue;
  painted += 1;
  if (pixels[i + 2] > 200 && pixels[i] < 60 && pixels[i + 1] < 60) blue += 1;
}
return blue > 0 ? {painted, blue, width: canvas.width, height: canvas.height} : null;
"""


def wait_for(driver: WebDriver, script: str, *, seconds: float = 10) -> Any:
    from selenium.webdriver.support.wait import WebDriverWait

    return WebDriverWait(driver, seconds, poll_frequency=0.05).until(lambda d: d.execute_script(script))


@pytest.mark.parametrize(
    ("screen", "width", "chart_width"),
    [
        # main: at most 60rem (960 px) wide, 1rem (16 px) padding each side.
        ("browser", 1280, 960),
        ("phone_browser", PHONE_WIDTH, PHONE_WIDTH - 2 * 16),
    ],
)
def test_the_vendored_htmx_and_uplot_work_under_the_strict_csp(
    request: pytest.FixtureRequest, site: Site, screen: str, width: int, chart_width: int
) -> None:
    from selenium.webdriver.common.by import By

    driver: WebDriver = request.getfixturevalue(screen)
    driver.get(f"{site.url}/harness.html")

    canvas = wait_for(driver, CANVAS_PIXELS)
    assert canvas["painted"] > 0 and canvas["blue"] > 0, canvas
    assert driver.execute_script("return document.querySelector('#chart .uplot').offsetWidth") == chart_width

    driver.find_element(By.ID, "load").click()
    wait_for(driver, "return document.getElementById('fragment')")
    assert driver.find_element(By.ID, "slot").text == "Swapped in by htmx: 12 readings"
    assert site.fragment_requests[-1] == {"HX-Request": "true"}

    assert driver.execute_script("return window.innerWidth") == width
    assert driver.execute_script("return document.documentElement.scrollWidth") <= width
    assert_clean(driver)


def test_an_inline_script_under_the_csp_fails_assert_clean(site: Site, browser: WebDriver) -> None:
    browser.get(f"{site.url}/inline.html")

    with pytest.raises(BrowserProblems) as caught:
        assert_clean(browser)

    assert f"CSP violation: script-src-elem blocked inline at {site.url}/inline.html" in str(caught.value)
    assert browser.title == "Untouched"
    assert problems(browser) == []  # reported once: the test's teardown check passes


def test_a_script_error_fails_assert_clean(site: Site, browser: WebDriver) -> None:
    browser.get(f"{site.url}/throws.html")

    with pytest.raises(BrowserProblems, match="harness: a script failed on purpose"):
        assert_clean(browser)


def test_without_chromium_the_browser_tests_skip_naming_the_packages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(harness, "CHROMEDRIVER", Path("/nonexistent/chromedriver"))

    with pytest.raises(pytest.skip.Exception) as skipped:
        require_chromium()

    assert "chromium and chromium-driver" in str(skipped.value)
    assert ".ci/run" in str(skipped.value)
