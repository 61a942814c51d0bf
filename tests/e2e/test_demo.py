"""`make demo` (`meterbill demo`): the demo portfolio (local/portfolio.py) set up through the API, its two
months of readings (local/portfolio_history.py) with four faults, the schedules on a test clock, and what the
platform did: every invoice with its number and total, a corrected reading's credit note, the emails in
``--out``/mail, exactly the four alerts, the savings report, a collector on simulated Modbus meters. Then,
with ``--serve``, the console on the demo's data in headless Chromium: the operator's journey.

The demo runs once for the module, in a process of its own (tests/e2e/served_demo.py): its output up to the
serve banner is what the summary tests read; the banner gives the URL and the keys; SIGTERM at the end must
stop it with exit code 0 and nothing of it left running.
"""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import requests

from tests.e2e.browser import PHONE, PHONE_WIDTH, assert_clean, emulate
from tests.e2e.served_demo import ServedDemo, served_demo

if TYPE_CHECKING:
    from selenium.webdriver.chrome.webdriver import WebDriver


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedDemo]:
    """The demo, once for the module, with ``--serve`` (tests/e2e/served_demo.py): stopped by SIGTERM at
    the end, exit code 0, nothing of it left running."""
    with served_demo(tmp_path_factory.mktemp("demo-out")) as demo:
        yield demo


@pytest.fixture(scope="module")
def demo(served: ServedDemo) -> tuple[list[str], Path]:
    return served.lines, served.out / "mail"


def test_the_story_runs_on_the_test_clock(demo: tuple[list[str], Path]) -> None:
    lines, _ = demo
    # Bill day 1, 2 grace days: October is numbered on 3 November, all 11 customers, and emailed.
    assert "01 Nov 00:30  rating pass: 25 meters, 794 days validated and rolled up" in lines
    assert "03 Nov 00:30  bill run: 11 sent, 11 done; 0 drafts, 11 issued so far; 11 emails sent" in lines
    assert (
        "16 Nov 10:00  exchange recorded: PDU r02-b swapped, the old register's final read 19200.733 kWh, "
        "the new one starts at 0.021 kWh" in lines
    )
    # The studio moved out on 16 November: its final invoice (1-15 November) is past its grace days on the
    # 1st and issued at once; the other ten are drafted, then issued on the 3rd.
    assert "01 Dec 00:30  bill run: 11 sent, 11 done; 10 drafts, 12 issued so far; 1 emails sent" in lines
    assert "03 Dec 00:30  bill run: 10 sent, 10 done; 0 drafts, 22 issued so far; 10 emails sent" in lines


# number, customer, period, total EUR, shared parts EUR (net of VAT), estimated usage (empty cells left out)
INVOICES = [
    ["INV-000001", "atelier", "01.10.-31.10.2026", "448.47", "56.73", "delivered"],
    ["INV-000002", "baker", "01.10.-31.10.2026", "3595.77", "113.46", "delivered"],
    ["INV-000003", "berger", "01.10.-31.10.2026", "137.11", "delivered"],
    ["INV-000004", "helix", "01.10.-31.10.2026", "1097.48", "delivered"],
    ["INV-000005", "law", "01.10.-31.10.2026", "1273.77", "198.57", "delivered"],
    ["INV-000006", "nordwind", "01.10.-31.10.2026", "1316.79", "delivered"],
    ["INV-000007", "pixelwerk", "01.10.-31.10.2026", "845.26", "delivered"],
    ["INV-000008", "practice", "01.10.-31.10.2026", "621.61", "141.84", "delivered"],
    ["INV-000009", "rechenwerk", "01.10.-31.10.2026", "54.17", "delivered"],
    ["INV-000010", "studio", "01.10.-31.10.2026", "533.85", "56.73", "delivered"],
    ["INV-000011", "sued", "01.10.-31.10.2026", "174.93", "delivered"],
    # November: the studio's last days, then the bill day's run; the atelier's quiet day is estimated (its
    # own 96 quarter hours, and the common area's share of it), the gas register's restart hour too.
    ["INV-000012", "studio", "01.11.-15.11.2026", "246.53", "26.56", "1.733 kWh", "delivered"],
    ["INV-000013", "atelier", "01.11.-30.11.2026", "431.60", "62.78", "40.785 kWh", "delivered"],
    ["INV-000014", "baker", "01.11.-30.11.2026", "3437.60", "125.54", "0.593 m3, 3.466 kWh", "delivered"],
    ["INV-000015", "berger", "01.11.-30.11.2026", "133.80", "delivered"],
    ["INV-000016", "helix", "01.11.-30.11.2026", "1065.69", "delivered"],
    ["INV-000017", "law", "01.11.-30.11.2026", "1254.25", "219.70", "6.0655 kWh", "delivered"],
    ["INV-000018", "nordwind", "01.11.-30.11.2026", "1278.04", "delivered"],
    ["INV-000019", "pixelwerk", "01.11.-30.11.2026", "818.83", "delivered"],
    ["INV-000020", "practice", "01.11.-30.11.2026", "623.00", "156.94", "4.3325 kWh", "delivered"],
    ["INV-000021", "rechenwerk", "01.11.-30.11.2026", "52.71", "delivered"],
    ["INV-000022", "sued", "01.11.-30.11.2026", "174.93", "delivered"],
    # The bakery's corrected reading: 1 kWh less of its own, so 1 kWh more of the common area.
    ["CN-000001", "baker", "01.11.-30.11.2026", "-0.22", "0.03", "delivered"],
]


