"""Site and meter attributes on DynamoDB (moto): stored with the catalog object as exact JSON, read back as
the numbers they were, and fed to the tariff's formulas by the bill preview, which records what they read."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from meterbill.domain import Assignment, Customer, Meter, Site
from meterbill.ports import RawReading, Stores
from meterbill.services import catalog as catalog_service
from meterbill.services.preview import bill_preview
from tests.builders import UTC
from tests.integration.conftest import Tables

A = "acme"
D = Decimal
TARIFF: dict[str, Any] = {
    "id": "scoped",
    "name": "Floor area and phases",
    "currency": "EUR",
    "fixed": [{"description": "Floor area", "amount": "site.floor_area * 0.5", "per": "day"}],
    "energy": {"periods": [{"name": "all", "tiers": [{"rate": "0.25 if meter.phase_count == 3 else 0.30"}]}]},
}


def test_site_and_meter_attributes_are_stored_as_json_and_rate_the_preview(
    stores: Stores, tables: Tables
) -> None:
    catalog = stores.catalog
    site = {
        "id": "site-1",
        "name": "Plant",
        "timezone": "Europe/Berlin",
        "attributes": {"floor_area": "120.50"},
    }
    catalog_service.create(A, Site, site, catalog)
    meter = {"id": "mtr-1", "site_id": "site-1", "utility": "electricity", "unit": "kWh", "kind": "main"}
    catalog_service.create(A, Meter, {**meter, "attributes": {"phase_count": 3}}, catalog)
    catalog_service.create(A, Customer, {"id": "cus-1", "name": "Ada"}, catalog)
    catalog_service.create_tariff(A, TARIFF, catalog)
    assignment = {"id": "asg-1", "meter_id": "mtr-1", "customer_id": "cus-1", "tariff_id": "scoped"}
    catalog_service.create(A, Assignment, {**assignment, "effective_from": "2026-02-01"}, catalog)
    start = datetime(2026, 1, 31, 23, tzinfo=UTC)  # 2026-02-01 00:00 in Berlin
    quarters = [
        RawReading("mtr-1", start + timedelta(minutes=15 * i), D("0.25"), "interval", 15) for i in range(96)
    ]
    stores.readings.put_new(A, quarters)

    stored_site = tables.catalog(f"account#{A}#site", "site-1")
    assert stored_site is not None
    assert json.loads(stored_site["body"]["S"])["attributes"] == {"floor_area": "120.50"}
    assert catalog_service.get(A, Site, "site-1", catalog).value.attributes == {"floor_area": D("120.50")}

    (previewed,) = bill_preview(A, "cus-1", date(2026, 2, 1), date(2026, 2, 2), catalog, stores.readings)

    bill = previewed.bill
    assert [line.amount for line in bill.lines] == [
        (D("120.50") * D("0.5") * 1).quantize(D("0.01")),  # 60.25 for one day
        96 * D("0.25") * D("0.25"),  # 24 kWh x 0.25 = 6.00
    ]
    assert bill.to_json()["variables"] == {"meter.phase_count": "3", "site.floor_area": "120.5"}
