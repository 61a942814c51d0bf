"""Meter data CSV files: 'meter,start,value' interval values and 'meter,timestamp,register' register reads.

What a valid file reads as, how each meter's interval length is inferred, and how each invalid file is refused
(file, line, reason)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest

from meterbill.meterdata.csvio import (
    CsvFormatError,
    meter_csv_kind,
    read_meter_intervals_csv,
    read_register_reads_csv,
)
from meterbill.meterdata.readings import IntervalReading, Quality, RegisterRead
from tests.builders import BERLIN, UTC, D

PLUS_ONE = timezone(timedelta(hours=1))


def lines(*rows: str) -> Iterator[str]:
    """The lines of a file, yielded one at a time as a file object would."""
    for row in rows:
        yield row + "\n"


def intervals(*rows: str, unit: str = "kWh") -> list[IntervalReading]:
    return list(read_meter_intervals_csv(lines(*rows), BERLIN, "meters.csv", unit=unit))


def registers(*rows: str) -> list[RegisterRead]:
    return list(read_register_reads_csv(lines(*rows), BERLIN, "reads.csv"))


def interval_refusal(*rows: str) -> tuple[int | None, str]:
    with pytest.raises(CsvFormatError) as caught:
        intervals(*rows)
    assert caught.value.source == "meters.csv"
    return caught.value.line, caught.value.reason


def register_refusal(*rows: str) -> tuple[int | None, str]:
    with pytest.raises(CsvFormatError) as caught:
        registers(*rows)
    assert caught.value.source == "reads.csv"
    return caught.value.line, caught.value.reason


def reading(
    meter: str,
    start: datetime,
    minutes: int,
    value: str,
    quality: Quality = "A",
    method: str | None = None,
    reason: str | None = None,
) -> IntervalReading:
    end = start + timedelta(minutes=minutes)
    return IntervalReading(meter, start, end, D(value), "kWh", quality, method, reason)


# What a file holds, from its header


def test_the_header_says_whether_a_file_holds_intervals_or_register_reads() -> None:
    assert meter_csv_kind("meter,start,value") == "intervals"
    assert meter_csv_kind("\ufeffMeter,Start,End,Value,Unit,Quality") == "intervals"
    assert meter_csv_kind("meter,timestamp,register") == "registers"
    assert meter_csv_kind("start,value") is None  # a rating file: no meter column
    assert meter_csv_kind("100,NEM12,202601150930,MDP1,RETAILER1") is None


# Interval values


def test_each_meters_interval_length_is_inferred_from_its_own_rows() -> None:
    read = intervals(
        "meter,start,value",
        "hall,2026-01-01T00:00+01:00,1.250",
        "pump,2026-01-01T00:00+01:00,0.5",
        "hall,2026-01-01T00:15+01:00,1.000",
        "pump,2026-01-01T01:00+01:00,0.75",
    )
    midnight = datetime(2026, 1, 1, tzinfo=PLUS_ONE)
    assert read == [
        reading("hall", midnight, 15, "1.250"),
        reading("hall", midnight + timedelta(minutes=15), 15, "1.000"),
        reading("pump", midnight, 60, "0.5"),
        reading("pump", midnight + timedelta(hours=1), 60, "0.75"),
    ]


def test_values_stay_exactly_as_written() -> None:
    read = intervals("meter,start,value", "m,2026-01-01T00:00Z,0.500", "m,2026-01-01T00:05Z,007.10")
    assert [str(r.value) for r in read] == ["0.500", "7.10"]  # the places written, trailing zeros too


def test_the_most_common_step_is_the_interval_so_an_early_gap_is_just_a_gap() -> None:
    read = intervals(
        "meter,start,value",
        "m,2026-01-01T00:00Z,1",
        "m,2026-01-01T00:45Z,1",  # two 15-minute intervals missing
        "m,2026-01-01T01:00Z,1",
        "m,2026-01-01T01:15Z,1",
    )
    assert {r.end - r.start for r in read} == {timedelta(minutes=15)}
    assert [r.start.minute for r in read] == [0, 45, 0, 15]


def test_rows_after_the_first_eight_are_checked_against_the_inferred_length_as_they_come() -> None:
    rows = [f"m,2026-01-01T{hour:02}:00Z,1" for hour in range(12)]
    read = intervals("meter,start,value", *rows, "m,2026-01-01T15:00Z,2")  # a 2 h gap: fine
    assert len(read) == 13
    assert read[-1] == reading("m", datetime(2026, 1, 1, 15, tzinfo=UTC), 60, "2")
    assert interval_refusal("meter,start,value", *rows, "m,2026-01-01T12:30Z,2") == (
        14,
        "meter 'm' starts 90 min after its row on line 13, not a whole number of its 60 min intervals "
        "(inferred from its first rows; give an end column for intervals of other lengths)",
    )


def test_a_resent_row_keeps_its_interval_for_validation_to_decide() -> None:
    read = intervals(
        "meter,start,value", "m,2026-01-01T00:00Z,1", "m,2026-01-01T00:00Z,2", "m,2026-01-01T00:30Z,3"
    )
    assert [(r.start.minute, r.end.minute, r.value) for r in read] == [
        (0, 30, D(1)),
        (0, 30, D(2)),
        (30, 0, D(3)),
    ]


def test_an_end_column_gives_each_interval_its_length_and_rows_may_come_in_any_order() -> None:
    read = intervals(
        "meter,start,end,value",
        "m,2026-01-01T00:30Z,2026-01-01T01:00Z,2",
        "m,2026-01-01T00:00Z,2026-01-01T00:30Z,1",
        "solo,2026-01-01T00:00Z,2026-01-02T00:00Z,24",
    )
    midnight = datetime(2026, 1, 1, tzinfo=UTC)
    assert read == [
        reading("m", midnight + timedelta(minutes=30), 30, "2"),
        reading("m", midnight, 30, "1"),
        reading("solo", midnight, 24 * 60, "24"),
    ]


def test_what_convert_and_validate_write_reads_back_unit_quality_method_and_reason_included() -> None:
    (read,) = intervals(
        "meter,start,end,value,unit,quality,method,reason",
        "m,2026-01-01T00:00:00+01:00,2026-01-01T00:15:00+01:00,0.250,KWH,E,linear,no readings for 15 min",
    )
    start = datetime(2026, 1, 1, tzinfo=PLUS_ONE)
    assert read == reading("m", start, 15, "0.250", "E", "linear", "no readings for 15 min")


def test_naive_times_are_local_time_in_the_zone_given() -> None:
    first, _ = intervals("meter,start,value", "m,2026-07-01T00:00,1", "m,2026-07-01T00:15,1")
    assert first.start == datetime(2026, 7, 1, tzinfo=BERLIN)
    assert first.start.utcoffset() == timedelta(hours=2)


def test_an_hour_is_an_hour_of_absolute_time_across_a_change_of_the_clocks() -> None:
    read = intervals(
        "meter,start,value", "m,2026-03-29T00:00,1", "m,2026-03-29T01:00,1", "m,2026-03-29T03:00,1"
    )
    assert [(r.start.isoformat(), r.end.isoformat()) for r in read] == [
        ("2026-03-29T00:00:00+01:00", "2026-03-29T01:00:00+01:00"),
        ("2026-03-29T01:00:00+01:00", "2026-03-29T03:00:00+02:00"),  # Berlin skips 02:00-03:00
        ("2026-03-29T03:00:00+02:00", "2026-03-29T04:00:00+02:00"),
    ]


def test_values_without_a_unit_column_are_in_the_unit_given() -> None:
    read = intervals("meter,start,value", "m,2026-01-01T00:00Z,1", "m,2026-01-01T00:15Z,1", unit="m3")
    assert {r.unit for r in read} == {"m3"}


# Register reads


def test_register_reads_are_read_in_any_order_with_serial_and_quality() -> None:
    read = registers(
        "meter,timestamp,register,serial,quality",
        "m,2026-01-01T01:00:00+01:00,99999.5,A1,",
        "m,2026-01-01T00:00:00+01:00,99998.0,A1,e",
        "m,2026-01-01T02:00:00+01:00,0.3,,A",
    )
    assert read == [
        RegisterRead("m", datetime(2026, 1, 1, 1, tzinfo=PLUS_ONE), D("99999.5"), "kWh", "A1", "A"),
        RegisterRead("m", datetime(2026, 1, 1, 0, tzinfo=PLUS_ONE), D("99998.0"), "kWh", "A1", "E"),
        RegisterRead("m", datetime(2026, 1, 1, 2, tzinfo=PLUS_ONE), D("0.3"), "kWh", None, "A"),
    ]


def test_register_reads_refuse_what_interval_values_refuse() -> None:
    header = "meter,timestamp,register"
    assert register_refusal(header, "m,2026-01-01T00:00Z,-3") == (2, "negative register -3")
    assert register_refusal(header, "m,2026-01-01,3") == (2, "timestamp '2026-01-01' has no time of day")
    assert register_refusal(header) == (None, "no register reads after the header")
    assert register_refusal("meter,timestamp,value") == (
        1,
        "unknown column 'value'; expected 'meter,timestamp,register' and optionally unit, serial, quality",
    )


# Refusals: file, line, reason


def test_a_header_without_a_meter_column_is_refused() -> None:
    assert interval_refusal("start,value", "2026-01-01T00:00Z,1") == (
        1,
        "no header: expected 'meter,start,value' as the first line, got 'start,value'",
    )


def test_a_header_lacking_a_column_is_refused() -> None:
    assert interval_refusal("meter,start") == (1, "the header lacks value; expected 'meter,start,value'")


def test_an_empty_file_is_refused() -> None:
    assert interval_refusal() == (None, "empty file; expected the header 'meter,start,value'")
    assert interval_refusal("meter,start,value") == (None, "no readings after the header")


def test_a_malformed_number_is_named_by_line() -> None:
    header, first = "meter,start,value", "m,2026-01-01T00:00Z,1"
    assert interval_refusal(header, first, "m,2026-01-01T00:15Z,1,5") == (
        3,
        "expected 3 fields (meter,start,value), got 4",
    )
    assert interval_refusal(header, first, "m,2026-01-01T00:15Z,1e3") == (
        3,
        "value '1e3' is not a decimal number (digits, optionally a point and digits)",
    )
    assert interval_refusal(header, first, "m,2026-01-01T00:15Z,0.1234567891") == (
        3,
        "value 0.1234567891 has more than 9 decimal places",
    )
    assert interval_refusal(header, first, "m,2026-01-01T00:15Z,1000000000000000") == (
        3,
        "value 1000000000000000 is too large (the limit is 10^15)",
    )


def test_an_unknown_unit_or_quality_is_refused() -> None:
    header = "meter,start,value,unit,quality"
    assert interval_refusal(header, "m,2026-01-01T00:00Z,1,furlongs,A")[1].startswith(
        "unknown unit 'furlongs'; meter data units are Wh, kWh, MWh"
    )
    assert interval_refusal(header, "m,2026-01-01T00:00Z,1,kWh,V") == (
        2,
        "quality 'V' is not one of the NEM12 flags A, E, S, F, N",
    )


def test_a_meter_changing_its_unit_is_refused() -> None:
    assert interval_refusal(
        "meter,start,value,unit", "m,2026-01-01T00:00Z,1,kWh", "m,2026-01-01T00:15Z,1,Wh"
    ) == (3, "meter 'm' is in Wh here but in kWh on line 2; a meter has one unit")


def test_an_empty_meter_id_is_refused() -> None:
    assert interval_refusal("meter,start,value", ",2026-01-01T00:00Z,1") == (2, "empty meter id")


def test_without_an_end_column_a_meters_rows_must_be_in_time_order() -> None:
    assert interval_refusal(
        "meter,start,value", "m,2026-01-01T00:15Z,1", "other,2026-01-01T00:00Z,1", "m,2026-01-01T00:00Z,1"
    ) == (
        4,
        "meter 'm' starts 2026-01-01T00:00:00+00:00, before its row on line 2 (2026-01-01T00:15:00+00:00); "
        "without an end column a meter's rows must be in time order",
    )


def test_a_single_interval_has_no_length_to_infer() -> None:
    assert interval_refusal("meter,start,value", "m,2026-01-01T00:00Z,1", "m,2026-01-01T00:00Z,1") == (
        2,
        "meter 'm' has a single interval start: its length cannot be inferred; give at least two intervals, "
        "or an end column",
    )


def test_an_inferred_length_must_be_an_interval_length() -> None:
    assert interval_refusal("meter,start,value", "m,2026-01-01T00:00Z,1", "m,2026-01-01T00:10Z,1") == (
        2,
        "meter 'm': its rows are 10 min apart; interval lengths are 1, 5, 15, 30, 60 min (give an end "
        "column for others)",
    )


def test_a_step_that_is_no_whole_number_of_intervals_is_refused() -> None:
    assert interval_refusal(
        "meter,start,value",
        "m,2026-01-01T00:00Z,1",
        "m,2026-01-01T00:15Z,1",
        "m,2026-01-01T00:30Z,1",
        "m,2026-01-01T00:50Z,1",
    ) == (
        5,
        "meter 'm' starts 20 min after its row on line 4, not a whole number of its 15 min intervals "
        "(inferred from its first rows; give an end column for intervals of other lengths)",
    )


def test_an_interval_that_ends_before_it_starts_is_refused() -> None:
    assert interval_refusal("meter,start,end,value", "m,2026-01-01T01:00Z,2026-01-01T00:00Z,1") == (
        2,
        "the interval ends (2026-01-01T00:00Z) before or when it starts (2026-01-01T01:00Z)",
    )


def test_a_naive_time_the_clocks_skip_is_refused() -> None:
    assert interval_refusal("meter,start,value", "m,2026-03-29T02:30,1") == (
        2,
        "start '2026-03-29T02:30' does not exist in Europe/Berlin (clocks skip it); add the offset",
    )


def test_progress_is_reported_as_the_lines_are_read() -> None:
    reports: list[tuple[int, int | None]] = []
    rows = ["meter,start,value\n", "m,2026-01-01T00:00Z,1\n", "m,2026-01-01T00:15Z,1\n"]
    size = sum(map(len, rows))
    read = read_meter_intervals_csv(
        iter(rows), UTC, "m.csv", progress=lambda done, total: reports.append((done, total)), total_bytes=size
    )
    assert len(list(read)) == 2
    assert reports == [(size, size)]
