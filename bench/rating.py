"""Rating throughput: one year of 15-minute data through meterbill's engine, NREL SAM and a numpy floor.

Run: ``.venv/bin/python bench/rating.py [--runs N] [--zone IANA-name]``
(not a test; prints its figures, exits 0).

The load is a deterministic synthetic commercial building (20-120 kW, 35,040 quarter hours of 2018); the
tariff has 3-period TOU energy with weekday/weekend schedules that change with the season, 2 tiers in every
period (on the month's total, shared pro rata - SAM's reading), TOU demand, flat demand with seasonal rates
and tiers, a fixed charge and a sales tax. It is rated as 12 monthly bills with ``rate_monthly``.
"""

from __future__ import annotations

import argparse
import gc
import math
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "layers" / "common" / "python"))

from meterbill.billing.bill import Bill
from meterbill.tariffs.engine import BillPeriod, rate_monthly
from meterbill.tariffs.model import Tariff
from meterbill.timeutil import local_midnight
from meterbill.usage import IntervalSeries, Usage

YEAR = 2018  # starts on a Monday, like SAM's year; 365 days
INTERVAL_MINUTES = 15
PER_HOUR = 60 // INTERVAL_MINUTES
INTERVALS = 365 * 24 * PER_HOUR  # 35,040
GOAL_INTERVALS_PER_S = 1_000_000
GOAL_FLOOR_RATIO = 3.0
SUMMER = range(5, 9)  # June-September, 0-based months
TIER_KWH = 20_000  # tier 1 of every energy period: the month's first 20 MWh (on the total, pro rata)
FLAT_DEMAND_TIER_KW = 100  # summer flat demand: first 100 kW at one rate, the rest at another
SAM_HUGE = 1e38  # SAM's "no upper limit"

# --- the tariff ---------------------------------------------------------------------------------------------

ENERGY_PERIODS = [  # (name, tier 1 rate, tier 2 rate), USD/kWh
    ("off-peak", "0.0712", "0.0655"),
    ("shoulder", "0.1134", "0.1046"),
    ("peak", "0.1987", "0.1823"),
]
DEMAND_TOU_PERIODS = [("base", "1.85"), ("summer on-peak", "14.60"), ("winter on-peak", "8.95")]  # USD/kW
DEMAND_FLAT = {"summer": ("6.40", "8.10"), "winter": ("4.25", None)}  # (tier 1 rate, tier 2 rate or single)
FIXED_USD = "35.00"
TAX_PERCENT = "6.25"


def _row(spans: dict[range, int], default: int = 0) -> list[int]:
    row = [default] * 24
    for span, period in spans.items():
        for h in span:
            row[h] = period
    return row


def energy_schedules() -> tuple[list[list[int]], list[list[int]]]:
    summer_wd = _row({range(8, 12): 1, range(12, 18): 2, range(18, 22): 1})
    winter_wd = _row({range(7, 17): 1, range(17, 20): 2, range(20, 22): 1})
    summer_we = _row({range(12, 20): 1})
    winter_we = _row({})
    weekday = [list(summer_wd if m in SUMMER else winter_wd) for m in range(12)]
    weekend = [list(summer_we if m in SUMMER else winter_we) for m in range(12)]
    return weekday, weekend


def demand_schedules() -> tuple[list[list[int]], list[list[int]]]:
    summer_wd = _row({range(12, 18): 1})
    winter_wd = _row({range(17, 20): 2})
    weekday = [list(summer_wd if m in SUMMER else winter_wd) for m in range(12)]
    weekend = [[0] * 24 for _ in range(12)]
    return weekday, weekend


