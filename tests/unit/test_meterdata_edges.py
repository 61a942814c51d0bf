"""Meter-data edges of issue 8: a NEM12 channel that changes its interval length (item 7), a Green Button feed
without links (item 10), a NEM12 file with no 200 record (item 11)."""

from __future__ import annotations

import io
from collections import Counter
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from meterbill.cli import main
from meterbill.meterdata.greenbutton import read_greenbutton
from meterbill.meterdata.importing import ImportFormatError
from meterbill.meterdata.interval_runs import interval_runs
from meterbill.meterdata.nem12 import NEM_TIME, read_nem12
from meterbill.meterdata.readings import IntervalReading
from tests.fakes import FakeStores
from tests.unit.api_support import ACCOUNT, handler_client

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics")

D = Decimal
NEM12_HEADER = "100,NEM12,202601150930,MDP1,RETAILER1"
NO_200_RECORD = "no 200 record: the file has a header and an end but no NMI channel, so no interval data"


def write(directory: Path, name: str, *lines: str) -> str:
    path = directory / name
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return str(path)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str], list[str]]:
    """Exit code, stdout lines, stderr lines."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out.splitlines(), err.splitlines()


# Item 11: a NEM12 file of only a header (100) and an end (900)


def test_a_nem12_file_without_a_200_record_is_refused_on_its_end_record() -> None:
    with pytest.raises(ImportFormatError) as caught:
        list(read_nem12(io.StringIO(f"{NEM12_HEADER}\n900\n"), "empty.csv"))
    assert (caught.value.source, caught.value.line, caught.value.reason) == ("empty.csv", 2, NO_200_RECORD)


@pytest.mark.parametrize("command", ["convert", "validate"])
def test_convert_and_validate_refuse_a_nem12_file_without_a_200_record_naming_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    path = write(tmp_path, "empty.V01", NEM12_HEADER, "900")
    assert run(capsys, command, path) == (2, [], [f"meterbill {command}: {path}:2: {NO_200_RECORD}"])


def test_the_api_answers_422_on_the_body_for_a_nem12_file_without_a_200_record(fakes: FakeStores) -> None:
    api = handler_client().as_key(ACCOUNT, "ingest")
    answer = api.request(
        "POST",
        "/v1/imports",
        body=f"{NEM12_HEADER}\n900\n",
        query={"format": "nem12"},
        headers={"Content-Type": "text/csv"},
    )
    assert answer.status == 422
    assert answer.json["errors"] == [{"field": "body", "reason": f"line 2: {NO_200_RECORD}"}]
    assert fakes.readings.items == {}


# Item 7: a NEM12 channel whose 200 record changes the interval length


def channel(minutes: int) -> str:
    """A 200 record of channel NEM1201001-E1 with ``minutes``-minute intervals."""
    return f"200,NEM1201001,E1Q1,1,E1,N1,METER001,kWh,{minutes},"


def alternating_day(day: str, minutes: int, low: str, high: str) -> str:
    """A 300 record of one day of ``minutes``-minute intervals: low, high, low, high, ... (no flat line)."""
    values = [low, high] * (24 * 60 // minutes // 2)
    return f"300,{day},{','.join(values)},A,,,20260105030405,"


def columns(lines: list[str]) -> list[list[str]]:
    return [line.split(",") for line in lines[1:]]


def minutes_of(row: list[str]) -> int:
    return int((datetime.fromisoformat(row[2]) - datetime.fromisoformat(row[1])).total_seconds()) // 60


def test_validate_keeps_every_value_of_a_channel_that_changes_from_30_to_15_minutes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(
        tmp_path,
        "change.csv",
        NEM12_HEADER,
        channel(30),
        alternating_day("20260101", 30, "1.500", "2.500"),
        channel(15),
        alternating_day("20260102", 15, "0.500", "1.500"),
        "900",
    )
    code, lines, err = run(capsys, "validate", path)
    _, converted, _ = run(capsys, "convert", path)

    rows = columns(lines)
    assert code == 0
    assert sum(D(row[3]) for row in rows) == 24 * (D("1.500") + D("2.500")) + 48 * (D("0.500") + D("1.500"))
    assert sum(D(row[3]) for row in rows) == D(192)
    assert Counter((minutes_of(row), row[5]) for row in rows) == {(30, "A"): 48, (15, "A"): 96}
    assert [row[:6] for row in rows] == columns(converted)  # each value as the file gives it, at its length
    assert err == [f"meterbill validate: {path}: 1 meter, 144 intervals: 144 actual, 0 estimated; 0 events"]


def test_a_gap_between_two_interval_lengths_is_filled_at_the_length_of_the_run_before_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(
        tmp_path,
        "change.csv",
        NEM12_HEADER,
        channel(15),
        alternating_day("20260101", 15, "0.500", "1.500"),
        channel(30),  # 2026-01-02 is missing
        alternating_day("20260103", 30, "1.500", "2.500"),
        "900",
    )
    code, lines, err = run(capsys, "validate", path)

    rows = columns(lines)
    assert code == 0
    assert Counter((minutes_of(row), row[5]) for row in rows) == {(15, "A"): 96, (15, "N"): 96, (30, "A"): 48}
    assert sum(D(row[3]) for row in rows) == 48 * (D("0.500") + D("1.500")) + 24 * (D("1.500") + D("2.500"))
    assert [row[1] for row in rows if row[5] == "N"][:1] == ["2026-01-02T00:00:00+10:00"]
    assert err[-1] == f"meterbill validate: {path}: 1 meter, 240 intervals: 144 actual, 96 estimated; 1 event"


def test_a_run_starts_only_where_another_allowed_length_begins_after_every_reading_before_it() -> None:
    def reading(hour: int, minute: int, minutes: int, value: str) -> IntervalReading:
        start = datetime(2026, 1, 1, hour, minute, tzinfo=NEM_TIME)
        return IntervalReading("m", start, start + timedelta(minutes=minutes), D(value), "kWh")

    overlapping = reading(0, 15, 15, "9")  # inside the first 30 minutes: stays there (validation: misaligned)
    odd = reading(1, 0, 45, "8")  # not an interval length: stays in its run
    readings = [reading(0, 30, 15, "3"), overlapping, reading(0, 0, 30, "1"), odd, reading(0, 45, 15, "4")]

    runs = interval_runs(readings, (5, 15, 30))

    assert [(run.interval_minutes, [r.value for r in run.readings], run.until) for run in runs] == [
        (30, [D(1), D(9)], datetime(2026, 1, 1, 0, 30, tzinfo=NEM_TIME)),
        (15, [D(3), D(4), D(8)], None),
    ]


# Item 10: a Green Button feed without links, read without a meter id

ATOM = "http://www.w3.org/2005/Atom"
ESPI = "http://naesb.org/espi"
NEW_YEAR_PST = 1735718400  # 2025-01-01T00:00-08:00


def atom_feed(*entries: str, feed_id: str | None = None) -> bytes:
    """A feed, one line each: line 1 the XML declaration, line 2 <feed>, line 3 its id, then the entries."""
    identity = f"<id>{feed_id}</id>" if feed_id else "<title>Green Button Export</title>"
    return "\n".join(
        ['<?xml version="1.0" encoding="UTF-8"?>', f'<feed xmlns="{ATOM}">', identity, *entries, "</feed>"]
    ).encode()


def usage_point(title: str | None = None, entry_id: str | None = None) -> str:
    """An unlinked UsagePoint entry on one line."""
    atom = (f"<id>{entry_id}</id>" if entry_id else "") + (f"<title>{title}</title>" if title else "")
    resource = f'<UsagePoint xmlns="{ESPI}"><ServiceCategory><kind>0</kind></ServiceCategory></UsagePoint>'
    return f"<entry>{atom}<content>{resource}</content></entry>"


def espi_entry(title: str, resource: str) -> str:
    """An entry without links on one line, as SDG&E's export writes them (a title, no UsagePoint)."""
    return f"<entry><title>{title}</title><content>{resource}</content></entry>"


