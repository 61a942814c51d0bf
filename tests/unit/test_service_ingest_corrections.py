"""Issue 8, item 8: a later version of an interval with the same or better quality replaces the stored one (a
correction), an identical resend is still a duplicate, the replaced version is kept for audit, and the
ingest report counts ``replaced``. Validated usage follows the correction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from meterbill.domain import Meter, Site
from meterbill.ports import RawReading, SupersededReading
from meterbill.services import catalog as catalog_service
from meterbill.services.ingest import IngestReport, ReadingIn, Rejection, store_readings
from meterbill.services.usage import meter_usage
from tests.fakes import FakeCatalogStore, FakeReadingStore

A = "acc-a"
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
RECEIVED = datetime(2026, 3, 2, 6, 30, tzinfo=UTC)  # the store's clock: when a correction arrived
D = Decimal
AT = "2026-03-01T10:00Z"
T = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


@pytest.fixture
def catalog() -> FakeCatalogStore:
    store = FakeCatalogStore()
    catalog_service.create(A, Site, {"id": "site", "name": "Plant", "timezone": "UTC"}, store)
    for meter_id in ("m1", "r1"):
        body = {"id": meter_id, "site_id": "site", "utility": "electricity", "unit": "kWh", "kind": "main"}
        catalog_service.create(A, Meter, body, store)
    return store


@pytest.fixture
def readings() -> FakeReadingStore:
    return FakeReadingStore(clock=lambda: RECEIVED)


def interval(at: str, value: str, quality: str = "A", **fields: Any) -> ReadingIn:
    return ReadingIn("m1", datetime.fromisoformat(at), D(value), "interval", 15, quality, **fields)


def ingest(catalog: FakeCatalogStore, readings: FakeReadingStore, *items: ReadingIn) -> IngestReport:
    return store_readings(A, items, catalog, readings, NOW)


def stored(value: str, quality: str = "A", at: datetime = T) -> RawReading:
    return RawReading("m1", at, D(value), "interval", 15, quality)


def test_a_downward_correction_of_the_same_quality_replaces_the_stored_value_and_keeps_it_as_history(
    catalog: FakeCatalogStore, readings: FakeReadingStore
) -> None:
    first = ingest(catalog, readings, interval(AT, "1.25"))
    correction = ingest(catalog, readings, interval(AT, "1.10"))

    assert first == IngestReport(accepted=1, duplicates=0, replaced=0)
    assert correction == IngestReport(accepted=1, duplicates=0, replaced=1)
    assert readings.items[A] == [stored("1.10")]
    assert readings.history[A] == [SupersededReading(stored("1.25"), superseded_at=RECEIVED, order=1)]
    assert list(readings.superseded(A, "m1", T, T + timedelta(minutes=15))) == readings.history[A]


def test_an_identical_resend_after_a_correction_is_a_duplicate(
    catalog: FakeCatalogStore, readings: FakeReadingStore
) -> None:
    ingest(catalog, readings, interval(AT, "1.25"))
    ingest(catalog, readings, interval(AT, "1.10"))

    again = ingest(catalog, readings, interval(AT, "1.100"))

    assert again == IngestReport(accepted=0, duplicates=1, replaced=0)
    assert (readings.items[A], len(readings.history[A])) == ([stored("1.10")], 1)


def test_every_correction_is_kept_in_the_order_it_replaced(
    catalog: FakeCatalogStore, readings: FakeReadingStore
) -> None:
    report = ingest(
        catalog,
        readings,
        interval(AT, "1.25", quality="E"),
        interval(AT, "1.10", quality="E"),
        interval(AT, "1.20", quality="F"),
    )

    assert report == IngestReport(accepted=3, duplicates=0, replaced=2)
    assert readings.items[A] == [stored("1.20", "F")]
    assert readings.history[A] == [
        SupersededReading(stored("1.25", "E"), RECEIVED, 1),
        SupersededReading(stored("1.10", "E"), RECEIVED, 2),
    ]


def test_an_actual_value_replaces_an_estimate_but_an_estimate_never_replaces_an_actual_value(
    catalog: FakeCatalogStore, readings: FakeReadingStore
) -> None:
    estimate = ingest(catalog, readings, interval(AT, "2.00", quality="E"))
    actual = ingest(catalog, readings, interval(AT, "1.50"))
    late_estimate = ingest(catalog, readings, interval("2026-03-01T11:00+01:00", "2.50", quality="E"))

    assert (estimate.accepted, actual.accepted, actual.replaced) == (1, 1, 1)
    assert late_estimate == IngestReport(
        accepted=0,
        duplicates=0,
        rejected=[
            Rejection(
                0,
                "m1",
                "quality",
                "a better-quality version of this interval reading is stored; "
                "quality E does not replace it (A > F > S > E > N)",
            )
        ],
        rejected_count=1,
        replaced=0,
    )
    assert late_estimate.all_rejected
    assert readings.items[A] == [stored("1.50")]
    assert readings.history[A] == [SupersededReading(stored("2.00", "E"), RECEIVED, 1)]


def test_validated_usage_follows_a_downward_correction(
    catalog: FakeCatalogStore, readings: FakeReadingStore
) -> None:
    day = datetime(2026, 3, 1, tzinfo=UTC)
    first_hour = [interval((day + n * timedelta(minutes=15)).isoformat(), "1.25") for n in range(4)]
    ingest(catalog, readings, *first_hour)
    ingest(catalog, readings, interval(day.isoformat(), "0.25"))

    usage = meter_usage(A, "m1", day, day + timedelta(hours=1), "hour", catalog, readings)

    assert usage.total == D("0.25") + 3 * D("1.25")  # 4.00 kWh, not the 5.00 the larger value would give
