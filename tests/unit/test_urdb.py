"""URDB import: real OpenEI rates become native tariffs that bill to the cent, and every feature the engine
cannot apply is refused by name instead of being dropped."""

from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from meterbill.billing.bill import Bill
from meterbill.tariffs.engine import BillPeriod, rate, rate_monthly
from meterbill.tariffs.model import Ratchet, Season, Tariff, Tier
from meterbill.tariffs.urdb import UrdbError, from_urdb, is_urdb_rate
from tests.unit.urdb_helpers import (
    LEFT_OUT,
    SHOULD_BILL,
    metered,
    month_period,
    sample,
    sample_as_floats,
)

D = Decimal
DENVER = ZoneInfo("America/Denver")
LOS_ANGELES = ZoneInfo("America/Los_Angeles")
NEW_YORK = ZoneInfo("America/New_York")
UTC = ZoneInfo("UTC")
HOURLY, QUARTER_HOURLY = 60, 15


def cents(amount: Decimal) -> Decimal:
    return amount.quantize(D("0.01"), ROUND_HALF_UP)


def imported(name: str) -> Tariff:
    return from_urdb(sample(name), ignore=LEFT_OUT.get(name, set()))


def bill_lines(bill: Bill) -> list[tuple[str, Decimal]]:
    return [(line.description, line.amount) for line in bill.lines]


def synthetic(**fields: Any) -> dict[str, Any]:
    """A small URDB rate: a label, a utility and a name, plus the fields under test."""
    return {"label": "5a0b28045457a3ea2aca0001", "utility": "Test Utility", "name": "Test rate", **fields}


def everywhere(period: int) -> list[list[int]]:
    return [[period] * 24 for _ in range(12)]


def afternoons(peak: int, other: int, hours: range = range(14, 18)) -> list[list[int]]:
    return [[peak if h in hours else other for h in range(24)] for _ in range(12)]


def energy(*periods: list[dict[str, Any]], weekday: Any = None, weekend: Any = None) -> dict[str, Any]:
    """Energy fields: the periods' tiers, and schedules (all period 0 unless given)."""
    return {
        "energyratestructure": list(periods),
        "energyweekdayschedule": weekday if weekday is not None else everywhere(0),
        "energyweekendschedule": weekend if weekend is not None else everywhere(0),
    }


def flat_demand(*periods: list[dict[str, Any]], months: list[int] | None = None) -> dict[str, Any]:
    return {
        "flatdemandstructure": list(periods),
        "flatdemandmonths": months if months is not None else [0] * 12,
    }


def tou_demand(*periods: list[dict[str, Any]], weekday: Any, weekend: Any) -> dict[str, Any]:
    return {
        "demandratestructure": list(periods),
        "demandweekdayschedule": weekday,
        "demandweekendschedule": weekend,
    }


def refusal(rate_object: dict[str, Any], **options: Any) -> UrdbError:
    with pytest.raises(UrdbError) as caught:
        from_urdb(rate_object, **options)
    return caught.value


def tier_prices(tariff: Tariff) -> list[list[tuple[object, object]]]:
    """Each energy period's tiers as (block size, price per kWh)."""
    assert tariff.energy is not None
    return [[(tier.size, tier.rate) for tier in period.tiers] for period in tariff.energy.periods]


# --- the real rates: every "should bill" sample imports -----------------------------------------------------


@pytest.mark.parametrize("name", SHOULD_BILL)
def test_every_billable_sample_imports_as_a_usd_kwh_tariff_named_after_its_label(name: str) -> None:
    rate_object = sample(name)
    tariff = imported(name)
    assert (tariff.id, tariff.source, tariff.currency, tariff.unit) == (
        rate_object["label"],
        f"urdb:{rate_object['label']}",
        "USD",
        "kWh",
    )
    assert tariff.name == f"{rate_object['utility']}: {rate_object['name']}"


@pytest.mark.parametrize("name", SHOULD_BILL)
def test_reading_the_json_numbers_as_floats_imports_the_same_tariff(name: str) -> None:
    assert from_urdb(sample_as_floats(name), ignore=LEFT_OUT.get(name, set())) == imported(name)


def test_the_effective_date_is_the_start_date_in_epoch_seconds_or_as_text() -> None:
    assert imported("pscolorado_re_tou").effective_from == date(2021, 10, 1)  # 1633068000 = 00:00 MDT
    assert imported("jackson_emc_a_senior").effective_from == date(2017, 1, 1)  # "2017-01-01 00:00:00"


def test_the_api_answer_holding_one_rate_imports_like_the_rate_itself() -> None:
    assert from_urdb({"items": [sample("aps_et2_tou")]}) == imported("aps_et2_tou")


# --- the real rates billed to the cent ----------------------------------------------------------------------


