"""Readings in: valid items stored once, bad ones rejected one by one with the field and the reason."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from meterbill.domain import Meter, Site
from meterbill.errors import InvalidInputError
from meterbill.ports import RawReading
from meterbill.services import catalog as catalog_service
from meterbill.services.ingest import IngestReport, ReadingIn, Rejection, import_file, store_readings
from tests.builders import BERLIN, UTC
from tests.fakes import FakeCatalogStore, FakeReadingStore

A, B = "acc-a", "acc-b"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
D = Decimal


@pytest.fixture
def catalog() -> FakeCatalogStore:
    """Account A: site berlin, interval meter m1 (15 min, external id NMI0000001-E1), register meter r1.
    Account B: meter mb."""
    store = FakeCatalogStore()
    for account, meters in ((A, ("m1", "r1")), (B, ("mb",))):
        catalog_service.create(
            account, Site, {"id": "berlin", "name": "Plant", "timezone": "Europe/Berlin"}, store
        )
        for meter_id in meters:
            body = {
                "id": meter_id,
                "site_id": "berlin",
                "utility": "electricity",
                "unit": "kWh",
                "kind": "main",
            }
            if meter_id == "m1":
                body["external_id"] = "NMI0000001-E1"
            catalog_service.create(account, Meter, body, store)
    return store


@pytest.fixture
def readings() -> FakeReadingStore:
    return FakeReadingStore()


def interval(at: str, value: str, meter: str = "m1", minutes: int | None = 15, **fields: Any) -> ReadingIn:
    return ReadingIn(meter, datetime.fromisoformat(at), D(value), "interval", minutes, **fields)


def register(at: str, value: str, meter: str = "r1", **fields: Any) -> ReadingIn:
    return ReadingIn(meter, datetime.fromisoformat(at), D(value), "register", **fields)


def ingest(catalog: FakeCatalogStore, readings: FakeReadingStore, *items: ReadingIn) -> IngestReport:
    return store_readings(A, items, catalog, readings, NOW)


def test_valid_readings_are_stored_as_sent(catalog: FakeCatalogStore, readings: FakeReadingStore) -> None:
    report = ingest(
        catalog,
        readings,
        interval("2026-03-01T10:00+01:00", "1.250"),
        register("2026-03-01T10:00Z", "12345.6", quality="E"),
    )
    assert report == IngestReport(accepted=2, duplicates=0, rejected=[], rejected_count=0)
    assert readings.items == {
        A: [
            RawReading("m1", datetime(2026, 3, 1, 9, 0, tzinfo=UTC), D("1.250"), "interval", 15, "A"),
            RawReading("r1", datetime(2026, 3, 1, 10, 0, tzinfo=UTC), D("12345.6"), "register", None, "E"),
        ]
    }


def test_good_items_are_stored_and_bad_ones_rejected_one_by_one(
    catalog: FakeCatalogStore, readings: FakeReadingStore
) -> None:
    report = ingest(
        catalog,
        readings,
        interval("2026-03-01T11:00Z", "0.5"),  # 0: good
        interval("2026-03-01T12:06Z", "0.5"),  # 1: more than 5 minutes ahead
        register("2026-03-01T12:05Z", "0.5"),  # 2: exactly 5 minutes ahead: good
        interval("2026-03-01T11:00Z", "NaN"),  # 3
        interval("2026-03-01T11:00Z", "-Infinity"),  # 4
        interval("2026-03-01T11:15Z", "-0.5"),  # 5
        register("2026-03-01T11:15Z", "-3"),  # 6: a negative register read is not refused here
        interval("2026-03-01T11:00Z", "0.5", meter="m9"),  # 7: no such meter
        interval("2026-03-01T11:00Z", "0.5", meter="mb"),  # 8: account B's meter
        interval("2026-03-01T11:00Z", "0.5", minutes=10),  # 9
        interval("2026-03-01T11:00Z", "0.5", minutes=5),  # 10: not the meter's interval
        interval("2026-03-01T11:00Z", "0.5", minutes=None),  # 11
        register("2026-03-01T11:00Z", "7", interval_minutes=15),  # 12
        interval("2026-03-01T11:30Z", "0.5", quality="X"),  # 13
        interval("2026-03-01T11:00", "0.5"),  # 14: naive
        ReadingIn("m1", NOW, D(1), "pulse"),  # 15
        interval("2026-03-01T11:45Z", "0.1234567891"),  # 16: 10 decimal places
        interval("2026-03-01T11:45Z", "1E+15"),  # 17
    )
    future = "more than 0:05:00 ahead of the server's clock (2026-03-01T12:00:00+00:00)"
    assert report.rejected == [
        Rejection(1, "m1", "timestamp", f"2026-03-01T12:06:00+00:00 is in the future: {future}"),
        Rejection(3, "m1", "value", "NaN is not a finite number"),
        Rejection(4, "m1", "value", "-Infinity is not a finite number"),
        Rejection(5, "m1", "value", "negative interval value -0.5"),
        Rejection(7, "m9", "meter_id", "no meter 'm9'"),
        Rejection(8, "mb", "meter_id", "no meter 'mb'"),
        Rejection(9, "m1", "interval_minutes", "10 is not one of 1, 5, 15, 30, 60"),
        Rejection(10, "m1", "interval_minutes", "meter 'm1' records 15-minute intervals"),
        Rejection(11, "m1", "interval_minutes", "None is not one of 1, 5, 15, 30, 60"),
        Rejection(12, "r1", "interval_minutes", "a register read has no interval length"),
        Rejection(13, "m1", "quality", "'X' is not a quality flag (A, E, S, F or N)"),
        Rejection(14, "m1", "timestamp", "2026-03-01T11:00:00 has no UTC offset"),
        Rejection(15, "m1", "type", "'pulse' is not 'register' or 'interval'"),
        Rejection(16, "m1", "value", "0.1234567891 has more than 9 decimal places"),
        Rejection(17, "m1", "value", "1E+15 is too large (the limit is 10^15)"),
    ]
    assert (report.accepted, report.duplicates, report.rejected_count, report.all_rejected) == (
        3,
        0,
        15,
        False,
    )
    assert [(r.meter_id, r.timestamp.isoformat(), r.value) for r in readings.items[A]] == [
        ("m1", "2026-03-01T11:00:00+00:00", D("0.5")),
        ("r1", "2026-03-01T12:05:00+00:00", D("0.5")),
        ("r1", "2026-03-01T11:15:00+00:00", D("-3")),
    ]
    assert B not in readings.items


def test_a_resent_batch_stores_nothing_twice(catalog: FakeCatalogStore, readings: FakeReadingStore) -> None:
    batch = [interval("2026-03-01T00:15+01:00", "1.250"), register("2026-03-01T00:15+01:00", "100")]
    first = store_readings(A, batch, catalog, readings, NOW)
    again = store_readings(A, batch, catalog, readings, NOW)
    assert (first.accepted, first.duplicates, again.accepted, again.duplicates) == (2, 0, 0, 2)
    assert len(readings.items[A]) == 2


def test_the_same_reading_twice_in_one_batch_is_stored_once(
    catalog: FakeCatalogStore, readings: FakeReadingStore
) -> None:
    report = ingest(
        catalog, readings, interval("2026-03-01T10:00Z", "1.0"), interval("2026-03-01T11:00+01:00", "1.000")
    )
    assert (report.accepted, report.duplicates) == (1, 1)


def test_a_batch_of_only_bad_items_stores_nothing_and_says_so(
    catalog: FakeCatalogStore, readings: FakeReadingStore
) -> None:
    report = ingest(
        catalog, readings, interval("2026-03-01T10:00Z", "-1"), interval("2026-03-01T10:00Z", "1", meter="mb")
    )
    assert (report.accepted, report.rejected_count, report.all_rejected) == (0, 2, True)
    assert (readings.items, readings.put_calls) == ({}, 0)


def test_a_batch_looks_each_meter_up_once(catalog: FakeCatalogStore, readings: FakeReadingStore) -> None:
    start = datetime(2026, 2, 1, tzinfo=UTC)
    batch = [
        ReadingIn("m1", start + i * timedelta(minutes=15), D("0.25"), "interval", 15) for i in range(2000)
    ] + [ReadingIn("m9", start, D(1), "interval", 15)] * 3
    catalog.get_calls = 0
    report = store_readings(A, batch, catalog, readings, NOW)
    assert (report.accepted, report.rejected_count, catalog.get_calls) == (2000, 3, 2)


def test_the_future_tolerance_can_be_set(catalog: FakeCatalogStore, readings: FakeReadingStore) -> None:
    report = store_readings(
        A, [interval("2026-03-01T12:01Z", "1")], catalog, readings, NOW, future_tolerance=timedelta(0)
    )
    assert [r.field for r in report.rejected] == ["timestamp"]


# --- imports ------------------------------------------------------------------------------------------------

NEM12_HEADER = "100,NEM12,202603010000,MDP1,RETAILER1"


def nem12(*channels: tuple[str, str, str]) -> bytes:
    """One 30-minute day (2026-02-27) per (NMI, unit, value) channel, all 48 values the same."""
    lines = [NEM12_HEADER]
    for nmi, unit, value in channels:
        lines.append(f"200,{nmi},E1,1,E1,N1,MTR,{unit},30,")
        lines.append(",".join(["300", "20260227", *[value] * 48, "A,,,20260228000000,"]))
    lines.append("900")
    return "\n".join(lines).encode()


@pytest.fixture
def half_hourly(catalog: FakeCatalogStore) -> FakeCatalogStore:
    """m1 records 30-minute intervals (as the NEM12 files below)."""
    body = dict(catalog.items[(A, "meter", "m1")].body)
    body.pop("account_id")
    catalog_service.replace(A, Meter, "m1", {**body, "interval_minutes": 30}, catalog, if_match=None)
    return catalog


def test_a_nem12_file_maps_its_meters_by_external_id(
    half_hourly: FakeCatalogStore, readings: FakeReadingStore
) -> None:
    report = import_file(A, "nem12", nem12(("NMI0000001", "kWh", "0.500")), half_hourly, readings, NOW)
    assert (report.accepted, report.duplicates, report.rejected) == (48, 0, [])
    stored = readings.items[A]
    assert (stored[0].meter_id, stored[0].timestamp, stored[0].value, stored[0].interval_minutes) == (
        "m1",
        datetime(2026, 2, 26, 14, 0, tzinfo=UTC),  # midnight NEM time (UTC+10)
        D("0.500"),
        30,
    )
    assert sum(r.value for r in stored) == 48 * D("0.5")
    again = import_file(A, "nem12", nem12(("NMI0000001", "kWh", "0.500")), half_hourly, readings, NOW)
    assert (again.accepted, again.duplicates) == (0, 48)


def test_file_meters_no_meter_of_the_account_carries_are_rejected_per_reading(
    half_hourly: FakeCatalogStore, readings: FakeReadingStore
) -> None:
    catalog_service.create(
        B,
        Meter,
        {
            "id": "mb2",
            "site_id": "berlin",
            "utility": "electricity",
            "unit": "kWh",
            "kind": "main",
            "external_id": "NMI0000002-E1",
        },
        half_hourly,
    )
    data = nem12(("NMI0000001", "kWh", "0.5"), ("NMI0000002", "kWh", "0.1"), ("NMI0000001", "Wh", "1"))
    report = import_file(A, "nem12", data, half_hourly, readings, NOW)
    assert (report.accepted, report.rejected_count) == (48, 96)
    assert report.rejected[0] == Rejection(48, "NMI0000002-E1", "meter_id", "no meter 'NMI0000002-E1'")
    assert report.rejected[48] == Rejection(
        96, "NMI0000001-E1", "unit", "the file's 'Wh' is not meter 'm1''s unit 'kWh'"
    )
    assert {r.meter_id for r in readings.items[A]} == {"m1"}


def test_a_file_that_cannot_be_read_stores_nothing(
    half_hourly: FakeCatalogStore, readings: FakeReadingStore
) -> None:
    broken = nem12(("NMI0000001", "kWh", "0.5")).replace(b"\n900", b"\n300,20260228,1,2,3\n900")
    with pytest.raises(InvalidInputError) as err:
        import_file(A, "nem12", broken, half_hourly, readings, NOW)
    assert err.value.field == "body"
    assert err.value.reason.startswith("line 4: ")
    assert readings.items == {}


def test_a_csv_file_is_one_named_meters_intervals_on_its_sites_clock(
    catalog: FakeCatalogStore, readings: FakeReadingStore
) -> None:
    data = b"start,value\n2026-02-01T00:00,0.25\n2026-02-01T00:15,0.50\n2026-02-01T00:30:00+01:00,0.75\n"
    report = import_file(A, "csv", data, catalog, readings, NOW, meter_id="m1")
    assert (report.accepted, report.rejected) == (3, [])
    assert [(r.timestamp, r.value, r.interval_minutes) for r in readings.items[A]] == [
        (datetime(2026, 2, 1, 0, 0, tzinfo=BERLIN), D("0.25"), 15),
        (datetime(2026, 2, 1, 0, 15, tzinfo=BERLIN), D("0.50"), 15),
        (datetime(2026, 2, 1, 0, 30, tzinfo=BERLIN), D("0.75"), 15),
    ]


def test_a_csv_file_needs_a_meter_of_the_account(
    catalog: FakeCatalogStore, readings: FakeReadingStore
) -> None:
    data = b"start,value\n2026-02-01T00:00Z,1\n2026-02-01T00:15Z,1\n"
    for meter_id, reason in (
        (None, "a CSV file holds one meter's intervals: say which meter"),
        ("mb", "no meter 'mb'"),
    ):
        with pytest.raises(InvalidInputError) as err:
            import_file(A, "csv", data, catalog, readings, NOW, meter_id=meter_id)
        assert (err.value.field, err.value.reason) == ("meter_id", reason)


def test_an_unknown_format_is_refused(catalog: FakeCatalogStore, readings: FakeReadingStore) -> None:
    with pytest.raises(InvalidInputError) as err:
        import_file(A, "xlsx", b"", catalog, readings, NOW)
    assert (err.value.field, err.value.reason) == ("format", "'xlsx' is not one of: csv, greenbutton, nem12")


GREEN_BUTTON = """<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:espi="http://naesb.org/espi">
  <entry>
    <link rel="self" href="https://u.example/espi/UsagePoint/7/MeterReading/1"/>
    <link rel="related" href="https://u.example/espi/ReadingType/1"/>
    <content><espi:MeterReading/></content>
  </entry>
  <entry>
    <link rel="self" href="https://u.example/espi/ReadingType/1"/>
    <content><espi:ReadingType><espi:powerOfTenMultiplier>0</espi:powerOfTenMultiplier>
      <espi:uom>72</espi:uom></espi:ReadingType></content>
  </entry>
  <entry>
    <link rel="up" href="https://u.example/espi/UsagePoint/7/MeterReading/1/IntervalBlock"/>
    <content><espi:IntervalBlock>
      <espi:IntervalReading><espi:timePeriod><espi:duration>900</espi:duration>
        <espi:start>1772323200</espi:start></espi:timePeriod><espi:value>250</espi:value></espi:IntervalReading>
      <espi:IntervalReading><espi:timePeriod><espi:duration>900</espi:duration>
        <espi:start>1772324100</espi:start></espi:timePeriod><espi:value>-100</espi:value></espi:IntervalReading>
    </espi:IntervalBlock></content>
  </entry>
</feed>
"""


def test_a_green_button_feed_maps_usage_point_and_meter_reading_to_a_meter(
    catalog: FakeCatalogStore, readings: FakeReadingStore
) -> None:
    body = dict(catalog.items[(A, "meter", "m1")].body)
    body.pop("account_id")
    catalog_service.replace(A, Meter, "m1", {**body, "external_id": "7-1"}, catalog, if_match=None)
    report = import_file(A, "greenbutton", GREEN_BUTTON.encode(), catalog, readings, NOW)
    assert report.accepted == 1
    assert report.rejected == [Rejection(1, "7-1", "value", "negative interval value -0.100")]
    (stored,) = readings.items[A]
    assert (stored.meter_id, stored.timestamp, stored.value) == (
        "m1",
        datetime(2026, 3, 1, tzinfo=UTC),
        D("0.25"),
    )
