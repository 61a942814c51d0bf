"""`meterbill validate FILE [--meter-config M.json]`: every meter of a file through validation.

stdout is the interval CSV of `convert` plus method,reason; stderr holds the data-quality events, one a line,
and the summary (meters, intervals, actual, estimated, events). Bad input exits 2 with one line on stderr and
nothing on stdout."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from meterbill.cli import main
from meterbill.cli.meterdata import load_meter_config
from meterbill.meterdata.metering import meter_exchanges, validation_config
from meterbill.meterdata.readings import MeterExchange
from meterbill.meterdata.vee import ValidationConfig

D = Decimal
DATA = Path(__file__).parents[1] / "data"
NEM12_FILE = DATA / "nem12/two_nmis_two_channels.csv"
PACKAGE_ROOT = Path(__file__).parents[2] / "layers/common/python"
HEADER = "meter,start,end,value,unit,quality,method,reason"
GAP_REASON = '"no readings for 1 h; 1.2 kWh from the register reads around it, spread evenly"'


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str], list[str]]:
    """Exit code, stdout lines, stderr lines."""
    code = main(["validate", *argv])
    out, err = capsys.readouterr()
    return code, out.splitlines(), err.splitlines()


def write(directory: Path, name: str, *lines: str) -> str:
    path = directory / name
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return str(path)


def meter_config(directory: Path, document: dict[str, Any]) -> str:
    return write(directory, "meters.json", json.dumps(document))


def values(lines: list[str]) -> list[Decimal]:
    return [D(line.split(",")[3]) for line in lines[1:]]


def rollover_and_gap(directory: Path) -> str:
    """A 99,999.9 kWh register read every 15 minutes (Berlin time) that wraps, then misses three reads."""
    return write(
        directory,
        "reads.csv",
        "meter,timestamp,register",
        "pdu-7,2026-03-02T00:00,99999.0",
        "pdu-7,2026-03-02T00:15,99999.5",
        "pdu-7,2026-03-02T00:30,0.3",
        "pdu-7,2026-03-02T00:45,1.3",
        "pdu-7,2026-03-02T01:45,2.5",  # nothing at 01:00, 01:15, 01:30
        "pdu-7,2026-03-02T02:00,3.0",
    )


# Register reads to validated intervals


def test_a_rollover_is_counted_and_a_gap_bounded_by_reads_is_spread_to_their_difference(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = meter_config(tmp_path, {"meters": {"pdu-7": {"register_max": "99999.9"}}})
    code, lines, err = run(
        capsys, rollover_and_gap(tmp_path), "--meter-config", config, "--tz", "Europe/Berlin"
    )
    assert code == 0
    assert lines == [
        HEADER,
        "pdu-7,2026-03-02T00:00:00+01:00,2026-03-02T00:15:00+01:00,0.5,kWh,A,,",
        "pdu-7,2026-03-02T00:15:00+01:00,2026-03-02T00:30:00+01:00,0.8,kWh,A,,",
        "pdu-7,2026-03-02T00:30:00+01:00,2026-03-02T00:45:00+01:00,1.0,kWh,A,,",
        f"pdu-7,2026-03-02T00:45:00+01:00,2026-03-02T01:00:00+01:00,0.3,kWh,E,register-scaled,{GAP_REASON}",
        f"pdu-7,2026-03-02T01:00:00+01:00,2026-03-02T01:15:00+01:00,0.3,kWh,E,register-scaled,{GAP_REASON}",
        f"pdu-7,2026-03-02T01:15:00+01:00,2026-03-02T01:30:00+01:00,0.3,kWh,E,register-scaled,{GAP_REASON}",
        f"pdu-7,2026-03-02T01:30:00+01:00,2026-03-02T01:45:00+01:00,0.3,kWh,E,register-scaled,{GAP_REASON}",
        "pdu-7,2026-03-02T01:45:00+01:00,2026-03-02T02:00:00+01:00,0.5,kWh,A,,",
    ]
    assert values(lines)[1] == (D("99999.9") + D("0.1") - D("99999.5")) + D("0.3")  # the wrap: 0.8
    assert values(lines)[3:7] == [(D("2.5") - D("1.3")) / 4] * 4  # the gap: 1.2 kWh over four intervals
    assert sum(values(lines)) == D("100000.0") - D("99999.0") + D("3.0")  # every kWh the register counted
    assert err == [
        "pdu-7 2026-03-02T00:30:00+01:00 rollover: register passed its maximum: 99999.5 at "
        "2026-03-02T00:15:00+01:00, then 0.3 at 2026-03-02T00:30:00+01:00; counted 0.8",
        "pdu-7 2026-03-02T00:45:00+01:00 gap: no readings for 1 h; filled: register-scaled",
        f"meterbill validate: {tmp_path / 'reads.csv'}: 1 meter, 8 intervals: 4 actual, 4 estimated; "
        "2 events",
    ]


def test_without_a_register_maximum_the_same_drop_is_a_negative_step_and_never_billed_negative(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines, err = run(capsys, rollover_and_gap(tmp_path), "--tz", "Europe/Berlin")
    assert code == 0
    assert lines[2] == (
        "pdu-7,2026-03-02T00:15:00+01:00,2026-03-02T00:30:00+01:00,0.8,kWh,E,linear,"
        '"register fell from 99999.5 at 2026-03-02T00:15:00+01:00 to 0.3 at 2026-03-02T00:30:00+01:00, not a '
        'rollover; counting restarts; interpolated between the neighbouring intervals"'
    )
    assert min(values(lines)) >= 0
    assert [line.split(" ")[2] for line in err[:-1]] == ["negative-step:", "gap:"]
    assert err[-1].endswith("1 meter, 8 intervals: 3 actual, 5 estimated; 2 events")


# The meter config


def test_the_ct_ratio_of_the_meter_config_multiplies_every_register_difference(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reads = write(
        tmp_path,
        "reads.csv",
        "meter,timestamp,register",
        "pdu-1,2026-03-02T00:00:00Z,10.00",
        "pdu-1,2026-03-02T00:15:00Z,10.05",
        "pdu-1,2026-03-02T00:30:00Z,10.12",
        "pdu-2,2026-03-02T00:00:00Z,5.0",
        "pdu-2,2026-03-02T00:30:00Z,5.5",
    )
    config = meter_config(
        tmp_path, {"defaults": {"multiplier": 40}, "meters": {"pdu-2": {"multiplier": "2.5"}}}
    )
    code, lines, err = run(capsys, reads, "--meter-config", config)
    assert (code, lines) == (
        0,
        [
            HEADER,
            "pdu-1,2026-03-02T00:00:00+00:00,2026-03-02T00:15:00+00:00,2.00,kWh,A,,",
            "pdu-1,2026-03-02T00:15:00+00:00,2026-03-02T00:30:00+00:00,2.80,kWh,A,,",
            # pdu-2's reads are 30 minutes apart: so are its intervals
            "pdu-2,2026-03-02T00:00:00+00:00,2026-03-02T00:30:00+00:00,1.25,kWh,A,,",
        ],
    )
    assert values(lines) == [
        (D("10.05") - D("10.00")) * 40,
        (D("10.12") - D("10.05")) * 40,
        D("0.5") * D("2.5"),
    ]
    assert err == [f"meterbill validate: {reads}: 2 meters, 3 intervals: 3 actual, 0 estimated; 0 events"]


def test_a_meter_of_the_config_missing_from_the_file_is_pointed_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reads = write(
        tmp_path, "reads.csv", "meter,timestamp,register", "m,2026-03-02T00:00Z,1", "m,2026-03-02T01:00Z,2"
    )
    config = meter_config(tmp_path, {"meters": {"pdu-9": {"multiplier": 40}}})
    code, _, err = run(capsys, reads, "--meter-config", config)
    assert (code, err[0]) == (0, f"meterbill validate: {config}: meter 'pdu-9' is not in {reads}")


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ({"meters": {"pdu-1": {"multipler": 40}}}, "meters.pdu-1.multipler: unknown field"),
        ({"meters": {"pdu-1": {"multiplier": 0}}}, "meters.pdu-1.multiplier: Input should be greater than 0"),
        (
            {"defaults": {"interval_minutes": 10}},
            "defaults.interval_minutes: Input should be 1, 5, 15, 30 or 60",
        ),
        (
            {"meters": {"pdu-1": {"rollover_margin": "0.7"}}},
            "meters.pdu-1: rollover_margin: 0.7 must be between 0 and 0.5",
        ),
        ([], "expected a JSON object of 'defaults' and 'meters'"),
    ],
)
def test_a_meter_config_fault_is_named_by_its_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], document: Any, reason: str
) -> None:
    config = write(tmp_path, "meters.json", json.dumps(document))
    assert run(capsys, rollover_and_gap(tmp_path), "--meter-config", config) == (
        2,
        [],
        [f"meterbill validate: {config}: {reason}"],
    )


def test_a_meter_config_that_is_not_json_is_refused_with_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write(tmp_path, "meters.json", "{", '  "meters": ,')
    assert run(capsys, rollover_and_gap(tmp_path), "--meter-config", config) == (
        2,
        [],
        [f"meterbill validate: {config}: invalid JSON at line 2 column 13: Expecting value"],
    )


def test_the_meter_config_of_the_readme_is_read_with_its_defaults_under_each_meter(tmp_path: Path) -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Meter data files", 1)[1]
    (example,) = re.findall(r"```json\n(.*?)```", section, flags=re.DOTALL)
    config = load_meter_config(write(tmp_path, "meters.json", example))
    settings = config.settings_of("pdu-7")
    assert (settings.multiplier, settings.register_max, settings.interval_minutes) == (
        D("40"),
        D("99999.9"),
        15,
    )
    assert validation_config(settings) == ValidationConfig(
        short_gap=timedelta(minutes=120), spike_factor=D("10"), max_power=D("22")
    )
    assert meter_exchanges("pdu-7", settings) == [
        MeterExchange("pdu-7", datetime(2026, 3, 20, 9, tzinfo=UTC), "A1", D("512.4"), "B7", D("0.0"))
    ]


# Any format, every meter


def test_every_channel_of_a_nem12_file_is_validated_keeping_the_files_own_flags(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, lines, err = run(capsys, str(NEM12_FILE))
    assert (code, lines[0], len(lines)) == (0, HEADER, 1 + 2 * 48 + 48 + 2 * 24 * 12)
    assert [lines[i] for i in (68, 69, 73, 89)] == [
        "NEM1201001-E1,2026-01-02T09:30:00+10:00,2026-01-02T10:00:00+10:00,1.000,kWh,A,,",
        "NEM1201001-E1,2026-01-02T10:00:00+10:00,2026-01-02T10:30:00+10:00,0.500,kWh,E,reported,"
        "delivered as E (method 52)",
        "NEM1201001-E1,2026-01-02T12:00:00+10:00,2026-01-02T12:30:00+10:00,0.250,kWh,S,reported,79",
        "NEM1201001-E1,2026-01-02T20:00:00+10:00,2026-01-02T20:30:00+10:00,0.125,kWh,F,reported,"
        "0: Meter replaced",
    ]
    assert err == [
        "NEM1201001-E1 2026-01-01T00:00:00+10:00 flat-line: 1 day of identical values 0.500 kWh from "
        "2026-01-01T00:00:00+10:00 to 2026-01-02T00:00:00+10:00",
        "NEM1201002-E1 2026-01-01T00:00:00+10:00 flat-line: 1 day of identical values 0.010 kWh from "
        "2026-01-01T00:00:00+10:00 to 2026-01-02T00:00:00+10:00",
        # actual: 68 of NEM1201001-E1's 96 and all 288 of NEM1201002-E1; the rest were delivered as E, S or F
        f"meterbill validate: {NEM12_FILE}: 4 meters, 720 intervals: 356 actual, 364 estimated; 2 events",
    ]


def test_interval_values_with_a_missing_interval_get_it_estimated(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(
        tmp_path,
        "intervals.csv",
        "meter,start,value",
        "hall,2026-03-02T00:00:00Z,1.0",
        "hall,2026-03-02T00:15:00Z,2.0",
        "hall,2026-03-02T00:45:00Z,4.0",  # 00:30 is missing
    )
    code, lines, _ = run(capsys, path)
    assert (code, lines[3]) == (
        0,
        "hall,2026-03-02T00:30:00+00:00,2026-03-02T00:45:00+00:00,3.0,kWh,E,linear,"
        "no readings for 15 min; interpolated between the neighbouring intervals",
    )


# Refusals


def test_a_bad_file_prints_nothing_and_names_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(
        tmp_path, "reads.csv", "meter,timestamp,register", "m,2026-03-02T00:00Z,1", "m,2026-03-02T00:15Z,one"
    )
    assert run(capsys, path) == (
        2,
        [],
        [
            f"meterbill validate: {path}:3: register 'one' is not a decimal number (digits, optionally a "
            "point and digits)"
        ],
    )


def test_a_single_register_read_has_no_interval_to_validate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "reads.csv", "meter,timestamp,register", "m,2026-03-02T00:00Z,1")
    assert run(capsys, path) == (
        2,
        [],
        [
            f"meterbill validate: {path}: meter 'm': a single register read: its interval cannot be "
            "inferred; give interval_minutes in --meter-config"
        ],
    )


# The command as a process


def test_validate_runs_as_a_process(tmp_path: Path) -> None:
    importable = {**os.environ, "PYTHONPATH": str(PACKAGE_ROOT)}
    config = meter_config(tmp_path, {"meters": {"pdu-7": {"register_max": "99999.9"}}})
    command = [sys.executable, "-m", "meterbill.cli", "validate", rollover_and_gap(tmp_path)]
    done = subprocess.run(
        [*command, "--meter-config", config, "--tz", "Europe/Berlin"],
        capture_output=True,
        text=True,
        check=False,
        env=importable,
    )
    assert done.returncode == 0
    assert sum(values(done.stdout.splitlines())) == D("100000.0") - D("99999.0") + D("3.0")
    assert done.stderr.splitlines()[-1].endswith(": 1 meter, 8 intervals: 4 actual, 4 estimated; 2 events")
