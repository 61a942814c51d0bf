"""The demo's portfolio, smaller (``tests/e2e/portfolio_scenario.py``): November 2026 of an office building
and a colocation room, sent through the hosted API by collectors, rated, watched by the alerts schedule,
billed on the bill day and after the grace days, stored as PDF/A-3 with Factur-X in S3 and emailed; checked
against invoices computed here by hand, and exactly the four alerts its faults should raise.

The scenario runs in a process of its own, as ``make demo`` does: moto servers in one process share their
backends, and a second platform stopping would empty the tables of the e2e tests' platform.

November 2026 in Berlin: 30 days, no DST change, no public holiday in Berlin or Hesse; 1 Nov is a Sunday, so
21 weekdays (2-6, 9-13, 16-20, 23-27, 30) and 9 weekend days. Every load is a number of kWh a quarter hour
given by the local hour h, the same every day: a day is 4 x the sum over h = 0..23; the office tariff's peak
is Mon-Fri h = 8..19. Sums used below: sum(h, 0..23) = 276, sum(h, 8..19) = 162.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import io
import json
import re
import subprocess
import sys
from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

REPO = Path(__file__).resolve().parents[2]
D = Decimal
CENT = D("0.01")
VAT = D("0.19")
SUBSCRIBER = "facility@hv-roth.example"


def money(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Mapping[str, Any]:
    out = tmp_path_factory.mktemp("portfolio")
    run = subprocess.run(
        [sys.executable, "-m", "tests.e2e.portfolio_scenario", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-5000:]
    result: dict[str, Any] = json.loads((out / "result.json").read_text(encoding="utf-8"))
    result["out"] = out
    return result


def invoice_of(scenario: Mapping[str, Any], customer: str) -> Mapping[str, Any]:
    (invoice,) = [i for i in scenario["invoices"] if i["customer_id"] == customer]
    return invoice


def lines_of(invoice: Mapping[str, Any]) -> list[tuple[str, str, Decimal, Decimal]]:
    """(meter, description, quantity, amount) of each line, in the invoice's order."""
    return [
        (line["meter_id"], line["description"], D(line["quantity"]), D(line["amount"]))
        for line in invoice["body"]["lines"]
    ]


def totals_of(invoice: Mapping[str, Any]) -> tuple[Decimal, Decimal, Decimal]:
    body = invoice["body"]
    return D(body["subtotal"]), D(body["taxes"]), D(body["total"])


# --- the office: Kanzlei Roth (two meters, TOU + graduated tiers, and most of the common area) --------------

# law-a: 0.20 + 0.01 h a quarter hour; a day 4 x (24 x 0.20 + 0.01 x 276) = 30.24 kWh, of it on a weekday's
# peak 4 x (12 x 0.20 + 0.01 x 162) = 16.08. The spike: 2 kWh more each quarter hour of Fri 20 Nov 19:00-20:00
# (peak).
LAW_A_DAY = 4 * (24 * D("0.20") + D("0.01") * 276)
LAW_A_PEAK = 21 * 4 * (12 * D("0.20") + D("0.01") * 162) + 4 * D("2.000")  # 337.68 + 8 = 345.68
LAW_A_OFF_PEAK = 30 * LAW_A_DAY - 21 * 4 * (12 * D("0.20") + D("0.01") * 162)  # 907.20 - 337.68 = 569.52
# law-b: 0.100 + 0.005 h; a day 4 x (2.4 + 1.38) = 15.12 kWh, a weekday's peak 4 x (1.2 + 0.81) = 8.04.
# Silent all of Thu 12 Nov: rating estimates the day from the Thursday before (like-day), the same loads.
LAW_B_DAY = 4 * (24 * D("0.100") + D("0.005") * 276)
LAW_B_PEAK = 21 * 4 * (12 * D("0.100") + D("0.005") * 162)  # 168.84
LAW_B_OFF_PEAK = 30 * LAW_B_DAY - LAW_B_PEAK  # 453.60 - 168.84 = 284.76
# The common area: office-main minus its sub-meters, 0.080 kWh a quarter hour, and from Tue 24 Nov 0.300 more
# that passes no sub-meter (evasion: billed in the residual, as the building's meters measure it). Split by
# floor area: law 300 m², studio 100 m² until studio moves out on 16 Nov; law alone from then on.
LAW_COMMON = (
    15 * 96 * D("0.080") * 300 / 400  # 1-15 Nov: 86.4
    + 8 * 96 * D("0.080")  # 16-23 Nov: 61.44
    + 7 * 96 * (D("0.080") + D("0.300"))  # 24-30 Nov: 255.36
)  # 403.2 kWh


