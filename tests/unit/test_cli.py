"""`meterbill rate`: the command-line contract. Bills go to stdout as JSON (or a table); bad input exits 2
with one line on stderr naming the file, the line or field, and the reason, and prints nothing to stdout."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from meterbill.cli import main
from tests.builders import BERLIN, UTC, D

EXAMPLES = Path(__file__).parents[2] / "layers/common/python/meterbill/examples"
CENT = Decimal("0.01")


def cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def write(directory: Path, name: str, text: str) -> str:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def tariff_file(directory: Path, **parts: Any) -> str:
    document = {"id": "t", "name": "Test tariff", "currency": "EUR", **parts}
    return write(directory, "tariff.json", json.dumps(document))


def interval_file(directory: Path, first: datetime, minutes: int, values: Sequence[str]) -> str:
    rows = [f"{(first + timedelta(minutes=minutes * i)).isoformat()},{v}" for i, v in enumerate(values)]
    return write(directory, "usage.csv", "start,value\n" + "\n".join(rows) + "\n")


def ladder_tariff(directory: Path) -> str:
    """5.00 a month, 100 kWh at 0.20 then 0.25, 19% VAT."""
    return tariff_file(
        directory,
        fixed=[{"amount": "5.00"}],
        energy={"periods": [{"name": "all", "tiers": [{"size": 100, "rate": "0.20"}, {"rate": "0.25"}]}]},
        taxes=[{"name": "VAT", "percent": 19}],
    )


def january_hourly(directory: Path, kwh: str = "0.25", tz: Any = UTC) -> str:
    return interval_file(directory, datetime(2026, 1, 1, tzinfo=tz), 60, [kwh] * 31 * 24)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    exit_code = main(list(argv))
    out, err = capsys.readouterr()
    return exit_code, out, err


def rate_january(tariff: str, usage: str, *options: str) -> list[str]:
    return [
        "rate",
        "--tariff",
        tariff,
        "--usage",
        usage,
        "--start",
        "2026-01-01",
        "--end",
        "2026-02-01",
        *options,
    ]


def bills(capsys: pytest.CaptureFixture[str], *argv: str) -> list[dict[str, Any]]:
    exit_code, out, err = run(capsys, *argv)
    assert (exit_code, err) == (0, "")
    result: list[dict[str, Any]] = json.loads(out)["bills"]
    return result


def rejection(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """The one stderr line of a refused command (which printed nothing to stdout and exited 2)."""
    exit_code, out, err = run(capsys, *argv)
    assert (exit_code, out) == (2, "")
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert "Traceback" not in err
    return err.removesuffix("\n")


# Bills


def test_a_month_is_billed_to_the_cent_as_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (bill,) = bills(capsys, *rate_january(ladder_tariff(tmp_path), january_hourly(tmp_path)))
    used = 744 * D("0.25")  # 31 days x 24 hours of 0.25 kWh = 186 kWh
    charges = [D("5.00"), 100 * D("0.20"), (used - 100) * D("0.25")]
    vat = cents(sum(charges, D(0)) * D("0.19"))  # 46.50 x 19% = 8.835, rounded half-up to 8.84
    assert [D(line["amount"]) for line in bill["lines"]] == [*charges, vat]
    assert D(bill["total"]) == sum(charges, vat)
    assert (bill["subtotal"], bill["taxes"], bill["total"]) == ("46.50", "8.84", "55.34")
    assert (bill["start"], bill["end"], bill["currency"]) == (
        "2026-01-01T00:00:00+00:00",
        "2026-02-01T00:00:00+00:00",
        "EUR",
    )
    assert bill["usage"] == {
        "total": "186",
        "estimated": "0",
        "unit": "kWh",
        "peak_demand": None,
        "missing_intervals": 0,
    }


def test_monthly_makes_one_bill_per_calendar_month_each_with_its_own_tiers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    usage = interval_file(tmp_path, datetime(2026, 1, 1, tzinfo=UTC), 60, ["0.25"] * (31 + 28) * 24)
    argv = ["rate", "--tariff", ladder_tariff(tmp_path), "--usage", usage, "--start", "2026-01-01"]
    january, february = bills(capsys, *argv, "--end", "2026-03-01", "--monthly")
    assert [line["quantity"] for line in january["lines"] if line["component"] == "energy"] == ["100", "86"]
    assert [line["quantity"] for line in february["lines"] if line["component"] == "energy"] == ["100", "68"]
    february_charges = D("5.00") + 100 * D("0.20") + (672 * D("0.25") - 100) * D("0.25")  # 42.00
    assert D(february["total"]) == february_charges + cents(february_charges * D("0.19"))
    assert (january["total"], february["total"]) == ("55.34", "49.98")
    assert (february["start"], february["end"]) == ("2026-02-01T00:00:00+00:00", "2026-03-01T00:00:00+00:00")


def test_naive_timestamps_are_read_as_local_time_of_the_tz_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tariff = tariff_file(tmp_path, energy={"periods": [{"name": "all", "tiers": [{"rate": "1.00"}]}]})
    hours = [f"2026-01-01T{h:02d}:00,{'5.0' if h == 23 else '0.1'}" for h in range(24)]
    usage = write(tmp_path, "usage.csv", "start,value\n" + "\n".join(hours) + "\n")
    argv = ["rate", "--tariff", tariff, "--usage", usage, "--start", "2026-01-01", "--end", "2026-01-02"]
    (bill,) = bills(capsys, *argv, "--tz", "Europe/Berlin")
    # All 24 local hours of 1 January fall in the Berlin day, the last one (5 kWh) included.
    assert D(bill["usage"]["total"]) == 23 * D("0.1") + D("5.0")
    assert bill["total"] == "7.30"
    assert bill["start"] == "2026-01-01T00:00:00+01:00"


def test_public_holidays_of_a_region_are_priced_like_weekends(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Period 1 (weekday) costs 1.00, period 0 (weekend and holiday) 0.00. 8 March is a public holiday in
    # Berlin (International Women's Day) but not in Bavaria; in 2027 it is a Monday.
    weekday, weekend = [[1] * 24] * 12, [[0] * 24] * 12
    tariff = tariff_file(
        tmp_path,
        energy={
            "periods": [
                {"name": "off", "tiers": [{"rate": "0"}]},
                {"name": "on", "tiers": [{"rate": "1.00"}]},
            ],
            "time_of_use": {"weekday_schedule": weekday, "weekend_schedule": weekend},
        },
    )
    usage = interval_file(tmp_path, datetime(2027, 3, 8, tzinfo=BERLIN), 60, ["1"] * 24)
    argv = ["rate", "--tariff", tariff, "--usage", usage, "--start", "2027-03-08", "--end", "2027-03-09"]
    (berlin,) = bills(capsys, *argv, "--tz", "Europe/Berlin", "--holidays", "DE-BE")
    (bavaria,) = bills(capsys, *argv, "--tz", "Europe/Berlin", "--holidays", "DE-BY")
    assert (berlin["total"], bavaria["total"]) == ("0.00", "24.00")


def test_attributes_feed_the_tariff_formulas(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tier = {"size": "150 if senior_citizen else 100", "rate": "0.20"}
    tariff = tariff_file(tmp_path, energy={"periods": [{"name": "all", "tiers": [tier, {"rate": "0.25"}]}]})
    attributes = write(tmp_path, "customer.json", '{"senior_citizen": true}')
    (bill,) = bills(capsys, *rate_january(tariff, january_hourly(tmp_path), "--attributes", attributes))
    assert D(bill["total"]) == 150 * D("0.20") + (186 - 150) * D("0.25")  # 30.00 + 9.00


def test_attributes_of_the_site_and_meter_feed_the_tariff_formulas(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fixed = {"description": "Common areas", "amount": "site.floor_area * 0.5", "per": "month"}
    tier = {"rate": "0.30 if meter.phase_count == 3 else 0.25"}
    tariff = tariff_file(tmp_path, fixed=[fixed], energy={"periods": [{"name": "all", "tiers": [tier]}]})
    attributes = write(
        tmp_path, "scoped.json", '{"site": {"floor_area": 120}, "meter": {"phase_count": 3}, "customer": {}}'
    )
    (bill,) = bills(capsys, *rate_january(tariff, january_hourly(tmp_path), "--attributes", attributes))
    assert D(bill["total"]) == 120 * D("0.5") + 186 * D("0.30")  # 60.00 + 55.80
    assert bill["variables"] == {"meter.phase_count": "3", "site.floor_area": "120"}


def test_sessions_are_priced_by_a_usage_package(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    package = {"threshold_seconds": 1800, "fare": "0.01", "unit_seconds": 300, "unit_rate": "0.0089"}
    tariff = tariff_file(tmp_path, unit="s", packages=[package])
    usage = write(
        tmp_path,
        "jobs.csv",
        "id,start,end\njob-1,2026-01-05T09:00:00Z,2026-01-05T09:20:00Z\njob-2,2026-01-05T10:00:00Z,2026-01-05T10:31:00Z\n",
    )
    (bill,) = bills(capsys, *rate_january(tariff, usage))
    # job-1 stays under 30 minutes; job-2 runs 60 s over: one started 300 s unit.
    assert D(bill["total"]) == cents(2 * D("0.01") + 1 * D("0.0089"))  # 0.0289 -> 0.03


def test_a_urdb_rate_object_is_read_as_a_tariff(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Xcel Energy Colorado's RE-TOU: 5.71 USD a month, energy by time of use. No usage: only the fixed charge.
    usage = january_hourly(tmp_path, kwh="0", tz=ZoneInfo("America/Denver"))
    tariff = str(EXAMPLES / "pscolorado_re_tou.json")
    (bill,) = bills(capsys, *rate_january(tariff, usage, "--tz", "America/Denver"))
    assert (bill["tariff"]["id"], bill["currency"], bill["total"]) == (
        "618940545457a35a1c4097ec",
        "USD",
        "5.71",
    )


def test_the_table_format_shows_the_lines_and_the_total(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    exit_code, out, err = run(
        capsys, *rate_january(ladder_tariff(tmp_path), january_hourly(tmp_path), "--format", "table")
    )
    assert (exit_code, err) == (0, "")
    assert re.search(r"Energy, tier 2\s.*\s21\.50\s", out)
    assert re.search(r"Total\s.*\s55\.34\s", out)


# Bad input: exit 2, nothing on stdout, one line on stderr


def test_an_unknown_tariff_field_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tariff = tariff_file(tmp_path, fixd=[{"amount": "5"}])
    usage = january_hourly(tmp_path)
    assert rejection(capsys, *rate_january(tariff, usage)) == f"meterbill rate: {tariff}: fixd: unknown field"


def test_a_tariff_that_does_not_validate_is_named_with_its_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tiers = [{"rate": "0.20"}, {"rate": "0.25"}]
    tariff = tariff_file(tmp_path, energy={"periods": [{"name": "all", "tiers": tiers}]})
    assert rejection(capsys, *rate_january(tariff, january_hourly(tmp_path))) == (
        f"meterbill rate: {tariff}: energy.periods[0]: tiers[0].size: only the last tier may be unbounded"
    )


def test_a_tariff_operand_of_the_wrong_type_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tariff = tariff_file(tmp_path, fixed=[{"amount": [5]}])
    assert rejection(capsys, *rate_january(tariff, january_hourly(tmp_path))) == (
        f"meterbill rate: {tariff}: fixed[0].amount: expected a number or a formula, got list"
    )


def test_a_tariff_that_is_not_json_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tariff = write(tmp_path, "tariff.json", '{"id": "t",\n  "name": }')
    assert rejection(capsys, *rate_january(tariff, january_hourly(tmp_path))) == (
        f"meterbill rate: {tariff}: invalid JSON at line 2 column 11: Expecting value"
    )


def test_a_urdb_field_that_could_change_the_price_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rate_object = json.loads((EXAMPLES / "pscolorado_re_tou.json").read_text(encoding="utf-8"))
    tariff = write(tmp_path, "urdb.json", json.dumps({**rate_object, "surprisecharge": 12}))
    line = rejection(capsys, *rate_january(tariff, january_hourly(tmp_path)))
    assert line.startswith(f"meterbill rate: {tariff}: surprisecharge: ")


def test_a_missing_tariff_file_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tariff = str(tmp_path / "nowhere.json")
    assert rejection(capsys, *rate_january(tariff, january_hourly(tmp_path))) == (
        f"meterbill rate: {tariff}: cannot read the file: No such file or directory"
    )


def test_a_missing_usage_file_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    usage = str(tmp_path / "nowhere.csv")
    assert rejection(capsys, *rate_january(ladder_tariff(tmp_path), usage)) == (
        f"meterbill rate: {usage}: cannot read the file: No such file or directory"
    )


def test_a_negative_interval_is_named_by_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    usage = write(tmp_path, "usage.csv", "start,value\n2026-01-01T00:00Z,1\n2026-01-01T01:00Z,-0.5\n")
    assert rejection(capsys, *rate_january(ladder_tariff(tmp_path), usage)) == (
        f"meterbill rate: {usage}, line 3: negative value -0.5"
    )


def test_overlapping_intervals_are_named_by_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = ["2026-01-01T00:00Z,1", "2026-01-01T01:00Z,1", "2026-01-01T01:20Z,1", "2026-01-01T02:00Z,1"]
    usage = write(tmp_path, "usage.csv", "start,value\n" + "\n".join([*rows, "2026-01-01T03:00Z,1"]) + "\n")
    assert rejection(capsys, *rate_january(ladder_tariff(tmp_path), usage)) == (
        f"meterbill rate: {usage}, line 4: overlapping intervals: the 60 min interval starting "
        "2026-01-01T01:00:00+00:00 (line 3) overlaps the one starting 2026-01-01T01:20:00+00:00"
    )


def test_mixed_interval_lengths_are_named_by_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = ["2026-01-01T00:00Z,1", "2026-01-01T00:15Z,1", "2026-01-01T00:30Z,1", "2026-01-01T01:30Z,1"]
    usage = write(tmp_path, "usage.csv", "start,value\n" + "\n".join([*rows, "2026-01-01T02:30Z,1"]) + "\n")
    assert rejection(capsys, *rate_january(ladder_tariff(tmp_path), usage)) == (
        f"meterbill rate: {usage}, line 5: mixed interval lengths: 60 min from 2026-01-01T00:30:00+00:00 "
        "(line 4) on, 15 min elsewhere; all intervals must have the same length"
    )


def test_a_gap_is_named_with_the_way_to_fill_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = ["2026-01-01T00:00Z,1", "2026-01-01T01:00Z,1", "2026-01-01T03:00Z,1", "2026-01-01T04:00Z,1"]
    usage = write(tmp_path, "usage.csv", "start,value\n" + "\n".join(rows) + "\n")
    assert rejection(capsys, *rate_january(ladder_tariff(tmp_path), usage)) == (
        f"meterbill rate: {usage}, line 4: gap: 1 missing interval of 60 min between "
        "2026-01-01T01:00:00+00:00 (line 3) and 2026-01-01T03:00:00+00:00; `meterbill validate` fills gaps"
    )


def test_an_unknown_time_zone_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = rate_january(ladder_tariff(tmp_path), january_hourly(tmp_path), "--tz", "Europe/Atlantis")
    assert rejection(capsys, *argv) == (
        "meterbill rate: --tz: unknown time zone 'Europe/Atlantis' "
        "(expected an IANA name like 'Europe/Berlin')"
    )


def test_a_date_that_does_not_exist_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["rate", "--tariff", ladder_tariff(tmp_path), "--usage", january_hourly(tmp_path)]
    assert rejection(capsys, *argv, "--start", "2026-02-01", "--end", "2026-02-30") == (
        "meterbill rate: --end '2026-02-30' is not a date: day is out of range for month"
    )


def test_a_date_in_another_format_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["rate", "--tariff", ladder_tariff(tmp_path), "--usage", january_hourly(tmp_path)]
    assert rejection(capsys, *argv, "--start", "01.01.2026", "--end", "2026-02-01") == (
        "meterbill rate: --start '01.01.2026' is not a date: expected YYYY-MM-DD"
    )


def test_an_end_not_after_the_start_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["rate", "--tariff", ladder_tariff(tmp_path), "--usage", january_hourly(tmp_path)]
    assert rejection(capsys, *argv, "--start", "2026-02-01", "--end", "2026-02-01") == (
        "meterbill rate: --end 2026-02-01 must be after --start 2026-02-01 (the period is [start, end))"
    )


def test_a_tariff_the_engine_cannot_apply_is_named_with_its_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tariff = tariff_file(
        tmp_path, energy={"periods": [{"name": "all", "tiers": [{"rate": "night_rate * 2"}]}]}
    )
    line = rejection(capsys, *rate_january(tariff, january_hourly(tmp_path)))
    assert line.startswith(
        f"meterbill rate: {tariff}: energy.periods[0].tiers[0].rate: formula 'night_rate * 2': "
    )
    assert "night_rate" in line.removeprefix(
        f"meterbill rate: {tariff}: energy.periods[0].tiers[0].rate: formula"
    )


def test_attributes_that_are_not_an_object_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    attributes = write(tmp_path, "customer.json", "[1, 2]")
    argv = rate_january(ladder_tariff(tmp_path), january_hourly(tmp_path), "--attributes", attributes)
    assert rejection(capsys, *argv) == f"meterbill rate: {attributes}: expected a JSON object of attributes"


def test_an_attribute_name_formulas_cannot_use_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    attributes = write(tmp_path, "customer.json", '{"senior citizen": true}')
    argv = rate_january(ladder_tariff(tmp_path), january_hourly(tmp_path), "--attributes", attributes)
    assert rejection(capsys, *argv) == (
        f"meterbill rate: {attributes}: senior citizen: attribute name 'senior citizen' must be a letter "
        "then letters, digits or '_' and not a Python keyword"
    )


def test_an_unknown_holiday_region_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = rate_january(ladder_tariff(tmp_path), january_hourly(tmp_path), "--holidays", "XX")
    assert (
        rejection(capsys, *argv)
        == "meterbill rate: --holidays 'XX': no public-holiday calendar for country 'XX'"
    )


def test_sessions_for_a_tariff_that_prices_intervals_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    usage = write(tmp_path, "jobs.csv", "id,start,end\njob-1,2026-01-05T09:00:00Z,2026-01-05T09:20:00Z\n")
    tariff = ladder_tariff(tmp_path)
    assert rejection(capsys, *rate_january(tariff, usage)) == (
        f"meterbill rate: {usage}: holds usage sessions ('id,start,end') but {tariff} prices intervals "
        "('start,value')"
    )


def test_a_missing_option_is_one_line_too(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert rejection(capsys, "rate", "--tariff", ladder_tariff(tmp_path), "--start", "2026-01-01") == (
        "meterbill rate: the following arguments are required: --usage, --end (see meterbill rate --help)"
    )


# The installed console script and the demo


def console_script() -> str:
    script = Path(sys.executable).parent / "meterbill"
    if not script.exists():
        pytest.skip("the meterbill console script is not installed in this environment")
    return str(script)


def test_the_meterbill_console_script_prints_json_and_refuses_bad_input_with_exit_2(tmp_path: Path) -> None:
    argv = rate_january(ladder_tariff(tmp_path), january_hourly(tmp_path))
    good = subprocess.run([console_script(), *argv], capture_output=True, text=True, check=False)
    assert (good.returncode, good.stderr) == (0, "")
    assert [bill["total"] for bill in json.loads(good.stdout)["bills"]] == ["55.34"]

    bad = subprocess.run(
        [console_script(), *argv, "--tz", "Nowhere/Else"], capture_output=True, text=True, check=False
    )
    assert (bad.returncode, bad.stdout) == (2, "")
    assert bad.stderr == (
        "meterbill rate: --tz: unknown time zone 'Nowhere/Else' (expected an IANA name like 'Europe/Berlin')"
        "\n"
    )


def test_the_demo_prints_a_total_for_each_example_bill() -> None:
    importable = {**os.environ, "PYTHONPATH": str(EXAMPLES.parents[1])}  # layers/common/python
    demo = subprocess.run(
        [sys.executable, "-m", "meterbill.demo"], capture_output=True, text=True, check=False, env=importable
    )
    assert (demo.returncode, demo.stderr) == (0, "")
    totals = re.findall(r"Total\s.*?([\d,]+\.\d\d)\s", demo.stdout)
    assert len(totals) == 4  # residential flat, colocation cage, compute sessions, URDB home

    # The residential flat: the example CSV holds exactly 250 kWh for January; the customer is a senior
    # citizen, so the first tier is 150 kWh.
    flat_csv = (EXAMPLES / "residential_flat_2026-01.csv").read_text(encoding="utf-8").splitlines()[1:]
    used = sum((D(row.split(",")[1]) for row in flat_csv), D(0))
    assert used == D("250.000")
    net = D("9.90") + 150 * D("0.28") + (used - 150) * D("0.32")  # 9.90 + 42.00 + 32.00 = 83.90
    assert D(totals[0]) == net + cents(net * D("0.19"))  # VAT 15.941 -> 15.94
    assert totals[0] == "99.84"
