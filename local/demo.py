"""The platform's main job, locally on moto: an operator sets up a customer through the hosted API, a
collector pushes a month of meter readings, and the operator reads the usage back and previews the bill.

Run by ``make demo`` after the tariff tour (``python -m meterbill.demo``). Everything listens on 127.0.0.1 and
stops at the end.
"""

from __future__ import annotations

import csv
import json
import logging
import warnings
from decimal import Decimal
from importlib import resources
from typing import Any

import requests
from rich.console import Console
from rich.table import Table

from local.serve import LocalPlatform

EXAMPLES = resources.files("meterbill") / "examples"
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


def main() -> int:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message="No application metrics")
    console = Console()
    with LocalPlatform() as platform:
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
                "name": "Flat 3, Gartenstr. 7",
                "emails": ["flat3@example.org"],
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
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