def test_the_two_meter_tenant_pays_each_meter_on_its_peak_and_off_peak_tiers_and_its_part_of_the_common_area(
    scenario: Mapping[str, Any],
) -> None:
    law = invoice_of(scenario, "law")
    quantities = (LAW_A_PEAK, LAW_A_OFF_PEAK, LAW_B_PEAK, LAW_B_OFF_PEAK, LAW_COMMON)
    assert quantities == (D("345.68"), D("569.52"), D("168.84"), D("284.76"), D("403.2"))
    law_a = [
        ("law-a", "Base charge", D(1), D("12.00")),
        ("law-a", "Energy, off-peak, tier 1", D(300), 300 * D("0.22")),  # 66.00
        (
            "law-a",
            "Energy, off-peak, tier 2",
            LAW_A_OFF_PEAK - 300,
            money((LAW_A_OFF_PEAK - 300) * D("0.26")),
        ),
        ("law-a", "Energy, peak, tier 1", D(200), 200 * D("0.30")),  # 60.00
        ("law-a", "Energy, peak, tier 2", LAW_A_PEAK - 200, money((LAW_A_PEAK - 200) * D("0.36"))),
    ]
    law_a_net = sum(line[3] for line in law_a)  # 12 + 66 + 70.08 (269.52 x 0.26) + 60 + 52.44 (145.68 x 0.36)
    law_b = [
        ("law-b", "Base charge", D(1), D("12.00")),
        ("law-b", "Energy, off-peak, tier 1", LAW_B_OFF_PEAK, money(LAW_B_OFF_PEAK * D("0.22"))),  # 62.6472
        ("law-b", "Energy, peak, tier 1", LAW_B_PEAK, money(LAW_B_PEAK * D("0.30"))),  # 50.652
    ]
    law_b_net = sum(line[3] for line in law_b)
    common_net = money(LAW_COMMON * D("0.30"))  # 120.96
    # VAT per bill (per assignment), each rounded: 19 % of 260.52, 125.30 and 120.96.
    assert lines_of(law) == [
        *law_a,
        ("law-a", "VAT (19%)", law_a_net, money(law_a_net * VAT)),  # 49.4988 -> 49.50
        *law_b,
        ("law-b", "VAT (19%)", law_b_net, money(law_b_net * VAT)),  # 23.807 -> 23.81
        ("office-main", "Energy", LAW_COMMON, common_net),
        ("office-main", "VAT (19%)", common_net, money(common_net * VAT)),  # 22.9824 -> 22.98
    ]
    assert (law_a_net, law_b_net, common_net) == (D("260.52"), D("125.30"), D("120.96"))
    assert totals_of(law) == (
        D("260.52") + D("125.30") + D("120.96"),  # 506.78
        D("49.50") + D("23.81") + D("22.98"),  # 96.29
        D("506.78") + D("96.29"),  # 603.07
    )
    usage = {u["meter_id"]: (D(u["total"]), D(u["estimated"])) for u in law["body"]["meter_usage"]}
    # law-b's silent Thursday is estimated (96 x its quarter hours: one day, 15.12 kWh), and so is the common
    # area's share that day (law's 3/4 of 96 x 0.080).
    assert usage == {
        "law-a": (30 * LAW_A_DAY + 8, D(0)),
        "law-b": (30 * LAW_B_DAY, LAW_B_DAY),
        "office-main": (LAW_COMMON, 96 * D("0.080") * 3 / 4),
    }


# studio: 0.30 + 0.02 h; a day 4 x (7.2 + 5.52) = 50.88 kWh, a weekday's peak 4 x (3.6 + 3.24) = 27.36.
# Moves out on Mon 16 Nov: its days are 1-15 Nov, 10 weekdays (2-6, 9-13), 5 weekend days (1, 7, 8, 14, 15).
STUDIO_PEAK = 10 * 4 * (12 * D("0.30") + D("0.02") * 162)  # 273.6
STUDIO_OFF_PEAK = 15 * 4 * (24 * D("0.30") + D("0.02") * 276) - STUDIO_PEAK  # 763.2 - 273.6 = 489.6
HALF_MONTH = D(15) / 30  # the base charge and the tier sizes, prorated to 15 of November's 30 days


