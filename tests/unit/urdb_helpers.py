"""Real URDB rate objects (tests/data/urdb: the shared samples, copied unchanged) and usage to rate them."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from meterbill.tariffs.engine import BillPeriod
from meterbill.usage import IntervalSeries, Usage

SAMPLES = Path(__file__).parent.parent / "data" / "urdb"

# The rates an engine should bill. PG&E E-19 carries a power-factor adjustment in demandattrs[0], which needs
# reactive power; it is imported by leaving that one charge out on purpose.
SHOULD_BILL = [
    "pscolorado_re_tou",
    "aps_et2_tou",
    "consumers_rsp_summer_peak",
    "jackson_emc_a_senior",
    "paloalto_e1_tou_tiered",
    "pscolorado_rd_res_demand",
    "fpl_gsld1_large_demand",
    "fpl_gsldt1_large_demand_tou",
    "pge_e19_secondary",
    "coned_sc9_rate3_zone_j",
]
LEFT_OUT = {"pge_e19_secondary": {"demandattrs[0]"}}


def sample(name: str) -> dict[str, Any]:
    """A sample rate as URDB wrote it, numbers as exact Decimals."""
    with (SAMPLES / f"{name}.json").open(encoding="utf-8") as f:
        rate: dict[str, Any] = json.load(f, parse_float=Decimal)
    return rate


def sample_as_floats(name: str) -> dict[str, Any]:
    """A sample rate the way most JSON readers (and PySAM) see it: numbers as floats."""
    with (SAMPLES / f"{name}.json").open(encoding="utf-8") as f:
        rate: dict[str, Any] = json.load(f)
    return rate


def month_period(year: int, month: int, tz: ZoneInfo) -> BillPeriod:
    return BillPeriod(date(year, month, 1), date(year + month // 12, month % 12 + 1, 1), tz)


def metered(period: BillPeriod, minutes: int, kwh_at: Callable[[datetime], Decimal]) -> Usage:
    """Interval usage over the bill period: ``kwh_at(local start of the interval)`` kWh in each interval."""
    start = period.start_instant
    count = int((period.end_instant - start) / timedelta(minutes=minutes))
    starts = [(start + timedelta(minutes=minutes * i)).astimezone(period.tz) for i in range(count)]
    return Usage(series=IntervalSeries.from_decimals(start, minutes, [kwh_at(t) for t in starts], "kWh"))


# A year of hourly household load (2018, local = UTC): an evening peak, summer afternoons, weekend middays and
# some hour-to-hour noise, scaled by month so some months cross tier limits and minimums and some do not.
MONTH_FACTORS = [
    Decimal(f) for f in ("1.3", "1.1", "0.9", "0.7", "0.6", "0.9", "1.4", "1.5", "1.0", "0.7", "0.9", "1.2")
]


def household_kwh(t: datetime) -> Decimal:
    kwh = Decimal("0.3")
    if 7 <= t.hour < 23:
        kwh += Decimal("0.25")
    if 17 <= t.hour < 21:
        kwh += Decimal("0.9")
    if t.month in (6, 7, 8, 9) and 12 <= t.hour < 19:
        kwh += Decimal("0.7")
    if t.weekday() >= 5 and 10 <= t.hour < 16:
        kwh += Decimal("0.4")
    hour_of_year = (t - datetime(t.year, 1, 1, tzinfo=t.tzinfo)) // timedelta(hours=1)
    kwh += Decimal(hour_of_year * 7919 % 23) / 50
    return (kwh * MONTH_FACTORS[t.month - 1]).quantize(Decimal("0.001"))