def test_every_invoice_is_numbered_with_its_total(demo: tuple[list[str], Path]) -> None:
    lines, _ = demo
    assert _table(lines, "Invoices and credit notes") == INVOICES
    summary = next(line for line in lines if line.startswith("23 documents"))
    assert summary.startswith("23 documents, 19615.97 EUR in all. Shared parts: the common area")


def test_a_corrected_reading_after_the_bill_becomes_a_credit_note(demo: tuple[list[str], Path]) -> None:
    lines, _ = demo
    assert (
        "03 Dec 10:00  corrected reading shop-baker 27 Nov 05:00: 3.982 kWh, not 4.982 (1 replaced)" in lines
    )


def test_exactly_the_four_injected_faults_raise_alerts(demo: tuple[list[str], Path]) -> None:
    lines, _ = demo
    assert _table(lines, "Alerts raised") == [
        ["communication", "atelier", "office-berlin", "warning", "resolved", "12 Nov 12:15"],
        ["negative_consumption", "office-gas", "office-berlin", "warning", "firing", "19 Nov 01:00"],
        ["abnormal_usage", "practice", "office-berlin", "warning", "resolved", "21 Nov 01:00"],
        ["energy_evasion", "office-main", "office-berlin", "warning", "firing", "25 Nov 01:00"],
    ]
    assert "exactly the 4 injected faults raised alerts, nothing else" in lines


def test_the_emails_are_in_the_mail_folder(demo: tuple[list[str], Path]) -> None:
    _, mail_dir = demo
    messages = [
        (path.name, email.message_from_bytes(path.read_bytes(), policy=email.policy.default))
        for path in sorted(mail_dir.glob("*.eml"))
    ]
    documents = sorted(str(m["Subject"]).split(" – ")[0] for name, m in messages if "-alert-" not in name)
    # German but for Rechenwerk AI (English); one email per document, to the customer's address.
    assert documents == [
        "Gutschrift CN-000001",
        *(f"Invoice INV-{n:06d}" for n in (9, 21)),
        *(f"Rechnung INV-{n:06d}" for n in range(1, 23) if n not in (9, 21)),
    ]
    alerts = [(m["To"], str(m["Subject"])) for name, m in messages if "-alert-" in name]
    to = "leitstand@hv-colo.example"
    assert alerts == [
        (to, "[warning] meterbill: communication firing for meter atelier at site office-berlin"),
        (to, "[warning] meterbill: 2 alerts at site office-berlin (1 firing, 1 resolved)"),
        (to, "[warning] meterbill: 2 alerts at site office-berlin (1 firing, 1 reminder)"),
        (to, "[warning] meterbill: 3 alerts at site office-berlin (1 firing, 1 reminder, 1 resolved)"),
    ]