def test_jackson_emc_winter_tiers_round_the_half_cent_line_up() -> None:
    january = month_period(2018, 1, NEW_YORK)  # winter: period 0
    usage = metered(january, HOURLY, lambda _: D("1.5"))  # 31 days x 24 h x 1.5 kWh = 1116 kWh
    bill = rate(imported("jackson_emc_a_senior"), january, usage)
    assert bill_lines(bill) == [
        ("Fixed charge", D("5.50")),
        ("Energy, period 0: winter, tier 1", cents(D(650) * D("0.0896"))),
        ("Energy, period 0: winter, tier 2", cents(D(350) * D("0.0831"))),
        ("Energy, period 0: winter, tier 3", cents(D(1116 - 1000) * D("0.0821"))),
    ]
    assert D(350) * D("0.0831") == D("29.085")
    assert bill_lines(bill)[2][1] == D("29.09")
    assert bill.total == D("5.50") + D("58.24") + D("29.09") + D("9.52")


def test_jackson_emc_summer_tiers_climb_instead() -> None:
    july = month_period(2018, 7, NEW_YORK)  # summer: period 1
    bill = rate(imported("jackson_emc_a_senior"), july, metered(july, HOURLY, lambda _: D("1.5")))
    assert bill_lines(bill) == [
        ("Fixed charge", D("5.50")),
        ("Energy, period 1: summer, tier 1", cents(D(650) * D("0.0896"))),
        ("Energy, period 1: summer, tier 2", cents(D(350) * D("0.1121"))),  # 39.235 -> 39.24
        ("Energy, period 1: summer, tier 3", cents(D(1116 - 1000) * D("0.1181"))),
    ]
    assert bill.total == D("5.50") + D("58.24") + D("39.24") + D("13.70")


def test_xcel_re_tou_bills_each_summer_period_at_rate_plus_adjustment() -> None:
    june = month_period(2018, 6, DENVER)  # 21 weekdays and 9 weekend days; 1 kWh every hour
    bill = rate(imported("pscolorado_re_tou"), june, metered(june, HOURLY, lambda _: D(1)))
    assert bill_lines(bill) == [
        ("Fixed charge", D("5.71")),
        # 21:00-09:00 every day
        ("Energy, period 0: all year, 21:00-09:00", cents(D(30 * 12) * (D("0.06387") + D("0.035187")))),
        # weekdays 09:00-14:00 and 18:00-21:00, weekends 09:00-21:00
        ("Energy, period 3: summer", cents(D(21 * 8 + 9 * 12) * (D("0.11816") + D("0.0070699")))),
        ("Energy, period 4: summer, weekdays 14:00-18:00", cents(D(21 * 4) * (D("0.17246") + D("0.047412")))),
    ]
    assert bill.total == D("5.71") + D("35.66") + D("34.56") + D("18.47")


def test_aps_et2_charges_the_summer_on_peak_only_on_weekday_afternoons() -> None:
    july = month_period(2018, 7, ZoneInfo("America/Phoenix"))  # 22 weekdays, 9 weekend days
    bill = rate(
        imported("aps_et2_tou"), july, metered(july, HOURLY, lambda t: D(3) if t.hour == 15 else D(1))
    )
    on_peak_kwh = D(22 * 7 + 22 * 2)  # weekdays 12:00-19:00, 15:00 uses 3 kWh
    off_peak_kwh = D(22 * 17 + 9 * 24 + 9 * 2)  # the rest, weekends 15:00 uses 3 kWh
    assert bill_lines(bill) == [
        ("Fixed charge", D("16.91")),
        (
            "Energy, period 0: summer, weekdays 12:00-19:00",
            cents(on_peak_kwh * (D("0.24477") + D("0.02824917"))),
        ),
        ("Energy, period 1: summer", cents(off_peak_kwh * (D("0.06118") + D("0.02138383")))),
    ]
    assert on_peak_kwh + off_peak_kwh == D(31 * 24 + 31 * 2)


def test_fpl_gsld1_bills_energy_demand_and_fixed_above_the_minimum() -> None:
    february = month_period(2018, 2, NEW_YORK)  # 28 days of 96 quarter hours, 100 kWh each (400 kW)
    bill = rate(
        imported("fpl_gsld1_large_demand"), february, metered(february, QUARTER_HOURLY, lambda _: D(100))
    )
    assert bill_lines(bill) == [
        ("Fixed charge", D("88.67")),
        ("Energy", cents(D(28 * 96 * 100) * (D("0.01958") + D("0.03544")))),
        ("Demand, monthly peak", D(100) * 60 / 15 * (D("13.59") + D("2.06"))),
    ]
    assert bill.total == D("88.67") + D("14789.38") + D("6260.00")


def test_fpl_gsld1_tops_a_small_bill_up_to_the_monthly_minimum() -> None:
    february = month_period(2018, 2, NEW_YORK)
    spike = datetime(2018, 2, 14, 9, 0, tzinfo=NEW_YORK)  # 50 kWh in one quarter hour: 200 kW
    usage = metered(february, QUARTER_HOURLY, lambda t: D(50) if t == spike else D(10))
    bill = rate(imported("fpl_gsld1_large_demand"), february, usage)
    fixed = D("88.67")
    energy_charge = cents(D(28 * 96 * 10 - 10 + 50) * (D("0.01958") + D("0.03544")))  # 26920 kWh: 1481.1384
    demand_charge = D(200) * (D("13.59") + D("2.06"))
    charges = fixed + energy_charge + demand_charge
    assert bill_lines(bill) == [
        ("Fixed charge", fixed),
        ("Energy", energy_charge),
        ("Demand, monthly peak", demand_charge),
        (f"Minimum charge 6833.67 (charges {charges})", D("6833.67") - charges),
    ]
    assert charges == D("4699.81")
    assert bill.total == D("6833.67")


