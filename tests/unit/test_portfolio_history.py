"""The demo portfolio's two months of readings (local/portfolio_history.py): each of the four faults of
PORTFOLIO.md sits exactly where it says, and every other day is ordinary for the alert detectors' rules
(no gap, no register going down, nothing unmetered, no hour three times its usual, no flat line)."""

from __future__ import annotations

import itertools
import statistics
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from local import portfolio_history as h

ZONE = h.ZONE
OFFICE_SUBS = tuple(h.OFFICE_SUBS)
HOURLY = ("office-water", "gpu-cluster", *h.MACHINES)


@pytest.fixture(scope="module")
def readings() -> list[h.Reading]:
    return h.history()


@pytest.fixture(scope="module")
def by_meter(readings: list[h.Reading]) -> dict[str, dict[datetime, Decimal]]:
    """Each meter's values by instant (in UTC: 25 October's two 02:00s are two keys)."""
    series: dict[str, dict[datetime, Decimal]] = defaultdict(dict)
    for reading in readings:
        at = reading.timestamp.astimezone(UTC)
        assert at not in series[reading.meter_id], "one reading per meter and instant"
        series[reading.meter_id][at] = reading.value
    return series


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=ZONE)


def _quarters(start: datetime, end: datetime) -> Iterator[datetime]:
    """In UTC: an ambiguous Berlin time (25 October, 02:00-02:59) never equals a time of another zone."""
    return (at.astimezone(UTC) for at in h.steps(start, end, h.QUARTER))


def test_the_history_is_the_same_on_every_run(readings: list[h.Reading]) -> None:
    assert h.history() == readings


def test_every_meter_sends_every_interval_but_the_atelier_on_12_november(
    by_meter: dict[str, dict[datetime, Decimal]],
) -> None:
    quarters = list(_quarters(h.START, h.END))
    hours = [at.astimezone(UTC) for at in h.steps(h.START, h.END, h.HOUR)]
    assert len(quarters) == 61 * 96 + 4  # 25 October has 25 hours
    for meter in (*OFFICE_SUBS, "office-main", *h.PHASE_MASTERS.values()):
        missing = [q for q in quarters if q not in by_meter[meter]]
        expected = list(_quarters(h.QUIET_FROM, h.QUIET_TO)) if meter == h.QUIET_METER else []
        assert missing == expected, meter
    for meter in HOURLY:
        assert sorted(by_meter[meter]) == hours, meter
    # Register reads: one more, at the end, closing the last interval; the swapped PDU's 10:00 read is the
    # exchange record's (old final, new initial), not a raw read.
    assert sorted(by_meter["office-gas"]) == [*hours, h.END]
    for pdu in h.PDUS:
        expected = [q for q in [*quarters, h.END] if not (pdu == h.EXCHANGED_METER and q == h.EXCHANGE_AT)]
        assert sorted(by_meter[pdu]) == expected, pdu


def test_the_atelier_is_quiet_exactly_on_thursday_12_november(
    by_meter: dict[str, dict[datetime, Decimal]],
) -> None:
    atelier = by_meter["atelier"]
    assert _at("2026-11-11T23:45") in atelier and _at("2026-11-13T00:00") in atelier
    assert not [t for t in atelier if _at("2026-11-12T00:00") <= t < _at("2026-11-13T00:00")]
    assert h.QUIET_FROM.weekday() == 3  # a Thursday


def test_from_24_november_0_300_kwh_a_quarter_hour_passes_the_main_meter_and_no_sub_meter(
    by_meter: dict[str, dict[datetime, Decimal]],
) -> None:
    """main - sub-meters - the common area, each quarter hour: 0 before Tuesday 24 November, 0.300 from then
    on (the bakery's reading that its head end corrects later said 1.000 kWh too much)."""
    unmetered: dict[datetime, Decimal] = {}
    for at in _quarters(h.START, h.END):
        if h.QUIET_FROM <= at < h.QUIET_TO:
            continue  # the atelier sent nothing
        subs = sum((by_meter[m][at] for m in OFFICE_SUBS), Decimal(0))
        if at == h.LATE_CORRECTION_AT.astimezone(UTC):
            subs -= h.LATE_CORRECTION_ERROR
        unmetered[at] = by_meter["office-main"][at] - subs - h.common_area_kwh(at.astimezone(ZONE))
    assert {v for at, v in unmetered.items() if at < h.EVASION_FROM} == {Decimal(0)}
    assert {v for at, v in unmetered.items() if at >= h.EVASION_FROM} == {Decimal("0.300")}
    assert _at("2026-11-24T00:00") == h.EVASION_FROM and h.EVASION_FROM.weekday() == 1  # a Tuesday


def test_the_common_area_alone_stays_below_the_evasion_rule_every_day(
    by_meter: dict[str, dict[datetime, Decimal]],
) -> None:
    """The evasion rule's defaults: active above 5 % of the main AND above 10 kWh a day. The common area is
    the main's residual on every ordinary day; with the bypass it is well above both."""
    for day in _days(h.START.date(), h.END.date()):
        if day == h.QUIET_FROM.date():
            continue
        start, end = _midnight(day), _midnight(day + timedelta(days=1))
        main = sum((v for t, v in by_meter["office-main"].items() if start <= t < end), Decimal(0))
        subs = sum((v for m in OFFICE_SUBS for t, v in by_meter[m].items() if start <= t < end), Decimal(0))
        residual = main - subs
        active = residual > main * 5 / 100 and residual > 10
        assert active == (start >= h.EVASION_FROM), day