def watt_hours(power_of_ten: str = "0") -> str:
    """An unlinked ReadingType entry (Wh) on one line."""
    fields = f"<powerOfTenMultiplier>{power_of_ten}</powerOfTenMultiplier><uom>72</uom>"
    return espi_entry("Energy Delivered (WH)", f'<ReadingType xmlns="{ESPI}">{fields}</ReadingType>')


def hours(*values: str) -> str:
    """An unlinked IntervalBlock entry on one line: one-hour readings from 2025-01-01 00:00 PST."""
    readings = "".join(
        f"<IntervalReading><timePeriod><duration>3600</duration><start>{NEW_YEAR_PST + 3600 * i}</start>"
        f"</timePeriod><value>{value}</value></IntervalReading>"
        for i, value in enumerate(values)
    )
    return espi_entry("Usage Data", f'<IntervalBlock xmlns="{ESPI}">{readings}</IntervalBlock>')


def summary() -> str:
    return espi_entry("Usage Summary", f'<ElectricPowerUsageSummary xmlns="{ESPI}"/>')


def unlinked(document: bytes) -> list[tuple[str, Decimal, str]]:
    readings = read_greenbutton(io.BytesIO(document), "usage.xml")
    return [(r.meter, r.value, r.unit) for r in readings]


def unlinked_refusal(document: bytes) -> tuple[int, str]:
    with pytest.raises(ImportFormatError) as caught:
        unlinked(document)
    return caught.value.line, caught.value.reason