def test_pge_e19_bills_a_daily_fixed_charge_tou_energy_and_both_demand_charges() -> None:
    july = month_period(2018, 7, LOS_ANGELES)  # 22 weekdays, 9 weekend days
    part_peak_spike = datetime(2018, 7, 10, 10, tzinfo=LOS_ANGELES)  # a Tuesday 10:00: 600 kWh
    off_peak_spike = datetime(2018, 7, 14, 15, tzinfo=LOS_ANGELES)  # a Saturday 15:00: 900 kWh

    def kwh(t: datetime) -> Decimal:
        if t == part_peak_spike:
            return D(600)
        if t == off_peak_spike:
            return D(900)
        return D(700) if t.weekday() < 5 and 12 <= t.hour < 18 else D(500)

    bill = rate(imported("pge_e19_secondary"), july, metered(july, HOURLY, kwh))
    off_peak_kwh = D(22 * 11 * 500 + 9 * 24 * 500 + 400)  # weekdays 21:00-08:00 and weekends, + the spike
    part_peak_kwh = D(22 * 7 * 500 + 100)  # weekdays 08:00-12:00 and 18:00-21:00, + the spike
    peak_kwh = D(22 * 6 * 700)  # weekdays 12:00-18:00
    assert bill_lines(bill) == [
        ("Fixed charge", cents(D(31) * D("19.71253"))),
        ("Energy, TOU-summer:Off-Peak (period 2)", cents(off_peak_kwh * D("0.08837"))),
        ("Energy, TOU-summer:Part-Peak (period 3)", cents(part_peak_kwh * D("0.11883"))),
        ("Energy, TOU-summer:Peak (period 4)", cents(peak_kwh * D("0.16484"))),
        ("Demand, monthly peak, summer", D(900) * D("19.53")),
        ("Demand, TOU-summer:Maximum Part-Peak Demand (period 2)", D(600) * D("5.81")),
        ("Demand, TOU-summer:Maximum Peak Demand (period 3)", D(700) * D("20.97")),
    ]  # the off-peak demand (900 kW on Saturday) costs 0 $/kW and makes no line
    assert bill.total == sum(amount for _, amount in bill_lines(bill)) == D("81018.18")


def test_palo_alto_tou_tiers_apply_to_the_month_total_and_are_shared_pro_rata() -> None:
    # winter: period 0 at 23:00-06:00 (7 h), period 1 at 06:00-23:00 (17 h); 1 kWh every hour
    january = month_period(2018, 1, UTC)
    bill = rate(imported("paloalto_e1_tou_tiered"), january, metered(january, HOURLY, lambda _: D(1)))
    # 744 kWh fill the month's tiers 300 + 300 + 144; each period takes its share (7/24, 17/24) of each tier
    night, day = D(7) / D(24), D(17) / D(24)
    assert bill_lines(bill) == [
        ("Energy, period 0: winter, 23:00-06:00, tier 1", cents(D(300) * night * D("0.08234"))),
        ("Energy, period 0: winter, 23:00-06:00, tier 2", cents(D(300) * night * D("0.1173"))),
        ("Energy, period 0: winter, 23:00-06:00, tier 3", cents(D(144) * night * D("0.16109"))),
        ("Energy, period 1: winter, 06:00-23:00, tier 1", cents(D(300) * day * D("0.09874"))),
        ("Energy, period 1: winter, 06:00-23:00, tier 2", cents(D(300) * day * D("0.1337"))),
        ("Energy, period 1: winter, 06:00-23:00, tier 3", cents(D(144) * day * D("0.17749"))),
    ]
    assert bill.total == D("7.20") + D("10.26") + D("6.77") + D("20.98") + D("28.41") + D("18.10")


def test_coned_sc9_bills_the_summer_flat_demand_and_each_tou_demand_period() -> None:
    august = month_period(2018, 8, NEW_YORK)  # 23 weekdays, 8 weekend days; 300 kW, 400 kW weekdays 08-18
    bill = rate(
        imported("coned_sc9_rate3_zone_j"),
        august,
        metered(august, HOURLY, lambda t: D(400) if t.weekday() < 5 and 8 <= t.hour < 18 else D(300)),
    )
    assert bill_lines(bill) == [
        ("Fixed charge", D("71")),  # the off-peak demand costs 0 $/kW and makes no line
        ("Energy", cents(D(31 * 24 * 300 + 23 * 10 * 100) * (D("0.10171") + D("0.031")))),
        ("Demand, monthly peak, summer", D(400) * D("26.2")),
        ("Demand, period 2: summer, weekdays 18:00-22:00", D(300) * D("27.4")),
        ("Demand, period 3: summer, weekdays 08:00-18:00", D(400) * (D("40.17") + D("10.01"))),
    ]


