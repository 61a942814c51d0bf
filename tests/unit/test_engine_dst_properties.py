"""The engine against a plain reference on UTC instants, in zones whose clocks shift by an hour, half an hour,
or at a quarter to the hour (and one that does not shift at all).

The reference walks the intervals one by one: it reads the start of each on the local clock
(``fromtimestamp``) to find its day, hour, period and demand window, and measures sessions in UTC seconds.
Every line of the bill (energy per period, flat and TOU demand per month, the usage package, the off-time
savings) must match it.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from functools import cache
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from meterbill.meterdata.csvio import read_usage_csv
from meterbill.tariffs.engine import BillPeriod, rate
from meterbill.usage import IntervalSeries, Usage
from tests.builders import tariff

ZONES = ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu", "Pacific/Chatham"]
CENT = Decimal("0.01")
RATES = st.decimals(min_value=Decimal("0"), max_value=Decimal("3"), places=4)
PERIODS = ("off", "shoulder", "peak")


@cache
def dst_days(zone_name: str) -> list[date]:
    """The local days of 2026 that do not last 24 hours."""
    tz = ZoneInfo(zone_name)
    day, found = date(2026, 1, 1), []
    while day.year == 2026:
        if _midnight(day + timedelta(days=1), tz) - _midnight(day, tz) != 86400:
            found.append(day)
        day += timedelta(days=1)
    return found


def _midnight(day: date, tz: ZoneInfo) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=tz).timestamp())


def _money(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Case:
    tz: ZoneInfo
    start: date
    days: int
    interval: int  # minutes
    window: int  # minutes
    origin: int  # UTC seconds of the first interval
    values: list[Decimal]
    weekday: list[list[int]]
    weekend: list[list[int]]
    sessions: list[tuple[str, int, int]]  # id, UTC start and end seconds (whole minutes)
    session_rows: list[str]


def _local_text(moment: int, tz: ZoneInfo, with_offset: bool) -> str:
    """A CSV time: naive local time where that names one instant (and ``with_offset`` is false), else with the
    offset."""
    local = datetime.fromtimestamp(moment, tz)
    naive = local.replace(tzinfo=None, fold=0)
    unambiguous = naive.replace(tzinfo=tz).utcoffset() == naive.replace(tzinfo=tz, fold=1).utcoffset()
    return naive.isoformat() if unambiguous and not with_offset else local.isoformat()


@st.composite
def cases(draw: st.DrawFn) -> Case:
    zone_name = draw(st.sampled_from(ZONES))
    tz = ZoneInfo(zone_name)
    shifts = dst_days(zone_name)
    if shifts and draw(st.booleans()):
        start = draw(st.sampled_from(shifts)) - timedelta(days=draw(st.integers(0, 2)))
    else:
        start = date(2026, 1, 1) + timedelta(days=draw(st.integers(0, 360)))
    days = draw(st.integers(1, 4))
    interval = draw(st.sampled_from([15, 30, 60]))
    window = draw(st.sampled_from([15, 30, 60]))
    rng = random.Random(draw(st.integers(0, 2**32)))
    step = interval * 60
    first, last = _midnight(start, tz), _midnight(start + timedelta(days=days), tz)
    origin = first + draw(st.integers(-6, 6)) * step
    count = max((last - origin) // step + draw(st.integers(-6, 6)), 2)
    values = [Decimal(rng.choice([0, rng.randint(0, 999), rng.randint(0, 9999)])) / 100 for _ in range(count)]

    def schedule() -> list[list[int]]:
        return [[rng.randrange(len(PERIODS)) for _ in range(24)] for _ in range(12)]

    sessions, rows = [], []
    for i in range(draw(st.integers(0, 6))):
        begin = rng.randint(first - 86400, last + 3600) // 60 * 60
        end = begin + 60 * rng.choice([0, rng.randint(1, 120), rng.randint(0, 30 * 60)])
        sessions.append((f"s{i}", begin, end))
        begin_text = _local_text(begin, tz, rng.random() < 0.2)
        rows.append(f"s{i},{begin_text},{_local_text(end, tz, rng.random() < 0.2)}")
    return Case(tz, start, days, interval, window, origin, values, schedule(), schedule(), sessions, rows)


@dataclass(frozen=True)
class Prices:
    energy: tuple[Decimal, ...]
    demand: tuple[Decimal, ...]
    flat: Decimal
    fare: Decimal
    unit_rate: Decimal
    watts: Decimal
    price: Decimal


prices = st.builds(
    Prices,
    st.tuples(RATES, RATES, RATES),
    st.tuples(RATES, RATES, RATES),
    RATES,
    RATES,
    RATES,
    st.decimals(min_value=Decimal("1"), max_value=Decimal("5000"), places=1),
    RATES,
)
THRESHOLD, UNIT_SECONDS = 1800, 300


def _tariff(case: Case, p: Prices):  # type: ignore[no-untyped-def]
    def periods(rates: tuple[Decimal, ...]) -> list[dict[str, object]]:
        return [{"name": name, "tiers": [{"rate": r}]} for name, r in zip(PERIODS, rates, strict=True)]

    schedules = {"weekday_schedule": case.weekday, "weekend_schedule": case.weekend}
    return tariff(
        energy={"periods": periods(p.energy), "time_of_use": schedules},
        demand={
            "window_minutes": case.window,
            "flat": {"periods": [{"name": "flat", "tiers": [{"rate": p.flat}]}]},
            "time_of_use": {"periods": periods(p.demand), "time_of_use": schedules},
        },
        packages=[
            {
                "threshold_seconds": THRESHOLD,
                "fare": p.fare,
                "unit_seconds": UNIT_SECONDS,
                "unit_rate": p.unit_rate,
            }
        ],
        # Off-time needs on-time: the savings are priced where there are sessions.
        savings={"power_rating_w": p.watts, "price_per_kwh": p.price, "credit": True}
        if case.sessions
        else None,
    )


Line = tuple[str, str | None, Decimal, Decimal]


def reference_lines(case: Case, p: Prices) -> tuple[list[Line], Decimal, Decimal | None]:
    """The bill's lines, its usage total and its peak demand, interval by interval on UTC instants."""
    tz, step = case.tz, case.interval * 60
    begin, end = _midnight(case.start, tz), _midnight(case.start + timedelta(days=case.days), tz)
    energy = [Decimal(0)] * len(PERIODS)
    windows: dict[tuple[object, ...], Decimal] = defaultdict(Decimal)  # (year, month, period, window) -> kWh
    bill_days: dict[tuple[int, int], int] = defaultdict(int)
    day = case.start
    while day < case.start + timedelta(days=case.days):
        bill_days[(day.year, day.month)] += 1
        day += timedelta(days=1)
    for i, value in enumerate(case.values):
        moment = case.origin + i * step
        if not begin <= moment < end:
            continue
        local = datetime.fromtimestamp(moment, tz)
        today = local.date()
        row = (case.weekend if today.weekday() >= 5 else case.weekday)[today.month - 1]
        period = row[local.hour]
        energy[period] += value
        if step < case.window * 60:  # clock-aligned windows of this hour, on this UTC offset
            window: tuple[object, ...] = (
                today,
                local.hour,
                (local.minute * 60 + local.second) // (case.window * 60),
                local.utcoffset(),
            )
        else:  # an interval at least as long as the window is its own
            window = ("interval", i)
        windows[(today.year, today.month, period, window)] += value
    minutes = case.window if step < case.window * 60 else case.interval

    lines: list[Line] = []
    for period, quantity in enumerate(energy):
        if quantity:
            lines.append(("energy", PERIODS[period], quantity, _money(quantity * p.energy[period])))
    peaks: list[Decimal] = []
    for year, month in sorted(bill_days):
        dim = (date(year + month // 12, month % 12 + 1, 1) - date(year, month, 1)).days
        share = (
            Decimal(1)
            if bill_days[(year, month)] == dim
            else Decimal(bill_days[(year, month)]) / Decimal(dim)
        )
        by_period = {
            period: max(kwh for (y, m, pp, _), kwh in windows.items() if (y, m, pp) == (year, month, period))
            for period in range(len(PERIODS))
            if any((y, m, pp) == (year, month, period) for y, m, pp, _ in windows)
        }
        if not by_period:
            continue
        flat_kw = max(by_period.values()) * 60 / minutes
        peaks.append(flat_kw)
        lines.append(("demand", "flat", flat_kw, _money(flat_kw * p.flat * share)))
        for period, kwh in by_period.items():
            kw = kwh * 60 / minutes
            peaks.append(kw)
            lines.append(("demand", PERIODS[period], kw, _money(kw * p.demand[period] * share)))

    billed = [(s, e) for _, s, e in case.sessions if begin <= s < end]
    if billed:
        units = 0
        for s, e in billed:
            over = Decimal(e - s - THRESHOLD)
            units += int((over / UNIT_SECONDS).to_integral_value(rounding=ROUND_CEILING)) if over > 0 else 0
        lines.append(
            ("package", None, Decimal(len(billed)), _money(p.fare * len(billed) + p.unit_rate * units))
        )
    if case.sessions:
        on: set[int] = set()
        for _, s, e in case.sessions:  # the union, minute by minute
            on.update(range(max(s, begin) // 60, min(e, end) // 60))
        off_hours = max(Decimal(end - begin - len(on) * 60) / 3600, Decimal(0))
        saving = _money(off_hours * p.watts * p.price / 1000)
        lines.append(("savings", None, off_hours.quantize(Decimal("0.000001")).normalize(), -saving))
    kept = [line for line in lines if line[3] != 0 or line[0] == "energy"]
    return kept, sum(energy, Decimal(0)), max(peaks) if peaks else None


@settings(max_examples=120, deadline=None)
@given(cases(), prices)
def test_every_line_matches_a_per_interval_reference_on_utc_instants(case: Case, p: Prices) -> None:
    tz = case.tz
    series = IntervalSeries.from_decimals(
        datetime.fromtimestamp(case.origin, UTC), case.interval, case.values, "kWh"
    )
    sessions = (
        read_usage_csv(["id,start,end", *case.session_rows], tz, "kWh", "s.csv").sessions
        if case.sessions
        else ()
    )
    assert sorted((s.id, s.start_second, s.end_second) for s in sessions) == sorted(case.sessions)
    bill = rate(
        _tariff(case, p),
        BillPeriod(case.start, case.start + timedelta(days=case.days), tz),
        Usage(series=series, sessions=sessions),
    )
    expected, total, peak = reference_lines(case, p)
    got = [(line.component, line.period, line.quantity, line.amount) for line in bill.lines]
    assert _comparable(got) == _comparable(expected)
    assert bill.usage.total == total
    assert bill.usage.peak_demand == peak


def _comparable(lines: list[Line]) -> list[tuple[str, str, Decimal, Decimal]]:
    return sorted(
        (component, period or "", quantity.normalize(), amount)
        for component, period, quantity, amount in lines
    )
