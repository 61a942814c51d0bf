"""The documentation's examples are real: every tariff shown in docs/ validates and rates."""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from meterbill.tariffs.engine import BillPeriod, rate
from meterbill.tariffs.model import Tariff
from meterbill.usage import IntervalSeries, Usage
from tests.builders import BERLIN

DOCS = Path(__file__).parents[2] / "docs"


def json_blocks(markdown: str) -> list[str]:
    return re.findall(r"```json\n(.*?)```", markdown, flags=re.DOTALL)


def test_the_tariff_with_every_component_validates_and_rates() -> None:
    (block,) = json_blocks((DOCS / "tariffs.md").read_text(encoding="utf-8"))
    tariff = Tariff.model_validate(json.loads(block, parse_float=Decimal))
    usage = Usage(
        series=IntervalSeries.from_decimals(
            datetime(2026, 6, 1, tzinfo=BERLIN), 60, [Decimal("2")] * 720, "kWh"
        )
    )
    bill = rate(
        tariff,
        BillPeriod(date(2026, 6, 1), date(2026, 7, 1), BERLIN),
        usage,
        attributes={"small_customer": False},
        demand_history=[Decimal("10")],
    )
    assert [line.component for line in bill.lines] == [
        "fixed",
        "fixed",
        "energy",
        "energy",
        "demand",
        "surcharge",
        "discount",
        "tax",
    ]
    # The 2 kW peak is below the ratchet: 80 % of 10 kW is billed at the summer rate.
    demand = next(line for line in bill.lines if line.component == "demand")
    assert (demand.quantity, demand.amount) == (Decimal("8.0"), Decimal("8") * Decimal("10.08"))
