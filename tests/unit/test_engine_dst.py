"""Sessions, hour slots and demand windows across DST changes: elapsed real time, on the site's wall clock."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from meterbill.meterdata.csvio import CsvFormatError, read_usage_csv
from meterbill.tariffs.engine import BillPeriod, rate
from meterbill.usage import Session, Usage
from tests.builders import BERLIN, D, amounts, days, lines, schedule, series, tariff

LORD_HOWE = ZoneInfo("Australia/Lord_Howe")
PACKAGE = {"threshold_seconds": "1800", "fare": "0.01", "unit_seconds": "300", "unit_rate": "0.0089"}
SAVINGS = {"power_rating_w": "200", "price_per_kwh": "0.12", "credit": True}


def sessions_csv(*rows: str, tz: ZoneInfo = BERLIN) -> Usage:
    return read_usage_csv(["id,start,end", *rows], tz, "kWh", "jobs.csv")


# 1. Session lengths are elapsed real time, whatever the wall clock did


def test_a_naive_job_across_the_autumn_change_lasts_four_real_hours() -> None:
    # 25 October 2026, Berlin: 01:00 CEST (+02:00) to 04:00 CET (+01:00) is 4 hours, 3 on the wall clock.
    usage = sessions_csv("job,2026-10-25T01:00,2026-10-25T04:00")
    assert [s.seconds for s in usage.sessions] == [14_400]
    bill = rate(tariff(packages=[PACKAGE]), days(date(2026, 10, 1), date(2026, 11, 1)), usage)
    # (14,400 - 1,800) / 300 = 42 started units.
    assert amounts(bill, "package") == [(D("0.01") + 42 * D("0.0089")).quantize(D("0.01"))]
    assert amounts(bill, "package") == [D("0.38")]


def test_a_naive_job_across_the_spring_change_lasts_two_real_hours() -> None:
    # 29 March 2026, Berlin: 01:00 CET to 04:00 CEST is 2 hours (02:00-03:00 does not happen).
    usage = sessions_csv("job,2026-03-29T01:00,2026-03-29T04:00")
    assert [s.seconds for s in usage.sessions] == [7_200]
    bill = rate(tariff(packages=[PACKAGE]), days(date(2026, 3, 1), date(2026, 4, 1)), usage)
    # (7,200 - 1,800) / 300 = 18 started units.
    assert amounts(bill, "package") == [(D("0.01") + 18 * D("0.0089")).quantize(D("0.01"))]
    assert amounts(bill, "package") == [D("0.17")]


def test_a_machine_on_four_real_hours_of_the_25_hour_day_is_off_21_hours() -> None:
    usage = sessions_csv("run,2026-10-25T01:00,2026-10-25T04:00")
    bill = rate(tariff(savings=SAVINGS), days(date(2026, 10, 25), date(2026, 10, 26)), usage)
    (line,) = lines(bill, "savings")
    assert line.quantity == D("21")
    assert line.amount == -(21 * D("200") * D("0.12") / 1000).quantize(D("0.01"))
    assert line.amount == D("-0.50")


def test_a_session_given_in_another_zone_is_measured_in_real_time_too() -> None:
    start = datetime(2026, 10, 25, 1, tzinfo=BERLIN)
    end = datetime(2026, 10, 25, 4, tzinfo=BERLIN)  # same zone object: Python would subtract wall clocks
    assert Session("job", start, end).seconds == 4 * 3600
    assert Session("job", start.astimezone(UTC), end).seconds == 4 * 3600


def test_a_series_ends_after_its_real_length_across_the_autumn_change() -> None:
    hourly = series(datetime(2026, 10, 25, tzinfo=BERLIN), 60, ["1"] * 25)
    assert hourly.end == datetime(2026, 10, 26, tzinfo=BERLIN)  # 25 hourly intervals fill the 25-hour day


def test_a_naive_session_time_in_the_spring_gap_is_an_error_naming_the_row() -> None:
    with pytest.raises(CsvFormatError) as err:
        sessions_csv("ok,2026-03-29T00:00,2026-03-29T01:00", "gap,2026-03-29T01:30,2026-03-29T02:30")
    assert (err.value.source, err.value.line) == ("jobs.csv", 3)
    assert err.value.reason == (
        "end '2026-03-29T02:30' does not exist in Europe/Berlin (clocks skip it); add the offset"
    )


def test_a_naive_session_time_in_the_repeated_autumn_hour_is_ambiguous_without_an_offset() -> None:
    with pytest.raises(CsvFormatError) as err:
        sessions_csv("twice,2026-10-25T02:30,2026-10-25T05:00")
    assert (err.value.line, err.value.reason) == (
        2,
        "start '2026-10-25T02:30' happens twice in Europe/Berlin (clocks go back); "
        "add the offset to say which",
    )


def test_an_offset_says_which_of_the_repeated_autumn_times_a_session_means() -> None:
    usage = sessions_csv(
        "first,2026-10-25T02:30+02:00,2026-10-25T05:00",
        "second,2026-10-25T02:30+01:00,2026-10-25T05:00",
    )
    assert {s.id: s.seconds for s in usage.sessions} == {"first": 3 * 3600 + 1800, "second": 2 * 3600 + 1800}


# 2. Hour slots and demand windows follow the wall clock after a half-hour DST shift


PEAK_7_TO_22 = {
    "weekday_schedule": schedule({range(7, 22): 1}),
    "weekend_schedule": schedule({range(7, 22): 1}),
}


def lord_howe_day(day: date) -> tuple[BillPeriod, datetime, int]:
    """The bill period of one local day, its first instant and how many quarter hours it has."""
    first = datetime(day.year, day.month, day.day, tzinfo=LORD_HOWE).astimezone(UTC)
    following = day + timedelta(days=1)
    end = datetime(following.year, following.month, following.day, tzinfo=LORD_HOWE).astimezone(UTC)
    return BillPeriod(day, following, LORD_HOWE), first, (end - first) // timedelta(minutes=15)


def alternate_quarters_with_ten_at_seven(first: datetime, count: int) -> list[str]:
    """1 kWh in every other quarter hour from midnight (0 in the others), 10 kWh at 07:00 local."""
    values = []
    for i in range(count):
        local = (first + timedelta(minutes=15 * i)).astimezone(LORD_HOWE)
        values.append("10" if (local.hour, local.minute) == (7, 0) else "1" if i % 2 == 0 else "0")
    return values


def tou_energy_peak_7_to_22() -> dict[str, object]:
    return {
        "periods": [
            {"name": "off-peak", "tiers": [{"rate": "0.10"}]},
            {"name": "peak", "tiers": [{"rate": "1.00"}]},
        ],
        "time_of_use": PEAK_7_TO_22,
    }


@pytest.mark.parametrize(
    ("day", "quarter_hours", "off_peak_kwh"),
    [
        (date(2026, 10, 4), 94, 17),  # 02:00 -> 02:30: 23.5 hours, 8.5 of them off-peak
        (date(2026, 4, 5), 98, 19),  # 02:00 -> 01:30: 24.5 hours, 9.5 of them off-peak
    ],
)
def test_hour_slots_follow_lord_howes_wall_clock_across_its_half_hour_dst_shift(
    day: date, quarter_hours: int, off_peak_kwh: int
) -> None:
    period, first, count = lord_howe_day(day)
    assert count == quarter_hours
    usage = Usage(series=series(first, 15, alternate_quarters_with_ten_at_seven(first, count)))
    bill = rate(tariff(currency="AUD", energy=tou_energy_peak_7_to_22()), period, usage)
    # Peak 07:00-22:00 holds 30 of the 1-kWh quarters, one of them the 10 kWh at 07:00: 10 + 29 = 39 kWh.
    assert {line.period: line.quantity for line in lines(bill, "energy")} == {
        "peak": D("39"),
        "off-peak": D(off_peak_kwh),
    }
    assert bill.total == 39 * D("1.00") + off_peak_kwh * D("0.10")


def test_lord_howe_bills_on_the_spring_day_are_40_70_and_on_the_autumn_day_40_90() -> None:
    totals = []
    for day in (date(2026, 10, 4), date(2026, 4, 5)):
        period, first, count = lord_howe_day(day)
        usage = Usage(series=series(first, 15, alternate_quarters_with_ten_at_seven(first, count)))
        totals.append(rate(tariff(currency="AUD", energy=tou_energy_peak_7_to_22()), period, usage).total)
    assert totals == [39 * D("1.00") + 17 * D("0.10"), 39 * D("1.00") + 19 * D("0.10")]
    assert totals == [D("40.70"), D("40.90")]


def test_60_minute_demand_windows_follow_lord_howes_wall_clock_after_the_shift() -> None:
    # 4 kWh in each quarter hour of 07:00-08:00 local on 4 October, nothing else: a wall-clock hour of 16 kWh.
    _, first, count = lord_howe_day(date(2026, 10, 4))
    values = []
    for i in range(count):
        local = (first + timedelta(minutes=15 * i)).astimezone(LORD_HOWE)
        values.append("4" if local.hour == 7 else "0")
    tou = {
        "periods": [
            {"name": "off-peak", "tiers": [{"rate": "1.00"}]},
            {"name": "peak", "tiers": [{"rate": "10.00"}]},
        ],
        "time_of_use": PEAK_7_TO_22,
    }
    october = BillPeriod(date(2026, 10, 1), date(2026, 11, 1), LORD_HOWE)
    bill = rate(
        tariff(currency="AUD", demand={"window_minutes": 60, "time_of_use": tou}),
        october,
        Usage(series=series(first, 15, values)),
    )
    # 16 kWh in the 60-minute window 07:00-08:00 is 16 kW, all of it at the peak rate; off-peak is 0 kW.
    assert [(line.period, line.quantity, line.amount) for line in lines(bill, "demand")] == [
        ("peak", D("16"), 16 * D("10.00")),
    ]
    assert bill.usage.peak_demand == D("16")


def test_the_repeated_half_hour_of_lord_howes_autumn_day_is_a_window_of_its_own() -> None:
    # 5 April 2026: 01:00-02:00 (+11:00), 01:30-02:00 again (+10:30), then 02:00-03:00. 15-minute data.
    period, first, count = lord_howe_day(date(2026, 4, 5))
    values = ["0"] * count
    values[4:8] = ["1", "1", "1", "1"]  # 01:00-02:00 +11:00: 4 kWh
    values[8:12] = ["3", "3", "3", "3"]  # 01:30-02:00 +10:30: 6 kWh; 02:00-02:30: 6 kWh
    flat = {"periods": [{"name": "all", "tiers": [{"rate": "1"}]}]}
    t = tariff(currency="AUD", demand={"window_minutes": 60, "flat": flat})
    bill = rate(t, period, Usage(series=series(first, 15, values)))
    # Wall-clock windows: 01:30-02:00 (the repeat) holds 6 kWh, 02:00-03:00 holds 6 kWh; none holds 12.
    assert bill.usage.peak_demand == D("6") * 60 / 60


# 3. On-time is the union of a node's sessions


def test_overlapping_sessions_count_their_common_hours_once_for_off_time_savings() -> None:
    day = days(date(2026, 1, 5), date(2026, 1, 6), ZoneInfo("UTC"))
    usage = Usage(
        sessions=[
            Session("morning", datetime(2026, 1, 5, 0, tzinfo=UTC), datetime(2026, 1, 5, 12, tzinfo=UTC)),
            Session("day", datetime(2026, 1, 5, 6, tzinfo=UTC), datetime(2026, 1, 5, 18, tzinfo=UTC)),
        ]
    )
    bill = rate(tariff(savings=SAVINGS, packages=[PACKAGE], currency="USD"), day, usage)
    (saving,) = lines(bill, "savings")
    # On 00-18 h (the union), off 6 h: 6 x 200 W x 0.12 / 1000 = 0.144.
    assert (saving.quantity, saving.amount) == (
        D("6"),
        -(6 * D("200") * D("0.12") / 1000).quantize(D("0.01")),
    )
    assert saving.amount == D("-0.14")
    # The package still prices each session as its own job: 2 x (0.01 + (43,200 - 1,800) / 300 x 0.0089).
    assert amounts(bill, "package") == [(2 * (D("0.01") + 138 * D("0.0089"))).quantize(D("0.01"))]


def test_a_session_inside_another_adds_no_on_time() -> None:
    day = days(date(2026, 1, 5), date(2026, 1, 6), ZoneInfo("UTC"))
    usage = Usage(
        sessions=[
            Session("long", datetime(2026, 1, 5, 2, tzinfo=UTC), datetime(2026, 1, 5, 20, tzinfo=UTC)),
            Session("inner", datetime(2026, 1, 5, 4, tzinfo=UTC), datetime(2026, 1, 5, 5, tzinfo=UTC)),
            Session("touching", datetime(2026, 1, 5, 20, tzinfo=UTC), datetime(2026, 1, 5, 21, tzinfo=UTC)),
        ]
    )
    bill = rate(tariff(savings=SAVINGS, currency="USD"), day, usage)
    assert lines(bill, "savings")[0].quantity == D("5")  # on 02-21 h