def test_xcel_rd_flat_demand_changes_price_with_the_season() -> None:
    may_and_june = BillPeriod(date(2018, 5, 1), date(2018, 7, 1), DENVER)  # 2 kW all the time
    bills = rate_monthly(
        imported("pscolorado_rd_res_demand"), may_and_june, metered(may_and_june, HOURLY, lambda _: D(2))
    )
    assert [[line for line in bill_lines(bill) if line[0].startswith("Demand")] for bill in bills] == [
        [("Demand, monthly peak, winter", D(2) * (D("7.76") + D("1.38")))],
        [("Demand, monthly peak, summer", D(2) * (D("10.08") + D("1.43")))],
    ]


# --- the real rates that cannot be billed are refused by name -----------------------------------------------


@pytest.mark.parametrize(
    ("name", "field", "reason"),
    [
        ("pge_e1_baseline_region_t", "energyratestructure[0][0].unit", "'kWh daily'"),
        ("scppd_lp1_large_power", "energyratestructure[0][0].unit", "'kWh/kW'"),
        ("aps_r2_saver_choice_plus", "dgrules", "'Net Billing Instantaneous'"),
        ("peco_gs_ht_procurement3", "coincidentratestructure", "coincident-peak demand"),
        ("pge_e19_secondary", "demandattrs[0]", "'Power-Factor-Adjustment-Rate-$' = '0.00005'"),
    ],
)
def test_a_sample_with_a_feature_the_engine_cannot_bill_is_refused_naming_the_field(
    name: str, field: str, reason: str
) -> None:
    error = refusal(sample(name))
    assert error.field == field
    assert reason in error.reason
    assert str(error) == f"{field}: {error.reason}"


def test_the_e19_power_factor_adjustment_is_left_out_only_when_asked_by_name() -> None:
    assert from_urdb(sample("pge_e19_secondary"), ignore={"demandattrs[0]"}).demand is not None
    wrong = refusal(sample("pge_e19_secondary"), ignore={"demandattrs[0]", "demandattrs[9]"})
    assert (wrong.field, wrong.reason) == (
        "ignore",
        "'demandattrs[9]' is not a charge of this rate that can be ignored",
    )


# --- what each URDB field becomes ---------------------------------------------------------------------------


def test_a_tier_charges_rate_plus_adjustment_exactly() -> None:
    tariff = from_urdb(synthetic(**energy([{"rate": D("0.24477"), "adj": D("0.02824917"), "unit": "kWh"}])))
    assert tier_prices(tariff) == [[(None, D("0.24477") + D("0.02824917"))]]


def test_floats_are_read_as_the_decimal_text_that_was_written() -> None:
    tariff = from_urdb(synthetic(**energy([{"rate": 0.1, "adj": 0.2}])))
    assert tier_prices(tariff) == [[(None, D("0.3"))]]  # not 0.1 + 0.2 = 0.30000000000000004


def test_cumulative_tier_maxima_become_block_sizes_and_the_last_tier_is_unbounded() -> None:
    tiers: list[dict[str, Any]] = [
        {"max": D("650.0"), "rate": D("0.0896")},
        {"max": 1000, "rate": D("0.0831")},
        {"rate": D("0.0821")},
    ]
    assert tier_prices(from_urdb(synthetic(**energy(tiers)))) == [
        [(D(650), D("0.0896")), (D(1000) - D(650), D("0.0831")), (None, D("0.0821"))]
    ]


def test_the_sell_price_changes_nothing_because_export_is_not_billed() -> None:
    with_sell = from_urdb(
        synthetic(**energy([{"rate": D("0.1"), "sell": D("0.05")}]), dgrules="Net Metering")
    )
    assert with_sell == from_urdb(synthetic(**energy([{"rate": D("0.1")}])))


def test_descriptive_fields_change_nothing() -> None:
    described = synthetic(
        **energy([{"rate": D("0.1")}]),
        uri="https://apps.openei.org/IURDB/rate/view/x",
        description="Residential",
        sector="Residential",
        peakkwcapacitymax=10,
        eiaid=803,
        country="USA",
        approved=True,
        is_default=False,
        revisions=[1, 2],
        energycomments="Adjustments = fuel",
        servicetype="Bundled",
        enddate=1656572400,
        demandunits="kW",
    )
    assert from_urdb(described) == from_urdb(synthetic(**energy([{"rate": D("0.1")}])))


def test_one_period_in_use_everywhere_needs_no_time_of_use() -> None:
    tariff = from_urdb(
        synthetic(
            **energy([{"rate": D("0.1")}], [{"rate": D("0.2")}], weekday=everywhere(1), weekend=everywhere(1))
        )
    )
    assert tariff.energy is not None and tariff.energy.time_of_use is None
    assert [(p.name, p.tiers) for p in tariff.energy.periods] == [("all hours", [Tier(rate=D("0.2"))])]