def test_the_collector_delivers_what_it_read(demo: tuple[list[str], Path]) -> None:
    """The machine park's plant meters (local/demo_collector.py): constant loads of 12 kW, 4 kW,
    400 pulses/h x 0.01 m³ and the PDU's outlets, read at four quarter hours; the gas meter silent at the
    last."""
    lines, _ = demo
    rows = [row[1:] for row in _table(lines, "Polled on the quarter hours")]  # without the wall-clock time
    assert rows == [
        ["18250.5", "5120.25", "1234.00", "842.125", "611.5"],
        ["18253.5", "5121.25", "1235.00", "842.287", "611.6"],  # + 12 kW x 0.25 h = 3 kWh; + 4 x 0.25 = 1
        ["18256.5", "5122.25", "1236.00", "842.449", "611.7"],
        ["18259.5", "5123.25", "-", "842.611", "611.801"],
    ]
    assert "pushed 19 readings: 19 stored by the API" in lines
    assert "heartbeat: werk-gas: timeout after 0.5 s (1 attempt)" in lines
    assert "stored: werk-main 4, werk-line-1 4, werk-gas 3, werk-it-1 4, werk-it-2 4" in lines


# The alarm zone's rows; the page promises firing before pending, then critical > warning > info, then the
# oldest first (meterbill.console.pages.alarm_zone); resolved alerts are not open and not shown.
ROWS = "return [...document.querySelectorAll('#alarm-zone > li')].map(li => li.dataset.alertId)"


