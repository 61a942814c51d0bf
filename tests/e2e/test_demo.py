"""`make demo` runs the platform's main job on moto: catalog, readings, usage and a bill preview, then
January's bill run on a test clock (a draft on the bill day, INV-000001 after the grace days) and a corrected
reading's credit note CN-000001.

It runs in a process of its own, as `make demo` does: moto servers in one process share their backends, and a
second platform stopping would reset the tables of the e2e tests' platform.
"""

from __future__ import annotations

import email
import email.policy
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_the_platform_demo_previews_the_flat_bill_and_issues_it_then_credits_a_corrected_reading(
    tmp_path: Path,
) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "local.demo", "--mail-dir", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    # The tariff tour's residential flat: 9.90 + 150 x 0.28 + 100 x 0.32, plus 19 % VAT.
    assert "2976 stored, 0 duplicates" in run.stdout
    assert "found 1000 duplicates" in run.stdout
    assert "what January will cost flat-3: 99.84 EUR" in run.stdout

    lines = run.stdout.splitlines()
    # The bill run fires hourly as of the test clock; bill day 1 and 2 grace days: January is drafted from
    # 1 February (Europe/Berlin), numbered and issued from 3 February 00:00, with the preview's total.
    assert "01 Feb 00:30  rating pass: 1 meter, 31 days validated and rolled up" in lines
    assert "01 Feb 00:30  bill run: 1 sent, 1 done; Jan 2026: draft (no number), 99.84 EUR" in lines
    assert "02 Feb 00:30  bill run: 1 sent, 1 done; Jan 2026: draft (no number), 99.84 EUR" in lines
    assert "03 Feb 00:30  bill run: 1 sent, 1 done; Jan 2026: INV-000001 stored, 99.84 EUR" in lines
    invoice = _table(lines, "Invoice INV-000001, flat-3, 2026-01-01 to 2026-01-31, issued")
    assert invoice == [
        ["flat-3-main", "fixed", "1", "month", "9.9", "9.90"],
        ["flat-3-main", "energy, tier 1", "150", "kWh", "0.28", "42.00"],  # 150 x 0.28
        ["flat-3-main", "energy, tier 2", "100.000", "kWh", "0.32", "32.00"],  # (250 - 150) x 0.32
        ["flat-3-main", "tax", "83.90", "EUR", "0.19", "15.94"],  # 19 % of 83.90 = 15.941
        ["subtotal", "83.90"],
        ["taxes", "15.94"],
        ["total", "99.84"],
    ]
    assert "usage billed: flat-3-main 250.000 kWh, 0.000 estimated, 0 intervals missing" in lines
    # 12 January 18:30 corrected from 0.441 to 0.041 kWh: tier 2 is 99.600 kWh x 0.32 = 31.872 -> 31.87
    # (-0.13), VAT 19 % of 83.77 = 15.9163 -> 15.92 (-0.02): 99.69, a credit of -0.15.
    assert "10 Feb 09:15  corrected reading 12 Jan 18:30: 0.041 kWh, not 0.441 (1 replaced)" in lines
    assert "10 Feb 09:15  rerate INV-000001: 99.69, not 99.84 EUR: credit note -0.15" in lines
    note = _table(lines, "Credit note CN-000001, flat-3, 2026-01-01 to 2026-01-31, issued")
    assert note == [
        ["flat-3-main", "energy, tier 2", "-0.400", "kWh", "0.32", "-0.13"],
        ["flat-3-main", "tax", "-0.13", "EUR", "0.19", "-0.02"],
        ["subtotal", "-0.13"],
        ["taxes", "-0.02"],
        ["total", "-0.15"],
    ]
    assert "second adjust, no new data: nothing issued; INV-000001 byte for byte unchanged" in lines

    # Each document was emailed once, in German (the customer's language), with its signed PDF attached.
    emails = sorted(
        (
            email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            for path in tmp_path.glob("*.eml")
            if "-alert-" not in path.name
        ),
        key=lambda message: str(message["Subject"]),
    )
    assert [(str(m["Subject"]).split(" – ")[0], m["To"]) for m in emails] == [
        ("Gutschrift CN-000001", "flat3@example.org"),
        ("Rechnung INV-000001", "flat3@example.org"),
    ]
    invoice_mail = emails[1]
    body = next(p for p in invoice_mail.walk() if p.get_content_type() == "text/plain")
    # Issued 3 February 00:30 in Berlin with 14 days to pay: due 17 February, as the PDF says.
    assert "Betrag: 99,84\xa0€\nFällig am: 17. Februar 2026\n" in body.get_payload(decode=True).decode()
    (pdf,) = [p for p in invoice_mail.walk() if p.get_content_type() == "application/pdf"]
    assert (pdf.get_filename(), pdf.get_payload(decode=True)[:8]) == ("INV-000001.pdf", b"%PDF-1.7")

    _the_office_raises_exactly_its_four_alerts(lines, tmp_path)
    _the_collector_delivers_what_it_read(lines)