def test_tou_schedules_keep_their_zero_based_periods_and_name_them_by_where_they_apply() -> None:
    weekday, weekend = afternoons(1, 0), everywhere(0)
    tariff = from_urdb(
        synthetic(**energy([{"rate": D("0.1")}], [{"rate": D("0.3")}], weekday=weekday, weekend=weekend))
    )
    assert tariff.energy is not None and tariff.energy.time_of_use is not None
    assert (tariff.energy.time_of_use.weekday_schedule, tariff.energy.time_of_use.weekend_schedule) == (
        weekday,
        weekend,
    )
    assert [p.name for p in tariff.energy.periods] == [
        "period 0: all year",
        "period 1: all year, weekdays 14:00-18:00",
    ]
    assert tariff.energy.tier_scope == "period"


def test_tou_with_tiers_shares_the_month_total_tiers_pro_rata_as_sam_does() -> None:
    tiered: list[dict[str, Any]] = [{"max": 300, "rate": D("0.1")}, {"rate": D("0.2")}]
    tariff = from_urdb(synthetic(**energy(tiered, tiered, weekday=afternoons(1, 0))))
    assert tariff.energy is not None and tariff.energy.tier_scope == "total_pro_rata"


def test_two_groups_of_months_become_winter_and_summer() -> None:
    assert imported("jackson_emc_a_senior").seasons == [
        Season(name="winter", months=[1, 2, 3, 4, 10, 11, 12]),
        Season(name="summer", months=[5, 6, 7, 8, 9]),
    ]
    assert imported("fpl_gsld1_large_demand").seasons == []  # the same every month


def test_period_names_come_from_attribute_labels_when_the_rate_has_them() -> None:
    tariff = imported("pge_e19_secondary")
    assert tariff.energy is not None
    assert [p.name for p in tariff.energy.periods] == [
        "TOU-winter:Off-Peak (period 0)",
        "TOU-winter:Part-Peak (period 1)",
        "TOU-summer:Off-Peak (period 2)",
        "TOU-summer:Part-Peak (period 3)",
        "TOU-summer:Peak (period 4)",
    ]


def test_flat_demand_takes_a_period_per_month_and_tiers_in_kw() -> None:
    tiers: list[dict[str, Any]] = [{"max": 100, "rate": D("13.5")}, {"rate": D("12.1")}]
    tariff = from_urdb(
        synthetic(**flat_demand(tiers, [{"rate": D("16.3")}], months=[0] * 5 + [1] * 4 + [0] * 3))
    )
    assert tariff.demand is not None and tariff.demand.flat is not None and tariff.demand.time_of_use is None
    assert tariff.demand.flat.months == [0, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0]
    assert [(p.name, p.tiers) for p in tariff.demand.flat.periods] == [
        ("monthly peak, winter", [Tier(size=D(100), rate=D("13.5")), Tier(rate=D("12.1"))]),
        ("monthly peak, summer", [Tier(rate=D("16.3"))]),
    ]
    assert (tariff.demand.window_minutes, tariff.demand.flat.ratchet) == (15, None)


def test_tou_demand_follows_its_own_schedules() -> None:
    tariff = from_urdb(
        synthetic(
            **tou_demand(
                [{"rate": 0}],
                [{"rate": D("8.4"), "adj": D("0.838")}],
                weekday=afternoons(1, 0),
                weekend=everywhere(0),
            )
        )
    )
    assert tariff.demand is not None and tariff.demand.time_of_use is not None and tariff.demand.flat is None
    assert [p.tiers for p in tariff.demand.time_of_use.periods] == [
        [Tier(rate=D(0))],
        [Tier(rate=D("8.4") + D("0.838"))],
    ]
    assert tariff.demand.time_of_use.time_of_use.weekday_schedule == afternoons(1, 0)


def test_the_demand_window_is_taken_in_minutes() -> None:
    tariff = from_urdb(synthetic(**flat_demand([{"rate": 10}]), demandwindow=30))
    assert tariff.demand is not None and tariff.demand.window_minutes == 30


def test_an_equal_ratchet_every_month_ratchets_the_flat_demand_over_11_months() -> None:
    tariff = from_urdb(synthetic(**flat_demand([{"rate": 10}]), demandratchetpercentage=[D("0.8")] * 12))
    assert tariff.demand is not None and tariff.demand.flat is not None
    assert tariff.demand.flat.ratchet == Ratchet(percent=D("0.8") * 100, months=11)
    january_and_february = BillPeriod(date(2018, 1, 1), date(2018, 3, 1), UTC)
    usage = metered(january_and_february, HOURLY, lambda t: D(100) if t.month == 1 else D(50))
    february = rate_monthly(tariff, january_and_february, usage)[1]
    assert bill_lines(february)[-1] == ("Demand, monthly peak (ratchet: 80% of 100 kW)", D(80) * D(10))


def test_a_zero_ratchet_is_no_ratchet() -> None:
    tariff = from_urdb(synthetic(**flat_demand([{"rate": 10}]), demandratchetpercentage=[0] * 12))
    assert tariff.demand is not None and tariff.demand.flat is not None and tariff.demand.flat.ratchet is None


