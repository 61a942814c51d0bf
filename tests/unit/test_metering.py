"""The one validation path (meterdata.metering): one meter's raw readings and settings in, validated intervals
out, over a span the caller gives (``validate_span``) or the span the readings cover (``validate_meter``)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from meterbill.meterdata.metering import (
    MeteringError,
    RawReadings,
    infer_interval_minutes,
    meter_exchanges,
    validate_meter,
    validate_span,
    validation_config,
)
from meterbill.meterdata.readings import IntervalReading, MeterExchange, RegisterRead
from meterbill.meterdata.vee import DEFAULT_CONFIG, ValidatedIntervals
from meterbill.metersettings import MeterSettings
from tests.builders import BERLIN, UTC

D = Decimal
MINUTE = timedelta(minutes=1)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def registers(meter: str, *reads: tuple[str, str], serial: str | None = None) -> list[RegisterRead]:
    return [RegisterRead(meter, at(moment), D(value), "kWh", serial) for moment, value in reads]


def intervals(meter: str, start: str, minutes: int, *values: str) -> list[IntervalReading]:
    first, step = at(start), minutes * MINUTE
    return [
        IntervalReading(meter, first + i * step, first + (i + 1) * step, D(value), "kWh")
        for i, value in enumerate(values)
    ]


def settings(**fields: Any) -> MeterSettings:
    return MeterSettings.model_validate(fields)


def rows(result: ValidatedIntervals) -> list[tuple[str, str, str, str | None]]:
    return [(r.start.isoformat(), str(r.value), r.quality, r.method) for r in result]


# The interval: the settings', else the readings'


def test_the_interval_of_register_reads_is_the_most_common_time_between_them() -> None:
    raw = RawReadings(
        registers("m", ("2026-03-02T00:00Z", "1"), ("2026-03-02T00:30Z", "2"), ("2026-03-02T01:00Z", "4"))
    )
    (result,) = validate_meter("m", raw, MeterSettings())
    assert (result.interval_minutes, len(result), result.total()) == (30, 2, D("4") - D("1"))


def test_on_a_tie_the_shorter_interval_wins() -> None:
    reads = registers("m", ("2026-03-02T00:00Z", "1"), ("2026-03-02T00:15Z", "2"), ("2026-03-02T00:45Z", "4"))
    assert infer_interval_minutes("m", RawReadings(reads)) == 15


def test_a_single_register_read_has_no_interval_and_the_error_names_the_meter() -> None:
    raw = RawReadings(registers("m", ("2026-03-02T00:00Z", "1")))
    with pytest.raises(MeteringError) as caught:
        validate_meter("m", raw, MeterSettings())
    assert str(caught.value) == (
        "meter 'm': a single register read: its interval cannot be inferred; give interval_minutes in "
        "--meter-config"
    )


def test_reads_twenty_minutes_apart_are_no_interval_length() -> None:
    raw = RawReadings(registers("m", ("2026-03-02T00:00Z", "1"), ("2026-03-02T00:20Z", "2")))
    with pytest.raises(MeteringError) as caught:
        validate_meter("m", raw, MeterSettings())
    assert caught.value.reason == (
        "its register reads are mostly 0:20:00 apart, not an interval length (1, 5, 15, 30, 60 min); give "
        "interval_minutes in --meter-config"
    )


def test_a_channel_that_changes_from_30_to_15_minutes_is_validated_run_by_run() -> None:
    raw = RawReadings(
        intervals=[
            *intervals("m", "2026-03-02T00:00Z", 30, "2.0", "2.2"),
            *intervals("m", "2026-03-02T01:00Z", 15, "0.5", "0.6"),
        ]
    )
    first, second = validate_meter("m", raw, MeterSettings())
    assert [(r.interval_minutes, r.start.isoformat(), len(r), r.total()) for r in (first, second)] == [
        (30, "2026-03-02T00:00:00+00:00", 2, D("2.0") + D("2.2")),
        (15, "2026-03-02T01:00:00+00:00", 2, D("0.5") + D("0.6")),
    ]


def test_an_interval_in_the_settings_validates_every_reading_on_one_grid() -> None:
    raw = RawReadings(
        intervals=[
            *intervals("m", "2026-03-02T00:00Z", 30, "2.0", "2.2"),
            *intervals("m", "2026-03-02T01:00Z", 15, "0.5", "0.6"),
        ]
    )
    (result,) = validate_meter("m", raw, settings(interval_minutes=15))
    assert (result.interval_minutes, len(result)) == (15, 6)


# The span and its clock


def test_the_span_runs_from_the_first_boundary_after_the_first_read_to_the_last_before_the_last() -> None:
    raw = RawReadings(
        registers(
            "m",
            ("2026-03-02T00:07+01:00", "1.0"),
            ("2026-03-02T00:15+01:00", "1.5"),
            ("2026-03-02T00:30+01:00", "2.0"),
            ("2026-03-02T00:45+01:00", "2.5"),
            ("2026-03-02T00:52+01:00", "2.7"),
        )
    )
    (result,) = validate_meter("m", raw, settings(interval_minutes=15), UTC)
    assert (result.start.isoformat(), result.end.isoformat()) == (
        "2026-03-01T23:15:00+00:00",
        "2026-03-01T23:45:00+00:00",
    )


def test_readings_spanning_no_whole_interval_are_refused() -> None:
    raw = RawReadings(registers("m", ("2026-03-02T00:05Z", "1"), ("2026-03-02T00:10Z", "2")))
    with pytest.raises(MeteringError) as caught:
        validate_meter("m", raw, settings(interval_minutes=15))
    assert caught.value.reason == "its readings span no whole 15-minute interval"


def test_a_span_given_by_the_caller_validates_the_same_as_the_span_of_the_readings() -> None:
    raw = RawReadings(
        registers(
            "m",
            ("2026-03-02T00:00+01:00", "10"),
            ("2026-03-02T00:15+01:00", "11"),
            ("2026-03-02T01:00+01:00", "14"),  # a gap of 30 minutes
            ("2026-03-02T01:15+01:00", "15"),
        )
    )
    (own,) = validate_meter("m", raw, MeterSettings(), BERLIN)
    given = validate_span("m", "kWh", raw, MeterSettings(), at("2026-03-02T00:00+01:00"), own.end)
    assert given == own
    assert rows(own)[1:3] == [
        ("2026-03-02T00:15:00+01:00", "1", "E", "register-scaled"),
        ("2026-03-02T00:30:00+01:00", "1", "E", "register-scaled"),
    ]


def test_a_span_with_no_readings_in_it_is_null_throughout_in_the_unit_given() -> None:
    result = validate_span(
        "m",
        "m3",
        RawReadings(),
        settings(interval_minutes=60),
        at("2026-03-02T00:00Z"),
        at("2026-03-02T03:00Z"),
    )
    assert (result.unit, result.qualities, result.total()) == ("m3", "NNN", D(0))


# The settings


def test_the_ct_ratio_and_its_change_multiply_the_register_differences_they_apply_to() -> None:
    raw = RawReadings(
        registers(
            "m",
            ("2026-03-02T00:00Z", "10.00"),
            ("2026-03-02T00:15Z", "10.05"),
            ("2026-03-02T00:30Z", "10.12"),
        )
    )
    chosen = settings(multiplier=40, multipliers=[{"effective_from": "2026-03-02T00:15Z", "multiplier": 80}])
    (result,) = validate_meter("m", raw, chosen)
    assert [r.value for r in result] == [(D("10.05") - D("10.00")) * 40, (D("10.12") - D("10.05")) * 80]


def test_a_register_maximum_makes_a_drop_from_the_top_a_rollover() -> None:
    raw = RawReadings(
        registers(
            "m", ("2026-03-02T00:00Z", "99999.5"), ("2026-03-02T00:15Z", "0.3"), ("2026-03-02T00:30Z", "1.3")
        )
    )
    (result,) = validate_meter("m", raw, settings(register_max="99999.9"))
    assert (result.quantity(0), result.qualities, [e.kind for e in result.events]) == (
        D("99999.9") + D("0.1") - D("99999.5") + D("0.3"),
        "AA",
        ["rollover"],
    )
    (without,) = validate_meter("m", raw, MeterSettings())
    assert [e.kind for e in without.events] == ["negative-step"]


def test_an_exchange_in_the_settings_ends_one_device_and_starts_the_next() -> None:
    raw = RawReadings(
        [
            *registers("m", ("2026-03-02T00:00Z", "500.0"), serial="A1"),
            *registers("m", ("2026-03-02T00:30Z", "2.0"), serial="B7"),
        ]
    )
    exchange = {
        "timestamp": "2026-03-02T00:15Z",
        "old_serial": "A1",
        "old_final": "512.4",
        "new_serial": "B7",
        "new_initial": "0.0",
    }
    chosen = settings(interval_minutes=15, exchanges=[exchange])
    assert meter_exchanges("m", chosen) == [
        MeterExchange("m", at("2026-03-02T00:15Z"), "A1", D("512.4"), "B7", D("0.0"))
    ]
    (result,) = validate_meter("m", raw, chosen)
    assert [r.value for r in result] == [D("512.4") - D("500.0"), D("2.0") - D("0.0")]


def test_absent_settings_are_validations_defaults_and_null_turns_the_flat_line_check_off() -> None:
    assert validation_config(MeterSettings()) == DEFAULT_CONFIG
    config = validation_config(settings(short_gap_minutes=30, flat_line_after_minutes=None, spike_factor=5))
    assert (config.short_gap, config.flat_line_after, config.spike_factor) == (30 * MINUTE, None, D(5))


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"flat_line_after_minutes": None},
        {"max_power": "22", "spike_factor": None, "short_gap_minutes": 30},
    ],
)
def test_settings_stored_and_read_back_validate_alike(fields: dict[str, Any]) -> None:
    """What the catalog will do with a meter's settings: dump them as JSON and read them back."""
    chosen = settings(**fields)
    again = MeterSettings.model_validate_json(chosen.model_dump_json())
    assert validation_config(again) == validation_config(chosen)
    assert validation_config(again).flat_line_after == (
        None if "flat_line_after_minutes" in fields else timedelta(hours=24)
    )


def test_limits_validation_refuses_are_named_by_their_setting() -> None:
    with pytest.raises(ValueError, match=r"^rollover_margin: 0.7 must be between 0 and 0.5$"):
        validation_config(settings(rollover_margin="0.7"))


def test_readings_validation_cannot_take_name_the_reading_at_fault() -> None:
    raw = RawReadings(intervals=intervals("m", "2026-03-02T00:00Z", 15, "1", "2"))
    with pytest.raises(MeteringError) as caught:
        validate_span(
            "m", "MWh", raw, settings(interval_minutes=15), at("2026-03-02T00:00Z"), at("2026-03-02T00:30Z")
        )
    assert (caught.value.meter, caught.value.where is not None) == ("m", True)
    assert str(caught.value) == f"meter 'm': {caught.value.where}: {caught.value.reason}"