def test_the_gas_register_drops_once_at_wednesday_18_november_noon(
    by_meter: dict[str, dict[datetime, Decimal]],
) -> None:
    gas = sorted(by_meter["office-gas"].items())
    drops = [
        (later, earlier - value)
        for (_, earlier), (later, value) in itertools.pairwise(gas)
        if value < earlier
    ]
    assert len(drops) == 1
    at, fell = drops[0]
    assert at == _at("2026-11-18T12:00") and at.weekday() == 2
    # 250 m³ less the 11:00 hour's use (the heating: 0.6 m³ ± 12 %)
    assert Decimal(250) - Decimal("0.672") <= fell <= Decimal(250) - Decimal("0.528")


def test_the_practice_draws_3_kwh_more_each_quarter_hour_on_friday_20_november_19_to_20(
    by_meter: dict[str, dict[datetime, Decimal]],
) -> None:
    practice = by_meter["practice"]
    spiked = {t: v for t, v in practice.items() if v >= 3}
    assert sorted(spiked) == list(_quarters(_at("2026-11-20T19:00"), _at("2026-11-20T20:00")))
    assert _at("2026-11-20T19:00").weekday() == 4  # a Friday
    # Its evening load otherwise: 0.6 kW ± 12 %, a quarter hour's 0.150 kWh ± 0.018.
    assert all(Decimal("3.132") <= v <= Decimal("3.168") for v in spiked.values())
    assert max(v for t, v in practice.items() if t not in spiked) <= Decimal("1.400")  # 5 kW x 1.12 / 4


def test_registers_only_go_down_at_the_gas_fault_and_the_pdu_swap(
    by_meter: dict[str, dict[datetime, Decimal]],
) -> None:
    exchange = h.exchange()
    for pdu in h.PDUS:
        reads = sorted(by_meter[pdu].items())
        assert all(b > a for (_, a), (_, b) in itertools.pairwise(reads) if not _across_swap(pdu, a, b))
    before = by_meter[h.EXCHANGED_METER][h.EXCHANGE_AT - h.QUARTER]
    after = by_meter[h.EXCHANGED_METER][h.EXCHANGE_AT + h.QUARTER]
    # The old device's last quarter hour and the new one's first: ~1.8 kW x 0.25 h each.
    assert Decimal("0.35") < exchange.old_final - before < Decimal("0.60")
    assert Decimal("0.35") < after - exchange.new_initial < Decimal("0.60")
    assert (exchange.timestamp, exchange.new_initial) == (_at("2026-11-16T10:00"), Decimal("0.021"))


def _across_swap(pdu: str, a: Decimal, b: Decimal) -> bool:
    return pdu == h.EXCHANGED_METER and a > Decimal(1000) > b


def test_no_hour_of_an_ordinary_day_is_three_times_its_usual(
    by_meter: dict[str, dict[datetime, Decimal]],
) -> None:
    """The abnormal-usage rule's defaults: an hour above 3x the median of the same hour on the same weekday
    of the 4 weeks before. Only the practice's spike (and so its Friday) is; the main meter carries the
    spike and the bypass too, and stays below."""
    found: set[tuple[str, date]] = set()
    for meter, values in by_meter.items():
        if meter in h.PDUS or meter == "office-gas" or meter.startswith("werk-"):
            continue  # registers: the detector judges their rated intervals, checked below for the gas
        found |= {(meter, day) for day in _abnormal_days(_hourly(values))}
    found |= {("office-gas", day) for day in _abnormal_days(_hourly(_gas_usage(by_meter["office-gas"])))}
    assert found == {("practice", date(2026, 11, 20))}


def test_no_interval_meter_holds_one_value_for_six_hours(
    by_meter: dict[str, dict[datetime, Decimal]],
) -> None:
    """The flat-line rule's default: 6 hours of one identical non-zero value."""
    for meter, values in by_meter.items():
        if meter in h.PDUS or meter == "office-gas":
            continue
        series = [v for _, v in sorted(values.items())]
        length = 6 if meter in HOURLY else 24
        runs = (series[i : i + length] for i in range(len(series) - length + 1))
        assert not [run for run in runs if run[0] != 0 and len(set(run)) == 1], meter


def _gas_usage(reads: dict[datetime, Decimal]) -> dict[datetime, Decimal]:
    """The gas register's hourly use; the hour the register restarts lower is estimated as VEE estimates
    a short gap: between its neighbours."""
    ordered = sorted(reads.items())
    usage = {t: vb - va for (t, va), (_, vb) in itertools.pairwise(ordered)}
    hour = h.DROP_AT - h.HOUR
    usage[hour] = (usage[hour - h.HOUR] + usage[h.DROP_AT]) / 2
    return usage


def _hourly(values: dict[datetime, Decimal]) -> dict[tuple[date, int], Decimal]:
    hours: dict[tuple[date, int], Decimal] = defaultdict(Decimal)
    for at, value in values.items():
        local = at.astimezone(ZONE)
        hours[(local.date(), local.hour)] += value
    return hours


def _abnormal_days(hours: dict[tuple[date, int], Decimal]) -> set[date]:
    days = set()
    for (day, hour), value in hours.items():
        past = [hours.get((day - timedelta(weeks=w), hour)) for w in range(1, 5)]
        known = [v for v in past if v is not None]
        if len(known) >= 3 and value > 3 * statistics.median(known):
            days.add(day)
    return days


def _days(first: date, end: date) -> Iterator[date]:
    day = first
    while day < end:
        yield day
        day += timedelta(days=1)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), ZONE)