def test_a_lookback_over_every_month_is_a_ratchet_over_its_range() -> None:
    tariff = from_urdb(
        synthetic(
            **flat_demand([{"rate": 10}]),
            lookbackpercent=D("0.6"),
            lookbackrange=12,
            lookbackmonths=[True] * 12,
        )
    )
    assert tariff.demand is not None and tariff.demand.flat is not None
    assert tariff.demand.flat.ratchet == Ratchet(percent=D(60), months=12)


def test_a_lookback_without_a_percent_changes_nothing() -> None:
    tariff = from_urdb(synthetic(**flat_demand([{"rate": 10}]), lookbackpercent=0, lookbackrange=12))
    assert tariff.demand is not None and tariff.demand.flat is not None and tariff.demand.flat.ratchet is None


@pytest.mark.parametrize(("units", "per"), [("$/month", "month"), ("$/day", "day")])
def test_the_fixed_charge_is_per_month_or_per_day(units: str, per: str) -> None:
    tariff = from_urdb(synthetic(fixedchargefirstmeter=D("19.71253"), fixedchargeunits=units))
    assert [(f.amount, f.per) for f in tariff.fixed] == [(D("19.71253"), per)]


def test_the_old_fixed_monthly_charge_is_per_month() -> None:
    tariff = from_urdb(synthetic(fixedmonthlycharge=D("298.92")))
    assert [(f.amount, f.per) for f in tariff.fixed] == [(D("298.92"), "month")]


def test_a_fixed_charge_unit_without_a_charge_charges_nothing() -> None:
    assert from_urdb(synthetic(fixedchargeunits="$/month", **energy([{"rate": 1}]))).fixed == []


@pytest.mark.parametrize(("units", "per"), [("$/month", "month"), ("$/day", "day")])
def test_the_minimum_charge_is_per_month_or_per_day(units: str, per: str) -> None:
    tariff = from_urdb(synthetic(mincharge=D("6833.67"), minchargeunits=units, **energy([{"rate": 1}])))
    assert tariff.minimum is not None and (tariff.minimum.amount, tariff.minimum.per) == (D("6833.67"), per)


def test_the_old_minimum_monthly_charge_is_per_month() -> None:
    tariff = from_urdb(synthetic(minmonthlycharge=10, **energy([{"rate": 1}])))
    assert tariff.minimum is not None and (tariff.minimum.amount, tariff.minimum.per) == (D(10), "month")


def test_a_rate_without_utility_and_name_is_named_after_its_label() -> None:
    tariff = from_urdb({"label": "abc123", "fixedmonthlycharge": 5})
    assert (tariff.id, tariff.name) == ("abc123", "URDB rate abc123")


# --- recognising a URDB rate --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [*SHOULD_BILL, "pge_e1_baseline_region_t", "peco_gs_ht_procurement3"])
def test_every_sample_is_recognised_as_a_urdb_rate(name: str) -> None:
    assert is_urdb_rate(sample(name))
    assert is_urdb_rate({"items": [sample(name)]})


@pytest.mark.parametrize(
    "obj",
    [
        {"id": "t", "name": "Native", "energy": {"periods": [{"name": "all", "tiers": [{"rate": "0.1"}]}]}},
        {"energyratestructure": [[{"rate": 0.1}]]},  # no label, no utility and name
        {"label": "x", "uri": "https://openei.org"},  # nothing priced
        {"items": []},
        {"items": [synthetic(fixedmonthlycharge=1), synthetic(fixedmonthlycharge=2)]},
    ],
)
def test_other_documents_are_not_urdb_rates(obj: dict[str, Any]) -> None:
    assert not is_urdb_rate(obj)


def test_an_api_answer_must_hold_exactly_one_rate() -> None:
    error = refusal({"items": [synthetic(fixedmonthlycharge=1), synthetic(fixedmonthlycharge=2)]})
    assert (error.field, error.reason) == ("items", "an API answer must hold exactly one rate, got 2")


# --- what is refused, by field ------------------------------------------------------------------------------

ONE_PERIOD = energy([{"rate": D("0.1")}])