def test_the_operators_journey_through_the_console_on_the_demos_data(
    served: ServedDemo, browser: WebDriver
) -> None:
    """Sign in with the printed admin key, the alarm zone, acknowledge, the colocation room's tree, a PDU's
    chart, an invoice's PDF, a phone, sign out; no CSP violation or console error on the way."""
    from selenium.webdriver.common.by import By

    from tests.e2e.test_console_browser import wait_for
    from tests.e2e.test_console_invoices_browser import FETCH_PDF
    from tests.e2e.test_console_meter_browser import CANVAS_PIXELS

    url, console = served.url, f"{served.url}/console"
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {served.admin_key}"

    def get(path: str) -> Any:
        answer = api.get(f"{url}{path}", timeout=30)
        assert answer.status_code == 200, answer.text
        return answer.json()

    alerts = {(a["kind"], a["subject"]["id"]): a for a in get("/v1/alerts")["items"]}
    assert {key: a["state"] for key, a in alerts.items()} == {
        ("communication", "atelier"): "resolved",
        ("negative_consumption", "office-gas"): "firing",
        ("abnormal_usage", "practice"): "resolved",
        ("energy_evasion", "office-main"): "firing",
    }
    gas, evasion = alerts["negative_consumption", "office-gas"], alerts["energy_evasion", "office-main"]

    browser.get(f"{console}/")
    assert browser.current_url == f"{console}/sign-in"
    browser.find_element(By.ID, "key").send_keys(served.admin_key)
    browser.find_element(By.CSS_SELECTOR, "form.sign-in button[type=submit]").click()
    wait_for(browser, "return document.getElementById('alarm-zone')")
    assert browser.current_url == f"{console}/"
    # Both open alerts are firing warnings: the older first (19 Nov, then 25 Nov); the resolved two are gone.
    assert browser.find_element(By.ID, "alarm-zone-title").text == "Open alerts (2)"
    assert browser.execute_script(ROWS) == [gas["id"], evasion["id"]]
    rows = browser.find_elements(By.CSS_SELECTOR, "#alarm-zone > li")
    assert [
        [row.find_element(By.CLASS_NAME, name).text for name in ("severity", "state", "subject")]
        for row in rows
    ] == [["WARNING", "firing", "meter office-gas"], ["WARNING", "firing", "meter office-main"]]
    # evasion is shown in red whatever its severity
    assert ["flagged" in (row.get_attribute("class") or "") for row in rows] == [False, True]
    assert_clean(browser)

    rows[1].find_element(By.CSS_SELECTOR, "form.ack button").click()
    wait_for(browser, f"return document.querySelector('#alert-{evasion['id']} .acknowledged')")
    row = browser.find_element(By.ID, f"alert-{evasion['id']}")
    assert row.find_element(By.CLASS_NAME, "acknowledged").text.startswith("Acknowledged ")
    assert row.find_elements(By.CSS_SELECTOR, "form.ack") == []
    assert browser.current_url == f"{console}/"  # swapped in place
    acknowledged = get(f"/v1/alerts/{evasion['id']}")
    assert acknowledged["acknowledged_at"] is not None and acknowledged["acknowledged_by"] is not None
    assert acknowledged["state"] == "firing"
    assert get(f"/v1/alerts/{gas['id']}")["acknowledged_at"] is None
    assert_clean(browser)

    # The colocation room: rack R01 opened down to its A feed's PDU, and the PDU's chart.
    browser.find_element(By.LINK_TEXT, "Sites").click()
    wait_for(browser, "return document.getElementById('sites')")
    browser.find_element(By.LINK_TEXT, "Rechenzentrum Frankfurt, Halle 1").click()
    wait_for(browser, "return document.getElementById('tree')")
    assert browser.current_url == f"{console}/sites/colo-fra"
    rack = 'li[data-path="site/room:hall-1/rack:R01"]'
    for path in (rack, f'{rack[:-2]}/feed:A"]', f'{rack[:-2]}/feed:A/phase:L1"]'):
        browser.find_element(By.CSS_SELECTOR, f"{path} > details > summary").click()
    device = browser.find_element(By.CSS_SELECTOR, f'{rack} a[href$="/console/meters/r01-a"]')
    assert device.is_displayed()
    assert_clean(browser)
    device.click()
    wait_for(browser, "return document.title.startsWith('Meter r01-a')")
    # November by day: the demo's readings end on 1 December whatever today is
    browser.get(f"{console}/meters/r01-a?resolution=day&from=2026-11-01&to=2026-12-01")
    painted = wait_for(browser, CANVAS_PIXELS)
    assert painted["painted"] > 1000, painted  # type: ignore[index]
    assert_clean(browser)

    # The bakery's November invoice and its stored PDF.
    invoice = next(i for i in get("/v1/invoices?limit=100")["items"] if i["number"] == "INV-000014")
    document = get(f"/v1/invoices/{invoice['id']}")["document"]
    browser.find_element(By.LINK_TEXT, "Invoices").click()
    wait_for(browser, f"return document.querySelector('tr[data-invoice=\"{invoice['id']}\"]')")
    browser.find_element(By.LINK_TEXT, "INV-000014").click()
    wait_for(browser, "return document.getElementById('invoice-total')")
    assert browser.find_element(By.ID, "invoice-total").text == "3437.60 EUR"
    link = browser.find_element(By.ID, "invoice-pdf").get_attribute("href")
    assert link == f"{console}/invoices/{invoice['id']}/pdf"
    fetched = browser.execute_async_script(FETCH_PDF, link)
    assert fetched == {"status": 200, "type": "application/pdf", "size": document["size"], "head": "%PDF-"}
    assert_clean(browser)

    # On a phone the alarm zone fits 390 px, the acknowledged alert still in its place.
    emulate(browser, PHONE)
    browser.get(f"{console}/")
    assert browser.execute_script("return window.innerWidth") == PHONE_WIDTH
    assert browser.execute_script("return document.documentElement.scrollWidth") <= PHONE_WIDTH
    assert browser.execute_script(ROWS) == [gas["id"], evasion["id"]]
    assert_clean(browser)

    browser.find_element(By.CSS_SELECTOR, "form.sign-out button").click()
    wait_for(browser, "return document.getElementById('key')")
    assert browser.current_url == f"{console}/sign-in"
    browser.get(f"{console}/invoices")
    assert browser.current_url == f"{console}/sign-in"
    assert_clean(browser)


