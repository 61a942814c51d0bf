"""Response bodies of the savings report (``GET /v1/reports/savings``): the figures of ``billing.savings`` as
decimal text, moments ISO 8601 with their offset. The report PDF shows the same figures."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import TYPE_CHECKING

from pydantic import Field

from meterbill.api.schema_fields import DecimalText
from meterbill.api.schemas import _Response

if TYPE_CHECKING:
    from meterbill.billing.savings import InstallationSavings, NodeSavings, SavingsReport


class CurrencyAmount(_Response):
    currency: str
    amount: DecimalText

    @classmethod
    def all_of(cls, totals: Mapping[str, object]) -> list[CurrencyAmount]:
        return [cls.model_validate({"currency": c, "amount": a}) for c, a in totals.items()]


class NodeSavingsRow(_Response):
    node_id: str = Field(description="the on_time meter")
    start: datetime = Field(description="the first instant (the site's local midnight)")
    end: datetime = Field(description="the end (exclusive); a price change in the span starts a new row")
    hours: DecimalText = Field(description="of [start, end): 24 a day, 23 or 25 on a DST day")
    on_hours: DecimalText = Field(description="the on-time the meter counted")
    off_hours: DecimalText = Field(description="hours - on_hours, never below 0")
    power_rating_w: DecimalText = Field(description="W, as the tariff's savings component prices it")
    price_per_kwh: DecimalText
    currency: str
    savings: DecimalText = Field(
        description="off_hours x power_rating_w x price_per_kwh / 1000, rounded half up to the minor unit"
    )

    @classmethod
    def of(cls, row: NodeSavings) -> NodeSavingsRow:
        return cls(
            node_id=row.node_id,
            start=row.start,
            end=row.end,
            hours=row.hours,
            on_hours=row.on_hours,
            off_hours=row.off_hours,
            power_rating_w=row.power_rating_w,
            price_per_kwh=row.price_per_kwh,
            currency=row.currency,
            savings=row.savings,
        )


class InstallationSavingsDocument(_Response):
    id: str = Field(description="the site")
    name: str
    nodes: list[NodeSavingsRow] = Field(description="by node id, then start")
    totals: list[CurrencyAmount] = Field(description="per currency: the sum of its rows' savings")

    @classmethod
    def of(cls, installation: InstallationSavings) -> InstallationSavingsDocument:
        return cls(
            id=installation.installation_id,
            name=installation.name,
            nodes=[NodeSavingsRow.of(row) for row in installation.nodes],
            totals=CurrencyAmount.all_of(installation.totals),
        )


class SavingsReportDocument(_Response):
    start: date = Field(description="the first day (from)")
    end: date = Field(description="the day after the last (to)")
    installations: list[InstallationSavingsDocument] = Field(description="by site id")
    totals: list[CurrencyAmount] = Field(description="per currency: the sum of the installations' totals")

    @classmethod
    def of(cls, start: date, end: date, report: SavingsReport) -> SavingsReportDocument:
        return cls(
            start=start,
            end=end,
            installations=[InstallationSavingsDocument.of(i) for i in report.installations],
            totals=CurrencyAmount.all_of(report.totals),
        )
