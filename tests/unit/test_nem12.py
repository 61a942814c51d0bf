"""Reading AEMO NEM12 files: what a valid file yields, and how a bad one is refused (file, line, reason)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from pathlib import Path

import pytest

from meterbill.meterdata.importing import (
    ImportFormatError,
    ProgressMeter,
    detect_format,
    read_all_or_nothing,
)
from meterbill.meterdata.nem12 import NEM_TIME, read_nem12, validate_nem12
from meterbill.meterdata.readings import IntervalReading

D = Decimal
FIXTURE = Path(__file__).parents[1] / "data" / "nem12" / "two_nmis_two_channels.csv"
HEADER = "100,NEM12,202601150930,MDP1,RETAILER1"
CHANNEL_30 = "200,NEM1201001,E1Q1,1,E1,N1,METER001,kWh,30,20260201"
END = "900"


def day(interval_date: str, values: str, quality: str = "A,,,20260102030405,") -> str:
    """A 300 record; ``values`` like ``48*0.5`` (48 values of 0.5) or ``2*1,46*0`` for runs."""
    runs = [run.split("*") for run in values.split(",")]
    values_written = (value for count, value in runs for _ in range(int(count)))
    return ",".join(["300", interval_date, *values_written, quality])


def read(*records: str) -> list[IntervalReading]:
    return list(read_nem12((record + "\n" for record in records), "meter.csv"))


def refusal(*records: str) -> tuple[int, str]:
    with pytest.raises(ImportFormatError) as caught:
        read(*records)
    assert caught.value.source == "meter.csv"
    return caught.value.line, caught.value.reason


@pytest.fixture(scope="module")
def fixture_readings() -> list[IntervalReading]:
    with FIXTURE.open(newline="") as lines:
        return list(read_nem12(lines, FIXTURE.name))


def of(readings: list[IntervalReading], meter: str) -> list[IntervalReading]:
    return [reading for reading in readings if reading.meter == meter]


# A valid file: the hand-made two_nmis_two_channels.csv


def test_every_channel_of_every_nmi_is_a_meter_named_nmi_dash_suffix(
    fixture_readings: list[IntervalReading],
) -> None:
    assert Counter((r.meter, r.unit) for r in fixture_readings) == {
        ("NEM1201001-E1", "kWh"): 2 * 48,
        ("NEM1201001-Q1", "kVArh"): 48,
        ("NEM1201002-E1", "kWh"): 288,  # the file says KWH
        ("NEM1201002-B1", "kWh"): 288,
    }


def test_a_30_minute_day_is_48_intervals_from_midnight_nem_time(
    fixture_readings: list[IntervalReading],
) -> None:
    first_day = of(fixture_readings, "NEM1201001-E1")[:48]
    assert first_day[0].start == datetime(2026, 1, 1, 0, 0, tzinfo=NEM_TIME)
    assert first_day[0].start == datetime(2025, 12, 31, 14, 0, tzinfo=UTC)
    assert first_day[0].end == datetime(2026, 1, 1, 0, 30, tzinfo=NEM_TIME)
    assert first_day[-1].end == datetime(2026, 1, 2, 0, 0, tzinfo=NEM_TIME)
    assert all(r.end - r.start == timedelta(minutes=30) for r in first_day)
    assert [r.value for r in first_day] == [D("0.500")] * 48


def test_a_5_minute_day_is_288_intervals(fixture_readings: list[IntervalReading]) -> None:
    readings = of(fixture_readings, "NEM1201002-E1")
    assert readings[0].start == datetime(2026, 1, 1, 0, 0, tzinfo=NEM_TIME)
    assert readings[1].start == datetime(2026, 1, 1, 0, 5, tzinfo=NEM_TIME)
    assert readings[-1].end == datetime(2026, 1, 2, 0, 0, tzinfo=NEM_TIME)
    assert sum(r.value for r in readings) == 288 * D("0.010")


def test_values_are_the_exact_decimals_written_in_the_file(fixture_readings: list[IntervalReading]) -> None:
    export = of(fixture_readings, "NEM1201002-B1")
    assert [str(r.value) for r in export[94:98]] == ["0", "0", "0.020", "0.020"]
    assert sum(r.value for r in export) == 192 * D("0.020")


def test_the_quality_of_a_300_record_applies_to_all_its_intervals(
    fixture_readings: list[IntervalReading],
) -> None:
    assert {(r.quality, r.method, r.reason) for r in of(fixture_readings, "NEM1201001-Q1")} == {
        ("E", "52", None)
    }
    assert {(r.quality, r.method, r.reason) for r in of(fixture_readings, "NEM1201002-B1")} == {
        ("F", "14", "76")
    }
    assert {(r.quality, r.method, r.reason) for r in of(fixture_readings, "NEM1201002-E1")} == {
        ("A", None, None)
    }


def test_quality_v_takes_each_intervals_quality_from_the_400_records(
    fixture_readings: list[IntervalReading],
) -> None:
    second_day = of(fixture_readings, "NEM1201001-E1")[48:]
    by_quality: dict[tuple[str, str | None, str | None], list[int]] = {}
    for interval, reading in enumerate(second_day, start=1):
        by_quality.setdefault((reading.quality, reading.method, reading.reason), []).append(interval)
    assert {key: (intervals[0], intervals[-1]) for key, intervals in by_quality.items()} == {
        ("A", None, None): (1, 20),
        ("E", "52", None): (21, 24),
        ("S", "14", "79"): (25, 40),
        ("F", "14", "0: Meter replaced"): (41, 48),
    }
    assert sum(r.value for r in second_day) == 20 * D("1") + 4 * D("0.5") + 16 * D("0.25") + 8 * D("0.125")


def test_500_records_are_ignored() -> None:
    without_500 = [line for line in FIXTURE.read_text().splitlines() if not line.startswith("500,")]
    with FIXTURE.open(newline="") as lines:
        assert list(read_nem12(lines, "with")) == list(read_nem12(without_500, "without"))


def test_nem_time_is_utc_plus_10_all_year_without_daylight_saving() -> None:
    # Sydney's clocks are UTC+11 in January, UTC+10 in July; NEM time stays UTC+10.
    january, july = (read(HEADER, CHANNEL_30, day(d, "48*1"), END)[0] for d in ("20260115", "20260715"))
    assert january.start == datetime(2026, 1, 14, 14, 0, tzinfo=UTC)
    assert july.start == datetime(2026, 7, 14, 14, 0, tzinfo=UTC)
    assert january.start.utcoffset() == july.start.utcoffset() == timedelta(hours=10)


def test_a_15_minute_day_is_96_intervals() -> None:
    readings = read(HEADER, "200,NEM1201003,E1,1,E1,N1,M3,Wh,15,", day("20260101", "96*250"), END)
    assert (len(readings), readings[0].end - readings[0].start, readings[0].unit) == (
        96,
        timedelta(minutes=15),
        "Wh",
    )


def test_units_are_read_in_any_case_and_stored_as_the_spec_spells_them() -> None:
    channels = [
        f"200,NEM1201001,E1Q1,1,{suffix},,M1,{unit},30," for suffix, unit in [("E1", "KWH"), ("Q1", "kvarh")]
    ]
    readings = read(HEADER, channels[0], day("20260101", "48*1"), channels[1], day("20260101", "48*1"), END)
    assert {r.unit for r in readings} == {"kWh", "kVArh"}


def test_records_padded_with_empty_fields_and_12_digit_update_times_are_read() -> None:
    padded = [HEADER + "," * 40, CHANNEL_30 + "," * 40, day("20260101", "48*1", "A,,,202601020304"), END]
    assert len(read(*padded)) == 48


def test_blank_lines_are_skipped() -> None:
    # This test also read a file of only a header and an end as valid and empty; issue 8 (item 11) makes that
    # an error ("no 200 record"): see tests/unit/test_meterdata_edges.py.
    readings = read(HEADER, "", CHANNEL_30, "", day("20260101", "48*1"), "", END, "")
    assert (len(readings), sum(r.value for r in readings)) == (48, 48 * D(1))


def test_a_day_is_yielded_once_the_record_after_it_is_read() -> None:
    lines_read: list[int] = []

    def lines() -> Iterator[str]:
        for number, record in enumerate(
            [HEADER, CHANNEL_30, day("20260101", "48*1"), day("20260102", "48*2"), END], 1
        ):
            lines_read.append(number)
            yield record

    readings = read_nem12(lines(), "meter.csv")
    next(readings)
    assert lines_read[-1] == 4  # day 1 needed line 4 to know no 400 record follows it
    assert len(list(readings)) == 47 + 48


def test_progress_is_reported_at_least_every_mib_and_once_at_the_end() -> None:
    channel = "200,NEM1201002,E1,1,E1,N1,M2,kWh,5,"
    days = (date(2026, 1, 1) + timedelta(days=n) for n in range(730))
    records = [HEADER, channel, *(day(f"{d:%Y%m%d}", "288*1.234567") for d in days), END]
    lines = [record + "\r\n" for record in records]
    total = sum(map(len, lines))
    calls: list[tuple[int, int | None]] = []
    for _ in read_nem12(
        lines, "meter.csv", progress=lambda done, size: calls.append((done, size)), total_bytes=total
    ):
        pass
    done = [0] + [done for done, _ in calls]
    assert total > 2**20 + 2**19
    assert calls[-1] == (total, total)
    assert all(0 < later - earlier <= 2**20 + len(lines[2]) for earlier, later in pairwise(done))


def test_the_progress_meter_reports_after_a_mib_or_a_second_whichever_comes_first() -> None:
    now = [0.0]
    calls: list[tuple[int, int | None]] = []
    meter = ProgressMeter(lambda done, size: calls.append((done, size)), 5 << 20, clock=lambda: now[0])
    meter.advance(600_000)  # nothing yet: under a MiB, no time passed
    meter.advance(600_000)  # 1,200,000 bytes: over a MiB
    now[0] = 0.5
    meter.advance(1_000)
    now[0] = 1.5
    meter.advance(1_000)  # a second since the last report
    meter.finish()
    meter.finish()  # nothing new: no second final report
    assert calls == [(1_200_000, 5 << 20), (1_202_000, 5 << 20)]


# Format detection


@pytest.mark.parametrize(
    ("first_bytes", "expected"),
    [
        (b"100,NEM12,200506081149,UNITEDDP,NEMMCO\r\n200,NEM1201009,...", "nem12"),
        (b"\xef\xbb\xbf100,nem12,200506081149,A,B\n", "nem12"),
        (b"\r\n200,VABD000163,E1Q1,1,E1,N1,METSER123,kWh,30,\r\n", "nem12"),  # headerless: the reader says so
        (b"start,value\n2026-01-01T00:00:00+01:00,1.5\n", "csv"),
        (b"\xef\xbb\xbfId,Start,End\n", "csv"),
    ],
)
def test_the_format_is_detected_from_content_not_the_file_name(first_bytes: bytes, expected: str) -> None:
    assert detect_format(first_bytes) == expected


def test_unknown_content_is_refused_with_what_was_expected() -> None:
    with pytest.raises(ImportFormatError) as caught:
        detect_format(b"timestamp;kwh\n", "export.txt")
    assert str(caught.value) == (
        "export.txt:1: unknown format: expected a NEM12 file (100,NEM12,...), a Green Button XML feed or a "
        "CSV with the header 'start,value', got 'timestamp;kwh'"
    )


def test_a_nem13_file_is_recognised_and_refused() -> None:
    with pytest.raises(ImportFormatError) as caught:
        detect_format(b"100,NEM13,200401101030,MDA1,Ret1\n", "reads.csv")
    assert (
        caught.value.reason
        == "a NEM13 file (accumulated meter reads); only NEM12 interval data can be imported"
    )


# Invalid files: the line at fault and the reason


def test_an_error_reads_source_colon_line_colon_reason() -> None:
    with pytest.raises(ImportFormatError) as caught:
        read(CHANNEL_30)
    assert str(caught.value) == (
        "meter.csv:1: the file must start with a 100 header record (100,NEM12,...), "
        "got '200,NEM1201001,E1Q1,1,E1,N1,METER001,kWh'"
    )


def test_a_file_without_a_100_header_is_refused_at_its_first_record() -> None:
    assert refusal("", CHANNEL_30, day("20260101", "48*1"), END)[0] == 2


def test_an_empty_file_is_refused() -> None:
    assert refusal() == (1, "empty file: a NEM12 file starts with a 100 header record")


def test_a_file_without_a_900_end_record_is_refused_at_its_last_line() -> None:
    assert refusal(HEADER, CHANNEL_30, day("20260101", "48*1"), "") == (
        3,
        "the file ends without a 900 end-of-data record",
    )


def test_a_record_after_the_900_end_record_is_refused() -> None:
    assert refusal(HEADER, END, CHANNEL_30) == (3, "a record after the 900 end-of-data record on line 2")


def test_a_second_header_is_refused() -> None:
    assert refusal(HEADER, HEADER, END) == (2, "a second 100 header record (the first is on line 1)")


def test_a_300_record_before_any_200_record_is_refused() -> None:
    assert refusal(HEADER, day("20260101", "48*1"), END) == (
        2,
        "a 300 interval data record before any 200 NMI data details record",
    )


def test_a_day_with_too_few_interval_values_is_refused() -> None:
    assert refusal(HEADER, CHANNEL_30, day("20260101", "47*1"), END) == (
        3,
        "expected 48 interval values (30-minute intervals, 200 record on line 2), got 47",
    )


def test_a_day_of_15_minute_values_on_a_30_minute_channel_is_refused() -> None:
    assert refusal(HEADER, CHANNEL_30, day("20260101", "96*1"), END) == (
        3,
        "expected 48 interval values (30-minute intervals, 200 record on line 2), got 96",
    )


def test_a_day_without_a_quality_method_is_refused() -> None:
    assert refusal(HEADER, CHANNEL_30, "300,20260101,1,2,3", END) == (
        3,
        "expected 48 interval values (30-minute intervals, 200 record on line 2), got 3 and no QualityMethod",
    )


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        ("2*1,1*0.5x,45*1", "interval 3: value '0.5x' is not a number"),
        ("2*1,1*1_000,45*1", "interval 3: value '1_000' is not a number"),
        ("2*1,1*NaN,45*1", "interval 3: value 'NaN' is not a number"),
        ("2*1,1*1e3,45*1", "interval 3: value '1e3' is not a number"),
        ("2*1,1*-0.5,45*1", "interval 3: negative value -0.5"),
        ("2*1,1*,45*1", "interval 3 has no value"),
    ],
)
def test_a_malformed_value_is_refused_with_its_interval(values: str, reason: str) -> None:
    assert refusal(HEADER, CHANNEL_30, day("20260101", values), END) == (3, reason)


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        (day("20260230", "48*1"), "IntervalDate '20260230' is not a date (CCYYMMDD)"),
        (day("2026-01-01", "48*1"), "IntervalDate '2026-01-01' is not a date (CCYYMMDD)"),
        (
            day("20260101", "48*1", "A,,,20260102250000,"),
            "UpdateDateTime '20260102250000' is not a date and time (CCYYMMDDhhmm or CCYYMMDDhhmmss)",
        ),
    ],
)
def test_a_malformed_date_is_refused(record: str, reason: str) -> None:
    assert refusal(HEADER, CHANNEL_30, record, END) == (3, reason)


def test_a_malformed_header_date_is_refused() -> None:
    assert refusal("100,NEM12,2026011509,MDP1,RETAILER1", END) == (
        1,
        "DateTime '2026011509' is not a date and time (CCYYMMDDhhmm)",
    )


def test_an_unknown_unit_is_refused_with_the_spec_units() -> None:
    assert refusal(HEADER, "200,NEM1201001,E1,1,E1,N1,M1,kWhr,30,", END) == (
        2,
        "unknown unit of measure 'kWhr'; NEM12 units are MWh, kWh, Wh, MVArh, kVArh, VArh, MVAh, kVAh, VAh, "
        "MW, kW, W, MVAr, kVAr, VAr, MVA, kVA, VA, kV, V, kA, A, pf",
    )


def test_an_interval_length_other_than_5_15_or_30_minutes_is_refused() -> None:
    assert refusal(HEADER, "200,NEM1201001,E1,1,E1,N1,M1,kWh,10,", END) == (
        2,
        "interval length '10'; NEM12 intervals are 5, 15, 30 minutes",
    )


def test_a_channel_without_nmi_suffix_is_refused() -> None:
    assert refusal(HEADER, "200,NEM1201001,E1,1,,N1,M1,kWh,30,", END) == (
        2,
        "the 200 record for NMI NEM1201001 has no NMISuffix",
    )


def test_an_unknown_quality_flag_is_refused() -> None:
    assert refusal(HEADER, CHANNEL_30, day("20260101", "48*1", "X,,,,"), END) == (
        3,
        "QualityMethod 'X': expected a quality flag (A, E, F, N, S or V) and a method",
    )
    assert refusal(HEADER, CHANNEL_30, day("20260101", "48*1", "E5,,,,"), END) == (
        3,
        "QualityMethod 'E5': the method flag after E must be two digits",
    )


def test_an_unknown_record_is_refused() -> None:
    assert refusal(HEADER, "250,NEM1201001,E1", END) == (
        2,
        "a NEM13 250 record: only NEM12 interval data can be imported",
    )
    assert refusal(HEADER, "37,26,50", END) == (
        2,
        "unknown record indicator '37'; NEM12 records are 100, 200, 300, 400, 500 and 900",
    )


# Invalid files: 400 records


def test_quality_v_without_400_records_is_refused_at_its_300_record() -> None:
    assert refusal(HEADER, CHANNEL_30, day("20260101", "48*1", "V,,,,"), END) == (
        3,
        "quality V (variable) but no 400 records follow to give the intervals' quality",
    )


def test_400_records_that_do_not_cover_the_day_are_refused_at_the_last() -> None:
    assert refusal(HEADER, CHANNEL_30, day("20260101", "48*1", "V,,,,"), "400,1,40,A,,", END) == (
        4,
        "the 400 records cover intervals 1-40 of 48; every interval needs one",
    )


def test_400_records_with_a_gap_or_overlap_are_refused() -> None:
    v_day = day("20260101", "48*1", "V,,,,")
    assert refusal(HEADER, CHANNEL_30, v_day, "400,1,20,A,,", "400,22,48,E52,,", END) == (
        5,
        "the 400 record starts at interval 22; expected interval 21, the one after the previous 400 record",
    )
    assert refusal(HEADER, CHANNEL_30, v_day, "400,2,48,A,,", END) == (
        4,
        "the 400 record starts at interval 2; expected interval 1",
    )


def test_a_400_record_past_the_last_interval_is_refused() -> None:
    assert refusal(HEADER, CHANNEL_30, day("20260101", "48*1", "V,,,,"), "400,1,96,A,,", END) == (
        4,
        "EndInterval '96' is not an interval number from 1 to 48",
    )


def test_a_400_record_after_a_day_that_is_not_variable_is_refused() -> None:
    assert refusal(HEADER, CHANNEL_30, day("20260101", "48*1"), "400,1,48,A,,", END) == (
        4,
        "a 400 interval event record must follow a 300 record whose quality is V",
    )


def test_a_400_record_of_quality_v_is_refused() -> None:
    assert refusal(HEADER, CHANNEL_30, day("20260101", "48*1", "V,,,,"), "400,1,48,V,,", END) == (
        4,
        "quality V (variable) in a 400 record; a 400 record gives its intervals one quality",
    )


# All or nothing


def test_streaming_yields_the_good_days_before_the_fault_but_all_or_nothing_yields_none() -> None:
    records = [HEADER, CHANNEL_30, day("20260101", "48*1"), day("20260102", "47*1"), END]
    streamed: list[IntervalReading] = []
    with pytest.raises(ImportFormatError):
        streamed.extend(read_nem12(records, "meter.csv"))
    assert len(streamed) == 48

    checked: list[IntervalReading] = []
    with pytest.raises(ImportFormatError) as caught:
        checked.extend(read_all_or_nothing(lambda: read_nem12(records, "meter.csv")))
    assert (checked, caught.value.line) == ([], 4)


def test_validating_counts_and_totals_what_a_second_read_then_yields() -> None:
    with FIXTURE.open(newline="") as file:
        summary = validate_nem12(file, FIXTURE.name)
    lines = FIXTURE.read_text().splitlines(keepends=True)
    readings = list(read_all_or_nothing(lambda: read_nem12(lines, FIXTURE.name)))
    assert summary.readings == len(readings) == 2 * 48 + 48 + 288 + 288
    first_day, second_day = 48 * D("0.5"), 20 * D("1") + 4 * D("0.5") + 16 * D("0.25") + 8 * D("0.125")
    assert summary.totals == {
        ("NEM1201001-E1", "kWh"): first_day + second_day,
        ("NEM1201001-Q1", "kVArh"): 48 * D("0.25"),
        ("NEM1201002-E1", "kWh"): 288 * D("0.01"),
        ("NEM1201002-B1", "kWh"): 192 * D("0.02"),
    }
    assert (summary.first_start, summary.last_end) == (
        datetime(2026, 1, 1, tzinfo=NEM_TIME),
        datetime(2026, 1, 3, tzinfo=NEM_TIME),
    )
