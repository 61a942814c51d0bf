"""`meterbill convert FILE`: any meter data file in, one CSV row per interval out.

The output's header is meter,start,end,value,unit,quality; times are ISO 8601 with their UTC offset and values
are exact as the file gives them. An invalid file exits 2 with one line on stderr (file:line: reason) and
nothing on stdout, however far into the file the fault is."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from meterbill.cli import main
from meterbill.cli.meterdata import IntervalRows
from meterbill.meterdata.readings import IntervalReading

DATA = Path(__file__).parents[1] / "data"
NEM12_FILE = DATA / "nem12/two_nmis_two_channels.csv"
GREEN_BUTTON_FILE = DATA / "greenbutton/linked_feed.xml"
PACKAGE_ROOT = Path(__file__).parents[2] / "layers/common/python"
HEADER = "meter,start,end,value,unit,quality"
NEM12_HEADER = "100,NEM12,202601150930,MDP1,RETAILER1"
NEM12_CHANNEL = "200,NEM1201009,E1,1,E1,N1,METER9,kWh,30,"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str], str]:
    """Exit code, stdout lines, stderr."""
    code = main(["convert", *argv])
    out, err = capsys.readouterr()
    return code, out.splitlines(), err


def write(directory: Path, name: str, *lines: str) -> str:
    path = directory / name
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return str(path)


def nem12_day(day: str, value: str, quality: str = "A") -> str:
    """A 300 record of 48 half-hours, each ``value``."""
    return f"300,{day},{','.join([value] * 48)},{quality},,,20260102030405,"


def rows_of(lines: list[str], meter: str) -> list[str]:
    return [line for line in lines if line.startswith(f"{meter},")]


# NEM12


def test_a_nem12_file_gives_one_row_per_interval_of_each_nmi_channel(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, lines, err = run(capsys, str(NEM12_FILE))
    assert (code, err, lines[0]) == (0, "", HEADER)
    # two days of 30-minute intervals, one day of 30-minute reactive energy, two channels of 5-minute ones
    counts = {meter: len(rows_of(lines, meter)) for meter in ("NEM1201001-E1", "NEM1201001-Q1")}
    assert counts == {"NEM1201001-E1": 2 * 48, "NEM1201001-Q1": 48}
    assert len(rows_of(lines, "NEM1201002-E1")) == len(rows_of(lines, "NEM1201002-B1")) == 24 * 12
    assert len(lines) == 1 + 2 * 48 + 48 + 2 * 24 * 12
    assert [rows_of(lines, meter)[0] for meter in ("NEM1201001-Q1", "NEM1201002-E1", "NEM1201002-B1")] == [
        "NEM1201001-Q1,2026-01-01T00:00:00+10:00,2026-01-01T00:30:00+10:00,0.250,kVArh,E",
        "NEM1201002-E1,2026-01-01T00:00:00+10:00,2026-01-01T00:05:00+10:00,0.010,kWh,A",  # the file says KWH
        "NEM1201002-B1,2026-01-01T00:00:00+10:00,2026-01-01T00:05:00+10:00,0,kWh,F",
    ]
    assert lines[-1] == "NEM1201002-B1,2026-01-01T23:55:00+10:00,2026-01-02T00:00:00+10:00,0.020,kWh,F"


def test_a_nem12_day_of_variable_quality_gives_each_interval_the_flag_of_its_400_record(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, lines, _ = run(capsys, str(NEM12_FILE))
    second_day = rows_of(lines, "NEM1201001-E1")[48:]
    # 400,1,20,A  400,21,24,E52  400,25,40,S14,79  400,41,48,F14,0: intervals 20|21, 24|25 and 40|41
    assert [second_day[i] for i in (19, 20, 23, 24, 39, 40)] == [
        "NEM1201001-E1,2026-01-02T09:30:00+10:00,2026-01-02T10:00:00+10:00,1.000,kWh,A",
        "NEM1201001-E1,2026-01-02T10:00:00+10:00,2026-01-02T10:30:00+10:00,0.500,kWh,E",
        "NEM1201001-E1,2026-01-02T11:30:00+10:00,2026-01-02T12:00:00+10:00,0.500,kWh,E",
        "NEM1201001-E1,2026-01-02T12:00:00+10:00,2026-01-02T12:30:00+10:00,0.250,kWh,S",
        "NEM1201001-E1,2026-01-02T19:30:00+10:00,2026-01-02T20:00:00+10:00,0.250,kWh,S",
        "NEM1201001-E1,2026-01-02T20:00:00+10:00,2026-01-02T20:30:00+10:00,0.125,kWh,F",
    ]


@pytest.mark.parametrize("name", ["NEM12#000123#MDP1#RETAILER1.V01", "NEM12_DATA", "usage.txt", "day.mdff"])
def test_a_nem12_file_is_recognised_by_its_content_whatever_its_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    renamed = tmp_path / name
    shutil.copyfile(NEM12_FILE, renamed)
    assert run(capsys, str(renamed)) == run(capsys, str(NEM12_FILE), "--format", "nem12")


# Green Button


def test_a_green_button_feed_converts_to_kwh_with_utc_times(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, str(GREEN_BUTTON_FILE)) == (
        0,
        [
            HEADER,
            # MeterReading 1: Wh (uom 72, powerOfTenMultiplier 0): 1200 Wh = 1.200 kWh, the second estimated
            "1-1,2025-01-01T08:00:00+00:00,2025-01-01T09:00:00+00:00,1.200,kWh,A",
            "1-1,2025-01-01T09:00:00+00:00,2025-01-01T10:00:00+00:00,0.800,kWh,E",
            "1-1,2025-01-01T10:00:00+00:00,2025-01-01T11:00:00+00:00,1.000,kWh,A",
            # MeterReading 2: mWh (powerOfTenMultiplier -3): 250000 mWh = 0.250000 kWh
            "1-2,2025-01-01T15:00:00+00:00,2025-01-01T16:00:00+00:00,0.250000,kWh,A",
            "1-2,2025-01-01T16:00:00+00:00,2025-01-01T17:00:00+00:00,0.500000,kWh,A",
        ],
        "",
    )


def test_a_green_button_feed_without_an_extension_is_recognised(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    renamed = tmp_path / "download"
    shutil.copyfile(GREEN_BUTTON_FILE, renamed)
    assert run(capsys, str(renamed)) == run(capsys, str(GREEN_BUTTON_FILE))


# CSV


def test_a_meter_csv_converts_with_naive_times_in_the_zone_given(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(
        tmp_path,
        "meters.csv",
        "meter,start,value",
        "hall,2026-03-29T00:00,1.250",
        "hall,2026-03-29T01:00,0.5",
        "hall,2026-03-29T03:00,0.750",  # the clocks skip 02:00-03:00: an hour later, not two
        "pump,2026-03-29T00:00,2",
        "pump,2026-03-29T00:30,2",
    )
    assert run(capsys, path, "--tz", "Europe/Berlin") == (
        0,
        [
            HEADER,
            "hall,2026-03-29T00:00:00+01:00,2026-03-29T01:00:00+01:00,1.250,kWh,A",
            "hall,2026-03-29T01:00:00+01:00,2026-03-29T03:00:00+02:00,0.5,kWh,A",
            "hall,2026-03-29T03:00:00+02:00,2026-03-29T04:00:00+02:00,0.750,kWh,A",
            "pump,2026-03-29T00:00:00+01:00,2026-03-29T00:30:00+01:00,2,kWh,A",
            "pump,2026-03-29T00:30:00+01:00,2026-03-29T01:00:00+01:00,2,kWh,A",
        ],
        "",
    )


def test_a_meter_csv_with_all_the_columns_reads_back_what_convert_writes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, converted, _ = run(capsys, str(GREEN_BUTTON_FILE))
    again = write(tmp_path, "converted.csv", *converted)
    assert run(capsys, again) == (0, converted, "")


def test_a_rating_csv_converts_for_the_meter_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "usage.csv", "start,value", "2026-01-01T00:00Z,1.5", "2026-01-01T00:15Z,2")
    assert run(capsys, path, "--meter", "hall", "--unit", "m3") == (
        0,
        [
            HEADER,
            "hall,2026-01-01T00:00:00+00:00,2026-01-01T00:15:00+00:00,1.5,m3,A",
            "hall,2026-01-01T00:15:00+00:00,2026-01-01T00:30:00+00:00,2.0,m3,A",
        ],
        "",
    )
    code, lines, err = run(capsys, path)
    assert (code, lines) == (2, [])
    assert err == (
        f"meterbill convert: {path}: a 'start,value' file names no meter; give --meter ID, or write the file "
        "as 'meter,start,value'\n"
    )


def test_values_are_written_as_plain_decimals_never_in_scientific_notation() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    rows = IntervalRows()
    written = [
        rows.row(IntervalReading("m", start, start + timedelta(hours=1), Decimal(text), "kWh"))[3]
        for text in ("5E+3", "1E-7", "0.500")
    ]
    assert written == ["5000", "0.0000001", "0.500"]


# Refusals: exit 2, nothing on stdout, one line on stderr


def test_a_bad_number_deep_in_a_nem12_file_refuses_the_whole_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad_day = nem12_day("20260102", "0.500").replace("0.500", "0.5x0", 1)
    path = write(
        tmp_path, "NEM12.V01", NEM12_HEADER, NEM12_CHANNEL, nem12_day("20260101", "0.500"), bad_day, "900"
    )
    assert run(capsys, path) == (
        2,
        [],
        f"meterbill convert: {path}:4: interval 1: value '0.5x0' is not a number\n",
    )


def test_a_nem12_file_without_its_end_record_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "NEM12", NEM12_HEADER, NEM12_CHANNEL, nem12_day("20260101", "0.500"))
    assert run(capsys, path) == (
        2,
        [],
        f"meterbill convert: {path}:3: the file ends without a 900 end-of-data record\n",
    )


def test_a_bad_csv_row_is_named_by_file_and_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(
        tmp_path, "meters.csv", "meter,start,value", "m,2026-01-01T00:00Z,1", "m,2026-01-01T00:15Z,-2"
    )
    assert run(capsys, path) == (2, [], f"meterbill convert: {path}:3: negative value -2\n")


def test_register_reads_are_refused_with_the_way_to_turn_them_into_intervals(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "reads.csv", "meter,timestamp,register", "m,2026-01-01T00:00Z,100")
    assert run(capsys, path) == (
        2,
        [],
        f"meterbill convert: {path}: register reads ('meter,timestamp,register') are not intervals; "
        f"`meterbill validate {path}` turns them into validated intervals\n",
    )


def test_a_file_of_no_known_format_is_refused_on_line_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "notes.txt", "hello")
    assert run(capsys, path) == (
        2,
        [],
        f"meterbill convert: {path}:1: unknown format: expected a NEM12 file (100,NEM12,...), a Green Button "
        "XML feed or a CSV with the header 'start,value', got 'hello'\n",
    )


def test_a_format_given_is_read_as_that_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "meters.csv", "meter,start,value", "m,2026-01-01T00:00Z,1")
    assert run(capsys, path, "--format", "nem12") == (
        2,
        [],
        f"meterbill convert: {path}:1: the file must start with a 100 header record (100,NEM12,...), got "
        "'meter,start,value'\n",
    )


def test_a_missing_file_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = str(tmp_path / "absent.V01")
    assert run(capsys, path) == (
        2,
        [],
        f"meterbill convert: {path}: cannot read the file: No such file or directory\n",
    )


# Progress for a person


def test_progress_goes_to_stderr_when_asked_for_and_output_is_unchanged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    quiet = run(capsys, str(NEM12_FILE))
    code, lines, err = run(capsys, str(NEM12_FILE), "--progress")
    assert (code, lines) == (quiet[0], quiet[1])
    size = -(-NEM12_FILE.stat().st_size // 1024)
    assert err == (
        f"{NEM12_FILE}: checking {size} KiB of {size} KiB (100 %)\n"
        f"{NEM12_FILE}: converting {size} KiB of {size} KiB (100 %)\n"
    )
    assert quiet[2] == ""  # stderr is no terminal here, and no --progress


# The command as a process


def test_the_command_runs_as_a_process_with_the_same_output_and_exit_codes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    importable = {**os.environ, "PYTHONPATH": str(PACKAGE_ROOT)}

    def convert(path: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "meterbill.cli", "convert", path]
        return subprocess.run(command, capture_output=True, text=True, check=False, env=importable)

    good = convert(str(NEM12_FILE))
    assert (good.returncode, good.stderr) == (0, "")
    assert good.stdout.splitlines() == run(capsys, str(NEM12_FILE))[1]

    path = write(tmp_path, "NEM12", NEM12_HEADER, NEM12_CHANNEL, nem12_day("20260101", "0.500"))
    bad = convert(path)
    assert (bad.returncode, bad.stdout) == (2, "")
    assert bad.stderr == f"meterbill convert: {path}:3: the file ends without a 900 end-of-data record\n"
