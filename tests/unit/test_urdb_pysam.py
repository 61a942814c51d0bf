"""Dev-only cross-check: imported URDB rates bill a year of hourly load as NREL SAM's Utilityrate5 does.

SAM reads the same JSON through its own URDB importer (PySAM.UtilityRateTools.URDBv8_to_ElectricityRates). Its
monthly outputs are not rounded, so each of our monthly totals may differ from SAM by at most half a cent for
each rounded bill line that makes it up.

SAM's year has 365 days and starts on a Monday, like 2018. Our bills are rated in UTC, where every day has 24
hours.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

import pytest

from meterbill.billing.bill import Bill, LineItem
from meterbill.tariffs.engine import BillPeriod, rate_monthly
from meterbill.tariffs.model import Tariff
from meterbill.tariffs.urdb import from_urdb
from meterbill.usage import IntervalSeries, Usage
from tests.unit.urdb_helpers import LEFT_OUT, SHOULD_BILL, household_kwh, sample, sample_as_floats

utilityrate5 = pytest.importorskip("PySAM.Utilityrate5")
rate_tools = pytest.importorskip("PySAM.UtilityRateTools")

YEAR = BillPeriod(date(2018, 1, 1), date(2019, 1, 1), ZoneInfo("UTC"))
HOURS = 8760
HALF_CENT = Decimal("0.005")
FLOAT_NOISE = Decimal("0.000001")
SAM_OUTPUTS = {
    "energy": "year1_monthly_ec_charge_without_system",
    "flat demand": "year1_monthly_dc_fixed_without_system",
    "tou demand": "year1_monthly_dc_tou_without_system",
    "fixed": "year1_monthly_fixed_without_system",
    "minimum": "year1_monthly_minimum_without_system",
    "total": "year1_monthly_utility_bill_wo_sys",
}
# A household's load, or that load times a business's size in kW, so that the large rates' demand and
# minimum charges apply (FPL GSLD-1's minimum tops up its smaller months).
LOAD_SCALE = {
    "fpl_gsld1_large_demand": 80,
    "fpl_gsldt1_large_demand_tou": 600,
    "pge_e19_secondary": 500,
    "coned_sc9_rate3_zone_j": 300,
}


def hourly_load(scale: int) -> list[Decimal]:
    start = datetime(2018, 1, 1, tzinfo=UTC)
    return [household_kwh(start + timedelta(hours=h)) * scale for h in range(HOURS)]


def sam_monthly(name: str, load: list[Decimal]) -> dict[str, list[Decimal]]:
    """SAM's monthly charges for a year of hourly load, without any system (no generation, no export)."""
    model = utilityrate5.new()
    model.Lifetime.analysis_period = 1
    model.Lifetime.inflation_rate = 0
    model.Lifetime.system_use_lifetime_output = 0
    model.SystemOutput.gen = [0.0] * HOURS
    model.SystemOutput.degradation = [0]
    model.Load.load = [float(kwh) for kwh in load]
    model.Load.load_escalation = [0]
    # The importer adds 1 to the schedules in place: give it a copy.
    rates = rate_tools.URDBv8_to_ElectricityRates(copy.deepcopy(sample_as_floats(name)))
    for key, value in rates.items():
        setattr(model.ElectricityRates, key, value)
    model.execute(0)
    return {
        part: [Decimal(repr(v)) for v in getattr(model.Outputs, output)]
        for part, output in SAM_OUTPUTS.items()
    }


def our_parts(tariff: Tariff) -> dict[str, Callable[[LineItem], bool]]:
    flat_periods = set()
    if tariff.demand is not None and tariff.demand.flat is not None:
        flat_periods = {p.name for p in tariff.demand.flat.periods}
    return {
        "energy": lambda line: line.component == "energy",
        "flat demand": lambda line: line.component == "demand" and line.period in flat_periods,
        "tou demand": lambda line: line.component == "demand" and line.period not in flat_periods,
        "fixed": lambda line: line.component == "fixed",
        "minimum": lambda line: line.component == "minimum",
        "total": lambda line: True,
    }


def differences(
    bills: list[Bill], sam: dict[str, list[Decimal]], parts: dict[str, Callable[[LineItem], bool]]
) -> list[str]:
    """Each month's part that differs from SAM by more than half a cent per line that makes it up."""
    found = []
    for month, bill in enumerate(bills, start=1):
        for part, belongs in parts.items():
            lines = [line for line in bill.lines if belongs(line)]
            ours = sum((line.amount for line in lines), Decimal(0))
            # A minimum-charge line tops up the other, rounded lines: it carries their rounding too.
            rounded = len(bill.lines) if part == "minimum" and lines else len(lines)
            allowed = HALF_CENT * rounded + FLOAT_NOISE
            if abs(ours - sam[part][month - 1]) > allowed:
                found.append(f"2018-{month:02d} {part}: ours {ours}, SAM {sam[part][month - 1]:.6f}")
    return found


def rated(name: str) -> tuple[Tariff, list[Bill], dict[str, list[Decimal]]]:
    load = hourly_load(LOAD_SCALE.get(name, 1))
    tariff = from_urdb(sample(name), ignore=LEFT_OUT.get(name, set()))
    series = IntervalSeries.from_decimals(datetime(2018, 1, 1, tzinfo=UTC), 60, load, "kWh")
    return tariff, rate_monthly(tariff, YEAR, Usage(series=series)), sam_monthly(name, load)


@pytest.mark.parametrize("name", [name for name in SHOULD_BILL if name != "pge_e19_secondary"])
def test_each_month_bills_what_sam_bills(name: str) -> None:
    tariff, bills, sam = rated(name)
    assert differences(bills, sam, our_parts(tariff)) == []


def test_the_palo_alto_tou_tiers_are_shared_pro_rata_as_in_sam() -> None:
    tariff, bills, sam = rated("paloalto_e1_tou_tiered")
    assert tariff.energy is not None and tariff.energy.tier_scope == "total_pro_rata"
    assert any(line.tier == 3 for bill in bills for line in bill.lines)  # the load reaches the third tier
    assert differences(bills, sam, our_parts(tariff)) == []


def test_the_fpl_minimum_tops_up_the_same_months_as_in_sam() -> None:
    _, bills, sam = rated("fpl_gsld1_large_demand")
    topped_up = [month for month, bill in enumerate(bills, start=1) if bill.total == Decimal("6833.67")]
    assert topped_up == [
        month for month, total in enumerate(sam["total"], start=1) if total == Decimal("6833.67")
    ]
    assert 0 < len(topped_up) < 12


def test_pge_e19_bills_what_sam_bills_except_sams_average_month_of_daily_fixed_charges() -> None:
    tariff, bills, sam = rated("pge_e19_secondary")
    parts = our_parts(tariff)
    del parts["fixed"], parts["total"]
    assert differences(bills, sam, parts) == []
    # SAM turns 19.71253 $/day into 19.71253 x 365 / 12 every month; a bill charges the month's days.
    days = [(date(2018 + m // 12, m % 12 + 1, 1) - date(2018, m, 1)).days for m in range(1, 13)]
    assert [bill.lines[0].amount for bill in bills] == [
        (Decimal("19.71253") * d).quantize(Decimal("0.01"), ROUND_HALF_UP) for d in days
    ]
    assert all(abs(fixed - Decimal("19.71253") * 365 / 12) < FLOAT_NOISE for fixed in sam["fixed"])
