"""The tariff engine, component by component, against bills computed by hand."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from meterbill.tariffs.engine import BillPeriod, TariffError, rate, rate_monthly, session_charge
from meterbill.usage import Session, SharedCost, SharedUsage, Usage
from tests.builders import (
    BERLIN,
    UTC,
    D,
    amounts,
    constant,
    days,
    flat_energy,
    lines,
    month,
    schedule,
    series,
    tariff,
)

JAN_1 = datetime(2026, 1, 1, tzinfo=BERLIN)
APRIL = datetime(2026, 4, 1, tzinfo=BERLIN)


def ladder(*tiers: tuple[str | None, str], mode: str = "graduated", **extra: object) -> dict[str, object]:
    return {
        "periods": [{"name": "all", "tiers": [{"size": size, "rate": r} for size, r in tiers]}],
        "tier_mode": mode,
        **extra,
    }


# 1. Fixed charges


def test_a_monthly_fixed_charge_is_charged_whole_for_a_whole_month() -> None:
    bill = rate(tariff(fixed=[{"amount": "9.90"}]), month(2026, 2), Usage())
    assert amounts(bill, "fixed") == [D("9.90")]
    assert bill.total == D("9.90")


def test_a_monthly_fixed_charge_is_prorated_by_days_for_a_partial_month() -> None:
    bill = rate(tariff(fixed=[{"amount": "10"}]), days(date(2026, 4, 1), date(2026, 4, 16)), Usage())
    assert amounts(bill, "fixed") == [D("10") * 15 / 30]


def test_a_monthly_fixed_charge_over_a_period_spanning_two_months_prorates_each_month() -> None:
    bill = rate(tariff(fixed=[{"amount": "31"}]), days(date(2026, 1, 21), date(2026, 2, 15)), Usage())
    # 11 of January's 31 days, 14 of February's 28.
    assert amounts(bill, "fixed") == [(D("31") * 11 / 31 + D("31") * 14 / 28).quantize(D("0.01"))]


def test_a_daily_fixed_charge_is_multiplied_by_the_days_of_the_period() -> None:
    bill = rate(tariff(fixed=[{"amount": "0.52", "per": "day"}]), month(2026, 2), Usage())
    assert amounts(bill, "fixed") == [D("0.52") * 28]


# 2. Flat energy


def test_flat_energy_is_usage_times_rate_rounded_half_up_once_per_line() -> None:
    usage = Usage(series=series(JAN_1, 60, ["0.125", "0.250"]))
    bill = rate(tariff(energy=flat_energy("0.1")), month(2026, 1), usage)
    assert lines(bill, "energy")[0].quantity == D("0.375")
    assert amounts(bill, "energy") == [D("0.04")]  # 0.0375 rounds half-up


def test_energy_outside_the_bill_period_is_not_billed() -> None:
    usage = Usage(series=constant(datetime(2025, 12, 31, 22, tzinfo=BERLIN), 60, 4, "1"))
    bill = rate(tariff(energy=flat_energy("1")), month(2026, 1), usage)
    assert bill.usage.total == D("2")  # only 00:00 and 01:00 on 1 January


def test_usage_in_another_unit_than_the_tariff_is_rejected_naming_the_unit() -> None:
    usage = Usage(series=constant(JAN_1, 60, 2, "1", unit="m3"))
    with pytest.raises(TariffError, match="unit: tariff prices 'kWh' but the usage is in 'm3'"):
        rate(tariff(energy=flat_energy("1")), month(2026, 1), usage)


# 3. Ladders


def test_graduated_tiers_price_each_block_at_its_own_rate() -> None:
    usage = Usage(series=series(APRIL, 60, ["250"]))
    t = tariff(energy=ladder(("100", "0.10"), ("100", "0.15"), (None, "0.20")))
    bill = rate(t, month(2026, 4), usage)
    assert [(line.tier, line.quantity, line.amount) for line in lines(bill, "energy")] == [
        (1, D("100"), D("100") * D("0.10")),
        (2, D("100"), D("100") * D("0.15")),
        (3, D("50"), D("50") * D("0.20")),
    ]


def test_volume_tiers_price_all_usage_at_the_tier_reached() -> None:
    usage = Usage(series=series(APRIL, 60, ["250"]))
    t = tariff(energy=ladder(("100", "0.10"), ("100", "0.15"), (None, "0.20"), mode="volume"))
    assert amounts(rate(t, month(2026, 4), usage), "energy") == [D("250") * D("0.20")]


def test_volume_usage_exactly_at_a_tier_limit_stays_in_that_tier() -> None:
    usage = Usage(series=series(APRIL, 60, ["100"]))
    t = tariff(energy=ladder(("100", "0.10"), (None, "0.20"), mode="volume"))
    assert amounts(rate(t, month(2026, 4), usage), "energy") == [D("100") * D("0.10")]


def test_tier_sizes_shrink_with_a_partial_month() -> None:
    usage = Usage(series=series(APRIL, 60, ["250"]))
    t = tariff(energy=ladder(("100", "0.10"), ("100", "0.15"), (None, "0.20")))
    bill = rate(t, days(date(2026, 4, 1), date(2026, 4, 16)), usage)
    # 15 of 30 days: the blocks are 50 and 50 kWh.
    assert amounts(bill, "energy") == [D("50") * D("0.10"), D("50") * D("0.15"), D("150") * D("0.20")]


def test_tier_proration_can_be_switched_off() -> None:
    usage = Usage(series=series(APRIL, 60, ["250"]))
    t = tariff(energy=ladder(("100", "0.10"), (None, "0.20"), prorate_tiers=False))
    bill = rate(t, days(date(2026, 4, 1), date(2026, 4, 16)), usage)
    assert amounts(bill, "energy") == [D("100") * D("0.10"), D("150") * D("0.20")]


def test_only_the_last_tier_may_be_unbounded() -> None:
    with pytest.raises(ValueError, match=r"tiers\[0\].size: only the last tier may be unbounded"):
        tariff(energy=ladder((None, "0.10"), ("100", "0.20")))


# 4. Time of use

PEAK_8_TO_20 = {"weekday_schedule": schedule({range(8, 20): 1}), "weekend_schedule": schedule({})}


def tou_energy(**extra: object) -> dict[str, object]:
    return {
        "periods": [
            {"name": "off-peak", "tiers": [{"rate": "0.10"}]},
            {"name": "peak", "tiers": [{"rate": "0.30"}]},
        ],
        "time_of_use": PEAK_8_TO_20,
        **extra,
    }


def energy_by_period(bill) -> dict[str | None, tuple[Decimal, Decimal]]:  # type: ignore[no-untyped-def]
    return {line.period: (line.quantity, line.amount) for line in lines(bill, "energy")}


def test_time_of_use_prices_weekday_hours_by_the_weekday_schedule() -> None:
    # Monday 5 January 2026, 1 kWh every hour.
    day = days(date(2026, 1, 5), date(2026, 1, 6))
    bill = rate(
        tariff(energy=tou_energy()),
        day,
        Usage(series=constant(datetime(2026, 1, 5, tzinfo=BERLIN), 60, 24, "1")),
    )
    assert energy_by_period(bill) == {
        "off-peak": (D("12"), D("12") * D("0.10")),
        "peak": (D("12"), D("12") * D("0.30")),
    }


def test_weekends_use_the_weekend_schedule() -> None:
    day = days(date(2026, 1, 3), date(2026, 1, 4))  # a Saturday
    bill = rate(
        tariff(energy=tou_energy()),
        day,
        Usage(series=constant(datetime(2026, 1, 3, tzinfo=BERLIN), 15, 96, "0.25")),
    )
    assert energy_by_period(bill) == {"off-peak": (D("24"), D("2.40"))}


def test_a_public_holiday_is_priced_as_a_weekend() -> None:
    christmas = days(date(2026, 12, 25), date(2026, 12, 26))  # a Friday
    usage = Usage(series=constant(datetime(2026, 12, 25, tzinfo=BERLIN), 60, 24, "1"))
    with_holiday = rate(
        tariff(energy=tou_energy()), christmas, usage, holidays=frozenset({date(2026, 12, 25)})
    )
    without = rate(tariff(energy=tou_energy()), christmas, usage)
    assert energy_by_period(with_holiday) == {"off-peak": (D("24"), D("2.40"))}
    assert energy_by_period(without)["peak"] == (D("12"), D("3.60"))


def test_a_tariff_can_price_holidays_as_ordinary_days() -> None:
    christmas = days(date(2026, 12, 25), date(2026, 12, 26))
    usage = Usage(series=constant(datetime(2026, 12, 25, tzinfo=BERLIN), 60, 24, "1"))
    t = tariff(energy=tou_energy(), holidays_as_weekends=False)
    bill = rate(t, christmas, usage, holidays=frozenset({date(2026, 12, 25)}))
    assert energy_by_period(bill)["peak"] == (D("12"), D("3.60"))


def hour_marked(values_count: int, start: datetime) -> Usage:
    """Interval i consumes i+1 Wh (as kWh/1000), so each interval's identity shows in the sums."""
    return Usage(series=series(start, 60, [D(i + 1) / 1000 for i in range(values_count)]))