def test_the_tenant_moving_out_pays_only_its_days_with_the_base_charge_and_tiers_prorated(
    scenario: Mapping[str, Any],
) -> None:
    studio = invoice_of(scenario, "studio")
    common = 15 * 96 * D("0.080") * 100 / 400  # its quarter of the residual, 1-15 Nov: 28.8 kWh
    power = [
        ("studio", "Base charge", HALF_MONTH, 12 * HALF_MONTH),  # 6.00
        ("studio", "Energy, off-peak, tier 1", 300 * HALF_MONTH, 300 * HALF_MONTH * D("0.22")),  # 150 kWh
        (
            "studio",
            "Energy, off-peak, tier 2",
            STUDIO_OFF_PEAK - 150,
            money((STUDIO_OFF_PEAK - 150) * D("0.26")),  # 339.6 x 0.26 = 88.296
        ),
        ("studio", "Energy, peak, tier 1", 200 * HALF_MONTH, 200 * HALF_MONTH * D("0.30")),  # 100 kWh
        (
            "studio",
            "Energy, peak, tier 2",
            STUDIO_PEAK - 100,
            money((STUDIO_PEAK - 100) * D("0.36")),
        ),  # 62.496
    ]
    net = sum(line[3] for line in power)  # 6 + 33 + 88.30 + 30 + 62.50
    assert lines_of(studio) == [
        ("office-main", "Energy", common, money(common * D("0.30"))),  # 8.64
        ("office-main", "VAT (19%)", D("8.64"), money(D("8.64") * VAT)),  # 1.6416 -> 1.64
        *power,
        ("studio", "VAT (19%)", net, money(net * VAT)),  # 19 % of 219.80 = 41.762 -> 41.76
    ]
    assert net == D("219.80")
    assert totals_of(studio) == (
        D("8.64") + D("219.80"),  # 228.44
        D("1.64") + D("41.76"),  # 43.40
        D("228.44") + D("43.40"),  # 271.84
    )
    assert (studio["period_start"], studio["period_end"]) == ("2026-11-01", "2026-11-16")
    assert {(line["start"], line["end"]) for line in studio["body"]["lines"]} == {
        ("2026-11-01", "2026-11-16")
    }


def test_the_senior_citizens_flat_climbs_a_first_tier_of_150_kwh_not_100(scenario: Mapping[str, Any]) -> None:
    berger = invoice_of(scenario, "berger")
    # flat-3: 0.050 + 0.005 h; a day 4 x (1.2 + 1.38) = 10.32 kWh, November 309.6 kWh. Tier 1 is
    # "150 if senior_citizen else 100" kWh, and H. Berger is one.
    month = 30 * 4 * (24 * D("0.050") + D("0.005") * 276)
    energy = [
        ("flat-3", "Energy, tier 1", D(150), 150 * D("0.28")),  # 42.00
        ("flat-3", "Energy, tier 2", month - 150, money((month - 150) * D("0.32"))),  # 159.6 x 0.32 = 51.072
    ]
    net = D("9.90") + sum(line[3] for line in energy)  # 102.97
    assert lines_of(berger) == [
        ("flat-3", "Base charge", D(1), D("9.90")),
        *energy,
        ("flat-3", "VAT (19%)", net, money(net * VAT)),  # 19.5643 -> 19.56
    ]
    assert totals_of(berger) == (D("102.97"), D("19.56"), D("102.97") + D("19.56"))  # 122.53


# --- the colocation room ------------------------------------------------------------------------------------


