"""services.metering: a catalog meter's validated intervals from the reading store, through the same path as
`meterbill validate` (one validation path: the same readings and settings give the same intervals)."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest

from meterbill.cli import main
from meterbill.cli.meterdata import IntervalRows, load_meter_config
from meterbill.domain import Meter
from meterbill.errors import InvalidInputError
from meterbill.metersettings import MeterSettings
from meterbill.ports import RawReading
from meterbill.services.metering import check_limits, meter_settings
from meterbill.services.usage import validated_intervals
from tests.fakes import FakeReadingStore

A = "acc-a"
D = Decimal
# A 99,999.9 kWh register behind a 40:1 CT (80:1 from 00:45), read every 15 minutes in Berlin: it wraps, then
# misses three reads.
READS = [
    ("2026-03-02T00:00+01:00", "99999.0"),
    ("2026-03-02T00:15+01:00", "99999.5"),
    ("2026-03-02T00:30+01:00", "0.3"),
    ("2026-03-02T00:45+01:00", "1.3"),
    ("2026-03-02T01:45+01:00", "2.5"),
    ("2026-03-02T02:00+01:00", "3.0"),
]
START, END = (
    datetime.fromisoformat("2026-03-02T00:00+01:00"),
    datetime.fromisoformat("2026-03-02T02:00+01:00"),
)
SETTINGS = {
    "interval_minutes": 15,
    "multiplier": 40,
    "register_max": "99999.9",
    "multipliers": [{"effective_from": "2026-03-02T00:45+01:00", "multiplier": 80}],
    "short_gap_minutes": 30,
}


def meter(**fields: object) -> Meter:
    base = {"id": "pdu-7", "account_id": A, "site_id": "s", "utility": "electricity", "unit": "kWh"}
    return Meter.model_validate({**base, "kind": "main", **fields})


def stored_reads() -> FakeReadingStore:
    store = FakeReadingStore()
    store.put_new(A, [RawReading("pdu-7", datetime.fromisoformat(t), D(v), "register") for t, v in READS])
    return store


def cli_validate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], settings: dict[str, object]
) -> tuple[list[list[str]], list[str]]:
    """`meterbill validate` of READS with ``settings`` for pdu-7: the CSV rows and the event lines."""
    reads = tmp_path / "reads.csv"
    reads.write_text(
        "meter,timestamp,register\n" + "".join(f"pdu-7,{t},{v}\n" for t, v in READS), encoding="utf-8"
    )
    config = tmp_path / "meters.json"
    config.write_text(json.dumps({"meters": {"pdu-7": settings}}), encoding="utf-8")
    code = main(["validate", str(reads), "--meter-config", str(config), "--tz", "Europe/Berlin"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return list(csv.reader(io.StringIO(out)))[1:], err.splitlines()[:-1]


def test_the_cli_and_the_api_validate_the_same_readings_and_settings_alike(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cli_rows, cli_events = cli_validate(tmp_path, capsys, SETTINGS)
    settings = load_meter_config(str(tmp_path / "meters.json")).settings_of("pdu-7")
    validated = validated_intervals(A, meter(), START, END, stored_reads(), settings=settings)
    rows = IntervalRows(validated=True)
    assert [list(rows.row(reading)) for reading in validated] == cli_rows
    events = [f"{e.meter} {e.at.isoformat()} {e.kind}: {e.detail}" for e in validated.events]
    assert events == cli_events
    assert [row[3] for row in cli_rows[:3]] == [
        str((D("99999.5") - D("99999.0")) * 40),
        str((D("99999.9") + D("0.1") - D("99999.5") + D("0.3")) * 40),  # the wrap
        str((D("1.3") - D("0.3")) * 40),
    ]
    # the gap of 1 h: the register difference at 80:1, spread evenly (no like days before it)
    assert [D(row[3]) for row in cli_rows[3:]] == [(D("2.5") - D("1.3")) * 80 / 4] * 4 + [
        (D("3.0") - D("2.5")) * 80
    ]
    assert [row[5] for row in cli_rows] == ["A", "A", "A", "E", "E", "E", "E", "A"]


def test_without_settings_a_catalog_meter_validates_as_its_entry_says(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    entry = meter(multiplier=40, register_max="99999.9", interval_minutes=15)
    assert meter_settings(entry).model_dump(exclude_unset=True) == {
        "interval_minutes": 15,
        "multiplier": D(40),
        "register_max": D("99999.9"),
    }
    cli_rows, cli_events = cli_validate(
        tmp_path, capsys, {"interval_minutes": 15, "multiplier": 40, "register_max": "99999.9"}
    )
    validated = validated_intervals(A, entry, START, END, stored_reads())
    rows = IntervalRows(validated=True)
    assert [list(rows.row(reading)) for reading in validated] == cli_rows
    assert [f"{e.meter} {e.at.isoformat()} {e.kind}: {e.detail}" for e in validated.events] == cli_events
    assert D(cli_rows[1][3]) == (D("99999.9") + D("0.1") - D("99999.5") + D("0.3")) * 40


def test_a_span_that_is_not_whole_intervals_is_refused_on_from() -> None:
    with pytest.raises(InvalidInputError) as caught:
        validated_intervals(A, meter(), START, END.replace(minute=5), stored_reads())
    assert (caught.value.field, caught.value.reason) == (
        "from",
        "end: [2026-03-02 00:00:00+01:00, 2026-03-02 02:05:00+01:00) is not a positive whole number of "
        "0:15:00 intervals",
    )


def test_limits_validation_refuses_are_an_input_error_naming_the_setting() -> None:
    with pytest.raises(InvalidInputError) as caught:
        check_limits(MeterSettings(rollover_margin=D("0.7")), under="validation")
    assert (caught.value.field, caught.value.reason) == (
        "validation.rollover_margin",
        "0.7 must be between 0 and 0.5",
    )
    check_limits(MeterSettings(rollover_margin=D("0.2")))  # accepted: nothing raised


def test_a_catalog_meter_with_exchanges_and_limits_validates_like_the_cli_with_the_same_settings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    exchange = {"timestamp": "2026-03-02T01:00:00+01:00", "old_final": "1.5", "new_initial": "0.0"}
    config = {**SETTINGS, "exchanges": [exchange]}
    entry = meter(
        multiplier=40,
        register_max="99999.9",
        interval_minutes=15,
        multipliers=SETTINGS["multipliers"],
        exchanges=[exchange],
        limits={"short_gap_minutes": 30},
    )
    assert meter_settings(entry) == load_meter_config_of(tmp_path, config)

    cli_rows, cli_events = cli_validate(tmp_path, capsys, config)
    validated = validated_intervals(A, entry, START, END, stored_reads())

    rows = IntervalRows(validated=True)
    assert [list(rows.row(reading)) for reading in validated] == cli_rows
    assert [f"{e.meter} {e.at.isoformat()} {e.kind}: {e.detail}" for e in validated.events] == cli_events
    # 00:45-01:00 on the old device (1.3 -> its final 1.5), 01:00-01:45 on the new one (0.0 -> 2.5), spread
    # over three quarter hours to the tenth, at 80:1: nothing counted across the two devices
    quarters = [D(row[3]) for row in cli_rows[3:7]]
    assert quarters == [(D("1.5") - D("1.3")) * 80, D("66.7"), D("66.7"), D("66.6")]
    assert sum(quarters[1:]) == (D("2.5") - D("0.0")) * 80
    assert [row[5] for row in cli_rows[3:7]] == ["A", "E", "E", "E"]


def load_meter_config_of(tmp_path: Path, settings: dict[str, object]) -> MeterSettings:
    config = tmp_path / "settings.json"
    config.write_text(json.dumps({"meters": {"pdu-7": settings}}), encoding="utf-8")
    return load_meter_config(str(config)).settings_of("pdu-7")