def test_spring_forward_day_has_23_hours_each_in_its_local_period() -> None:
    # Sunday 29 March 2026 in Berlin: 02:00 local does not exist. Weekend schedule: hour 3 is its own period.
    t = tariff(
        energy={
            "periods": [
                {"name": "other", "tiers": [{"rate": "1"}]},
                {"name": "three", "tiers": [{"rate": "1"}]},
            ],
            "time_of_use": {"weekday_schedule": schedule({}), "weekend_schedule": schedule({range(3, 4): 1})},
        }
    )
    day = days(date(2026, 3, 29), date(2026, 3, 30))
    start = datetime(2026, 3, 29, tzinfo=BERLIN)
    bill = rate(t, day, hour_marked(30, start))
    # Intervals: 0 = 00:00, 1 = 01:00, 2 = 03:00 CEST ... 22 = 23:00; interval 23 is the next day.
    assert energy_by_period(bill)["three"][0] == D("0.003")
    assert bill.usage.total == sum(D(i + 1) for i in range(23)) / 1000


def test_fall_back_day_has_25_hours_and_both_two_oclocks_take_the_two_oclock_period() -> None:
    t = tariff(
        energy={
            "periods": [
                {"name": "other", "tiers": [{"rate": "1"}]},
                {"name": "two", "tiers": [{"rate": "1"}]},
            ],
            "time_of_use": {"weekday_schedule": schedule({}), "weekend_schedule": schedule({range(2, 3): 1})},
        }
    )
    day = days(date(2026, 10, 25), date(2026, 10, 26))
    start = datetime(2026, 10, 25, tzinfo=BERLIN)
    bill = rate(t, day, hour_marked(30, start))
    # Intervals 2 (02:00 CEST) and 3 (02:00 CET) are both local hour 2.
    assert energy_by_period(bill)["two"][0] == (D(3) + D(4)) / 1000
    assert bill.usage.total == sum(D(i + 1) for i in range(25)) / 1000