@pytest.mark.parametrize(
    ("fields", "field", "reason"),
    [
        # energy tiers
        (
            energy([{"rate": 1, "unit": "kWh daily"}]),
            "energyratestructure[0][0].unit",
            "'kWh daily': tier limits per day of the bill period are not supported",
        ),
        (
            energy([{"max": 300, "rate": 1, "unit": "kWh/kW"}, {"rate": 1}]),
            "energyratestructure[0][0].unit",
            "'kWh/kW': tier limits that grow with the peak demand (hours of use) are not supported",
        ),
        (
            energy([{"rate": 1, "unit": "therms"}]),
            "energyratestructure[0][0].unit",
            "'therms': only kWh tiers can be billed",
        ),
        (energy([{"adj": 1}]), "energyratestructure[0][0].rate", "missing: every tier needs its price"),
        (
            energy([{"rate": 1}, {"rate": 2}]),
            "energyratestructure[0][0].max",
            "missing: only the last tier may be unbounded",
        ),
        (
            energy([{"max": 100, "rate": 1}]),
            "energyratestructure[0][0].max",
            "the last tier must be unbounded: usage above it has no price",
        ),
        (
            energy([{"max": 100, "rate": 1}, {"max": 100, "rate": 2}, {"rate": 3}]),
            "energyratestructure[0][1].max",
            "100 must be above the previous tier's max 100",
        ),
        (
            energy([{"rate": 1, "min": 10}]),
            "energyratestructure[0][0].min",
            "unknown tier field: it might change the price",
        ),
        (energy([{"rate": "cheap"}]), "energyratestructure[0][0].rate", "expected a number, got 'cheap'"),
        # schedules
        (
            {"energyratestructure": [[{"rate": 1}]], "energyweekendschedule": everywhere(0)},
            "energyweekdayschedule",
            "missing: energyratestructure needs a weekday and a weekend schedule",
        ),
        (
            energy([{"rate": 1}], weekday=afternoons(1, 0)),
            "energyweekdayschedule[0][14]",
            "period 1 is not in energyratestructure (it has 1 periods)",
        ),
        (
            energy([{"rate": 1}], weekday=everywhere(0)[:11]),
            "energyweekdayschedule",
            "expected 12 rows (months) of 24 periods (hours)",
        ),
        (
            {"energyweekdayschedule": everywhere(0)},
            "energyratestructure",
            "missing: energyweekdayschedule needs it",
        ),
        (
            {"flatdemandstructure": [[{"rate": 10}]]},
            "flatdemandmonths",
            "missing: flatdemandstructure needs a period for each month",
        ),
        (
            flat_demand([{"rate": 10}], months=[1] * 12),
            "flatdemandmonths[0]",
            "period 1 is not in flatdemandstructure (it has 1 periods)",
        ),
        (
            {"demandweekdayschedule": everywhere(0)},
            "demandratestructure",
            "missing: demandweekdayschedule needs it",
        ),
        (
            {"demandratestructure": [[{"rate": 10}]], "demandweekdayschedule": everywhere(0)},
            "demandweekendschedule",
            "missing: demandratestructure needs a weekday and a weekend schedule",
        ),
        # demand units, window, ratchets and lookbacks
        (
            {**flat_demand([{"rate": 10}]), "flatdemandunit": "kVA"},
            "flatdemandunit",
            "'kVA': only kW demand can be billed (it is measured from interval kWh)",
        ),
        (
            {
                **tou_demand([{"rate": 10}], weekday=everywhere(0), weekend=everywhere(0)),
                "demandrateunit": "hp",
            },
            "demandrateunit",
            "'hp': only kW demand can be billed (it is measured from interval kWh)",
        ),
        (
            flat_demand([{"rate": 10, "unit": "kW daily"}]),
            "flatdemandstructure[0][0].unit",
            "'kW daily': only kW demand can be billed (it is measured from interval kWh)",
        ),
        (
            {**flat_demand([{"rate": 10}]), "demandwindow": 20},
            "demandwindow",
            "20 minutes; supported: 5, 10, 15, 30, 60",
        ),
        (
            {**flat_demand([{"rate": 10}]), "demandratchetpercentage": [D("0.8")] * 6 + [0] * 6},
            "demandratchetpercentage",
            "a ratchet that differs by month is not supported",
        ),
        (
            {**flat_demand([{"rate": 10}]), "demandratchetpercentage": [80] * 12},
            "demandratchetpercentage[0]",
            "80 must be a fraction (0.8 is 80 %)",
        ),
        (
            {**ONE_PERIOD, "demandratchetpercentage": [D("0.8")] * 12},
            "demandratchetpercentage",
            "a ratchet needs flatdemandstructure (it ratchets the flat demand charge)",
        ),
        (
            {
                **flat_demand([{"rate": 10}]),
                "lookbackpercent": D("0.6"),
                "lookbackrange": 12,
                "lookbackmonths": [False] * 5 + [True] * 4 + [False] * 3,
            },
            "lookbackmonths",
            "a lookback over some months only is not supported",
        ),
        (
            {**flat_demand([{"rate": 10}]), "lookbackpercent": D("0.6")},
            "lookbackrange",
            "missing: lookbackpercent needs the number of months to look back",
        ),
        (
            {
                **flat_demand([{"rate": 10}]),
                "lookbackpercent": D("0.6"),
                "lookbackrange": 12,
                "demandratchetpercentage": [D("0.8")] * 12,
            },
            "lookbackpercent",
            "the rate has demandratchetpercentage too; one ratchet is applied",
        ),
        # fixed and minimum charges
        ({"fixedchargefirstmeter": 10}, "fixedchargeunits", "missing: fixedchargefirstmeter needs its unit"),
        (
            {"fixedchargefirstmeter": 120, "fixedchargeunits": "$/year"},
            "fixedchargeunits",
            "'$/year': only $/month and $/day fixed charges are supported",
        ),
        (
            {"fixedchargefirstmeter": 10, "fixedchargeunits": "$/month", "fixedmonthlycharge": 12},
            "fixedmonthlycharge",
            "differs from fixedchargefirstmeter; which one applies?",
        ),
        (
            {**ONE_PERIOD, "mincharge": 120, "minchargeunits": "$/year"},
            "minchargeunits",
            "'$/year': an annual minimum needs a yearly true-up, which bills do not have",
        ),
        ({**ONE_PERIOD, "mincharge": 10}, "minchargeunits", "missing: mincharge needs its unit"),
        (
            {**ONE_PERIOD, "annualmincharge": 120},
            "annualmincharge",
            "an annual minimum needs a yearly true-up, which bills do not have",
        ),
        # charges the engine cannot compute
        (
            {
                **ONE_PERIOD,
                "coincidentratestructure": [[{"rate": D("0.79")}]],
                "coincidentrateschedule": everywhere(0),
            },
            "coincidentratestructure",
            "coincident-peak demand charges are not supported",
        ),
        (
            {**ONE_PERIOD, "demandreactivepowercharge": D("2.7")},
            "demandreactivepowercharge",
            "reactive power (kVAR) is not metered",
        ),
        (
            {**ONE_PERIOD, "fueladjustmentsmonthly": [0] * 11 + [D("0.01")]},
            "fueladjustmentsmonthly",
            "monthly fuel adjustments ($/kWh by month) are not supported",
        ),
        (
            {**ONE_PERIOD, "fixedchargeeaaddl": 5},
            "fixedchargeeaaddl",
            "a charge for each additional meter: a tariff here bills one meter",
        ),
        (
            {**ONE_PERIOD, "fixedattrs": [{"Meter charge": "2.50"}]},
            "fixedattrs[0]",
            "'Meter charge' = '2.50' may be a charge or a condition that cannot be applied (only period "
            "labels are imported); if it does not apply, leave it out "
            "knowingly with --accept-urdb-field 'fixedattrs[0]' (API: accept_urdb_field=fixedattrs[0])",
        ),
        (
            {**ONE_PERIOD, "energyattrs": [{"Discount per kWh": "-0.01"}]},
            "energyattrs[0]",
            "'Discount per kWh' = '-0.01' may be a charge or a condition that cannot be applied (only period "
            "labels are imported); if it does not apply, leave it out "
            "knowingly with --accept-urdb-field 'energyattrs[0]' (API: accept_urdb_field=energyattrs[0])",
        ),
        (
            {**ONE_PERIOD, "dgrules": "Buy All Sell All"},
            "dgrules",
            "'Buy All Sell All': only 'Net Metering' can be billed (export is not billed)",
        ),
        (
            {**ONE_PERIOD, "usenetmetering": False},
            "usenetmetering",
            "only net metering can be billed (export is not billed)",
        ),
        # anything else
        (
            {**ONE_PERIOD, "energyratesurcharge": 5},
            "energyratesurcharge",
            "unknown URDB field: it might change the price, so it is not imported",
        ),
        (
            {**ONE_PERIOD, "startdate": "next spring"},
            "startdate",
            "expected epoch seconds or 'YYYY-MM-DD hh:mm:ss', got 'next spring'",
        ),
    ],
)
def test_a_field_the_engine_cannot_apply_is_refused_by_name(
    fields: dict[str, Any], field: str, reason: str
) -> None:
    error = refusal(synthetic(**fields))
    assert (error.field, error.reason) == (field, reason)


