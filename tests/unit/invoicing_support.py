"""A portfolio for the invoicing tests: one account, a site in Berlin, hourly meters reading 1 kWh an hour.

| customer | meters (tariff, share)                      | bill day            | assignments            |
|----------|---------------------------------------------|---------------------|------------------------|
| c-alice  | m-alice (flat), common (flat, 0.5)          | 15 (the account's)  | from 2026-01-15        |
| c-bob    | common (flat, 0.5)                          | 15                  | 2026-01-15..2026-01-25 |
| c-carol  | m-carol (formula: 0.25 for 3 phases)        | 15                  | from 2026-01-15        |
| c-dave   | m-dave1 (flat), m-dave2 (green)             | 15                  | from 2026-01-15        |
| c-rack   | m-rack (flat), labelled rack R12            | 1 (colocation)      | from 2026-01-01        |

flat: 0.30 EUR/kWh; green: 0.20 EUR/kWh; formula: 0.25 if meter.phase_count == 3 else 0.30. No taxes, no
fixed charges, so every amount is kWh times a rate. Invoice numbers: ``HPO-2026-``; notes ``HPO-CN-``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from meterbill.domain import Assignment, Customer, Meter, Site
from meterbill.ports import AccountRecord, RawReading
from meterbill.services import billing_settings
from meterbill.services import catalog as catalog_service
from tests.fakes import FakeStores

A = "hpo"
BERLIN = ZoneInfo("Europe/Berlin")
READINGS_FROM = datetime(2026, 1, 1, tzinfo=BERLIN)
READINGS_TO = datetime(2026, 2, 20, tzinfo=BERLIN)


def tariff(tariff_id: str, rate: str) -> dict[str, Any]:
    return {
        "id": tariff_id,
        "name": tariff_id.title(),
        "currency": "EUR",
        "effective_from": "2025-01-01",
        "energy": {"periods": [{"name": "all", "tiers": [{"rate": rate}]}]},
    }


def new_account(stores: Any, *, bill_day: int = 15, at: datetime | None = None) -> None:
    at = at or datetime(2025, 12, 1, tzinfo=BERLIN)
    stores.accounts.create(AccountRecord(A, "HPO", at))
    billing_settings.replace(
        A,
        {
            "bill_day": bill_day,
            "invoice_number_prefix": "HPO-2026-",
            "credit_note_number_prefix": "HPO-CN-",
        },
        stores.accounts,
        at,
        if_match=None,
    )


def add_site(stores: Any, site_id: str = "berlin", timezone: str = "Europe/Berlin") -> None:
    catalog_service.create(A, Site, {"id": site_id, "name": site_id, "timezone": timezone}, stores.catalog)


def add_meter(stores: Any, meter_id: str, site_id: str = "berlin", **fields: Any) -> None:
    meter = {
        "id": meter_id,
        "site_id": site_id,
        "utility": "electricity",
        "unit": "kWh",
        "kind": "main",
        "interval_minutes": 60,
        **fields,
    }
    catalog_service.create(A, Meter, meter, stores.catalog)


def assign(
    stores: Any,
    customer_id: str,
    meter_id: str,
    tariff_id: str,
    start: date,
    end: date | None = None,
    share: str = "1",
) -> None:
    body = {
        "id": f"as-{customer_id}-{meter_id}",
        "meter_id": meter_id,
        "customer_id": customer_id,
        "tariff_id": tariff_id,
        "share": share,
        "effective_from": start.isoformat(),
        "effective_to": None if end is None else end.isoformat(),
    }
    catalog_service.create(A, Assignment, body, stores.catalog)


def add_customer(stores: Any, customer_id: str, **fields: Any) -> None:
    catalog_service.create(A, Customer, {"id": customer_id, "name": customer_id, **fields}, stores.catalog)


def hourly(
    meter_id: str, start: datetime, end: datetime, value: Callable[[datetime], Decimal] | None = None
) -> list[RawReading]:
    readings = []
    moment = start
    while moment < end:
        readings.append(
            RawReading(meter_id, moment, Decimal(1) if value is None else value(moment), "interval", 60)
        )
        moment += timedelta(hours=1)
    return readings


METERS = ("m-alice", "common", "m-carol", "m-dave1", "m-dave2", "m-rack")


def portfolio(clock: Callable[[], datetime] | None = None) -> FakeStores:
    stores = FakeStores.empty() if clock is None else FakeStores.empty(clock)
    populate(stores)
    return stores


def populate(stores: Any, readings_to: datetime = READINGS_TO, **customer_fields: Any) -> None:
    """The portfolio in ``stores`` (the fakes, or the DynamoDB ports on moto); ``customer_fields`` are
    given to every customer (e.g. the address an e-invoice needs)."""
    new_account(stores)
    add_site(stores)
    for tariff_id, rate in (
        ("flat", "0.30"),
        ("green", "0.20"),
        ("formula", "0.25 if meter.phase_count == 3 else 0.30"),
    ):
        catalog_service.create_tariff(A, tariff(tariff_id, rate), stores.catalog)
    for meter_id in METERS:
        extra: dict[str, Any] = {}
        if meter_id == "m-carol":
            extra = {"attributes": {"phase_count": 3}}
        if meter_id == "m-rack":
            extra = {"labels": {"rack": "R12", "feed": "A"}}
        add_meter(stores, meter_id, **extra)
    for customer_id in ("c-alice", "c-bob", "c-carol", "c-dave", "c-rack"):
        add_customer(stores, customer_id, **customer_fields)
    jan15 = date(2026, 1, 15)
    assign(stores, "c-alice", "m-alice", "flat", jan15)
    assign(stores, "c-alice", "common", "flat", jan15, share="0.5")
    assign(stores, "c-bob", "common", "flat", jan15, date(2026, 1, 25), share="0.5")
    assign(stores, "c-carol", "m-carol", "formula", jan15)
    assign(stores, "c-dave", "m-dave1", "flat", jan15)
    assign(stores, "c-dave", "m-dave2", "green", jan15)
    assign(stores, "c-rack", "m-rack", "flat", date(2026, 1, 1))
    for meter_id in METERS:
        stores.readings.put_new(A, hourly(meter_id, READINGS_FROM, readings_to))