def test_a_dst_day_in_new_york_is_classified_on_new_york_wall_clock() -> None:
    from zoneinfo import ZoneInfo

    ny = ZoneInfo("America/New_York")
    t = tariff(
        energy={
            "periods": [
                {"name": "other", "tiers": [{"rate": "1"}]},
                {"name": "evening", "tiers": [{"rate": "2"}]},
            ],
            "time_of_use": {
                "weekday_schedule": schedule({range(17, 21): 1}),
                "weekend_schedule": schedule({range(17, 21): 1}),
            },
        }
    )
    # Sunday 8 March 2026: 23 hours. 15-minute data, 0.25 kWh each.
    bill = rate(
        t,
        BillPeriod(date(2026, 3, 8), date(2026, 3, 9), ny),
        Usage(series=constant(datetime(2026, 3, 8, tzinfo=ny), 15, 92, "0.25")),
    )
    assert energy_by_period(bill) == {"other": (D("19"), D("19")), "evening": (D("4"), D("8"))}


def test_tiers_inside_a_tou_period_climb_per_period() -> None:
    t = tariff(
        energy={
            "periods": [
                {"name": "off-peak", "tiers": [{"size": "10", "rate": "0.10"}, {"rate": "0.20"}]},
                {"name": "peak", "tiers": [{"size": "10", "rate": "0.30"}, {"rate": "0.40"}]},
            ],
            "time_of_use": PEAK_8_TO_20,
            "prorate_tiers": False,
        }
    )
    bill = rate(
        t,
        days(date(2026, 1, 5), date(2026, 1, 6)),
        Usage(series=constant(datetime(2026, 1, 5, tzinfo=BERLIN), 60, 24, "1")),
    )
    assert [(line.period, line.tier, line.amount) for line in lines(bill, "energy")] == [
        ("off-peak", 1, D("10") * D("0.10")),
        ("off-peak", 2, D("2") * D("0.20")),
        ("peak", 1, D("10") * D("0.30")),
        ("peak", 2, D("2") * D("0.40")),
    ]