def test_a_rate_needs_its_label_as_tariff_id() -> None:
    error = refusal({"utility": "U", "name": "N", "fixedmonthlycharge": 5})
    assert error.field == "label"


@pytest.mark.parametrize(
    "fields",
    [
        {"coincidentratestructure": [[{"rate": D("0.79")}]]},
        {"demandreactivepowercharge": D("2.7")},
        {"fueladjustmentsmonthly": [D("0.01")] * 12},
        {"fixedchargeeaaddl": 5},
        {"fixedattrs": [{"Meter charge": "2.50"}]},
    ],
)
def test_a_separable_extra_charge_can_be_left_out_by_name(fields: dict[str, Any]) -> None:
    (field,) = [f"{key}[0]" if key.endswith("attrs") else key for key in fields]
    without = from_urdb(synthetic(**ONE_PERIOD))
    # The same tariff as without the charge, recording that the charge was left out knowingly.
    assert from_urdb(synthetic(**ONE_PERIOD, **fields), ignore={field}) == without.model_copy(
        update={"accepted_urdb_fields": [field]}
    )


def test_a_coincident_structure_that_charges_nothing_is_harmless() -> None:
    free = synthetic(**ONE_PERIOD, coincidentratestructure=[[{"rate": 0}]], coincidentrateunit="kW")
    assert from_urdb(free) == from_urdb(synthetic(**ONE_PERIOD))


def test_an_annual_minimum_cannot_be_left_out_as_it_is_no_extra_charge() -> None:
    error = refusal(synthetic(**ONE_PERIOD, annualmincharge=120), ignore={"annualmincharge"})
    assert error.field == "annualmincharge"


def test_peco_would_still_be_refused_for_its_voltage_discounts_without_its_coincident_charge() -> None:
    error = refusal(sample("peco_gs_ht_procurement3"), ignore={"coincidentratestructure"})
    assert error.field == "demandattrs[0]"
    assert "'Discount for service at 33,000 volts per kW' = '-0.14'" in error.reason
