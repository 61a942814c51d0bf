"""Validation, estimation and editing: rule by rule, on hand-made register and interval series."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from meterbill.domain import Meter
from meterbill.meterdata import vee
from meterbill.meterdata.estimation import interpolate, rounded_mean, spread, spread_evenly
from meterbill.meterdata.readings import IntervalReading, MeterExchange, Quality, RegisterRead
from meterbill.meterdata.vee import (
    DataQualityEvent,
    ReadingsError,
    Substitution,
    ValidatedIntervals,
    ValidationConfig,
    validate_readings,
)

D = Decimal
BERLIN = ZoneInfo("Europe/Berlin")
MONDAY = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday


def pdu(**fields: Any) -> Meter:
    defaults: dict[str, Any] = {
        "id": "pdu-1",
        "account_id": "acme",
        "site_id": "fra1",
        "utility": "electricity",
        "unit": "kWh",
        "kind": "main",
        "interval_minutes": 15,
    }
    return Meter(**(defaults | fields))


def at(minutes: int, start: datetime = MONDAY) -> datetime:
    return start + timedelta(minutes=minutes)


def registers(
    *values: str | None,
    every: int = 15,
    start: datetime = MONDAY,
    serial: str | None = None,
    quality: Quality = "A",
    meter: str = "pdu-1",
) -> list[RegisterRead]:
    """One read every ``every`` minutes from ``start``; None is a read that never arrived."""
    return [
        RegisterRead(meter, start + timedelta(minutes=every * i), D(v), "kWh", serial=serial, quality=quality)
        for i, v in enumerate(values)
        if v is not None
    ]


def intervals(
    *values: str | None, every: int = 15, start: datetime = MONDAY, quality: Quality = "A"
) -> list[IntervalReading]:
    return [
        IntervalReading(
            "pdu-1",
            start + timedelta(minutes=every * i),
            start + timedelta(minutes=every * (i + 1)),
            D(v),
            "kWh",
            quality,
        )
        for i, v in enumerate(values)
        if v is not None
    ]


def validate(meter: Meter, minutes: int, start: datetime = MONDAY, **raw: Any) -> ValidatedIntervals:
    return validate_readings(meter, start, at(minutes, start), **raw)


def quantities(result: ValidatedIntervals) -> list[Decimal]:
    return [result.quantity(i) for i in range(len(result))]


def kinds(result: ValidatedIntervals) -> list[str]:
    return [event.kind for event in result.events]


# --- rule 2: register reads to intervals --------------------------------------------------------------------


def test_reads_on_every_boundary_give_actual_differences() -> None:
    result = validate(pdu(), 45, registers=registers("100.0", "100.5", "101.5", "101.7"))
    assert quantities(result) == [D("100.5") - D("100.0"), D("101.5") - D("100.5"), D("101.7") - D("101.5")]
    assert (result.qualities, result.substitutions, result.events) == ("AAA", {}, ())


def test_every_difference_is_multiplied_by_the_ct_ratio() -> None:
    result = validate(pdu(multiplier=D("40")), 30, registers=registers("10.00", "10.05", "10.12"))
    assert quantities(result) == [D("0.05") * 40, D("0.07") * 40]


def test_a_ct_ratio_change_applies_to_differences_from_the_read_it_takes_effect_at() -> None:
    result = validate(
        pdu(multiplier=D("40")),
        45,
        registers=registers("10.00", "10.05", "10.10", "10.15"),
        multipliers=[(at(30), D("80"))],
    )
    assert quantities(result) == [D("0.05") * 40, D("0.05") * 40, D("0.05") * 80]


def test_a_ct_ratio_change_between_reads_is_never_billed_at_a_guessed_ratio() -> None:
    raw = registers("10.00", "10.05", None, "10.15", "10.20")  # the read at the change, 00:30, was lost
    result = validate(pdu(multiplier=D("40")), 60, registers=raw, multipliers=[(at(30), D("80"))])
    # The two quarter hours around the change: a third and two thirds of the way from 2.00 to 4.00 kWh.
    assert quantities(result) == [D("0.05") * 40, D("2.67"), D("3.33"), D("0.05") * 80]
    assert result.qualities == "AEEA"
    assert result.substitutions[1].reason == (
        "CT ratio changed at 2026-03-02T00:30:00+00:00, between register reads; "
        "interpolated between the neighbouring intervals"
    )


def test_a_fractional_ct_ratio_keeps_exact_decimals() -> None:
    result = validate(pdu(multiplier=D("2.5")), 15, registers=registers("7.3", "7.7"))
    assert quantities(result) == [D("0.4") * D("2.5")]
    assert (result.values, result.exponent) == ([100], -2)  # tenths of a kWh times tenths: hundredths


def test_interval_readings_are_taken_as_delivered() -> None:
    result = validate(pdu(multiplier=D("40")), 30, intervals=intervals("1.25", "0.75"))
    assert quantities(result) == [D("1.25"), D("0.75")]
    assert result.qualities == "AA"


def test_an_actual_register_difference_beats_an_estimated_interval_reading() -> None:
    result = validate(pdu(), 15, registers=registers("10.0", "10.4"), intervals=intervals("9.9", quality="E"))
    assert (quantities(result), result.qualities, result.substitutions) == ([D("0.4")], "A", {})


def test_a_delivered_final_substitute_beats_a_difference_of_estimated_register_reads() -> None:
    raw = registers("10.0", "10.4", quality="E")
    result = validate(pdu(), 15, registers=raw, intervals=intervals("0.3", quality="F"))
    assert (quantities(result), result.qualities) == ([D("0.3")], "F")


def test_a_delivered_estimate_keeps_its_flag_and_says_so() -> None:
    result = validate(pdu(), 30, intervals=intervals("1.0") + intervals("2.0", start=at(15), quality="E"))
    assert (quantities(result), result.qualities) == ([D("1.0"), D("2.0")], "AE")
    assert result.substitutions == {1: Substitution("reported", "delivered as E")}


def test_a_register_read_flagged_estimated_makes_its_differences_estimated() -> None:
    raw = (
        registers("1.0", "2.0") + registers("3.5", start=at(30), quality="E") + registers("4.0", start=at(45))
    )
    result = validate(pdu(), 45, registers=raw)
    assert (quantities(result), result.qualities) == ([D("1.0"), D("1.5"), D("0.5")], "AEE")
    assert result.substitutions[1] == Substitution(
        "reported", "difference of register reads, one of them flagged E"
    )


def test_a_read_between_boundaries_only_bounds_the_estimate_around_it() -> None:
    raw = registers("10.0", start=at(0)) + registers("10.9", start=at(20)) + registers("11.3", start=at(30))
    result = validate(pdu(), 30, registers=raw)
    # No reads at 00:15: both intervals share the 1.3 kWh between the reads at 00:00 and 00:30.
    assert quantities(result) == [D("0.7"), D("0.6")]
    assert result.qualities == "EE"


# --- rule 1: duplicates -------------------------------------------------------------------------------------


def test_an_identical_resend_changes_nothing() -> None:
    once = validate(pdu(), 30, registers=registers("5.0", "5.5", "6.5"))
    twice = validate(pdu(), 30, registers=registers("5.0", "5.5", "6.5") + registers("5.0", "5.5"))
    assert twice == once
    assert twice.events == ()


@pytest.mark.parametrize("estimate_first", [True, False])
def test_an_actual_read_beats_an_estimated_one_whatever_arrives_first(estimate_first: bool) -> None:
    actual = registers("5.5", start=at(15))
    estimate = registers("5.9", start=at(15), quality="E")
    late = estimate + actual if estimate_first else actual + estimate
    result = validate(pdu(), 30, registers=registers("5.0", None, "6.5") + late)
    assert (quantities(result), result.qualities) == ([D("0.5"), D("1.0")], "AA")
    assert result.events == ()


@pytest.mark.parametrize("estimate_first", [True, False])
def test_an_actual_interval_beats_an_estimated_one_whatever_arrives_first(estimate_first: bool) -> None:
    actual, estimate = intervals("1.1"), intervals("9.9", quality="E")
    result = validate(pdu(), 15, intervals=estimate + actual if estimate_first else actual + estimate)
    assert (quantities(result), result.qualities, result.substitutions) == ([D("1.1")], "A", {})


@pytest.mark.parametrize("smaller_first", [True, False])
def test_two_actual_reads_of_one_instant_keep_the_larger_and_report_it(smaller_first: bool) -> None:
    smaller, larger = registers("5.4", start=at(15)), registers("5.6", start=at(15))
    late = smaller + larger if smaller_first else larger + smaller
    result = validate(pdu(), 30, registers=registers("5.0", None, "6.5") + late)
    assert quantities(result) == [D("5.6") - D("5.0"), D("6.5") - D("5.6")]
    assert result.events == (
        DataQualityEvent(
            "pdu-1",
            at(15),
            "duplicate",
            "register reads 5.6 and 5.4 (A) of one instant; kept the larger",
        ),
    )


def test_a_null_reading_counts_as_absent() -> None:
    raw = intervals("1.0", None, "4.0") + intervals("0", start=at(15), quality="N")
    result = validate(pdu(), 45, intervals=raw)
    assert (quantities(result), result.qualities) == ([D("1.0"), D("2.5"), D("4.0")], "AEA")  # (1 + 4) / 2


# --- rule 3: rollover ---------------------------------------------------------------------------------------


def test_a_register_wrapping_at_99999_9_counts_through_zero() -> None:
    meter = pdu(register_max=D("99999.9"))
    result = validate(meter, 45, registers=registers("99999.5", "99999.8", "0.3", "1.0"))
    # The register's resolution is 0.1, so it wraps at 99,999.9 + 0.1 = 100,000.0.
    wrapped = (D("99999.9") + D("0.1") - D("99999.8")) + D("0.3")
    assert quantities(result) == [D("0.3"), wrapped, D("0.7")]
    assert (result.qualities, wrapped) == ("AAA", D("0.5"))
    assert result.events == (
        DataQualityEvent(
            "pdu-1",
            at(30),
            "rollover",
            "register passed its maximum: 99999.8 at 2026-03-02T00:15:00+00:00, then 0.3 at "
            "2026-03-02T00:30:00+00:00; counted 0.5",
        ),
    )


def test_an_integer_register_wraps_at_its_maximum_plus_one() -> None:
    result = validate(pdu(register_max=D("99999")), 15, registers=registers("99998", "2"))
    assert quantities(result) == [(D("99999") + 1 - D("99998")) + D("2")]


def test_a_configured_resolution_sets_where_the_register_wraps() -> None:
    config = ValidationConfig(register_resolution=D("0.01"))
    result = validate(
        pdu(register_max=D("9999.9")), 15, registers=registers("9999.90", "0.05"), config=config
    )
    assert quantities(result) == [(D("9999.9") + D("0.01") - D("9999.90")) + D("0.05")]


def test_a_drop_that_does_not_start_near_the_maximum_is_no_wrap() -> None:
    raw = registers("50000.0", "50001.0", "2.0", "3.0")
    result = validate(pdu(register_max=D("99999.9")), 45, registers=raw)
    assert kinds(result) == ["negative-step"]
    assert result.qualities == "AEA"


# --- rule 4: meter exchange ---------------------------------------------------------------------------------


def test_a_swap_counts_the_old_device_up_to_its_final_read_and_the_new_one_from_its_initial_read() -> None:
    meter = pdu(interval_minutes=60)
    swap = MeterExchange("pdu-1", at(80), "PDU-A", D("1234.6"), "PDU-B", D("0.0"))
    raw = registers("1234.0", "1234.4", every=60, serial="PDU-A") + registers(
        "0.5", "1.5", every=60, start=at(120), serial="PDU-B"
    )
    result = validate(meter, 180, registers=raw, exchanges=[swap])
    exchange_hour = (D("1234.6") - D("1234.4")) + (D("0.5") - D("0.0"))
    assert quantities(result) == [D("0.4"), exchange_hour, D("1.0")]
    assert result.qualities == "AAA"
    assert result.events == (
        DataQualityEvent(
            "pdu-1",
            at(80),
            "exchange",
            "meter exchanged: PDU-A final read 1234.6, PDU-B initial read 0.0; usage counted on each device",
        ),
    )


def test_a_pdu_swap_mid_month_leaves_the_month_total_intact() -> None:
    meter = pdu(interval_minutes=60, register_max=D("9999.9"))
    hours = 31 * 24
    swap_hour = 14 * 24 + 12  # 15 March 12:00; the swap at 12:30 puts 1.0 of that hour's 2.0 kWh on each PDU
    march = datetime(2026, 3, 1, tzinfo=UTC)
    old = [f"{(D('9500.0') + 2 * h) % D('10000.0')}" for h in range(swap_hour + 1)]  # wraps at 10,000.0
    new = [f"{D('1.0') + 2 * h}" for h in range(hours - swap_hour)]
    raw = registers(*old, every=60, start=march, serial="A") + registers(
        *new, every=60, start=march + timedelta(hours=swap_hour + 1), serial="B"
    )
    final = D(old[-1]) + D("1.0")
    swap = MeterExchange("pdu-1", march + timedelta(hours=swap_hour, minutes=30), "A", final, "B", D("0.0"))
    config = ValidationConfig(flat_line_after=None)  # a month of exactly 2.0 kWh an hour is a flat line
    result = validate_readings(
        meter, march, march + timedelta(hours=hours), registers=raw, exchanges=[swap], config=config
    )
    assert result.total() == hours * D("2.0")
    assert set(quantities(result)) == {D("2.0")}
    assert result.qualities == "A" * hours
    assert kinds(result) == ["rollover", "exchange"]


def test_a_new_serial_without_an_exchange_record_is_never_differenced_against_the_old_one() -> None:
    raw = registers("700.0", "701.0", serial="PDU-A") + registers("5.0", "6.0", start=at(30), serial="PDU-B")
    result = validate(pdu(), 45, registers=raw)
    assert quantities(result) == [D("1.0"), D("1.0"), D("1.0")]  # the middle one interpolated
    assert result.qualities == "AEA"
    why = (
        "serial changed from PDU-A to PDU-B between 2026-03-02T00:15:00+00:00 and 2026-03-02T00:30:00+00:00 "
        "without an exchange record"
    )
    assert result.substitutions == {
        1: Substitution("linear", f"{why}; interpolated between the neighbouring intervals")
    }
    assert result.events == (
        DataQualityEvent("pdu-1", at(30), "exchange", f"{why}; usage in between estimated"),
    )


def test_raw_reads_at_the_exchange_instant_yield_to_the_record() -> None:
    swap = MeterExchange("pdu-1", at(15), "A", D("50.5"), "B", D("0.0"))
    raw = registers("50.0", "50.5", serial="A") + registers("0.0", "0.3", start=at(15), serial="B")
    raw += registers("77.7", start=at(15), serial="B")  # a garbled read at the swap
    result = validate(pdu(), 30, registers=raw, exchanges=[swap])
    assert quantities(result) == [D("0.5"), D("0.3")]


# --- rule 5: other decreases --------------------------------------------------------------------------------


def test_a_register_that_falls_and_stays_lower_restarts_its_count() -> None:
    result = validate(pdu(), 60, registers=registers("5000.0", "5001.0", "0.0", "1.0", "2.0"))
    assert quantities(result) == [D("1.0"), D("1.0"), D("1.0"), D("1.0")]  # never negative
    assert result.qualities == "AEAA"
    why = (
        "register fell from 5001.0 at 2026-03-02T00:15:00+00:00 to 0.0 at 2026-03-02T00:30:00+00:00, "
        "not a rollover; counting restarts"
    )
    assert result.substitutions == {
        1: Substitution("linear", f"{why}; interpolated between the neighbouring intervals")
    }
    assert result.events == (
        DataQualityEvent("pdu-1", at(30), "negative-step", f"{why}, usage in between estimated"),
    )


def test_a_read_that_drops_below_its_neighbours_is_ignored() -> None:
    result = validate(pdu(), 60, registers=registers("100.0", "100.4", "95.0", "101.2", "101.6"))
    # Without the 95.0, the 0.8 kWh from 100.4 to 101.2 is spread over its two intervals.
    assert quantities(result) == [D("0.4"), D("0.8") / 2, D("0.8") / 2, D("0.4")]
    assert result.qualities == "AEEA"
    why = "register read 95.0 at 2026-03-02T00:30:00+00:00 fell below the reads around it; ignored"
    assert result.substitutions[1] == Substitution(
        "register-scaled", f"{why}; 0.8 kWh from the register reads around it, spread evenly"
    )
    assert result.events == (DataQualityEvent("pdu-1", at(30), "negative-step", why),)


def test_a_read_that_jumps_above_its_neighbours_is_ignored() -> None:
    result = validate(pdu(), 60, registers=registers("100.0", "100.4", "150.0", "100.8", "101.2"))
    assert quantities(result) == [D("0.4"), D("0.2"), D("0.2"), D("0.4")]
    assert result.events == (
        DataQualityEvent(
            "pdu-1",
            at(30),
            "negative-step",
            "register read 150.0 at 2026-03-02T00:30:00+00:00 is above the reads around it; ignored",
        ),
    )


def test_a_negative_interval_value_is_never_billed() -> None:
    result = validate(pdu(), 45, intervals=intervals("1.0", "-0.5", "2.0"))
    assert quantities(result) == [D("1.0"), D("1.5"), D("2.0")]
    assert (result.qualities, kinds(result)) == ("AEA", ["negative-step"])


# --- rule 6: gaps -------------------------------------------------------------------------------------------


def test_a_3_hour_gap_bounded_by_reads_adds_up_to_the_register_difference_exactly() -> None:
    raw = registers("500.0", "500.3") + registers(
        "504.0", "504.3", start=at(195)
    )  # nothing from 00:15 to 03:15
    result = validate(pdu(), 210, registers=raw)
    # 3.7 kWh = 37 tenths over 12 intervals: 3 tenths each, the first one more.
    assert quantities(result) == [D("0.3"), D("0.4")] + [D("0.3")] * 11 + [D("0.3")]
    assert sum(quantities(result)[1:13]) == D("504.0") - D("500.3")
    assert result.qualities == "A" + "E" * 12 + "A"
    assert result.substitutions[1] == Substitution(
        "register-scaled", "no readings for 3 h; 3.7 kWh from the register reads around it, spread evenly"
    )
    assert result.events == (
        DataQualityEvent("pdu-1", at(15), "gap", "no readings for 3 h; filled: register-scaled"),
    )


def test_a_long_gap_bounded_by_reads_takes_the_shape_of_the_like_days() -> None:
    meter = pdu(interval_minutes=60)
    week_before = intervals("1.0", "2.0", "3.0", "4.0", every=60, start=at(-7 * 24 * 60))
    raw = registers("100.0", every=60) + registers("120.0", every=60, start=at(4 * 60))
    result = validate(meter, 4 * 60, registers=raw, intervals=week_before)
    # 20 kWh shaped 1 : 2 : 3 : 4.
    assert quantities(result) == [D("2.0"), D("4.0"), D("6.0"), D("8.0")]
    assert {s.method for s in result.substitutions.values()} == {"like-day"}


def test_sparse_reads_give_each_stretch_between_them_its_exact_difference() -> None:
    result = validate(pdu(), 120, registers=registers("20.0", "21.0", "23.1", every=60))  # hourly reads
    # 1.0 kWh in tenths over four quarter hours, then 2.1 kWh: the remainders go to the earliest.
    assert quantities(result) == [
        D("0.3"),
        D("0.3"),
        D("0.2"),
        D("0.2"),
        D("0.6"),
        D("0.5"),
        D("0.5"),
        D("0.5"),
    ]
    assert result.qualities == "E" * 8
    assert [e.detail for e in result.events] == ["no readings for 1 h; filled: register-scaled"] * 2


def test_a_short_gap_without_register_bounds_is_interpolated() -> None:
    result = validate(pdu(), 90, intervals=intervals("1.0", "2.0", None, None, None, "6.0"))
    assert quantities(result) == [D("1.0"), D("2.0"), D("3.0"), D("4.0"), D("5.0"), D("6.0")]
    assert result.qualities == "AAEEEA"
    assert result.substitutions[2] == Substitution(
        "linear", "no readings for 45 min; interpolated between the neighbouring intervals"
    )


def test_a_2_day_outage_is_filled_from_the_same_hours_of_the_previous_weeks() -> None:
    meter = pdu(interval_minutes=60)
    outage = 48
    history: list[IntervalReading] = []
    for weeks_back, level in ((1, "2.0"), (2, "2.4"), (3, "1.6"), (4, "2.4")):
        history += intervals(*[level] * outage, every=60, start=at(-weeks_back * 7 * 24 * 60))
    result = validate(meter, outage * 60, intervals=history)
    mean = (D("2.0") + D("2.4") + D("1.6") + D("2.4")) / 4
    assert quantities(result) == [mean] * outage
    assert result.qualities == "E" * outage
    assert result.substitutions[0] == Substitution(
        "like-day",
        "no readings after 2026-02-25T00:00:00+00:00; mean of the same times of the previous 4 weeks",
    )


def test_like_days_are_the_same_local_time_across_a_dst_change() -> None:
    meter = pdu(interval_minutes=60)
    monday = datetime(2026, 3, 30, 9, tzinfo=BERLIN)  # the day after clocks went forward
    week_before = datetime(2026, 3, 23, 9, tzinfo=BERLIN)  # 168 local hours, but 167 hours, earlier
    raw = intervals("1.0", every=60, start=monday - timedelta(hours=1))
    raw += intervals("7.0", every=60, start=week_before) + intervals(
        "1.0", every=60, start=monday + timedelta(hours=4)
    )
    raw += intervals("1.0", every=60, start=monday + timedelta(hours=5))
    result = validate_readings(meter, monday, monday + timedelta(hours=4), intervals=raw)
    assert quantities(result)[0] == D("7.0")


def test_with_nothing_to_estimate_from_an_interval_is_null_with_the_reason() -> None:
    result = validate(pdu(), 45, intervals=intervals("1.0", "1.0"))
    assert (quantities(result), result.qualities) == ([D("1.0"), D("1.0"), D("0")], "AAN")
    assert result.substitutions == {
        2: Substitution(
            None, "no readings after 2026-03-02T00:30:00+00:00; no like day in the previous 4 weeks"
        )
    }


def test_no_readings_at_all_is_all_null() -> None:
    result = validate(pdu(), 30)
    assert (result.values, result.qualities) == ([0, 0], "NN")


def test_a_month_without_readings_looks_up_no_like_day(monkeypatch: pytest.MonkeyPatch) -> None:
    """With no actual value anywhere before the gap there is nothing to take the shape of: the bill run
    validates such windows every hour while a draft waits, so they must not cost a look-up per interval."""

    def never(*_: object) -> None:
        raise AssertionError("a like day was looked up")

    monkeypatch.setattr(vee._Grid, "like_day", never)
    result = validate(pdu(), 31 * 24 * 60, start=datetime(2026, 3, 1, tzinfo=BERLIN))
    assert set(result.qualities) == {"N"}
    assert len(result.qualities) == (31 * 24 - 1) * 4  # the day clocks went forward has 23 hours


def test_null_intervals_reach_the_tariff_engine_as_missing_not_as_zero_usage() -> None:
    result = validate(pdu(), 60, intervals=intervals("1.0"))  # 00:00 only; nothing to estimate the rest from
    assert result.qualities == "ANNN"
    assert result.as_interval_series().missing == frozenset({1, 2, 3})


# --- rule 7: plausibility -----------------------------------------------------------------------------------


def test_an_interval_above_the_supply_limit_is_substituted() -> None:
    config = ValidationConfig(max_power=D("10"))  # at most 10 kW * 0.25 h = 2.5 kWh a quarter hour
    result = validate(pdu(), 45, intervals=intervals("1.0", "3.0", "1.4"), config=config)
    assert quantities(result) == [D("1.0"), (D("1.0") + D("1.4")) / 2, D("1.4")]
    assert result.qualities == "ASA"
    why = "3.0 kWh in 15 min is over the limit of 2.5 kWh (max_power 10)"
    assert result.substitutions == {
        1: Substitution("linear", f"{why}; interpolated between the neighbouring intervals")
    }
    assert result.events == (DataQualityEvent("pdu-1", at(15), "over-limit", f"{why}; substituted"),)


def test_a_spike_is_substituted_from_its_neighbours() -> None:
    config = ValidationConfig(spike_factor=D("5"))
    result = validate(pdu(), 75, intervals=intervals("1.0", "1.2", "9.0", "1.4", "1.0"), config=config)
    assert quantities(result) == [D("1.0"), D("1.2"), (D("1.2") + D("1.4")) / 2, D("1.4"), D("1.0")]
    assert result.qualities == "AASAA"
    assert result.events == (
        DataQualityEvent(
            "pdu-1",
            at(30),
            "spike",
            "spike: 9.0 kWh is more than 5 times its neighbours' 1.4 kWh; substituted",
        ),
    )


def test_a_step_up_in_load_is_no_spike() -> None:
    config = ValidationConfig(spike_factor=D("5"))
    result = validate(pdu(), 60, intervals=intervals("1.0", "1.0", "9.0", "9.0"), config=config)
    assert (result.qualities, result.events) == ("AAAA", ())


def test_small_blips_under_the_spike_floor_are_no_spikes() -> None:
    config = ValidationConfig(spike_factor=D("5"), spike_floor=D("0.5"))
    result = validate(pdu(), 45, intervals=intervals("0", "0.1", "0"), config=config)
    assert (result.qualities, result.events) == ("AAA", ())


def test_a_flat_line_is_reported_and_kept() -> None:
    config = ValidationConfig(flat_line_after=timedelta(hours=1))
    result = validate(pdu(), 120, intervals=intervals("0.2", *["0.0"] * 6, "0.3"), config=config)
    assert result.qualities == "A" * 8
    assert result.events == (
        DataQualityEvent(
            "pdu-1",
            at(15),
            "flat-line",
            "1 h 30 min of identical values 0.0 kWh from 2026-03-02T00:15:00+00:00 to "
            "2026-03-02T01:45:00+00:00",
        ),
    )


def test_a_flat_run_shorter_than_the_limit_is_not_reported() -> None:
    config = ValidationConfig(flat_line_after=timedelta(hours=1))
    result = validate(pdu(), 60, intervals=intervals("0.2", "0.0", "0.0", "0.0"), config=config)
    assert result.events == ()


# --- rule 8: sum check --------------------------------------------------------------------------------------


def test_intervals_that_do_not_add_up_to_the_register_difference_are_reported() -> None:
    raw = registers("100.0", None, None, None, "102.0")
    result = validate(pdu(), 60, registers=raw, intervals=intervals("0.5", "0.5", "0.5", "0.3"))
    assert quantities(result) == [D("0.5"), D("0.5"), D("0.5"), D("0.3")]  # the intervals stand
    assert result.events == (
        DataQualityEvent(
            "pdu-1",
            at(0),
            "sum-check",
            "intervals from 2026-03-02T00:00:00+00:00 to 2026-03-02T01:00:00+00:00 sum to 1.8 kWh, "
            "the register reads differ by 2.0 kWh",
        ),
    )


def test_intervals_within_one_register_step_of_the_registers_pass_the_sum_check() -> None:
    raw = registers("100.0", None, "101.0")  # 0.1 kWh register: truncation may hide up to 0.1 kWh
    result = validate(pdu(), 30, registers=raw, intervals=intervals("0.55", "0.54"))
    assert result.events == ()


def test_registers_fill_a_missing_interval_between_interval_readings_exactly() -> None:
    raw = registers("100.0", None, None, "103.0")
    result = validate(pdu(), 45, registers=raw, intervals=intervals("0.8", None, "1.1"))
    assert quantities(result) == [D("0.8"), D("3.0") - D("0.8") - D("1.1"), D("1.1")]
    assert result.qualities == "AEA"


# --- rule 9: raw in, validated out --------------------------------------------------------------------------


def test_late_reads_change_only_the_gap_they_fall_into() -> None:
    values = [f"{D('1000.0') + D('0.3') * i + (D('0.9') if i >= 28 else 0)}" for i in range(97)]
    on_time = registers(*values[:20], *[None] * 12, *values[32:])  # three hours lost, 05:00 to 08:00
    before = validate(pdu(), 24 * 60, registers=on_time)
    late = registers(values[25], start=at(25 * 15))
    after = validate(pdu(), 24 * 60, registers=on_time + late)
    changed = [
        i
        for i in range(96)
        if (before.values[i], before.qualities[i]) != (after.values[i], after.qualities[i])
    ]
    assert changed and all(19 <= i < 32 for i in changed)
    assert validate(pdu(), 24 * 60, registers=late + on_time) == after  # and it did not matter when it came


# --- the result ---------------------------------------------------------------------------------------------


def test_validated_intervals_become_an_interval_series_with_every_non_actual_interval_estimated() -> None:
    result = validate(pdu(), 60, intervals=intervals("1.0", None, "3.0", "4.0"))
    series = result.as_interval_series()
    assert (series.start, series.interval_minutes, series.unit) == (MONDAY, 15, "kWh")
    assert [series.quantity(v) for v in series.values] == [D("1.0"), D("2.0"), D("3.0"), D("4.0")]
    assert series.estimated == frozenset({1})
    assert (result.total(), result.estimated_total()) == (D("10.0"), D("2.0"))


def test_validated_intervals_read_back_as_interval_readings_with_flag_method_and_reason() -> None:
    result = validate(pdu(), 30, intervals=intervals("1.0", None, "3.0"))
    assert list(result) == [
        IntervalReading("pdu-1", at(0), at(15), D("1.0"), "kWh", "A"),
        IntervalReading(
            "pdu-1",
            at(15),
            at(30),
            D("2.0"),
            "kWh",
            "E",
            "linear",
            "no readings for 15 min; interpolated between the neighbouring intervals",
        ),
    ]


def test_intervals_count_absolute_time_across_a_dst_change() -> None:
    meter = pdu(interval_minutes=60)
    day = datetime(2026, 3, 29, tzinfo=BERLIN)  # 23 hours long
    raw = [
        IntervalReading(
            "pdu-1",
            (day.astimezone(UTC) + timedelta(hours=h)).astimezone(BERLIN),
            (day.astimezone(UTC) + timedelta(hours=h + 1)).astimezone(BERLIN),
            D("1.0"),
            "kWh",
        )
        for h in range(23)
    ]
    result = validate_readings(meter, day, datetime(2026, 3, 30, tzinfo=BERLIN), intervals=raw)
    assert (len(result), result.qualities) == (23, "A" * 23)
    assert result.reading(2).start == datetime(2026, 3, 29, 3, tzinfo=BERLIN)  # 02:00 does not exist


def test_events_are_reported_by_the_span_their_instant_falls_in() -> None:
    raw = registers("99999.8", "0.3", "0.5")
    meter = pdu(register_max=D("99999.9"))
    assert kinds(validate(meter, 15, registers=raw)) == []  # the wrap's read, at 00:15, is the next span's
    assert kinds(validate_readings(meter, at(15), at(30), registers=raw)) == ["rollover"]


# --- input that cannot be validated -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "where"),
    [
        ({"registers": registers("1.0", meter="pdu-2")}, "register read meter 'pdu-2'"),
        ({"registers": [RegisterRead("pdu-1", MONDAY, D("1"), "Wh")]}, "register read unit 'Wh'"),
        (
            {"registers": [RegisterRead("pdu-1", datetime(2026, 3, 2), D("1"), "kWh")]},
            "register read at 2026-03-02T00:00:00",
        ),
        ({"intervals": [IntervalReading("pdu-1", MONDAY, at(15), D("NaN"), "kWh")]}, "interval reading"),
    ],
)
def test_readings_that_cannot_be_validated_are_refused_by_name(raw: dict[str, Any], where: str) -> None:
    with pytest.raises(ReadingsError) as refused:
        validate(pdu(), 15, **raw)
    assert refused.value.where == where


def test_a_span_must_be_whole_intervals() -> None:
    with pytest.raises(ReadingsError, match="not a positive whole number"):
        validate(pdu(), 20)


@pytest.mark.parametrize(
    "field",
    [
        {"short_gap": timedelta(hours=-1)},
        {"like_day_weeks": -1},
        {"rollover_margin": D("0.5")},
        {"register_resolution": D("0")},
        {"max_power": D("0")},
        {"spike_factor": D("1")},
        {"spike_floor": D("-1")},
        {"flat_line_after": timedelta(0)},
        {"sum_tolerance": D("-0.1")},
    ],
)
def test_a_config_rejects_values_that_make_no_sense_naming_the_field(field: dict[str, Any]) -> None:
    (name,) = field
    with pytest.raises(ValueError, match=f"^{name}:"):
        ValidationConfig(**field)


# --- estimation arithmetic ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "weights", "shares"),
    [
        (10, [1, 1, 1], [4, 3, 3]),
        (10, [1, 2, 2], [2, 4, 4]),
        (7, [0, 0], [4, 3]),
        (0, [3, 1], [0, 0]),
        (100, [1, 2, 3, 4], [10, 20, 30, 40]),
        (11, [1, 1, 2], [3, 3, 5]),  # 2.75, 2.75, 5.5: the two three-quarters lost the most
    ],
)
def test_spread_shares_exactly_in_proportion_with_whole_units(
    total: int, weights: Sequence[int], shares: list[int]
) -> None:
    assert spread(total, weights) == shares
    assert sum(shares) == total


def test_spread_evenly_gives_the_remainder_to_the_earliest() -> None:
    assert spread_evenly(37, 12) == [4] + [3] * 11


def test_interpolate_draws_a_straight_line_rounded_half_up() -> None:
    assert interpolate(0, 10, 4) == [2, 4, 6, 8]
    assert interpolate(1, 2, 2) == [1, 2]  # 1.33 and 1.67
    assert interpolate(None, 5, 2) == [5, 5]


def test_rounded_mean_rounds_half_up() -> None:
    assert (rounded_mean([1, 2]), rounded_mean([1, 1, 2]), rounded_mean([20, 24, 16, 22])) == (2, 1, 21)