def test_tiers_on_the_total_are_shared_pro_rata_across_periods() -> None:
    # SAM's reading of URDB: 24 kWh total, tier 1 holds 12 -> half of each period's usage is in tier 1.
    t = tariff(
        energy={
            "periods": [
                {"name": "off-peak", "tiers": [{"size": "12", "rate": "0.10"}, {"rate": "0.20"}]},
                {"name": "peak", "tiers": [{"size": "12", "rate": "0.30"}, {"rate": "0.40"}]},
            ],
            "time_of_use": PEAK_8_TO_20,
            "tier_scope": "total_pro_rata",
            "prorate_tiers": False,
        }
    )
    usage = Usage(series=series(datetime(2026, 1, 5, tzinfo=BERLIN), 60, ["0"] * 8 + ["2"] * 12 + ["0"] * 4))
    bill = rate(t, days(date(2026, 1, 5), date(2026, 1, 6)), usage)
    assert [(line.period, line.tier, line.quantity, line.amount) for line in lines(bill, "energy")] == [
        ("peak", 1, D("12"), D("12") * D("0.30")),
        ("peak", 2, D("12"), D("12") * D("0.40")),
    ]


def test_tou_schedules_must_be_12_by_24_and_name_existing_periods() -> None:
    with pytest.raises(ValueError, match=r"weekday_schedule\[0\]\[8\]: period 1 does not exist"):
        tariff(energy={"periods": [{"name": "a", "tiers": [{"rate": "1"}]}], "time_of_use": PEAK_8_TO_20})
    with pytest.raises(ValueError, match="must be 12 rows"):
        tariff(
            energy={
                **tou_energy(),
                "time_of_use": {"weekday_schedule": [[0] * 24], "weekend_schedule": schedule({})},
            }
        )


# 5. Demand


def demand(**parts: object) -> dict[str, object]:
    return {"flat": {"periods": [{"name": "flat", "tiers": [{"rate": "10"}]}]}, **parts}


def test_flat_demand_is_the_highest_15_minute_average_in_the_month() -> None:
    # 15-minute intervals; the busiest holds 5 kWh -> 20 kW.
    values = ["1"] * 100 + ["5"] + ["2"] * 100
    bill = rate(tariff(demand=demand()), month(2026, 4), Usage(series=series(APRIL, 15, values)))
    assert [(line.quantity, line.unit, line.amount) for line in lines(bill, "demand")] == [
        (D("20"), "kW", D("200.00"))
    ]
    assert bill.usage.peak_demand == D("20")


def test_demand_from_5_minute_data_averages_over_clock_aligned_15_minute_windows() -> None:
    # Windows 00:00-00:15 = 1+1+1, 00:15-00:30 = 3+3+0: 6 kWh in 15 min = 24 kW (00:10-00:25 would be 7).
    values = ["1", "1", "1", "3", "3", "0"]
    bill = rate(tariff(demand=demand()), month(2026, 4), Usage(series=series(APRIL, 5, values)))
    assert bill.usage.peak_demand == D("6") * 4


def test_hourly_intervals_longer_than_the_window_count_their_own_average() -> None:
    bill = rate(tariff(demand=demand()), month(2026, 4), Usage(series=series(APRIL, 60, ["30", "42", "7"])))
    assert bill.usage.peak_demand == D("42")


def test_a_30_minute_demand_window_is_configurable() -> None:
    values = ["1", "5", "1", "1"]
    bill = rate(
        tariff(demand=demand(window_minutes=30)), month(2026, 4), Usage(series=series(APRIL, 15, values))
    )
    assert bill.usage.peak_demand == (D("1") + D("5")) * 2


def test_flat_demand_uses_the_rate_of_the_months_season() -> None:
    flat = {
        "periods": [
            {"name": "winter", "tiers": [{"rate": "7.76"}]},
            {"name": "summer", "tiers": [{"rate": "10.08"}]},
        ],
        "months": [0, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0],
    }
    june = datetime(2026, 6, 1, tzinfo=BERLIN)
    bill = rate(tariff(demand={"flat": flat}), month(2026, 6), Usage(series=series(june, 60, ["3"])))
    assert amounts(bill, "demand") == [D("3") * D("10.08")]