def test_the_colo_customer_is_billed_the_pdus_energy_and_peaks_across_the_swap_as_if_nothing_happened(
    scenario: Mapping[str, Any],
) -> None:
    nordwind = invoice_of(scenario, "nordwind")
    # r01-a: 0.50 + 0.02 h a quarter hour; a day 4 x (12 + 5.52) = 70.08 kWh; its peak quarter hour (h = 23)
    # 0.96 kWh, 3.84 kW. r02-b: 0.40 + 0.01 h; a day 4 x (9.6 + 2.76) = 49.44 kWh; peak 0.63 kWh, 2.52 kW.
    # r02-b's register was swapped on 16 Nov at 10:00 (the old one's final read, the new one from 0.50): the
    # same usage.
    r01_a = 30 * 4 * (24 * D("0.50") + D("0.02") * 276)  # 2102.4
    r02_b = 30 * 4 * (24 * D("0.40") + D("0.01") * 276)  # 1483.2
    r01_a_kw, r02_b_kw = 4 * (D("0.50") + D("0.02") * 23), 4 * (D("0.40") + D("0.01") * 23)
    r01_a_net = D("50.00") + money(r01_a * D("0.20")) + money(r01_a_kw * 10)  # 50 + 420.48 + 38.40 = 508.88
    r02_b_net = D("50.00") + money(r02_b * D("0.20")) + money(r02_b_kw * 10)  # 50 + 296.64 + 25.20 = 371.84
    assert lines_of(nordwind) == [
        ("r01-a", "Rack feed", D(1), D("50.00")),
        ("r01-a", "Energy", r01_a, D("420.48")),
        ("r01-a", "Demand, monthly peak", r01_a_kw, D("38.40")),
        ("r01-a", "VAT (19%)", r01_a_net, money(r01_a_net * VAT)),  # 96.6872 -> 96.69
        ("r02-b", "Rack feed", D(1), D("50.00")),
        ("r02-b", "Energy", r02_b, D("296.64")),
        ("r02-b", "Demand, monthly peak", r02_b_kw, D("25.20")),
        ("r02-b", "VAT (19%)", r02_b_net, money(r02_b_net * VAT)),  # 70.6496 -> 70.65
    ]
    assert totals_of(nordwind) == (
        D("508.88") + D("371.84"),  # 880.72
        D("96.69") + D("70.65"),  # 167.34
        D("880.72") + D("167.34"),  # 1048.06
    )


def test_the_compute_customer_pays_a_fare_per_session_and_every_started_five_minutes_beyond_half_an_hour(
    scenario: Mapping[str, Any],
) -> None:
    rechenwerk = invoice_of(scenario, "rechenwerk")
    # Three sessions of busy quarter hours: 900 + 900 + 300 = 2100 s (300 s beyond 1800: 1 unit), 600 s
    # (none), 900 x 3 + 100 = 2800 s (1000 s beyond: 4 started units of 300 s).
    net = 3 * D("2.00") + (1 + 0 + 4) * D("0.50")  # 8.50
    assert lines_of(rechenwerk) == [
        ("rw-node-1", "Job package: 3 sessions x 2.00 + 5 started units of 300 s x 0.50", D(3), net),
        ("rw-node-1", "VAT (19%)", net, money(net * VAT)),  # 1.615 -> 1.62
    ]
    assert totals_of(rechenwerk) == (D("8.50"), D("1.62"), D("8.50") + D("1.62"))  # 10.12


# --- documents and emails -----------------------------------------------------------------------------------

EMAILS = {
    "studio": "hallo@studio-vier.example",
    "berger": "h.berger@example.org",
    "law": "buero@kanzlei-roth.example",
    "nordwind": "billing@nordwind.example",
    "rechenwerk": "ap@rechenwerk.example",
}