def build_tariff(window_minutes: int) -> Tariff:
    e_wd, e_we = energy_schedules()
    d_wd, d_we = demand_schedules()
    flat_periods = []
    for name, (r1, r2) in DEMAND_FLAT.items():
        tiers = [{"rate": r1}] if r2 is None else [{"size": FLAT_DEMAND_TIER_KW, "rate": r1}, {"rate": r2}]
        flat_periods.append({"name": name, "tiers": tiers})
    doc: dict[str, Any] = {
        "id": "bench-commercial-tou",
        "name": "Commercial TOU with demand (benchmark)",
        "currency": "USD",
        "seasons": [
            {"name": "summer", "months": [m + 1 for m in SUMMER]},
            {"name": "winter", "months": [m + 1 for m in range(12) if m not in SUMMER]},
        ],
        "fixed": [{"description": "Customer charge", "amount": FIXED_USD}],
        "energy": {
            "periods": [
                {"name": name, "tiers": [{"size": TIER_KWH, "rate": r1}, {"rate": r2}]}
                for name, r1, r2 in ENERGY_PERIODS
            ],
            "time_of_use": {"weekday_schedule": e_wd, "weekend_schedule": e_we},
            "tier_scope": "total_pro_rata",
        },
        "demand": {
            "window_minutes": window_minutes,
            "flat": {"periods": flat_periods, "months": [0 if m in SUMMER else 1 for m in range(12)]},
            "time_of_use": {
                "periods": [{"name": name, "tiers": [{"rate": r}]} for name, r in DEMAND_TOU_PERIODS],
                "time_of_use": {"weekday_schedule": d_wd, "weekend_schedule": d_we},
            },
        },
        "taxes": [{"name": "Sales tax", "percent": TAX_PERCENT}],
    }
    return Tariff.model_validate(doc)


# --- the load -----------------------------------------------------------------------------------------------


def _occupancy(hour: float) -> float:
    """0 at night, 1 in office hours, smooth ramps 6-8 and 17-19."""
    if hour < 6 or hour >= 19:
        return 0.0
    if hour < 8:
        return 0.5 - 0.5 * math.cos(math.pi * (hour - 6) / 2)
    if hour < 17:
        return 1.0
    return 0.5 + 0.5 * math.cos(math.pi * (hour - 17) / 2)


def load_kwh_strings(seed: int = 20180101) -> list[str]:
    """Quarter-hour kWh (Wh resolution) of a synthetic office: 20-120 kW, weekday occupancy, summer
    cooling peaking mid-afternoon, a little winter heating, day-to-day weather, AR(1) noise and rare
    equipment spikes."""
    rng = random.Random(seed)
    out: list[str] = []
    noise = 0.0
    first = date(YEAR, 1, 1)
    for day_index in range(365):
        day = first + timedelta(days=day_index)
        weekday = day.weekday() < 5
        doy = day.timetuple().tm_yday
        season = 0.5 - 0.5 * math.cos(2 * math.pi * (doy - 20) / 365)  # 0 late January, 1 late July
        weather = rng.gauss(1.0, 0.12)
        for q in range(24 * PER_HOUR):
            hour = q / PER_HOUR
            kw = 22.0 + 3.0 * math.sin(2 * math.pi * (hour - 4) / 24)
            occ = _occupancy(hour) if weekday else 0.15 * _occupancy(hour)
            kw += 48.0 * occ
            cooling = max(0.0, math.sin(math.pi * (hour - 9) / 12)) if 9 <= hour < 21 else 0.0
            kw += 42.0 * season**2 * cooling * weather * (1.0 if weekday else 0.4)
            kw += 9.0 * (1 - season) * occ * weather
            noise = 0.85 * noise + rng.gauss(0.0, 1.6)
            kw += noise
            if weekday and occ > 0.5 and rng.random() < 0.004:
                kw += rng.uniform(8.0, 20.0)
            kw = min(max(kw, 20.0), 120.0)
            out.append(f"{kw / PER_HOUR:.3f}")
    assert len(out) == INTERVALS
    return out


def build_series(texts: list[str], start: datetime) -> IntervalSeries:
    return IntervalSeries.from_decimals(start, INTERVAL_MINUTES, [Decimal(t) for t in texts], "kWh")


# --- timing -------------------------------------------------------------------------------------------------