def test_tou_demand_charges_each_periods_own_peak() -> None:
    tou = {
        "periods": [
            {"name": "off-peak", "tiers": [{"rate": "1"}]},
            {"name": "peak", "tiers": [{"rate": "15"}]},
        ],
        "time_of_use": PEAK_8_TO_20,
    }
    values = ["9"] * 8 + ["4"] * 12 + ["2"] * 4  # Monday 5 January, hourly
    bill = rate(
        tariff(demand={"time_of_use": tou}),
        month(2026, 1),
        Usage(series=series(datetime(2026, 1, 5, tzinfo=BERLIN), 60, values)),
    )
    assert {line.period: (line.quantity, line.amount) for line in lines(bill, "demand")} == {
        "off-peak": (D("9"), D("9") * 1),
        "peak": (D("4"), D("4") * 15),
    }


def test_a_ratchet_bills_at_least_a_share_of_the_recent_highest_demand() -> None:
    t = tariff(
        demand=demand(
            flat={
                "periods": [{"name": "flat", "tiers": [{"rate": "10"}]}],
                "ratchet": {"percent": "80", "months": 11},
            }
        )
    )
    usage = Usage(series=series(APRIL, 60, ["50"]))
    bill = rate(t, month(2026, 4), usage, demand_history=[D("90"), D("100")])
    assert [(line.quantity, line.amount) for line in lines(bill, "demand")] == [(D("80"), D("800.00"))]
    assert bill.usage.peak_demand == D("50")  # the measured peak, for the next months' ratchet


def test_a_ratchet_only_looks_back_its_number_of_months() -> None:
    t = tariff(
        demand=demand(
            flat={
                "periods": [{"name": "flat", "tiers": [{"rate": "10"}]}],
                "ratchet": {"percent": "80", "months": 1},
            }
        )
    )
    bill = rate(
        t, month(2026, 4), Usage(series=series(APRIL, 60, ["50"])), demand_history=[D("100"), D("40")]
    )
    assert amounts(bill, "demand") == [D("50") * 10]


def test_monthly_bills_feed_their_peaks_into_later_months_ratchets() -> None:
    t = tariff(
        demand=demand(
            flat={"periods": [{"name": "flat", "tiers": [{"rate": "1"}]}], "ratchet": {"percent": "50"}}
        )
    )
    values = ["100"] + ["1"] * (30 * 24 - 1) + ["10"]  # 100 kW in April, 10 kW on 1 May
    bills = rate_monthly(t, days(date(2026, 4, 1), date(2026, 6, 1)), Usage(series=series(APRIL, 60, values)))
    assert [amounts(b, "demand") for b in bills] == [[D("100.00")], [D("50.00")]]


def test_demand_tiers_are_graduated_over_kw() -> None:
    t = tariff(
        demand={
            "flat": {"periods": [{"name": "flat", "tiers": [{"size": "100", "rate": "2"}, {"rate": "3"}]}]}
        }
    )
    bill = rate(t, month(2026, 4), Usage(series=series(APRIL, 60, ["150"])))
    assert amounts(bill, "demand") == [D("100") * 2, D("50") * 3]


def test_demand_in_a_partial_month_is_prorated_by_days() -> None:
    bill = rate(
        tariff(demand=demand()),
        days(date(2026, 4, 1), date(2026, 4, 11)),
        Usage(series=series(APRIL, 60, ["6"])),
    )
    assert amounts(bill, "demand") == [D("6") * 10 * 10 / 30]


# 6. Usage packages


def jobs(count: int, seconds: int, start: datetime = JAN_1) -> list[Session]:
    return [
        Session(f"job-{i}", start + timedelta(hours=i), start + timedelta(hours=i, seconds=seconds))
        for i in range(count)
    ]


PACKAGE = {"threshold_seconds": "1800", "fare": "0.01", "unit_seconds": "300", "unit_rate": "0.0089"}


def test_a_one_hour_job_costs_the_package_fare_plus_six_started_units() -> None:
    cost = session_charge(
        3600, threshold=D("1800"), fare=D("0.01"), unit_seconds=D("300"), unit_rate=D("0.0089")
    )
    assert cost == D("0.01") + 6 * D("0.0089") == D("0.0634")
    bill = rate(tariff(packages=[PACKAGE]), month(2026, 1), Usage(sessions=jobs(1, 3600)))
    assert amounts(bill, "package") == [D("0.06")]  # the line rounds 0.0634


def test_a_hundred_one_hour_jobs_make_one_line_of_six_euros_thirty_four() -> None:
    bill = rate(tariff(packages=[PACKAGE]), month(2026, 1), Usage(sessions=jobs(100, 3600)))
    (line,) = lines(bill, "package")
    assert (line.quantity, line.unit, line.amount) == (
        D("100"),
        "session",
        100 * (D("0.01") + 6 * D("0.0089")),
    )


