"""Situations for the charges tests: readings from interval values, and a compute customer under
XtremWeb-HEP's usage package (on the portfolio's account and site, ``tests/unit/invoicing_support.py``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from meterbill.ports import RawReading
from meterbill.services import catalog as catalog_service
from tests.unit.invoicing_support import A, add_customer, add_meter, assign

FARE, UNIT_RATE = Decimal("0.01"), Decimal("0.0089")


def intervals(meter_id: str, start: datetime, values: Sequence[str], minutes: int) -> list[RawReading]:
    """Interval readings from ``start`` on, one every ``minutes`` of real (UTC) time."""
    first = start.astimezone(UTC)
    step = timedelta(minutes=minutes)
    return [
        RawReading(meter_id, first + i * step, Decimal(value), "interval", minutes)
        for i, value in enumerate(values)
    ]


def add_grid_customer(stores: Any) -> None:
    """c-grid on node-1 (compute, seconds busy per 15 minutes, site berlin) under XtremWeb-HEP's package:
    0.01 a job covers its first 1,800 s, then each started 300 s costs 0.0089. Idle all January but on the
    10th: 08:00-08:45 busy 2,700 s; 10:00-10:15 busy 600 s; 14:00-14:45 busy 900 + 900 + 420 = 2,220 s."""
    package = {
        "id": "grid",
        "name": "Grid jobs",
        "currency": "EUR",
        "unit": "s",
        "effective_from": "2025-01-01",
        "packages": [
            {
                "description": "Job package",
                "threshold_seconds": 1800,
                "fare": str(FARE),
                "unit_seconds": 300,
                "unit_rate": str(UNIT_RATE),
            }
        ],
    }
    catalog_service.create_tariff(A, package, stores.catalog)
    add_meter(stores, "node-1", utility="compute", unit="s", interval_minutes=15)
    add_customer(stores, "c-grid")
    assign(stores, "c-grid", "node-1", "grid", date(2026, 1, 1))
    busy = ["0"] * 96
    busy[32:35] = ["900", "900", "900"]  # 08:00
    busy[40] = "600"  # 10:00
    busy[56:59] = ["900", "900", "420"]  # 14:00
    month = ["0"] * 9 * 96 + busy + ["0"] * 21 * 96
    stores.readings.put_new(A, intervals("node-1", datetime(2025, 12, 31, 23, tzinfo=UTC), month, 15))