def best_of(fn: Callable[[], object], runs: int, warmup: int = 2) -> float:
    """The best wall time of ``runs`` calls after ``warmup`` calls, in seconds (GC paused while timing)."""
    for _ in range(warmup):
        fn()
    times = []
    gc_was = gc.isenabled()
    gc.disable()
    try:
        for _ in range(runs):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
    finally:
        if gc_was:
            gc.enable()
    return min(times)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.3f} ms"


def annual(bills: list[Bill]) -> tuple[Decimal, Decimal]:
    """(total incl. tax, subtotal before tax) of a year of bills."""
    return sum((b.total for b in bills), Decimal(0)), sum((b.subtotal for b in bills), Decimal(0))


# --- PySAM --------------------------------------------------------------------------------------------------


def sam_setup(hourly_kw: list[float]) -> Any:
    import PySAM.Utilityrate5 as Utilityrate5

    e_wd, e_we = energy_schedules()
    d_wd, d_we = demand_schedules()
    model = Utilityrate5.new()
    model.Lifetime.analysis_period = 1
    model.Lifetime.inflation_rate = 0
    model.Lifetime.system_use_lifetime_output = 0
    model.SystemOutput.gen = [0.0] * 8760
    model.SystemOutput.degradation = [0.0]
    model.Load.load = hourly_kw
    model.Load.load_escalation = [0.0]
    r = model.ElectricityRates
    r.en_electricity_rates = 1
    r.rate_escalation = [0.0]
    r.ur_metering_option = 0
    r.ur_sell_eq_buy = 0
    r.ur_nm_yearend_sell_rate = 0
    r.ur_nm_credit_month = 0
    r.ur_nm_credit_rollover = 0
    r.ur_monthly_fixed_charge = float(FIXED_USD)
    r.ur_monthly_min_charge = 0
    r.ur_annual_min_charge = 0
    r.ur_en_ts_buy_rate = 0
    r.ur_en_ts_sell_rate = 0
    r.ur_enable_billing_demand = 0
    r.TOU_demand_single_peak = 0
    # Energy: [period, tier, max kWh (cumulative), units 0 = kWh, buy, sell]; SAM periods are 1-based.
    r.ur_ec_tou_mat = [
        row
        for p, (_, r1, r2) in enumerate(ENERGY_PERIODS)
        for row in ([p + 1, 1, TIER_KWH, 0, float(r1), 0], [p + 1, 2, SAM_HUGE, 0, float(r2), 0])
    ]
    r.ur_ec_sched_weekday = [[p + 1 for p in row] for row in e_wd]
    r.ur_ec_sched_weekend = [[p + 1 for p in row] for row in e_we]
    r.ur_dc_enable = 1
    r.ur_dc_tou_mat = [[p + 1, 1, SAM_HUGE, float(rt)] for p, (_, rt) in enumerate(DEMAND_TOU_PERIODS)]
    r.ur_dc_sched_weekday = [[p + 1 for p in row] for row in d_wd]
    r.ur_dc_sched_weekend = [[p + 1 for p in row] for row in d_we]
    flat: list[list[float]] = []
    for m in range(12):
        r1, r2 = DEMAND_FLAT["summer" if m in SUMMER else "winter"]
        if r2 is None:
            flat.append([m, 1, SAM_HUGE, float(r1)])
        else:
            flat += [[m, 1, FLAT_DEMAND_TIER_KW, float(r1)], [m, 2, SAM_HUGE, float(r2)]]
    r.ur_dc_flat_mat = flat
    return model


# --- numpy floor --------------------------------------------------------------------------------------------


