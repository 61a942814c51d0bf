"""Small builders so tests state situations in one line each."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from meterbill.billing.bill import Bill, LineItem
from meterbill.tariffs.engine import BillPeriod
from meterbill.tariffs.model import Tariff
from meterbill.usage import IntervalSeries

BERLIN = ZoneInfo("Europe/Berlin")
UTC = ZoneInfo("UTC")
D = Decimal


def tariff(**parts: Any) -> Tariff:
    return Tariff.model_validate({"id": "t", "name": "Test tariff", "currency": "EUR", **parts})


def flat_energy(rate: str) -> dict[str, Any]:
    return {"periods": [{"name": "all", "tiers": [{"rate": rate}]}]}


def series(
    start: datetime, minutes: int, values: Sequence[str | Decimal | int], unit: str = "kWh"
) -> IntervalSeries:
    return IntervalSeries.from_decimals(start, minutes, [D(str(v)) for v in values], unit)


def constant(start: datetime, minutes: int, count: int, value: str, unit: str = "kWh") -> IntervalSeries:
    return series(start, minutes, [value] * count, unit)


def month(year: int, month_: int, tz: ZoneInfo = BERLIN) -> BillPeriod:
    end = date(year + month_ // 12, month_ % 12 + 1, 1)
    return BillPeriod(date(year, month_, 1), end, tz)


def days(start: date, end: date, tz: ZoneInfo = BERLIN) -> BillPeriod:
    return BillPeriod(start, end, tz)


def lines(bill: Bill, component: str) -> list[LineItem]:
    return [line for line in bill.lines if line.component == component]


def amounts(bill: Bill, component: str) -> list[Decimal]:
    return [line.amount for line in lines(bill, component)]


def schedule(hours: dict[range, int], default: int = 0) -> list[list[int]]:
    """The same 24-hour row for all 12 months; ``hours`` maps hour ranges to periods."""
    row = [default] * 24
    for span, period in hours.items():
        for h in span:
            row[h] = period
    return [list(row) for _ in range(12)]