def _the_office_raises_exactly_its_four_alerts(lines: list[str], mail_dir: Path) -> None:
    """The office's faulty Tuesday (local/demo_alerts.py): the daily instant (01:00 local) judges the day and
    the register backstop finds the drop, so three alerts fire at 01:00 and go out grouped at the 01:05 pass
    (30 s group_wait); the water meter, quiet since 14:00, is pending until its 15 minutes have held (01:15)
    and goes out at 01:20. Nothing else: no flat line, no phase sums, the supply within its bounds by hour."""
    assert "11 Mar 01:00  alerts pass: 2 sites judged for the day, 0 published" in lines
    assert "11 Mar 01:05  alerts pass: 0 sites judged for the day, 1 published" in lines
    assert "11 Mar 01:20  alerts pass: 0 sites judged for the day, 1 published" in lines
    subscriber = "facility@office-berlin.example"
    assert f"  email to {subscriber}: [warning] meterbill: 3 alerts at site office-berlin (3 firing)" in lines
    assert (
        f"  email to {subscriber}: [warning] meterbill: communication firing for meter office-water at site "
        "office-berlin" in lines
    )
    # All four were first seen at 01:00 (the water meter's as pending): newest first, then by id.
    assert sorted(_table(lines, "GET /v1/alerts: office-berlin")) == [
        ["abnormal_usage", "office-kitchen", "warning", "firing", "11 Mar 01:00"],
        ["communication", "office-water", "warning", "firing", "11 Mar 01:15"],
        ["energy_evasion", "office-supply", "warning", "firing", "11 Mar 01:00"],
        ["negative_consumption", "office-gas", "warning", "firing", "11 Mar 01:00"],
    ]
    mails = sorted(mail_dir.glob("*-alert-*.eml"))
    grouped = email.message_from_bytes(mails[0].read_bytes(), policy=email.policy.default)
    text = grouped.get_body().get_content()  # type: ignore[union-attr]
    # On Tuesday the sub-meters sent 37.972 kWh and the supply 57.930 (1.02 x subs + 0.2 x 96 bypassed, to
    # the Wh each quarter hour): unmetered = 57.930 - 37.972 - 2 % x 57.930 = 18.7994, 32.45 % of the supply.
    assert '"unmetered": "18.7994"' in text and '"unmetered_percent": "32.45"' in text
    # The register fell 100 m³ at 12:00 local, an hour after it had risen 1.4 m³: 5308 -> 5209.4.
    assert '"drop": "98.6"' in text
    recipients = [email.message_from_bytes(m.read_bytes(), policy=email.policy.default)["To"] for m in mails]
    assert recipients == [subscriber, subscriber]


def _the_collector_delivers_what_it_read(lines: list[str]) -> None:
    """The plant (local/demo_collector.py): constant loads of 12 kW, 4 kW, 400 pulses/h x 0.01 m³ and the
    PDU's outlets, read at four quarter hours; the gas meter silent at the last."""
    rows = [row[1:] for row in _table(lines, "Polled on the quarter hours")]  # without the wall-clock time
    assert rows == [
        ["18250.5", "5120.25", "1234.00", "842.125", "611.5"],
        ["18253.5", "5121.25", "1235.00", "842.287", "611.6"],  # + 12 kW x 0.25 h = 3 kWh; + 4 x 0.25 = 1
        ["18256.5", "5122.25", "1236.00", "842.449", "611.7"],
        ["18259.5", "5123.25", "-", "842.611", "611.801"],
    ]
    assert "pushed 19 readings: 19 stored by the API" in lines
    assert "heartbeat: plant-gas: timeout after 0.5 s (1 attempt)" in lines
    assert "stored: plant-main 4, plant-line-1 4, plant-gas 3, rack-a1 4, rack-a2 4" in lines


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