def test_an_unlinked_feed_is_named_after_the_title_of_its_usage_point_wherever_that_entry_is() -> None:
    entries = [usage_point("Home", "urn:uuid:up-1"), watt_hours(), hours("385", "365"), summary()]
    expected = [("Home", D(385) / 1000, "kWh"), ("Home", D(365) / 1000, "kWh")]

    assert unlinked(atom_feed(*entries, feed_id="urn:uuid:feed")) == expected
    assert unlinked(atom_feed(*reversed(entries), feed_id="urn:uuid:feed")) == expected
    assert unlinked(atom_feed(summary(), *entries)) == expected  # another entry before it changes nothing


def test_a_usage_point_without_a_short_title_names_the_meter_by_its_id() -> None:
    prose = "Your electricity usage by interval length. " * 3  # 129 characters: prose, not a name
    document = atom_feed(usage_point(prose, "urn:uuid:7c1c8e4d"), watt_hours(), hours("1000"))
    assert unlinked(document) == [("urn:uuid:7c1c8e4d", D(1000) / 1000, "kWh")]


def test_a_feed_without_a_usage_point_is_named_after_its_own_id_on_every_read() -> None:
    document = atom_feed(watt_hours(), hours("385", "365"), summary(), feed_id="urn:uuid:335b9e89")
    first, second = unlinked(document), unlinked(document)
    assert (
        first
        == second
        == [("urn:uuid:335b9e89", D("0.385"), "kWh"), ("urn:uuid:335b9e89", D("0.365"), "kWh")]
    )


def test_an_unlinked_feed_with_two_usage_points_or_two_reading_types_is_refused() -> None:
    two_usage_points = atom_feed(usage_point("Home"), usage_point("Barn"), watt_hours(), hours("1"))
    two_reading_types = atom_feed(usage_point("Home"), watt_hours(), hours("1"), watt_hours("-3"))
    assert unlinked_refusal(two_usage_points) == (
        5,
        "a second UsagePoint (the first is on line 4) in a feed with IntervalBlocks without links (the "
        "first on line 7): nothing says whose they are; give the meter id to read them all as one meter",
    )
    assert unlinked_refusal(two_reading_types) == (
        7,
        "a second ReadingType (the first is on line 5) in a feed with IntervalBlocks without links (the "
        "first on line 6): nothing says which unit their values are in",
    )


def test_convert_reads_an_unlinked_feed_without_a_meter_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "sdge.xml"
    path.write_bytes(atom_feed(usage_point("Home"), watt_hours(), hours("385")))
    assert run(capsys, "convert", str(path)) == (
        0,
        [
            "meter,start,end,value,unit,quality",
            "Home,2025-01-01T08:00:00+00:00,2025-01-01T09:00:00+00:00,0.385,kWh,A",
        ],
        [],
    )


def test_the_api_imports_an_unlinked_feed_into_the_meter_whose_external_id_is_its_name(
    fakes: FakeStores,
) -> None:
    admin = handler_client()
    admin.post("/v1/sites", {"id": "site-1", "name": "House", "timezone": "America/Los_Angeles"})
    meter = {
        "id": "mtr-1",
        "site_id": "site-1",
        "utility": "electricity",
        "unit": "kWh",
        "kind": "main",
        "interval_minutes": 60,
        "external_id": "Home",
    }
    assert admin.post("/v1/meters", meter).status == 201
    answer = admin.as_key(ACCOUNT, "ingest").request(
        "POST",
        "/v1/imports",
        body=atom_feed(usage_point("Home"), watt_hours(), hours("385", "365")).decode(),
        query={"format": "greenbutton"},
        headers={"Content-Type": "application/atom+xml"},
    )
    assert (answer.status, answer.json["accepted"]) == (200, 2)
    stored = fakes.readings.items[ACCOUNT]
    assert [(r.meter_id, r.value) for r in stored] == [("mtr-1", D("0.385")), ("mtr-1", D("0.365"))]