def test_a_started_unit_counts_whole_and_a_job_within_the_threshold_pays_only_the_fare() -> None:
    sessions = [*jobs(1, 1801), *jobs(1, 1800, JAN_1 + timedelta(days=1))]
    bill = rate(tariff(packages=[PACKAGE]), month(2026, 1), Usage(sessions=sessions))
    (line,) = lines(bill, "package")
    assert line.amount == (D("0.01") + D("0.0089") + D("0.01")).quantize(D("0.01"))
    assert "1 started units" in line.description


def test_sessions_belong_to_the_bill_in_which_they_start() -> None:
    late = jobs(1, 7200, datetime(2026, 1, 31, 23, 30, tzinfo=BERLIN))
    assert amounts(rate(tariff(packages=[PACKAGE]), month(2026, 2), Usage(sessions=late)), "package") == []


# 7. Minimum, discounts, surcharges, taxes


def test_a_minimum_charge_tops_the_charges_up_with_its_own_line() -> None:
    t = tariff(fixed=[{"amount": "10"}], energy=flat_energy("0.20"), minimum={"amount": "50"})
    bill = rate(t, month(2026, 4), Usage(series=series(APRIL, 60, ["100"])))
    assert amounts(bill, "minimum") == [D("50") - D("10") - D("100") * D("0.20")]
    assert bill.subtotal == D("50.00")


def test_charges_above_the_minimum_add_no_minimum_line() -> None:
    t = tariff(energy=flat_energy("0.20"), minimum={"amount": "5"})
    bill = rate(t, month(2026, 4), Usage(series=series(APRIL, 60, ["100"])))
    assert amounts(bill, "minimum") == []


def test_discounts_and_taxes_apply_after_the_minimum() -> None:
    t = tariff(
        energy=flat_energy("0.20"),
        minimum={"amount": "50"},
        adjustments=[{"kind": "discount", "description": "Loyalty", "percent": "10"}],
        taxes=[{"name": "VAT", "percent": "19"}],
    )
    bill = rate(t, month(2026, 4), Usage(series=series(APRIL, 60, ["100"])))
    assert amounts(bill, "discount") == [-D("50") * D("0.10")]
    assert amounts(bill, "tax") == [(D("45") * D("0.19")).quantize(D("0.01"))]
    assert bill.total == D("45") + D("8.55")


def test_a_percent_surcharge_applies_only_to_its_chosen_components() -> None:
    t = tariff(
        fixed=[{"amount": "10"}],
        energy=flat_energy("0.20"),
        adjustments=[
            {"kind": "surcharge", "description": "Grid levy", "percent": "5", "applies_to": ["energy"]}
        ],
    )
    bill = rate(t, month(2026, 4), Usage(series=series(APRIL, 60, ["100"])))
    assert amounts(bill, "surcharge") == [D("20") * D("0.05")]


def test_a_fixed_discount_is_a_negative_line() -> None:
    t = tariff(
        fixed=[{"amount": "10"}],
        adjustments=[{"kind": "discount", "description": "Welcome", "amount": "2.5"}],
    )
    bill = rate(t, month(2026, 4), Usage())
    assert amounts(bill, "discount") == [D("-2.50")]
    assert bill.total == D("7.50")


def test_several_taxes_each_apply_to_their_own_components() -> None:
    t = tariff(
        fixed=[{"amount": "10"}],
        energy=flat_energy("0.2"),
        taxes=[
            {"name": "Electricity tax", "percent": "10", "applies_to": ["energy"]},
            {"name": "VAT", "percent": "19", "applies_to": ["fixed", "energy"]},
        ],
    )
    bill = rate(t, month(2026, 4), Usage(series=series(APRIL, 60, ["100"])))
    assert amounts(bill, "tax") == [D("20") * D("0.10"), D("30") * D("0.19")]
    assert (bill.subtotal, bill.taxes, bill.total) == (D("30.00"), D("7.70"), D("37.70"))


def test_an_adjustment_needs_exactly_one_of_percent_or_amount() -> None:
    with pytest.raises(ValueError, match="give either percent or amount"):
        tariff(adjustments=[{"kind": "discount", "description": "x", "percent": "1", "amount": "1"}])