def test_each_invoice_is_issued_after_the_grace_days_stored_as_pdf_a_with_factur_x_and_emailed_once(
    scenario: Mapping[str, Any],
) -> None:
    out: Path = scenario["out"]
    # Studio's period ended on 16 Nov: issued at the bill day's run (1 Dec 00:30 in Berlin); the others after
    # November's 2 grace days (3 Dec 00:30), numbered in the order the worker took them (by customer id).
    issued = {
        i["customer_id"]: (i["kind"], i["state"], i["number"], i["body"]["issued_at"])
        for i in scenario["invoices"]
    }
    assert issued == {
        "studio": ("invoice", "delivered", "INV-000001", "2026-11-30T23:30:00+00:00"),
        "berger": ("invoice", "delivered", "INV-000002", "2026-12-02T23:30:00+00:00"),
        "law": ("invoice", "delivered", "INV-000003", "2026-12-02T23:30:00+00:00"),
        "nordwind": ("invoice", "delivered", "INV-000004", "2026-12-02T23:30:00+00:00"),
        "rechenwerk": ("invoice", "delivered", "INV-000005", "2026-12-02T23:30:00+00:00"),
    }
    mails = [
        email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        for path in sorted((out / "mail").glob("*.eml"))
        if "-alert-" not in path.name
    ]
    assert sorted(str(m["To"]) for m in mails) == sorted(EMAILS.values())
    assert scenario["emails"] == {"done": 5, "failed": 0}
    for invoice in scenario["invoices"]:
        number, total = invoice["number"], D(invoice["body"]["total"])
        stored = (out / "s3" / invoice["document"]["key"]).read_bytes()
        # what the record says was stored is what S3 holds
        assert (len(stored), hashlib.sha256(stored).hexdigest()) == (
            invoice["document"]["size"],
            invoice["document"]["sha256"],
        )
        reader = PdfReader(io.BytesIO(stored))
        text = "\n".join(page.extract_text() for page in reader.pages)
        german = invoice["customer_id"] in ("law", "studio", "berger")
        shown = (
            f"{total:,.2f}".replace(",", "X").replace(".", ",").replace("X", ".") if german else f"{total:,}"
        )
        assert number in text and (
            f"Gesamtbetrag (EUR) {shown}\xa0€" in text if german else f"Total (EUR) €{shown}" in text
        ), (number, text)
        # PDF/A-3B with its Factur-X (EN 16931) XML attached, whose grand total is the invoice's.
        root = reader.trailer["/Root"]
        metadata = root["/Metadata"].get_object().get_data().decode()
        assert 'pdfaid:part="3"' in metadata and 'pdfaid:conformance="B"' in metadata
        assert "/OutputIntents" in root and "/AF" in root
        (xml,) = reader.attachments["factur-x.xml"]
        assert re.search(rb"<ram:GrandTotalAmount>([0-9.]+)</ram:GrandTotalAmount>", xml).group(1) == (  # type: ignore[union-attr]
            str(total).encode()
        )
        (mail,) = [m for m in mails if m["To"] == EMAILS[invoice["customer_id"]]]
        assert str(mail["Subject"]).startswith(f"{'Rechnung' if german else 'Invoice'} {number} – ")
        # The amount and the due date, 14 days after issuing (studio's on 1 Dec, the others' on 3 Dec).
        body = mail.get_body(preferencelist=("plain",))
        assert body is not None
        said = body.get_content()
        due = "15. Dezember 2026" if invoice["customer_id"] == "studio" else "17. Dezember 2026"
        assert (
            f"Betrag: {shown}\xa0€\nFällig am: {due}\n" in said
            if german
            else f"Total: €{shown}\nDue date: 17 December 2026\n" in said
        ), said
        if invoice["customer_id"] == "studio":  # its days only
            assert "für den Zeitraum 01.11.2026 – 15.11.2026." in said
        (attachment,) = [p for p in mail.walk() if p.get_content_type() == "application/pdf"]
        assert isinstance(attachment, EmailMessage)
        assert (attachment.get_filename(), attachment.get_payload(decode=True)) == (f"{number}.pdf", stored)


# --- alerts -------------------------------------------------------------------------------------------------


def _alerts(message: str) -> list[dict[str, Any]]:
    """The alerts an SNS message carries: the JSON after its text."""
    marker = "--- facts (JSON) ---"
    alerts: list[dict[str, Any]] = json.loads(message[message.index(marker) + len(marker) :])["alerts"]
    return alerts


def _reasons(message: str) -> list[tuple[str, str, str]]:
    return sorted((a["kind"], a["subject"]["id"], a["reason"]) for a in _alerts(message))