A11Y_CHECK = (Path(__file__).parent / "a11y_check.js").read_text()
# After a Tab: the focused element's place among the page's links, buttons and fields (a11y_check.js marks
# them), and whether it shows a focus indicator under :focus-visible (an outline or a box-shadow).
FOCUSED = """
const el = document.activeElement;
if (!el || el === document.body || el === document.documentElement) return null;
const style = getComputedStyle(el);
const outline = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0;
return {order: el.dataset.a11yOrder === undefined ? null : Number(el.dataset.a11yOrder),
        what: el.outerHTML.slice(0, 80),
        style: `${style.outlineStyle} ${style.outlineWidth} ${style.boxShadow}`,
        indicated: outline || style.boxShadow !== 'none'};
"""


def accessibility_problems(driver: WebDriver) -> list[str]:
    """What a11y_check.js finds on the page, and the keyboard walk: Tab from the top reaches every visible
    link, button and field once, in DOM order, each with a visible focus indicator, and then leaves the page
    (no trap)."""
    from selenium.webdriver.common.keys import Keys

    checked: dict[str, Any] = driver.execute_script(A11Y_CHECK)
    found: list[str] = list(checked["problems"])
    expected = int(checked["focusables"])
    driver.execute_script("document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0)")
    reached: list[int] = []
    for _ in range(expected + 10):
        driver.switch_to.active_element.send_keys(Keys.TAB)
        focused: dict[str, Any] | None = driver.execute_script(FOCUSED)
        if focused is None:
            break
        if not focused["indicated"]:
            found.append(f"no visible focus indicator ({focused['style']}): {focused['what']}")
        # a date field's parts (day, month, year) take a Tab each inside the one element
        if focused["order"] is not None and reached[-1:] != [focused["order"]]:
            reached.append(focused["order"])
    else:
        found.append(f"Tab never left the page after {expected + 10} presses (a trap?): reached {reached}")
    if reached != list(range(expected)):
        found.append(f"Tab reached {reached}, not the {expected} links, buttons and fields in DOM order")
    return found


def test_every_console_page_of_the_demo_is_accessible(served: ServedDemo, browser: WebDriver) -> None:
    """Every page docs/console/take_screenshots.py photographs, signed in (the sign-in page before): fields
    labelled, links and buttons named, text contrast at least 4.5:1 (3:1 large), Tab through every link,
    button and field in order with a visible focus, one h1, <html lang>."""
    from selenium.webdriver.common.by import By

    from docs.console.take_screenshots import SHOTS, the_ids
    from tests.e2e.test_console_browser import wait_for

    console = f"{served.url}/console"
    ids = the_ids(served.url, served.admin_key)
    found: dict[str, list[str]] = {}
    browser.get(f"{console}/sign-in")
    wait_for(browser, "return document.getElementById('key')")
    found["/sign-in"] = accessibility_problems(browser)
    browser.find_element(By.ID, "key").send_keys(served.admin_key)
    browser.find_element(By.CSS_SELECTOR, "form.sign-in button[type=submit]").click()
    wait_for(browser, "return document.getElementById('alarm-zone')")
    pages = {shot.path: shot for shot in SHOTS if shot.path != "/sign-in"}
    assert len(pages) == 12, sorted(pages)
    for path, shot in pages.items():
        browser.get(f"{console}{path.format(**ids)}")
        wait_for(browser, shot.ready)
        if shot.prepare:  # the site's rack R01 opened down to its PDUs
            browser.execute_script(shot.prepare)
        found[path] = accessibility_problems(browser)
    assert_clean(browser)
    offenders = [f"{path}: {problem}" for path, problems in found.items() for problem in problems]
    assert offenders == [], f"{len(offenders)} accessibility problem(s):\n" + "\n".join(offenders)


def _table(lines: list[str], title: str) -> list[list[str]]:
    """The body rows of the rich table whose title starts with ``title``: each row's non-empty cells."""
    start = next(i for i, line in enumerate(lines) if line.strip().startswith(title))
    rows: list[list[str]] = []
    for line in lines[start + 1 :]:
        if line.startswith("└"):
            return rows
        if line.startswith("│"):
            rows.append([cell.strip() for cell in line.strip("│").split("│") if cell.strip()])
    raise AssertionError(f"the table {title!r} does not end")