def test_a_tax_on_taxes_is_rejected() -> None:
    with pytest.raises(ValueError, match="a tax is not levied on taxes"):
        tariff(taxes=[{"name": "x", "percent": "1", "applies_to": ["tax"]}])


# 8. On/off-time savings


def savings(credit: bool = False) -> dict[str, object]:
    return {"power_rating_w": "200", "price_per_kwh": "0.12", "credit": credit}


def test_off_time_savings_follow_the_alpiron_formula() -> None:
    # A 24-hour day with the device on for 14 h: 10 h off x 200 W x 0.12 $/kWh / 1000 = 0.24.
    day = days(date(2026, 1, 5), date(2026, 1, 6), UTC)
    on = [Session("run", datetime(2026, 1, 5, 6, tzinfo=UTC), datetime(2026, 1, 5, 20, tzinfo=UTC))]
    bill = rate(tariff(savings=savings(), currency="USD"), day, Usage(sessions=on))
    (memo,) = bill.memos
    assert (memo.quantity, memo.amount) == (D("10"), D("10") * 200 * D("0.12") / 1000)
    assert bill.total == 0  # a memo, not a charge


def test_credited_savings_lower_the_bill() -> None:
    day = days(date(2026, 1, 5), date(2026, 1, 6), UTC)
    on = [Session("run", datetime(2026, 1, 5, 6, tzinfo=UTC), datetime(2026, 1, 5, 20, tzinfo=UTC))]
    bill = rate(
        tariff(savings=savings(credit=True), fixed=[{"amount": "1", "per": "day"}]), day, Usage(sessions=on)
    )
    assert amounts(bill, "savings") == [D("-0.24")]
    assert bill.total == D("0.76")


def test_off_time_comes_from_an_hour_counting_series_too() -> None:
    day = days(date(2026, 1, 5), date(2026, 1, 6), UTC)
    on_hours = series(datetime(2026, 1, 5, tzinfo=UTC), 60, ["1"] * 14 + ["0"] * 10, unit="h")
    bill = rate(tariff(savings=savings(), unit="h"), day, Usage(series=on_hours))
    assert bill.memos[0].amount == D("0.24")


def test_the_off_time_of_a_25_hour_day_counts_25_hours() -> None:
    day = days(date(2026, 10, 25), date(2026, 10, 26))
    bill = rate(
        tariff(savings=savings()),
        day,
        Usage(sessions=[])
        if False
        else Usage(
            sessions=[
                Session("none", datetime(2026, 10, 25, tzinfo=BERLIN), datetime(2026, 10, 25, tzinfo=BERLIN))
            ]
        ),
    )
    assert bill.memos[0].quantity == D("25")


# 9. Formulas


def test_a_formula_halves_the_first_tier_for_senior_citizens() -> None:
    t = tariff(
        variables={"tier_1_size": "100"},
        energy=ladder(
            ("tier_1_size * (0.5 if senior_citizen else 1)", "0.10"), (None, "0.20"), prorate_tiers=False
        ),
    )
    usage = Usage(series=series(APRIL, 60, ["150"]))
    senior = rate(t, month(2026, 4), usage, attributes={"senior_citizen": True})
    other = rate(t, month(2026, 4), usage, attributes={"senior_citizen": False})
    assert amounts(senior, "energy") == [D("50") * D("0.10"), D("100") * D("0.20")]
    assert amounts(other, "energy") == [D("100") * D("0.10"), D("50") * D("0.20")]


def test_a_formula_can_depend_on_the_season_of_the_bill() -> None:
    t = tariff(
        seasons=[{"name": "summer", "months": [6, 7, 8]}, {"name": "winter", "months": [1, 2, 12]}],
        fixed=[{"amount": "10 * (1.5 if season == 'summer' else 1)"}],
    )
    assert rate(t, month(2026, 7), Usage()).total == D("15.00")
    assert rate(t, month(2026, 1), Usage()).total == D("10.00")


def test_a_formula_can_use_the_days_of_the_period() -> None:
    t = tariff(fixed=[{"amount": "days * 0.5"}])
    assert rate(t, month(2026, 2), Usage()).total == D("14.00") * 1  # 28 x 0.5 over 1 month
    assert amounts(rate(t, month(2026, 2), Usage()), "fixed") == [D("14.00")]


def test_a_formula_missing_a_customer_attribute_names_the_operand() -> None:
    t = tariff(fixed=[{"amount": "10 * factor"}])
    with pytest.raises(TariffError, match=r"fixed\[0\].amount: formula '10 \* factor'.*factor"):
        rate(t, month(2026, 4), Usage())


