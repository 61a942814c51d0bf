"""The platform's main job, locally on moto: an operator sets up a customer through the hosted API, a
collector pushes a month of meter readings, and the operator reads the usage back and previews the bill.
Then the month's run on a test clock: the schedules fire as of chosen moments (as ``meterbill schedules run
rate|invoice --at TIME`` fires them), the deployed rating and bill-run handlers run, the invoice work goes
through moto's SQS to the deployed worker, and January's invoice is drafted on the bill day and issued with
its number once the grace days have passed; its document (a signed PDF/A-3 with its Factur-X XML) is stored
once in S3 under Object Lock and emailed through SES on moto into ``--mail-dir`` (default ./mail) as .eml.
Then a late corrected reading: the issued invoice is re-rated, the difference issued as a credit note
(stored and emailed the same way), and the original stays as it was. Finally the alerts
(``local/demo_alerts.py``): an office building whose meters go quiet, leak energy past the sub-meters, count
backwards and spike on one day, and exactly those four alerts, published to SNS and emailed to a subscriber.
And on site (``local/demo_collector.py``): the collector reads a plant's simulated Modbus meters over an RS485
line and a TCP gateway, one of them goes silent, and every reading reaches the API once.

Run by ``make demo`` after the tariff tour (``python -m meterbill.demo``). Everything listens on 127.0.0.1 and
stops at the end.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import os
import warnings
from datetime import datetime, timedelta
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import requests
from rich.console import Console
from rich.table import Table

from local import demo_alerts, demo_collector
from local.mail import DEFAULT_MAIL_DIR, drain_email_queue
from local.schedules import drain_invoice_queue, fire
from local.serve import LocalPlatform
from meterbill.billing.invoice import Invoice, InvoiceLine
from meterbill.ports import InvoiceRecord, Stores
from meterbill.services import invoicing

EXAMPLES = resources.files("meterbill") / "examples"
ZONE = ZoneInfo("Europe/Berlin")
BATCH = 1_000  # readings per request: a collector that was offline for a while catches up in a few requests


def _readings(meter_id: str) -> list[dict[str, Any]]:
    with (EXAMPLES / "residential_flat_2026-01.csv").open(encoding="utf-8") as rows:
        return [
            {
                "meter_id": meter_id,
                "timestamp": row["start"],
                "value": row["value"],
                "type": "interval",
                "interval_minutes": 15,
            }
            for row in csv.DictReader(rows)
        ]


class _Api:
    def __init__(self, url: str, key: str) -> None:
        self.url, self.session = url, requests.Session()
        self.session.headers["Authorization"] = f"Bearer {key}"

    def call(self, method: str, path: str, body: Any = None, **query: str) -> Any:
        answer = self.session.request(method, self.url + path, json=body, params=query, timeout=30)
        if answer.status_code >= 400:
            raise SystemExit(f"{method} {path}: {answer.status_code} {answer.text}")
        return answer.json()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.demo", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--mail-dir", type=Path, default=DEFAULT_MAIL_DIR, help="where the emails go as .eml (default ./mail)"
    )
    arguments = parser.parse_args(argv)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    # The functions' powertools loggers: their INFO lines are CloudWatch's, not the demo's.
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    warnings.filterwarnings("ignore", message="No application metrics")
    console = Console()
    with LocalPlatform(mail_dir=arguments.mail_dir) as platform:
        keys = platform.create_account("Demo landlord")
        admin, collector = _Api(platform.url, keys.admin_key), _Api(platform.url, keys.ingest_key)
        console.rule("The hosted API on moto")
        console.print(
            f"API at {platform.url}; account {keys.account_id}: an admin key and a collector's ingest key"
        )

        tariff = json.loads((EXAMPLES / "residential_flat_tariff.json").read_text(encoding="utf-8"))
        admin.call(
            "POST",
            "/v1/sites",
            {
                "id": "house-7",
                "name": "Gartenstr. 7",
                "timezone": "Europe/Berlin",
                "holiday_country": "DE",
                "holiday_subdivision": "BE",
            },
        )
        admin.call(
            "POST",
            "/v1/meters",
            {
                "id": "flat-3-main",
                "site_id": "house-7",
                "utility": "electricity",
                "unit": "kWh",
                "kind": "main",
                "interval_minutes": 15,
            },
        )
        attributes = json.loads((EXAMPLES / "residential_customer.json").read_text(encoding="utf-8"))
        admin.call(
            "POST",
            "/v1/customers",
            {
                "id": "flat-3",
                "name": "Jürgen Łukasiewicz",
                "emails": ["flat3@example.org"],
                "address": {
                    "lines": ["Gartenstr. 7, Whg. 3"],
                    "postal_code": "10115",
                    "city": "Berlin",
                    "country": "DE",
                },
                "language": "de",
                "bill_title": "Wohnung 3, Gartenstr. 7",
                "attributes": attributes,
            },
        )
        admin.call("POST", "/v1/tariffs", tariff)
        admin.call(
            "POST",
            "/v1/assignments",
            {
                "id": "flat-3-power",
                "meter_id": "flat-3-main",
                "customer_id": "flat-3",
                "tariff_id": tariff["id"],
                "effective_from": "2026-01-01",
            },
        )
        console.print(f"catalog: site house-7, meter flat-3-main, customer flat-3 on tariff {tariff['id']}")
        admin.call("PUT", "/v1/settings/billing", SETTINGS)
        console.print(
            f"billing settings: seller {SETTINGS['seller']['legal_name']}, emails from "
            f"{SETTINGS['email']['sender']}, bill day 1, 2 grace days"
        )

        readings = _readings("flat-3-main")
        accepted = duplicates = 0
        for start in range(0, len(readings), BATCH):
            report = collector.call("POST", "/v1/readings", {"readings": readings[start : start + BATCH]})
            accepted, duplicates = accepted + report["accepted"], duplicates + report["duplicates"]
        resent = collector.call("POST", "/v1/readings", {"readings": readings[:BATCH]})
        console.print(
            f"collector pushed {len(readings)} quarter hours: {accepted} stored, {duplicates} "
            f"duplicates; a resent batch stored {resent['accepted']} and found {resent['duplicates']} "
            "duplicates"
        )

        usage = admin.call(
            "GET",
            "/v1/meters/flat-3-main/usage",
            **{"from": "2026-01-01", "to": "2026-01-08", "resolution": "day"},
        )
        week = Table(title="First week of January, by day (Europe/Berlin)")
        for column in ("day", "kWh", "actual", "estimated"):
            week.add_column(column, justify="right" if column != "day" else "left")
        for bucket in usage["buckets"]:
            week.add_row(
                bucket["start"][:10],
                bucket["total"],
                str(bucket["qualities"]["actual"]),
                str(bucket["qualities"]["estimated"]),
            )
        console.print(week)

        preview = admin.call(
            "GET", "/v1/customers/flat-3/bill-preview", **{"from": "2026-01-01", "to": "2026-02-01"}
        )
        for part in preview["bills"]:
            bill = part["bill"]
            lines = Table(title=f"Bill preview for flat-3, {bill['start'][:10]} to {bill['end'][:10]}")
            for column in ("description", "quantity", "unit", "rate", f"amount {bill['currency']}"):
                lines.add_column(column, justify="left" if column == "description" else "right")
            for line in bill["lines"]:
                lines.add_row(
                    line["description"], line["quantity"], line["unit"], line["rate"] or "", line["amount"]
                )
            lines.add_row("Total", "", "", "", bill["total"])
            console.print(lines)
        total = sum(Decimal(part["bill"]["total"]) for part in preview["bills"])
        console.print(f"what January will cost flat-3: {total} EUR")

        _month_run(console, platform, keys.account_id, collector)
        demo_alerts.run(console, platform, lambda key: _Api(platform.url, key), arguments.mail_dir)
        demo_collector.run(console, platform, lambda key: _Api(platform.url, key))
    return 0


# Who the invoices say issued them, and who emails them (an SES identity; on moto any address verifies).
SETTINGS: dict[str, Any] = {
    "seller": {
        "legal_name": "Hausverwaltung Gartenstraße GmbH",
        "address": {"lines": ["Gartenstr. 1"], "postal_code": "10115", "city": "Berlin", "country": "DE"},
        "vat_id": "DE123456789",
        "registration": "HRB 12345, Amtsgericht Charlottenburg",
        "contact": {
            "name": "Anna Schmidt",
            "email": "abrechnung@hv-gartenstrasse.example",
            "phone": "+49 30 1234567",
        },
        "bank_account": {"iban": "DE89370400440532013000", "bic": "COBADEFFXXX"},
    },
    "email": {"sender": "abrechnung@hv-gartenstrasse.example", "sender_name": "Hausverwaltung Gartenstraße"},
}


# --- the month's run on a test clock -----------------------------------------------------------------------

# The moments the schedules fire at (Europe/Berlin). Bill day 1, grace 2 days: January is due from
# 1 February 00:00 and issued from 3 February 00:00.
BILL_DAY = datetime.fromisoformat("2026-02-01T00:30+01:00")
IN_GRACE = datetime.fromisoformat("2026-02-02T00:30+01:00")
AFTER_GRACE = datetime.fromisoformat("2026-02-03T00:30+01:00")
CORRECTED_AT = datetime.fromisoformat("2026-02-10T09:15+01:00")
# A spike the collector's head end later corrected: 0.441 kWh was 0.041 kWh.
CORRECTION = {"timestamp": "2026-01-12T18:30:00+01:00", "value": "0.041", "was": "0.441"}
CORRECTED_INTERVAL = datetime.fromisoformat(CORRECTION["timestamp"])


def _month_run(console: Console, platform: LocalPlatform, account: str, collector: _Api) -> None:
    stores = platform.stores
    console.rule("January's bill run on a test clock")
    console.print(
        "The schedules fire as of chosen moments (meterbill schedules run rate|invoice --at TIME): the "
        "deployed handlers run, the bill run's work goes through SQS (moto) to the invoice worker. "
        "Bill day 1, 2 grace days, Europe/Berlin."
    )
    rated = fire("rate", BILL_DAY)
    console.print(
        f"{BILL_DAY:%d %b %H:%M}  rating pass: {rated['meters']} meter, {rated['days_written']} days "
        "validated and rolled up"
    )
    record: InvoiceRecord | None = None
    for moment in (BILL_DAY, IN_GRACE, AFTER_GRACE):
        sent = fire("invoice", moment)
        done, failed = drain_invoice_queue()
        if failed:
            raise SystemExit("the invoice worker failed: see the log above")
        (record,) = _invoices(stores, account, kind="invoice")
        state = f"{record.number} {record.state}" if record.number else "draft (no number)"
        console.print(
            f"{moment:%d %b %H:%M}  bill run: {sent['sent']} sent, {done} done; "
            f"{record.period_start:%b %Y}: {state}, {record.body['total']} {record.body['currency']}"
        )
    assert record is not None
    issued = Invoice.from_json(record.body)
    console.print(_document(issued))
    for usage in issued.meter_usage:
        console.print(
            f"usage billed: {usage.meter_id} {usage.total} {usage.unit}, {usage.estimated} estimated, "
            f"{usage.missing_intervals} intervals missing"
        )
    issued_body = json.dumps(record.body, sort_keys=True)
    _deliver(console, platform, account, record.invoice_id)

    console.rule("A late corrected reading: re-rate, then a credit note")
    report = collector.call(
        "POST",
        "/v1/readings",
        {
            "readings": [
                {
                    "meter_id": "flat-3-main",
                    "timestamp": CORRECTION["timestamp"],
                    "value": CORRECTION["value"],
                    "type": "interval",
                    "interval_minutes": 15,
                }
            ]
        },
    )
    console.print(
        f"{CORRECTED_AT:%d %b %H:%M}  corrected reading {CORRECTED_INTERVAL:%d %b %H:%M}: "
        f"{CORRECTION['value']} kWh, not {CORRECTION['was']} ({report['replaced']} replaced)"
    )
    fire("rate", CORRECTED_AT)
    rerating = invoicing.rerate(account, record.invoice_id, CORRECTED_AT, stores)
    if rerating.difference is None:
        raise SystemExit(f"re-rating {record.number} found no difference")
    kind = rerating.difference.kind.replace("_", " ")
    console.print(
        f"{CORRECTED_AT:%d %b %H:%M}  rerate {record.number}: {rerating.rerated.total}, not "
        f"{rerating.original.total} {rerating.original.currency}: {kind} {rerating.difference.total}"
    )
    note = invoicing.adjust(account, record.invoice_id, CORRECTED_AT, stores, reason="corrected reading")
    if note is None:
        raise SystemExit(f"adjusting {record.number} issued nothing")
    console.print(_document(Invoice.from_json(note.body), corrects=record.number))
    # The next hourly run stores the note's document (the period has a document not stored yet) and emails it.
    next_hour = CORRECTED_AT + timedelta(hours=1)
    fire("invoice", next_hour)
    drain_invoice_queue()
    _deliver(console, platform, account, note.invoice_id)
    again = invoicing.adjust(account, record.invoice_id, CORRECTED_AT, stores)
    original = stores.invoices.get(account, record.invoice_id)
    unchanged = json.dumps(original.body, sort_keys=True) == issued_body
    console.print(
        f"second adjust, no new data: {'nothing issued' if again is None else again.number}; "
        f"{record.number} {'byte for byte unchanged' if unchanged else 'CHANGED'}"
    )


def _deliver(console: Console, platform: LocalPlatform, account: str, invoice_id: str) -> None:
    """The email worker sends what the invoice worker queued; what was stored, and where the email went."""
    assert platform.mailer is not None
    before = set(platform.mail_dir.glob("*.eml"))
    drain_email_queue(platform.mailer)
    record = platform.stores.invoices.get(account, invoice_id)
    if record.document is None or record.state != "delivered":
        raise SystemExit(f"{record.number} was not stored and emailed: {record.state}")
    (eml,) = set(platform.mail_dir.glob("*.eml")) - before
    console.print(
        f"{record.number}: signed PDF/A-3 with factur-x.xml stored once under Object Lock "
        f"(sha256 {record.document.sha256[:16]}…, {record.document.size:,} bytes), emailed: {eml}"
    )


def _invoices(stores: Stores, account: str, *, kind: str) -> list[InvoiceRecord]:
    page = stores.invoices.list(account, limit=100)
    return [r for r in page.items if r.kind == kind]


def _document(invoice: Invoice, *, corrects: str | None = None) -> Table:
    title = {"invoice": "Invoice", "credit_note": "Credit note", "debit_note": "Debit note"}[invoice.kind]
    assert invoice.issued_at is not None
    issued = invoice.issued_at.astimezone(ZONE)
    heading = (
        f"{title} {invoice.number}, {invoice.customer_id}, {invoice.period_start} to "
        f"{invoice.period_end - timedelta(days=1)}, issued {issued:%Y-%m-%d %H:%M}"
    )
    if corrects is not None:
        heading += f", correcting {corrects}"
    table = Table(title=heading)
    for column in ("meter", "component", "quantity", "unit", "rate", invoice.currency):
        table.add_column(column, justify="left" if column in {"meter", "component", "unit"} else "right")
    for line in invoice.lines:
        table.add_row(*_cells(line))
    table.add_section()
    table.add_row("", "subtotal", "", "", "", str(invoice.subtotal))
    table.add_row("", "taxes", "", "", "", str(invoice.taxes))
    table.add_row("", "total", "", "", "", str(invoice.total))
    return table


def _cells(line: InvoiceLine) -> tuple[str, ...]:
    component = line.component if line.tier is None else f"{line.component}, tier {line.tier}"
    return (
        line.meter_id or "",
        component,
        str(line.quantity),
        line.unit,
        "" if line.rate is None else str(line.rate),
        str(line.amount),
    )


if __name__ == "__main__":
    raise SystemExit(main())
