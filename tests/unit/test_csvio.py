"""Reading usage CSV files: what a valid file is, and how each invalid one is refused (file, line, reason)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from meterbill.meterdata.csvio import (
    CsvFormatError,
    read_interval_csv,
    read_sessions_csv,
    read_usage_csv,
)
from meterbill.usage import IntervalSeries, Session
from tests.builders import BERLIN, UTC, D


def intervals(*rows: str) -> Iterator[str]:
    """The lines of a 'start,value' file, yielded one at a time as a file object would."""
    yield "start,value\n"
    for row in rows:
        yield row + "\n"


def read(*rows: str) -> IntervalSeries:
    return read_interval_csv(intervals(*rows), BERLIN, "kWh", "meter.csv")


def refusal(*lines: str) -> tuple[int | None, str]:
    with pytest.raises(CsvFormatError) as caught:
        read_interval_csv((line + "\n" for line in lines), BERLIN, "kWh", "meter.csv")
    assert caught.value.source == "meter.csv"
    return caught.value.line, caught.value.reason


# A valid file


def test_timestamps_with_offsets_are_those_instants_and_values_are_exact_integers() -> None:
    series = read_interval_csv(
        intervals(
            "2026-01-01T00:00:00+01:00,1.25", "2026-01-01T00:15:00+01:00,0.5", "2025-12-31T23:30:00Z,2"
        ),
        BERLIN,
        "kWh",
        "meter.csv",
    )
    assert series.start == datetime(2026, 1, 1, 0, 0, tzinfo=BERLIN)
    assert series.interval_minutes == 15
    assert (list(series.values), series.exponent, series.unit) == ([125, 50, 200], -2, "kWh")
    assert series.total() == D("1.25") + D("0.5") + D("2")


def test_rows_in_any_order_are_sorted_by_start() -> None:
    series = read("2026-01-01T00:30+01:00,3", "2026-01-01T00:00+01:00,1", "2026-01-01T00:15+01:00,2")
    assert series.start == datetime(2026, 1, 1, 0, 0, tzinfo=BERLIN)
    assert list(series.values) == [1, 2, 3]


def test_naive_timestamps_are_local_time_in_the_site_zone() -> None:
    series = read_interval_csv(intervals("2026-07-01T00:00,1", "2026-07-01T01:00,1"), BERLIN, "kWh", "m.csv")
    assert series.start == datetime(2026, 6, 30, 22, 0, tzinfo=UTC)  # Berlin summer time is UTC+2
    assert series.interval_minutes == 60


def test_a_naive_hour_across_the_autumn_change_is_read_through_its_offsets() -> None:
    # 25 October 2026: Berlin's clocks go back from 03:00 CEST to 02:00 CET; 02:30 happens twice.
    series = read(
        "2026-10-25T02:00:00+02:00,1",
        "2026-10-25T02:30:00+02:00,2",
        "2026-10-25T02:00:00+01:00,3",
        "2026-10-25T02:30:00+01:00,4",
    )
    assert series.start == datetime(2026, 10, 25, 0, 0, tzinfo=UTC)
    assert (series.interval_minutes, list(series.values)) == (30, [1, 2, 3, 4])


def test_blank_lines_spaces_and_a_byte_order_mark_are_tolerated() -> None:
    lines = [
        "\ufeffstart , value\n",
        "\n",
        " 2026-01-01T00:00+01:00 , 1.5 \n",
        "2026-01-01T00:05+01:00,0\n",
        "\n",
    ]
    series = read_interval_csv(lines, BERLIN, "kWh", "m.csv")
    assert (series.interval_minutes, list(series.values), series.exponent) == (5, [15, 0], -1)


def test_every_allowed_interval_length_is_read() -> None:
    for minutes in (1, 5, 15, 30, 60):
        second = datetime(2026, 1, 1, tzinfo=BERLIN) + timedelta(minutes=minutes)
        series = read("2026-01-01T00:00+01:00,1", f"{second.isoformat()},1")
        assert series.interval_minutes == minutes


def test_values_with_more_decimals_rescale_the_ones_read_before() -> None:
    series = read("2026-01-01T00:00+01:00,2", "2026-01-01T00:15+01:00,0.5", "2026-01-01T00:30+01:00,0.125")
    assert (list(series.values), series.exponent) == ([2000, 500, 125], -3)


def test_values_in_any_decimal_notation_are_read_exactly() -> None:
    series = read(
        "2026-01-01T00:00+01:00,1E+2",
        "2026-01-01T00:15+01:00,.25",
        "2026-01-01T00:30+01:00,3.",
        "2026-01-01T00:45+01:00,0.10",
    )
    assert (list(series.values), series.exponent) == ([10000, 25, 300, 10], -2)


# The header


def test_a_file_without_a_header_is_refused() -> None:
    assert refusal("2026-01-01T00:00+01:00,1") == (
        1,
        "no header: expected 'start,value' (or 'id,start,end') as the first line, "
        "got '2026-01-01T00:00+01:00,1'",
    )


def test_an_unknown_column_is_refused_by_name() -> None:
    assert refusal("start,value,meter") == (1, "unknown column 'meter'; expected the header 'start,value'")


def test_a_missing_column_is_refused() -> None:
    assert refusal("start") == (1, "the header lacks value; expected 'start,value'")


def test_an_empty_file_and_a_file_of_only_a_header_are_refused() -> None:
    assert refusal() == (None, "empty file; expected the header 'start,value' or 'id,start,end'")
    assert refusal("start,value") == (None, "no intervals after the header")


def test_a_sessions_file_is_not_an_interval_file() -> None:
    assert refusal("id,start,end") == (1, "expected the header 'start,value'")


# Rows


def test_a_row_with_a_wrong_number_of_fields_is_refused() -> None:
    assert refusal("start,value", "2026-01-01T00:00+01:00,1,kWh") == (
        2,
        "expected 2 fields (start,value), got 3",
    )


def test_a_value_of_a_petawatt_hour_or_more_is_refused() -> None:
    assert refusal("start,value", "2026-01-01T00:00+01:00,1E+15") == (
        2,
        "value 1E+15 is too large (the limit is 10^15)",
    )
    assert refusal("start,value", "2026-01-01T00:00+01:00," + "9" * 5000) == (
        2,
        f"value {'9' * 5000} is too large (the limit is 10^15)",
    )


def test_a_malformed_timestamp_is_refused() -> None:
    assert refusal("start,value", "2026-01-01T00:00+01:00,1", "1/1/2026 00:15,1") == (
        3,
        "start '1/1/2026 00:15' is not an ISO 8601 timestamp (e.g. 2026-01-01T00:15:00+01:00)",
    )


def test_a_date_without_a_time_is_refused() -> None:
    assert refusal("start,value", "2026-01-01,1") == (2, "start '2026-01-01' has no time of day")


def test_a_malformed_number_is_refused() -> None:
    assert refusal("start,value", "2026-01-01T00:00+01:00,1,5") == (
        2,
        "expected 2 fields (start,value), got 3",
    )
    assert refusal("start,value", "2026-01-01T00:00+01:00,1.2.3") == (
        2,
        "value '1.2.3' is not a decimal number",
    )


def test_nan_and_infinity_are_refused() -> None:
    assert refusal("start,value", "2026-01-01T00:00+01:00,NaN") == (2, "value 'NaN' is not a finite number")
    assert refusal("start,value", "2026-01-01T00:00+01:00,-Infinity") == (
        2,
        "value '-Infinity' is not a finite number",
    )


def test_a_negative_value_is_refused() -> None:
    assert refusal("start,value", "2026-01-01T00:00+01:00,1", "2026-01-01T00:15+01:00,-0.5") == (
        3,
        "negative value -0.5",
    )


def test_more_than_nine_decimal_places_are_refused() -> None:
    assert refusal("start,value", "2026-01-01T00:00+01:00,0.0000000001") == (
        2,
        "value 0.0000000001 has more than 9 decimal places",
    )


def test_a_naive_time_the_clocks_skip_is_refused() -> None:
    # 29 March 2026: Berlin's clocks jump from 02:00 to 03:00.
    assert refusal("start,value", "2026-03-29T02:30,1") == (
        2,
        "start '2026-03-29T02:30' does not exist in Europe/Berlin (clocks skip it); add the offset",
    )


def test_a_naive_time_that_happens_twice_is_refused() -> None:
    assert refusal("start,value", "2026-10-25T02:30,1") == (
        2,
        "start '2026-10-25T02:30' happens twice in Europe/Berlin (clocks go back); "
        "add the offset to say which",
    )


def test_an_unterminated_quote_is_refused() -> None:
    assert refusal("start,value", '"2026-01-01T00:00+01:00,1') == (2, "not valid CSV: unexpected end of data")


# The intervals together


def test_a_single_interval_is_refused_because_its_length_is_unknown() -> None:
    assert refusal("start,value", "2026-01-01T00:00+01:00,1") == (
        2,
        "a single interval: its length cannot be inferred; give at least two",
    )


def test_a_duplicate_interval_is_refused_naming_both_lines() -> None:
    assert refusal(
        "start,value", "2026-01-01T00:00+01:00,1", "2026-01-01T00:15+01:00,1", "2025-12-31T23:15:00Z,2"
    ) == (4, "duplicate interval starting 2026-01-01T00:15:00+01:00 (also on line 3)")


def test_overlapping_intervals_are_refused() -> None:
    assert refusal(
        "start,value",
        "2026-01-01T00:00+01:00,1",
        "2026-01-01T00:15+01:00,1",
        "2026-01-01T00:20+01:00,1",
        "2026-01-01T00:30+01:00,1",
    ) == (
        4,
        "overlapping intervals: the 15 min interval starting 2026-01-01T00:15:00+01:00 (line 3) "
        "overlaps the one starting 2026-01-01T00:20:00+01:00",
    )


def test_a_gap_is_refused_and_the_way_to_fill_it_named() -> None:
    assert refusal(
        "start,value",
        "2026-01-01T00:00+01:00,1",
        "2026-01-01T00:15+01:00,1",
        "2026-01-01T01:00+01:00,1",
        "2026-01-01T01:15+01:00,1",
    ) == (
        4,
        "gap: 2 missing intervals of 15 min between 2026-01-01T00:15:00+01:00 (line 3) and "
        "2026-01-01T01:00:00+01:00; `meterbill validate` fills gaps",
    )


def test_mixed_interval_lengths_are_refused() -> None:
    assert refusal(
        "start,value",
        "2026-01-01T00:00+01:00,1",
        "2026-01-01T00:15+01:00,1",
        "2026-01-01T00:30+01:00,1",
        "2026-01-01T00:45+01:00,1",
        "2026-01-01T01:45+01:00,1",
        "2026-01-01T02:45+01:00,1",
    ) == (
        6,
        "mixed interval lengths: 60 min from 2026-01-01T00:45:00+01:00 (line 5) on, 15 min elsewhere; "
        "all intervals must have the same length",
    )


def test_an_interval_start_off_the_grid_is_refused() -> None:
    assert refusal(
        "start,value", "2026-01-01T00:00+01:00,1", "2026-01-01T00:15+01:00,1", "2026-01-01T00:35+01:00,1"
    ) == (
        4,
        "mixed interval lengths: 2026-01-01T00:35:00+01:00 starts 20 min after the interval on line 3, "
        "not a multiple of 15 min",
    )


def test_an_interval_length_other_than_1_5_15_30_or_60_minutes_is_refused() -> None:
    assert refusal("start,value", "2026-01-01T00:00+01:00,1", "2026-01-01T00:10+01:00,1") == (
        None,
        "the intervals are 10 min long; allowed lengths: 1, 5, 15, 30, 60 min",
    )


def test_the_error_names_the_file_and_line() -> None:
    with pytest.raises(CsvFormatError) as caught:
        read("2026-01-01T00:00+01:00,1", "2026-01-01T00:15+01:00,-2")
    assert str(caught.value) == "meter.csv, line 3: negative value -2"


def test_the_file_is_streamed_row_by_row_and_reading_stops_at_the_first_bad_row() -> None:
    handed_out: list[int] = []

    def long_file() -> Iterator[str]:
        yield "start,value\n"
        for i in range(100_000):
            handed_out.append(i)
            start = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=15 * i)
            yield f"{start.isoformat()},{'-1' if i == 2 else '1'}\n"

    with pytest.raises(CsvFormatError, match="line 4: negative value -1"):
        read_interval_csv(long_file(), UTC, "kWh", "meter.csv")
    assert handed_out == [0, 1, 2]


# Sessions


def test_sessions_are_read_in_order_of_start() -> None:
    lines = [
        "id,start,end\n",
        "job-2,2026-01-02T10:00:00Z,2026-01-02T10:45:00Z\n",
        "job-1,2026-01-01T09:00,2026-01-01T09:30\n",  # naive: Berlin time
    ]
    assert read_sessions_csv(lines, BERLIN, "jobs.csv") == [
        Session(
            "job-1", datetime(2026, 1, 1, 9, 0, tzinfo=BERLIN), datetime(2026, 1, 1, 9, 30, tzinfo=BERLIN)
        ),
        Session("job-2", datetime(2026, 1, 2, 10, 0, tzinfo=UTC), datetime(2026, 1, 2, 10, 45, tzinfo=UTC)),
    ]


def test_a_session_id_given_twice_is_refused() -> None:
    lines = [
        "id,start,end\n",
        "a,2026-01-01T09:00Z,2026-01-01T10:00Z\n",
        "a,2026-01-02T09:00Z,2026-01-02T10:00Z\n",
    ]
    with pytest.raises(CsvFormatError) as caught:
        read_sessions_csv(lines, UTC, "jobs.csv")
    assert str(caught.value) == "jobs.csv, line 3: session 'a' already appears on line 2"


def test_a_session_ending_before_it_starts_is_refused() -> None:
    lines = ["id,start,end\n", "a,2026-01-01T10:00Z,2026-01-01T09:00Z\n"]
    with pytest.raises(CsvFormatError) as caught:
        read_sessions_csv(lines, UTC, "jobs.csv")
    assert str(caught.value) == (
        "jobs.csv, line 2: session 'a' ends (2026-01-01T09:00Z) before it starts (2026-01-01T10:00Z)"
    )


# Either kind, by its header


def test_the_header_says_whether_a_file_holds_intervals_or_sessions() -> None:
    usage = read_usage_csv(
        ["start,value\n", "2026-01-01T00:00Z,1\n", "2026-01-01T01:00Z,2\n"], UTC, "kWh", "u.csv"
    )
    assert usage.series is not None and usage.series.total() == D("3") and usage.sessions == ()
    usage = read_usage_csv(["id,start,end\n", "a,2026-01-01T00:00Z,2026-01-01T01:00Z\n"], UTC, "kWh", "u.csv")
    assert usage.series is None and [s.seconds for s in usage.sessions] == [3600]