def test_a_bad_formula_is_rejected_when_the_tariff_is_validated() -> None:
    with pytest.raises(ValueError, match=r"fixed.0.amount[\s\S]*column"):
        tariff(fixed=[{"amount": "__import__('os')"}])


# 10. Shared costs


def test_shared_usage_is_priced_at_the_shared_rate_and_a_shared_cost_as_it_is() -> None:
    t = tariff(shared={"rate": "0.30", "description": "Common areas"})
    usage = Usage(
        shared=[SharedUsage("stairwell lighting", D("12.5"), "kWh"), SharedCost("lift service", D("7.333"))]
    )
    bill = rate(t, month(2026, 4), usage)
    assert amounts(bill, "shared") == [(D("12.5") * D("0.30")).quantize(D("0.01")), D("7.33")]


def test_shared_usage_without_a_shared_rate_is_rejected() -> None:
    with pytest.raises(TariffError, match=r"shared: usage\.shared\[0\] allocates usage"):
        rate(tariff(), month(2026, 4), Usage(shared=[SharedUsage("x", D("1"), "kWh")]))


# Money and currencies


def test_yen_bills_round_to_whole_yen_and_dinar_bills_to_fils() -> None:
    usage = Usage(series=series(APRIL, 60, ["10.5"]))
    assert amounts(
        rate(tariff(currency="JPY", energy=flat_energy("31")), month(2026, 4), usage), "energy"
    ) == [D("326")]
    assert amounts(
        rate(tariff(currency="KWD", energy=flat_energy("0.0125")), month(2026, 4), usage), "energy"
    ) == [D("0.131")]


def test_a_full_second_tier_of_29_085_rounds_half_up_to_29_09() -> None:
    t = tariff(
        currency="USD",
        energy=ladder(("650", "0.0700"), ("350", "0.0831"), (None, "0.09"), prorate_tiers=False),
    )
    bill = rate(t, month(2026, 4), Usage(series=series(APRIL, 60, ["1000"])))
    assert amounts(bill, "energy")[1] == D("29.09")


def test_an_unknown_currency_is_rejected() -> None:
    with pytest.raises(ValueError, match="currency: unknown currency 'XYZ'"):
        tariff(currency="XYZ")


def test_every_line_says_what_it_is() -> None:
    t = tariff(fixed=[{"amount": "1"}], energy=tou_energy(), taxes=[{"name": "VAT", "percent": "19"}])
    bill = rate(
        t,
        days(date(2026, 1, 5), date(2026, 1, 6)),
        Usage(series=constant(datetime(2026, 1, 5, tzinfo=BERLIN), 60, 24, "1")),
    )
    assert [line.to_json()["component"] for line in bill.lines] == ["fixed", "energy", "energy", "tax"]
    peak = bill.lines[2].to_json()
    assert peak == {
        "component": "energy",
        "description": "Energy, peak",
        "quantity": "12",
        "unit": "kWh",
        "rate": "0.30",
        "amount": "3.60",
        "period": "peak",
        "tier": None,
        "season": None,
    }


def test_an_empty_bill_still_shows_money_in_minor_units() -> None:
    bill = rate(tariff(currency="KWD", energy=flat_energy("1")), month(2026, 4), Usage())
    assert (bill.to_json()["subtotal"], bill.to_json()["taxes"], bill.to_json()["total"]) == ("0.000",) * 3


def test_a_bill_from_partial_data_counts_the_intervals_it_has_no_data_for() -> None:
    # One day of hourly data in April (30 days x 24 hours): 29 days are missing.
    bill = rate(tariff(energy=flat_energy("0.2")), month(2026, 4), Usage(series=constant(APRIL, 60, 24, "1")))
    assert bill.usage.missing_intervals == 29 * 24
    assert bill.usage.to_json()["missing_intervals"] == 696


def test_a_dst_month_expects_its_real_number_of_intervals() -> None:
    # March 2026 in Berlin has 31 x 24 - 1 hours; the whole month of hourly data leaves nothing missing.
    march = datetime(2026, 3, 1, tzinfo=BERLIN)
    bill = rate(
        tariff(energy=flat_energy("0.2")), month(2026, 3), Usage(series=constant(march, 60, 743, "1"))
    )
    assert (bill.usage.missing_intervals, bill.usage.total) == (0, D("743"))
