"""A bill: rounded lines that add up to the total, and the usage they were computed from."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from meterbill.money import quantum


@dataclass(frozen=True, slots=True)
class LineItem:
    component: str
    description: str
    quantity: Decimal
    unit: str
    rate: Decimal | None
    amount: Decimal
    period: str | None = None
    tier: int | None = None
    season: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "component": self.component,
            "description": self.description,
            "quantity": _decimal_text(self.quantity),
            "unit": self.unit,
            "rate": None if self.rate is None else str(self.rate),
            "amount": str(self.amount),
            "period": self.period,
            "tier": self.tier,
            "season": self.season,
        }


@dataclass(frozen=True, slots=True)
class UsageSummary:
    total: Decimal
    estimated: Decimal
    unit: str
    peak_demand: Decimal | None = None
    # Intervals of the period with no data at all (not even an estimate): billed as zero, so worth a look.
    missing_intervals: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "total": _decimal_text(self.total),
            "estimated": _decimal_text(self.estimated),
            "unit": self.unit,
            "peak_demand": None if self.peak_demand is None else _decimal_text(self.peak_demand),
            "missing_intervals": self.missing_intervals,
        }


class _Line(Protocol):
    @property
    def component(self) -> str: ...

    @property
    def amount(self) -> Decimal: ...


def _sum(amounts: Iterable[Decimal], currency: str) -> Decimal:
    # Lines are already rounded; the zero start only fixes the exponent (an empty sum shows 0.00).
    return sum(amounts, Decimal(0).quantize(quantum(currency)))


def subtotal_of(lines: Iterable[_Line], currency: str) -> Decimal:
    """The sum of the lines before tax (a bill's and an invoice's ``subtotal``)."""
    return _sum((line.amount for line in lines if line.component != "tax"), currency)


def taxes_of(lines: Iterable[_Line], currency: str) -> Decimal:
    return _sum((line.amount for line in lines if line.component == "tax"), currency)


def total_of(lines: Iterable[_Line], currency: str) -> Decimal:
    return _sum((line.amount for line in lines), currency)


@dataclass(frozen=True, slots=True)
class Bill:
    tariff_id: str
    tariff_version: int
    currency: str
    start: datetime
    end: datetime
    lines: tuple[LineItem, ...]
    usage: UsageSummary
    # Shown beside the bill, not part of it (e.g. savings that are not credited).
    memos: tuple[LineItem, ...] = field(default=())
    # The variables the tariff's formulas read for this bill, by qualified name ("site.floor_area", "month"),
    # sorted: what a reader needs to recompute every formula operand of the bill.
    variables: tuple[tuple[str, Decimal | bool | str], ...] = field(default=())

    @property
    def subtotal(self) -> Decimal:
        return subtotal_of(self.lines, self.currency)

    @property
    def taxes(self) -> Decimal:
        return taxes_of(self.lines, self.currency)

    @property
    def total(self) -> Decimal:
        return total_of(self.lines, self.currency)

    def to_json(self) -> dict[str, Any]:
        return {
            "tariff": {"id": self.tariff_id, "version": self.tariff_version},
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "currency": self.currency,
            "subtotal": str(self.subtotal),
            "taxes": str(self.taxes),
            "total": str(self.total),
            "lines": [line.to_json() for line in self.lines],
            "memos": [line.to_json() for line in self.memos],
            "usage": self.usage.to_json(),
            "variables": {
                name: _decimal_text(value) if isinstance(value, Decimal) else value
                for name, value in self.variables
            },
        }


def _decimal_text(value: Decimal) -> str:
    """Plain notation without trailing zeros: 1E+3 -> '1000', 1.500 -> '1.5'."""
    return format(value.normalize(), "f")