def test_exactly_the_four_injected_faults_raise_alerts_with_their_numbers(
    scenario: Mapping[str, Any],
) -> None:
    alerts = {(a["kind"], a["subject"]["id"]): a for a in scenario["alerts"]}
    assert {key: (a["state"], a["fired_at"], a["resolved_at"]) for key, a in alerts.items()} == {
        # law-b silent since Thu 12 Nov 00:00 (Berlin): pending at the 01:00 pass, firing at noon, resolved by
        # the next day's pass, when it reports again.
        ("communication", "law-b"): ("resolved", "2026-11-12T11:00:00Z", "2026-11-13T00:00:00Z"),
        # the gas register's drop on Wed 18 Nov 12:00, found by the next pass (19 Nov 01:00); nobody recorded
        # an exchange, so it stays.
        ("negative_consumption", "office-gas"): ("firing", "2026-11-19T00:00:00Z", None),
        # the spike of Fri 20 Nov, judged at 01:00 on the 21st; Saturday is ordinary again.
        ("abnormal_usage", "law-a"): ("resolved", "2026-11-21T00:00:00Z", "2026-11-22T00:00:00Z"),
        # the evasion from Tue 24 Nov, judged at 01:00 on the 25th, every day since.
        ("energy_evasion", "office-main"): ("firing", "2026-11-25T00:00:00Z", None),
    }
    published = scenario["sns"]
    firing = {
        f"{a['kind']}/{a['subject']['id']}": a["facts"]
        for m in published
        for a in _alerts(m["message"])
        if a["reason"] == "firing"
    }
    # At noon on 12 Nov: 48 quarter hours (12 h) since law-b's last reading ended, at midnight.
    assert firing["communication/law-b"] == {
        "gap_start": "2026-11-11T23:00:00+00:00",
        "gap_minutes": str(12 * 60),
        "missed_intervals": str(12 * 4),
        "interval_minutes": "15",
    }
    # The register read 5251.3 m³ at 11:00 and 100 m³ less than 5251.3 + 0.7 (11:00-12:00's use) at 12:00.
    assert firing["negative_consumption/office-gas"] == {
        "previous_value": "5251.3",
        "previous_at": "2026-11-18T10:00:00+00:00",
        "value": "5152",  # 5251.3 + 0.7 - 100
        "at": "2026-11-18T11:00:00+00:00",
        "drop": str(100 - D("0.7")),  # 99.3
    }
    # law-a's 19:00 hour on Friday: 4 x (0.39 + 2) = 9.56 kWh against the Fridays before, 4 x 0.39 = 1.56.
    spike = firing["abnormal_usage/law-a"]
    assert (spike["day"], spike["worst_hour"], spike["hours_above"]) == (
        "2026-11-20",
        "2026-11-20T19:00:00+01:00",
        "1",
    )
    assert (D(spike["hour_usage"]), D(spike["hour_baseline"])) == (4 * (D("0.39") + 2), 4 * D("0.39"))
    assert (D(spike["day_usage"]), D(spike["day_baseline"])) == (LAW_A_DAY + 8, LAW_A_DAY)
    # Tue 24 Nov: the main read the three tenants (30.24 + 15.12 + 50.88) plus 96 x (0.080 + 0.300); unmetered
    # is the common area and the evasion, 96 x 0.380 = 36.48 kWh, 36.48 / 132.72 = 27.49 % of the main.
    evasion = firing["energy_evasion/office-main"]
    main = LAW_A_DAY + LAW_B_DAY + D("50.88") + 96 * (D("0.080") + D("0.300"))
    assert (evasion["window_start"], evasion["window_end"]) == (
        "2026-11-24T00:00:00+01:00",
        "2026-11-25T00:00:00+01:00",
    )
    assert (D(evasion["main_usage"]), D(evasion["sub_usage"]), D(evasion["unmetered"])) == (
        main,
        LAW_A_DAY + LAW_B_DAY + D("50.88"),
        96 * D("0.380"),
    )
    assert evasion["unmetered_percent"] == str((96 * D("0.380") * 100 / main).quantize(CENT))  # 27.49

    # What SNS took, pass by pass: each firing and resolve once, and a reminder each day an alert still fires.
    reminders_gas = [("negative_consumption", "office-gas", "reminder")]
    both = sorted([*reminders_gas, ("energy_evasion", "office-main", "reminder")])
    assert [_reasons(m["message"]) for m in published] == [
        [("communication", "law-b", "firing")],  # 12 Nov 12:00
        [("communication", "law-b", "resolved")],  # 13 Nov
        [("negative_consumption", "office-gas", "firing")],  # 19 Nov
        reminders_gas,  # 20 Nov
        sorted([("abnormal_usage", "law-a", "firing"), *reminders_gas]),  # 21 Nov
        sorted([("abnormal_usage", "law-a", "resolved"), *reminders_gas]),  # 22 Nov
        reminders_gas,  # 23 Nov
        reminders_gas,  # 24 Nov
        sorted([("energy_evasion", "office-main", "firing"), *reminders_gas]),  # 25 Nov
        *[both] * 6,  # 26-30 Nov, 1 Dec
    ]
    # Each went to the subscriber by email, as SNS sends it.
    alert_mails = [
        email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        for path in sorted((scenario["out"] / "mail").glob("*-alert-*.eml"))
    ]
    assert [(m["To"], m["Subject"]) for m in alert_mails] == [(SUBSCRIBER, m["subject"]) for m in published]


def test_every_reading_the_collectors_sent_is_stored_once(scenario: Mapping[str, Any]) -> None:
    # 1 Nov 00:00 to 1 Dec 01:15: 30 x 96 + 5 quarter hours. Seven interval meters (law-b silent 96 of them),
    # two PDU registers read at both ends of each, the gas register hourly from 00:00 to 01:00 on 1 Dec.
    quarters = 30 * 96 + 5
    sent = 7 * quarters - 96 + 2 * (quarters + 1) + (30 * 24 + 2)
    assert scenario["readings"] == {"sent": sent, "stored": sent}
