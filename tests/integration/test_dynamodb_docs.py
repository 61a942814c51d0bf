"""The sample items in docs/storage.md are exactly what the stores write."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from meterbill.adapters.dynamodb import DynamoDb, stores_on
from meterbill.adapters.dynamodb.metering import DynamoDbMeteringStore
from meterbill.ports import (
    AccountRecord,
    ApiKeyRecord,
    DeliveryStore,
    InvoiceRecord,
    InvoiceStore,
    IssuedBody,
    MonthRollup,
    NewDelivery,
    RatedDay,
    RawReading,
    ReratingCandidate,
    Rollup,
    RunningCost,
    Session,
    UsageSoFar,
)
from tests.integration.conftest import Tables

STORAGE_MD = Path(__file__).parents[2] / "docs" / "storage.md"
ACCOUNT = "acc_5f2c9a1b7d3e4f60"
METER = "mtr_0a1b2c3d4e5f6789"
INVOICE = "inv_k3m9q2x7v4b8n1c5d6f0g2h4j8"
AT = datetime(2026, 3, 1, 9, tzinfo=UTC)
BERLIN = ZoneInfo("Europe/Berlin")
LINEAR = ("linear", "no readings for 1 h; interpolated between the neighbouring intervals")
DOCUMENTED_DAY = RatedDay(
    METER, date(2026, 3, 29), datetime(2026, 3, 29, tzinfo=BERLIN), 60, "kWh", -3,
    (1000,) * 7 + (2000,) * 12 + (1000,) * 4, "A" * 9 + "E" + "A" * 13, {9: LINEAR},
)  # fmt: skip
DOCUMENTED_MONTH = MonthRollup(
    METER, 2026, 3, "kWh", 31,
    Rollup(datetime(2026, 3, 1, tzinfo=BERLIN), datetime(2026, 4, 1, tzinfo=BERLIN), Decimal("1234.567"),
           Decimal("12.5"), 2976, 0),
    "3f9c0a7e5b1d2c4f6a8e0b2d4c6f8a1e", "8b1e5d0c2a4f6e9d7c3b5a1f0e2d4c6b",
)  # fmt: skip
DOCUMENTED_RUNNING_COST = RunningCost(
    "cus_0123456789abcdef", date(2026, 3, 1), date(2026, 4, 1), date(2026, 3, 30), "EUR",
    (UsageSoFar("kWh", Decimal("1234.567"), Decimal("12.5")),), Decimal("370.37"), Decimal("395.91"),
    datetime(2026, 3, 30, 0, 30, tzinfo=BERLIN),
)  # fmt: skip


def documented_items() -> list[dict[str, Any]]:
    blocks = re.findall(r"```json\n(.*?)```", STORAGE_MD.read_text(encoding="utf-8"), flags=re.DOTALL)
    return [json.loads(block) for block in blocks]


def as_documented(item: dict[str, Any] | None) -> dict[str, Any]:
    assert item is not None
    return {
        name: {"B": base64.b64encode(value["B"]).decode()} if "B" in value else value
        for name, value in item.items()
    }


def test_the_documented_sample_items_are_what_the_stores_write(db: DynamoDb, tables: Tables) -> None:
    stores = stores_on(db, clock=lambda: AT, new_etag=lambda: "Xq3v9TfLz0aYc1Ke")
    stores.accounts.create(AccountRecord(ACCOUNT, "Stadtwerke Beispiel", AT, {"currency": "EUR"}))
    meter = {"id": METER, "account_id": ACCOUNT, "site_id": "site_77aa", "external_id": "NMI4001234567"}
    stores.catalog.create(ACCOUNT, "meter", METER, {**meter, "utility": "electricity", "unit": "kWh",
                                                    "kind": "main", "multiplier": "40"})  # fmt: skip
    salt, digest = bytes.fromhex("a1" * 16), bytes.fromhex("b2" * 32)
    stores.keys.put(
        ApiKeyRecord("key_3kq9d0f2", ACCOUNT, "roof collector", frozenset({"ingest"}), salt, digest, AT)
    )
    assert stores.sessions is not None
    session_hash = bytes.fromhex("c3" * 32)
    stores.sessions.put(
        Session(session_hash, ACCOUNT, "key_7hd2m1x9", "admin", AT, AT + timedelta(hours=8), b"\xd4" * 32)
    )
    midnight = datetime(2026, 3, 1, tzinfo=UTC)
    first_hour = [("0.734", "A"), ("0.702", "A"), ("0.698", "A"), ("0.715", "E")]
    stores.readings.put_new(
        ACCOUNT,
        [
            RawReading(METER, midnight + timedelta(minutes=15 * n), Decimal(value), "interval", 15, quality)
            for n, (value, quality) in enumerate(first_hour)
        ],
    )
    stores.readings.put_new(ACCOUNT, [RawReading(METER, midnight, Decimal("0.741"), "interval", 15)])

    rated = DynamoDbMeteringStore(db)
    rated.put_day(ACCOUNT, DOCUMENTED_DAY)
    rated.put_month(ACCOUNT, DOCUMENTED_MONTH)
    rated.put_running_cost(ACCOUNT, DOCUMENTED_RUNNING_COST)

    stored = [
        tables.catalog(f"account#{ACCOUNT}", "account"),
        tables.catalog(f"account#{ACCOUNT}#meter", METER),
        tables.catalog(f"account#{ACCOUNT}#meter-external-id", "NMI4001234567"),
        tables.catalog("api-key#key_3kq9d0f2", "api-key"),
        tables.catalog(f"session#{session_hash.hex()}", "session"),
        tables.bucket(f"{ACCOUNT}#{METER}", "2026-03-01T00:00Z#i15"),
        tables.catalog("rating-marks#11", f"{ACCOUNT}#{METER}#2026-03-01"),
        tables.bucket(f"{ACCOUNT}#{METER}#rated", "day#2026-03-29"),
        tables.bucket(f"{ACCOUNT}#{METER}#rated", "month#2026-03"),
        tables.catalog(f"account#{ACCOUNT}#running-cost", "cus_0123456789abcdef"),
        *invoice_items(stores.invoices, tables),
        delivery_item(stores.deliveries, tables),
    ]
    assert [as_documented(item) for item in stored] == documented_items()


def invoice_items(invoices: InvoiceStore, tables: Tables) -> list[dict[str, Any] | None]:
    line = {"meter_id": METER, "component": "energy", "quantity": "412.250", "unit": "kWh", "rate": "0.2841",
            "amount": "117.12"}  # fmt: skip
    body = {
        "id": INVOICE,
        "customer_id": "cus_3b7e9d21",
        "currency": "EUR",
        "lines": [line],
        "total": "117.12",
    }
    invoices.put_draft(
        ACCOUNT,
        InvoiceRecord.draft(
            ACCOUNT,
            INVOICE,
            customer_id="cus_3b7e9d21",
            kind="invoice",
            period_start=date(2026, 2, 1),
            period_end=date(2026, 3, 1),
            body=body,
            at=AT,
        ),
    )

    def render(draft: InvoiceRecord, sequence: int) -> IssuedBody:
        number = f"HPO-2026-{sequence:06d}"
        return IssuedBody(number, {**draft.body, "number": number})

    invoices.issue(
        ACCOUNT, INVOICE, series="invoice", at=datetime(2026, 3, 3, 0, 5, tzinfo=UTC), render=render
    )
    start = datetime(2026, 2, 14, 23, tzinfo=UTC)
    received = datetime(2026, 3, 9, 6, 30, tzinfo=UTC)
    invoices.add_rerating_candidate(
        ACCOUNT, ReratingCandidate(INVOICE, METER, start, start + timedelta(days=1), received)
    )
    return [
        tables.catalog(f"account#{ACCOUNT}#invoice", INVOICE),
        tables.catalog(f"account#{ACCOUNT}#invoice-counter", "invoice"),
        tables.catalog(f"account#{ACCOUNT}#invoice-number", "invoice#000000000001"),
        tables.catalog(
            f"account#{ACCOUNT}#invoice-rerating",
            f"{INVOICE}#{METER}#2026-02-14T23:00:00.000000Z#2026-02-15T23:00:00.000000Z",
        ),
    ]


def delivery_item(deliveries: DeliveryStore | None, tables: Tables) -> dict[str, Any] | None:
    """The first email of the invoice, claimed and sent (``docs/storage.md``, "Deliveries")."""
    assert deliveries is not None
    queued = deliveries.queue(
        ACCOUNT,
        NewDelivery(
            invoice_id=INVOICE,
            kind="first",
            to=("alice.mueller@example.org",),
            cc=("buchhaltung@hausverwaltung-ost.example",),
            language="de",
            customer_name="Alice Müller",
            document_key=f"invoices/2026/02/{INVOICE}.pdf",
            document_sha256="9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        ),
        at=AT,
    )
    claimed = queued.claimed(AT)
    assert deliveries.update(ACCOUNT, queued, claimed)
    sent = claimed.advanced(
        "sent",
        AT + timedelta(seconds=1),
        message_id="0107018e0a1b2c3d-4e5f6a7b-8c9d-4e0f-a1b2-c3d4e5f6a7b8-000000",
    )
    assert sent is not None and deliveries.update(ACCOUNT, claimed, sent)
    return tables.catalog(f"account#{ACCOUNT}#invoice-delivery", f"{INVOICE}#000001")
