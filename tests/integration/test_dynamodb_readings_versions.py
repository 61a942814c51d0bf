"""Issue 8, items 8 and 15 on DynamoDB (moto): corrections replace the current version of an instant and the
replaced one is kept in the same item with when its replacement arrived; "later" is the order in which the
conditional writes land, also when requests race; and a bucket that outgrows one item continues in overflow
items, with the real sizes (a second batch of ~8,300 register reads of one meter and day used to answer a
retry-forever 503)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from meterbill.adapters.dynamodb import readings as readings_adapter
from meterbill.adapters.dynamodb.readings import MAX_PART_BYTES, PART_BYTES
from meterbill.adapters.dynamodb.sizing import item_size
from meterbill.errors import InvalidInputError
from meterbill.ports import PutResult, RawReading, Stores, SupersededReading
from tests.integration.conftest import READINGS_TABLE, Clock, Faults, Tables

D = Decimal
DAY = datetime(2026, 3, 1, tzinfo=UTC)
BUCKET = "2026-03-01T00:00Z#i15"
DYNAMODB_ITEM_LIMIT = 400 * 1024


def quarter_hour(n: int, value: str, quality: str = "A") -> RawReading:
    return RawReading("mtr-1", DAY + timedelta(minutes=15 * n), D(value), "interval", 15, quality)


def test_corrections_replace_the_current_value_and_each_replaced_version_is_kept_with_its_arrival(
    stores: Stores, tables: Tables, clock: Clock
) -> None:
    stores.readings.put_new("acme", [quarter_hour(0, "1.25"), quarter_hour(1, "0.5", "E")])
    clock.advance(hours=2)
    first = stores.readings.put_new("acme", [quarter_hour(0, "1.10"), quarter_hour(1, "0.5")])
    clock.advance(hours=1)
    second = stores.readings.put_new("acme", [quarter_hour(0, "1.05"), quarter_hour(1, "0.7", "E")])

    assert first == PutResult(written=[0, 1], duplicates=[], replaced=[0, 1])
    assert second == PutResult(written=[0], duplicates=[], replaced=[0], outranked=[1])
    assert tables.bucket("acme#mtr-1", BUCKET) == {
        "series": {"S": "acme#mtr-1"},
        "bucket": {"S": BUCKET},
        "--A": {"N": "1.05"},
        "--~1": {"S": "A 1.25 2026-03-01T11:00:00Z"},
        "--~2": {"S": "A 1.1 2026-03-01T12:00:00Z"},
        "-EA": {"N": "0.5"},
        "-E~1": {"S": "E 0.5 2026-03-01T11:00:00Z"},
        "version": {"N": "3"},
    }
    hour = (DAY, DAY + timedelta(hours=1))
    assert list(stores.readings.between("acme", "mtr-1", *hour)) == [
        quarter_hour(0, "1.05"),
        quarter_hour(1, "0.5"),
    ]
    assert list(stores.readings.superseded("acme", "mtr-1", *hour)) == [
        SupersededReading(quarter_hour(0, "1.25"), datetime(2026, 3, 1, 11, tzinfo=UTC), 1),
        SupersededReading(quarter_hour(0, "1.1"), datetime(2026, 3, 1, 12, tzinfo=UTC), 2),
        SupersededReading(quarter_hour(1, "0.5", "E"), datetime(2026, 3, 1, 11, tzinfo=UTC), 1),
    ]


def test_an_identical_resend_after_a_correction_is_a_duplicate_and_writes_nothing(
    stores: Stores, tables: Tables
) -> None:
    stores.readings.put_new("acme", [quarter_hour(0, "1.25")])
    stores.readings.put_new("acme", [quarter_hour(0, "1.10")])

    again = stores.readings.put_new("acme", [quarter_hour(0, "1.100")])

    assert again == PutResult(written=[], duplicates=[0])
    assert tables.bucket("acme#mtr-1", BUCKET)["version"] == {"N": "2"}  # type: ignore[index]


def test_of_two_racing_corrections_the_one_whose_write_lands_second_is_current_and_the_first_is_history(
    stores: Stores, tables: Tables, faults: Faults
) -> None:
    """A reads the bucket holding 1.25; before A's put, B reads, writes 1.20 and answers. A's conditional put
    fails, A reads again, sees 1.20 and replaces it: later = landed later, and no version is lost."""
    stores.readings.put_new("acme", [quarter_hour(0, "1.25")])
    answers: list[PutResult] = []
    raced: list[bool] = []

    def b_corrects_just_before_as_put(**_: Any) -> None:
        if not raced:
            raced.append(True)
            answers.append(stores.readings.put_new("acme", [quarter_hour(0, "1.20")]))

    faults.events.register_first("before-call.dynamodb.PutItem", b_corrects_just_before_as_put)

    answers.insert(0, stores.readings.put_new("acme", [quarter_hour(0, "1.10")]))

    assert answers == [
        PutResult(written=[0], duplicates=[], replaced=[0]),
        PutResult(written=[0], duplicates=[], replaced=[0]),
    ]
    bucket = tables.bucket("acme#mtr-1", BUCKET)
    assert bucket is not None
    assert {name: value for name, value in bucket.items() if name.startswith("-")} == {
        "--A": {"N": "1.1"},
        "--~1": {"S": "A 1.25 2026-03-01T09:00:00Z"},
        "--~2": {"S": "A 1.2 2026-03-01T09:00:00Z"},
    }
    # 1.25's put, B's put, A's refused put, A's put after reading again
    assert faults.calls["PutItem"] == 4


# --- overflow -----------------------------------------------------------------------------------------------


def register_reads(first: int, count: int) -> list[RawReading]:
    """Register reads 5.2 s apart from 00:00 on (microseconds in every name), values of 24 digits (15 whole,
    9 decimal: the most the ingest service lets in), so ~25 bytes each as stored."""
    return [
        RawReading(
            "mtr-1",
            DAY + timedelta(microseconds=5_200_000 * n + 123_457),
            D("123456789012345.123456789") + n,
            "register",
        )
        for n in range(first, first + count)
    ]


def test_a_second_batch_of_8300_register_reads_of_one_day_continues_in_overflow_items(
    stores: Stores, tables: Tables
) -> None:
    first, second = register_reads(0, 8300), register_reads(8300, 8300)

    assert stores.readings.put_new("acme", first) == PutResult(written=list(range(8300)), duplicates=[])
    assert stores.readings.put_new("acme", second) == PutResult(written=list(range(8300)), duplicates=[])
    assert stores.readings.put_new("acme", first[:10] + second[-10:]).duplicates == list(range(20))

    items = sorted(tables.all(READINGS_TABLE), key=lambda item: item["bucket"]["S"])
    sizes = [item_size(item) for item in items]
    assert sum(sizes) > DYNAMODB_ITEM_LIMIT  # what no single item could hold
    assert max(sizes) <= PART_BYTES + 64 < MAX_PART_BYTES
    assert [item["bucket"]["S"] for item in items] == sorted(
        ["2026-03-01T00:00Z#r", *(f"2026-03-01T00:00Z#r#{n}" for n in range(2, len(items) + 1))]
    )
    assert [("sealed" in item) for item in items].count(False) == 1  # only the last part takes new reads
    names = [name for item in items for name in item if name not in ("series", "bucket", "version", "sealed")]
    assert len(names) == len(set(names)) == 16_600  # every instant in exactly one item
    assert list(stores.readings.between("acme", "mtr-1", DAY, DAY + timedelta(days=1))) == first + second


def test_a_correction_goes_to_the_overflow_item_that_holds_its_instant(
    stores: Stores, tables: Tables
) -> None:
    reads = register_reads(0, 3000)
    stores.readings.put_new("acme", reads)
    early, late = reads[5], reads[2990]

    result = stores.readings.put_new(
        "acme",
        [
            RawReading(early.meter_id, early.timestamp, early.value - 1, "register"),
            RawReading(late.meter_id, late.timestamp, late.value - 1, "register"),
        ],
    )

    assert result == PutResult(written=[0, 1], duplicates=[], replaced=[0, 1])
    stored = list(stores.readings.between("acme", "mtr-1", DAY, DAY + timedelta(days=1)))
    assert len(stored) == 3000
    assert (stored[5].value, stored[2990].value) == (early.value - 1, late.value - 1)
    histories = [
        (item["bucket"]["S"], name) for item in tables.all(READINGS_TABLE) for name in item if "~" in name
    ]
    assert [bucket for bucket, _ in sorted(histories)] == ["2026-03-01T00:00Z#r", "2026-03-01T00:00Z#r#3"]


def test_an_item_that_would_outgrow_its_limit_with_corrections_refuses_them_with_a_4xx_naming_it(
    stores: Stores, tables: Tables, monkeypatch: pytest.MonkeyPatch
) -> None:
    """~11,000 versions of one quarter hour (~36 bytes of history each) would outgrow the 380 KiB limit; with
    the limit at 16 KiB (so the test runs in a second) ~450 do."""
    monkeypatch.setattr(readings_adapter, "MAX_PART_BYTES", 16 * 1024)
    stores.readings.put_new("acme", [quarter_hour(0, f"{n}.5") for n in range(400)])

    with pytest.raises(InvalidInputError) as refused:
        stores.readings.put_new("acme", [quarter_hour(0, f"{n}.5") for n in range(400, 500)])

    assert (refused.value.field, refused.value.reason) == (
        "readings",
        "the versions of bucket '2026-03-01T00:00Z#i15' outgrow a DynamoDB item (16,384 bytes); it takes no "
        "more corrections",
    )
    (item,) = tables.all(READINGS_TABLE)
    assert item["--A"] == {"N": "399.5"}  # nothing of the refused batch's bucket was written
    assert item_size(item) <= 16 * 1024