class NumpyFloor:
    """The same aggregation with numpy over precomputed calendar arrays: the floor for a Python engine.

    Timed: look up each interval's TOU periods in the schedules, bincount energy per (month, period), max per
    (month, period) and per month for demand, then the 12 bills' arithmetic in floats.
    """

    def __init__(self, np: Any, values: list[int], exponent: int, start: datetime) -> None:
        """Calendar arrays of the UTC year (whole days from ``start``): month, weekend, hour per interval."""
        self.np = np
        self.v = np.asarray(values, dtype=np.int64)
        self.scale = 10.0**exponent
        per_day = 24 * PER_HOUR
        days = [start.date() + timedelta(days=d) for d in range(len(values) // per_day)]
        self.month = np.array([d.month - 1 for d in days], dtype=np.intp).repeat(per_day)
        self.weekend = np.array([d.weekday() >= 5 for d in days], dtype=np.intp).repeat(per_day)
        self.hour = np.tile(np.arange(24, dtype=np.intp).repeat(PER_HOUR), len(days))
        self.month_starts = np.flatnonzero(np.r_[True, self.month[1:] != self.month[:-1]])
        e_wd, e_we = energy_schedules()
        d_wd, d_we = demand_schedules()
        self.e_sched = np.array([e_wd, e_we], dtype=np.intp)
        self.d_sched = np.array([d_wd, d_we], dtype=np.intp)

    def annual_total(self, window_minutes: int) -> tuple[float, float]:
        np = self.np
        v, month, hour, weekend = self.v, self.month, self.hour, self.weekend
        ne, nd = len(ENERGY_PERIODS), len(DEMAND_TOU_PERIODS)
        e_key = month * ne + self.e_sched[weekend, month, hour]
        energy = np.bincount(e_key, weights=v, minlength=12 * ne).reshape(12, ne) * self.scale
        d_key = month * nd + self.d_sched[weekend, month, hour]
        if window_minutes > INTERVAL_MINUTES:  # clock-aligned windows: sum whole windows first
            g = window_minutes // INTERVAL_MINUTES
            v = v.reshape(-1, g).sum(axis=1)
            d_key = d_key[::g]
            starts = self.month_starts // g
        else:
            starts = self.month_starts
        tou_peak = np.zeros(12 * nd, dtype=np.int64)
        np.maximum.at(tou_peak, d_key, v)
        flat_peak = np.maximum.reduceat(v, starts)
        to_kw = self.scale * 60 / window_minutes
        tou_kw = (tou_peak * to_kw).reshape(12, nd).tolist()
        flat_kw = (flat_peak * to_kw).tolist()
        # The bills, in floats (no per-line rounding).
        total = subtotal = 0.0
        for m in range(12):
            row = energy[m].tolist()
            month_kwh = sum(row)
            t1 = min(month_kwh, TIER_KWH)
            bill = float(FIXED_USD)
            for p, (_, r1, r2) in enumerate(ENERGY_PERIODS):
                share = row[p] / month_kwh if month_kwh else 0.0
                bill += share * (t1 * float(r1) + (month_kwh - t1) * float(r2))
            d1, d2 = DEMAND_FLAT["summer" if m in SUMMER else "winter"]
            kw = flat_kw[m]
            if d2 is None:
                bill += kw * float(d1)
            else:
                over = max(kw - FLAT_DEMAND_TIER_KW, 0)
                bill += min(kw, FLAT_DEMAND_TIER_KW) * float(d1) + over * float(d2)
            bill += sum(tou_kw[m][p] * float(rt) for p, (_, rt) in enumerate(DEMAND_TOU_PERIODS))
            subtotal += bill
            total += bill * (1 + float(TAX_PERCENT) / 100)
        return total, subtotal


# --- main ---------------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=20, help="timed runs per figure (best is reported)")
    parser.add_argument("--zone", default="America/New_York", help="real time zone for the second figure")
    args = parser.parse_args()
    runs = args.runs
    utc = ZoneInfo("UTC")
    local = ZoneInfo(args.zone)

    print(
        f"meterbill rating benchmark - {INTERVALS:,} intervals of {INTERVAL_MINUTES} min ({YEAR}), "
        f"12 monthly bills, best of {runs} runs after warm-up"
    )
    print(f"Python {sys.version.split()[0]}")
    texts = load_kwh_strings()
    kw_values = [float(t) * PER_HOUR for t in texts]
    print(
        f"load: {min(kw_values):.1f}-{max(kw_values):.1f} kW, mean {statistics.fmean(kw_values):.1f} kW, "
        f"{sum(float(t) for t in texts):,.0f} kWh/year"
    )
    print()

    # 0. Input parsing
    start_utc = datetime(YEAR, 1, 1, tzinfo=utc)
    t_parse = best_of(lambda: build_series(texts, start_utc), max(3, runs // 4), warmup=1)
    series_utc = build_series(texts, start_utc)
    print("0. input parsing (information): Decimal(str) x 35,040 + IntervalSeries.from_decimals")
    print(f"   {ms(t_parse)}  ({INTERVALS / t_parse:,.0f} intervals/s)")
    print()

    # 1. meterbill
    tariff15 = build_tariff(15)
    tariff60 = build_tariff(60)
    usage_utc = Usage(series=series_utc)
    year_utc = BillPeriod(date(YEAR, 1, 1), date(YEAR + 1, 1, 1), utc)
    start_local = local_midnight(date(YEAR, 1, 1), local)
    usage_local = Usage(series=build_series(texts, start_local))
    year_local = BillPeriod(date(YEAR, 1, 1), date(YEAR + 1, 1, 1), local)

    def mb(tariff: Tariff, period: BillPeriod, usage: Usage) -> Callable[[], list[Bill]]:
        return lambda: rate_monthly(tariff, period, usage)

    t_mb = best_of(mb(tariff15, year_utc, usage_utc), runs)
    t_mb60 = best_of(mb(tariff60, year_utc, usage_utc), runs)
    t_mb_local = best_of(mb(tariff15, year_local, usage_local), runs)
    bills15 = rate_monthly(tariff15, year_utc, usage_utc)
    bills60 = rate_monthly(tariff60, year_utc, usage_utc)
    bills_local = rate_monthly(tariff15, year_local, usage_local)
    assert len(bills15) == 12 and sum(len(b.lines) for b in bills15) > 12 * 6
    total15, sub15 = annual(bills15)
    _, sub60 = annual(bills60)
    total_local, _ = annual(bills_local)
    rate_mb = INTERVALS / t_mb
    print("1. meterbill rate_monthly (3-period TOU energy x 2 tiers, TOU + flat demand, fixed, tax)")
    rows = [
        ("UTC, 15-min demand window", t_mb),
        ("UTC, 60-min demand window", t_mb60),
        (f"{args.zone}, 15-min window", t_mb_local),
    ]
    for label, t in rows:
        goal = ""
        if t is t_mb:
            verdict = "meets" if rate_mb >= GOAL_INTERVALS_PER_S else "BELOW"
            goal = f"  {verdict} goal {GOAL_INTERVALS_PER_S:,}/s"
        print(f"   {label + ':':<34}{ms(t)} per year  {INTERVALS / t:>12,.0f} intervals/s{goal}")
    print(
        f"   annual bill (UTC, 15 min): {total15:,} USD incl. tax ({sub15:,} before tax); "
        f"{sum(len(b.lines) for b in bills15)} lines"
    )
    print(f"   annual bill ({args.zone}, 15 min): {total_local:,} USD incl. tax")
    print()

    # 2. PySAM
    print("2. NREL SAM Utilityrate5 (same tariff, the same load summed to 8,760 hours)")
    hourly_kw = [
        sum(series_utc.values[h * PER_HOUR : (h + 1) * PER_HOUR]) * 10.0**series_utc.exponent
        for h in range(8760)
    ]
    t_sam: float | None = None
    try:
        import PySAM.Utilityrate5  # noqa: F401
    except ImportError:
        print("   PySAM not installed")
    else:
        t_setup = best_of(lambda: sam_setup(hourly_kw), max(3, runs // 4), warmup=1)
        model = sam_setup(hourly_kw)
        t_sam = best_of(lambda: model.execute(0), runs)
        monthly = list(model.Outputs.year1_monthly_utility_bill_wo_sys)
        sam_year = sum(monthly)
        mb_monthly = [b.subtotal for b in bills60]
        worst = max(abs(float(a) - b) for a, b in zip(mb_monthly, monthly, strict=True))
        print(f"   setup (new + assign inputs): {ms(t_setup)}")
        print(f"   execute():                   {ms(t_sam)} per year  {8760 / t_sam:>12,.0f} hours/s")
        print(f"   annual bill, SAM (no tax):            {sam_year:14,.4f} USD")
        print(
            f"   annual bill, meterbill 60-min window: {sub60:14,} USD before tax "
            f"(diff {float(sub60) - sam_year:+.4f}; worst month {worst:.4f})"
        )
        print(
            f"   annual bill, meterbill 15-min window: {sub15:14,} USD before tax "
            f"(diff {float(sub15) - sam_year:+.4f}: 15-min peaks are higher than hourly averages)"
        )
        print(
            "   what differs: SAM has no tax line (compared before tax) and does not round; meterbill rounds"
        )
        print(
            "   every line to the cent (<= 0.5 ct x ~10 lines x 12 months). SAM only sees hourly energy, so"
        )
        print(
            "   its demand is the highest hourly average: meterbill's 60-min clock-aligned window is the 1:1"
        )
        print("   mapping; the 15-min window (the real tariff) bills the higher quarter-hour peaks.")
    print()

    # 3. numpy floor
    print(
        "3. numpy floor (same aggregation over precomputed month/weekday/hour arrays + the bills in floats)"
    )
    t_np: float | None = None
    t_e2e = 0.0
    try:
        import numpy
    except ImportError:
        print("   numpy not installed")
    else:
        floor = NumpyFloor(numpy, list(series_utc.values), series_utc.exponent, start_utc)
        t_np = best_of(lambda: floor.annual_total(15), runs)
        t_np60 = best_of(lambda: floor.annual_total(60), runs)
        values_list = list(series_utc.values)
        t_conv = best_of(lambda: numpy.asarray(values_list, dtype=numpy.int64), runs)
        t_e2e = best_of(
            lambda: NumpyFloor(numpy, values_list, series_utc.exponent, start_utc).annual_total(15), runs
        )
        np_total, _ = floor.annual_total(15)
        _, np_sub60 = floor.annual_total(60)
        print(
            f"   UTC, 15-min window: {ms(t_np)} per year  {INTERVALS / t_np:>12,.0f} intervals/s  "
            f"annual {np_total:,.4f} USD incl. tax "
            f"(meterbill {total15:,}; diff {float(total15) - np_total:+.4f})"
        )
        print(
            f"   UTC, 60-min window: {ms(t_np60)} per year  {INTERVALS / t_np60:>12,.0f} intervals/s  "
            f"before tax {np_sub60:,.4f} USD (meterbill {sub60:,})"
        )
        print(
            f"   end to end from the Python list (list -> int64 array {ms(t_conv).strip()}, calendar arrays, "
            f"aggregation): {ms(t_e2e)}"
        )
    values = series_utc.values
    t_sum = best_of(lambda: sum(values), runs)
    t_max = best_of(lambda: max(values), runs)
    print(
        f"   (information) pure-Python floor - each value summed once and maxed twice (flat + TOU demand), "
        f"no slicing or classification: {ms(t_sum + 2 * t_max).strip()}"
    )
    print()

    print("ratios (time per year, lower is faster; UTC, same demand window as the compared figure)")
    if t_sam is not None:
        print(f"   meterbill (60-min window) / PySAM execute(): {t_mb60 / t_sam:6.2f}x")
        print(f"   meterbill (15-min window) / PySAM execute(): {t_mb / t_sam:6.2f}x")
    else:
        print("   meterbill / PySAM: n/a (PySAM not installed)")
    if t_np is not None:
        ratio = t_mb / t_np
        print(
            f"   meterbill / numpy floor (15-min window):     {ratio:6.2f}x  "
            f"({'meets' if ratio <= GOAL_FLOOR_RATIO else 'OUTSIDE'} goal <= {GOAL_FLOOR_RATIO:g}x)"
        )
        print(f"   meterbill / numpy end to end (15-min):       {t_mb / t_e2e:6.2f}x")
    else:
        print("   meterbill / numpy floor: n/a (numpy not installed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
