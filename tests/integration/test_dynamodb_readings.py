"""ReadingStore on DynamoDB (moto): the stored buckets attribute by attribute, exactly-once under resends,
races and faults, and reading back in timestamp order.

Attribute names, as ``meterbill.adapters.dynamodb.readings`` spells them: the minute in the bucket in two
characters of ``-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz`` (00:00 ``--``, 00:15
``-E``, 00:30 ``-T``, 00:45 ``-h``, 01:00 ``-w``), then the quality, then ``.SS[ffffff]`` for seconds if any.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from meterbill.adapters.dynamodb import DynamoDb, RetryPolicy, stores_on
from meterbill.adapters.dynamodb.sizing import item_size
from meterbill.errors import InvalidInputError, StorageUnavailableError
from meterbill.ports import PutResult, RawReading, ReadingType, Stores
from meterbill.settings import StorageSettings
from tests.integration.conftest import READINGS_TABLE, Faults, Tables

D = Decimal
DAY = datetime(2026, 3, 1, tzinfo=UTC)
BERLIN = ZoneInfo("Europe/Berlin")


def quarter_hours(
    start: datetime, values: Sequence[str], meter: str = "mtr-1", quality: str = "A"
) -> list[RawReading]:
    return [
        RawReading(meter, start + timedelta(minutes=15 * n), D(value), "interval", 15, quality)
        for n, value in enumerate(values)
    ]


def reading(
    at: datetime,
    value: str,
    meter: str = "mtr-1",
    kind: ReadingType = "interval",
    interval: int | None = 15,
    quality: str = "A",
) -> RawReading:
    return RawReading(meter, at, D(value), kind, interval, quality)


def numbers(item: dict[str, Any] | None) -> dict[str, str]:
    """The current readings of a bucket: name → DynamoDB Number text (history entries are Strings)."""
    assert item is not None
    return {
        name: value["N"]
        for name, value in item.items()
        if name not in ("series", "bucket", "version") and "N" in value
    }


# --- what is stored -----------------------------------------------------------------------------------------


def test_an_hour_of_quarter_hours_is_one_item_with_one_number_per_reading(
    stores: Stores, tables: Tables
) -> None:
    result = stores.readings.put_new("acme", quarter_hours(DAY, ["1.25", "0.5", "12345.678", "0"]))

    assert result == PutResult(written=[0, 1, 2, 3], duplicates=[])
    assert tables.all(READINGS_TABLE) == [
        {
            "series": {"S": "acme#mtr-1"},
            "bucket": {"S": "2026-03-01T00:00Z#i15"},
            "--A": {"N": "1.25"},
            "-EA": {"N": "0.5"},
            "-TA": {"N": "12345.678"},
            "-hA": {"N": "0"},
            "version": {"N": "1"},
        }
    ]


def test_each_push_of_the_day_adds_to_the_same_item(stores: Stores, tables: Tables) -> None:
    stores.readings.put_new("acme", quarter_hours(DAY, ["1", "2", "3", "4"]))
    stores.readings.put_new("acme", quarter_hours(DAY + timedelta(hours=1), ["5", "6", "7", "8"]))

    item = tables.bucket("acme#mtr-1", "2026-03-01T00:00Z#i15")
    assert numbers(item) == {
        "--A": "1", "-EA": "2", "-TA": "3", "-hA": "4", "-wA": "5", "0AA": "6", "0PA": "7", "0dA": "8"
    }  # fmt: skip
    assert item["version"] == {"N": "2"}  # type: ignore[index]


def test_a_day_of_quarter_hours_stays_under_one_kilobyte_so_every_hourly_push_is_one_write_unit(
    stores: Stores, tables: Tables
) -> None:
    account, meter = "a" * 64, "m" * 64  # the longest ids the domain allows
    for hour in range(24):
        values = [f"{1000 * hour + n}.{n * 37:03d}" for n in range(4)]  # 7 significant digits each
        stores.readings.put_new(account, quarter_hours(DAY + timedelta(hours=hour), values, meter=meter))

    (item,) = tables.all(READINGS_TABLE)
    assert len(numbers(item)) == 96
    assert item_size(item) <= 1024


def test_values_are_stored_as_exact_numbers_without_trailing_zeros(stores: Stores, tables: Tables) -> None:
    values = ["12345.678", "1.250", "0.000", "-3.5", "1E+3", "0.00000000000000000000000000000000000001",
              "12345678901234567890.123456789012345678"]  # fmt: skip
    stores.readings.put_new("acme", quarter_hours(DAY, values))

    assert list(numbers(tables.bucket("acme#mtr-1", "2026-03-01T00:00Z#i15")).values()) == [
        "12345.678", "1.25", "0", "-3.5", "1000", "0.00000000000000000000000000000000000001",
        "12345678901234567890.123456789012345678",
    ]  # fmt: skip
    back = [stored.value for stored in stores.readings.between("acme", "mtr-1", DAY, DAY + timedelta(days=1))]
    assert back == [D(value) for value in values]
    assert str(back[0]) == "12345.678"


def test_register_reads_keep_their_exact_instant_down_to_the_microsecond(
    stores: Stores, tables: Tables
) -> None:
    noon = DAY.replace(hour=12, minute=34)
    reads = [
        reading(noon, "100.5", kind="register", interval=None),
        reading(noon.replace(second=56), "100.6", kind="register", interval=None, quality="E"),
        reading(noon.replace(second=56, microsecond=123456), "100.7", kind="register", interval=None),
    ]

    stores.readings.put_new("acme", reads)

    assert numbers(tables.bucket("acme#mtr-1", "2026-03-01T00:00Z#r")) == {
        "AmA": "100.5",
        "AmE.56": "100.6",
        "AmA.56123456": "100.7",
    }
    assert list(stores.readings.between("acme", "mtr-1", DAY, DAY + timedelta(days=1))) == reads


def test_each_series_type_and_interval_has_its_own_items(stores: Stores, tables: Tables) -> None:
    at = DAY.replace(hour=13, minute=5)
    stores.readings.put_new(
        "acme",
        [
            reading(at, "1", interval=1),
            reading(at, "2", interval=5),
            reading(at, "3", interval=15),
            reading(at, "4", interval=60),
            reading(at, "5", kind="register", interval=None),
            reading(at, "6", kind="register", interval=15),
            reading(at, "7", meter="mtr-2"),
        ],
    )

    assert {
        (item["series"]["S"], item["bucket"]["S"]): numbers(item) for item in tables.all(READINGS_TABLE)
    } == {
        ("acme#mtr-1", "2026-03-01T13:00Z#i1"): {"-4A": "1"},  # hour buckets below 5 minutes
        ("acme#mtr-1", "2026-03-01T08:00Z#i5"): {
            "3lA": "2"
        },  # 8-hour buckets from 5 to 14 minutes: minute 305
        ("acme#mtr-1", "2026-03-01T00:00Z#i15"): {"BGA": "3"},  # day buckets: minute 785
        ("acme#mtr-1", "2026-03-01T00:00Z#i60"): {"BGA": "4"},
        ("acme#mtr-1", "2026-03-01T00:00Z#r"): {"BGA": "5"},
        ("acme#mtr-1", "2026-03-01T00:00Z#r15"): {"BGA": "6"},
        ("acme#mtr-2", "2026-03-01T00:00Z#i15"): {"BGA": "7"},
    }


def test_buckets_are_utc_days_whatever_the_readings_time_zone(stores: Stores, tables: Tables) -> None:
    berlin_midnight = datetime(2026, 3, 2, tzinfo=BERLIN)  # 2026-03-01T23:00Z

    stores.readings.put_new("acme", quarter_hours(berlin_midnight, ["1", "2", "3", "4", "5"]))

    assert {item["bucket"]["S"]: numbers(item) for item in tables.all(READINGS_TABLE)} == {
        "2026-03-01T00:00Z#i15": {"KZA": "1", "KnA": "2", "L1A": "3", "LGA": "4"},  # minutes 1380 to 1425
        "2026-03-02T00:00Z#i15": {"--A": "5"},
    }


# --- duplicates and other values ----------------------------------------------------------------------------


def test_a_resent_batch_stores_nothing_twice_and_writes_nothing(
    stores: Stores, tables: Tables, faults: Faults
) -> None:
    batch = quarter_hours(DAY, ["1.25", "0.5", "0.75", "1"])
    stores.readings.put_new("acme", batch)

    again = stores.readings.put_new("acme", batch)

    assert again == PutResult(written=[], duplicates=[0, 1, 2, 3])
    assert faults.calls["PutItem"] == 1  # only the first push wrote; the resend read and found everything
    assert tables.bucket("acme#mtr-1", "2026-03-01T00:00Z#i15")["version"] == {"N": "1"}  # type: ignore[index]


def test_a_resend_with_trailing_zeros_is_the_same_reading(stores: Stores) -> None:
    stores.readings.put_new("acme", quarter_hours(DAY, ["1.25"]))

    assert stores.readings.put_new("acme", quarter_hours(DAY, ["1.2500"])) == PutResult(
        written=[], duplicates=[0]
    )


def test_an_overlapping_batch_stores_only_the_readings_not_stored_yet(stores: Stores, tables: Tables) -> None:
    stores.readings.put_new("acme", quarter_hours(DAY, ["1", "2", "3"]))

    result = stores.readings.put_new("acme", quarter_hours(DAY + timedelta(minutes=30), ["3", "4", "5"]))

    assert result == PutResult(written=[1, 2], duplicates=[0])
    assert numbers(tables.bucket("acme#mtr-1", "2026-03-01T00:00Z#i15")) == {
        "--A": "1", "-EA": "2", "-TA": "3", "-hA": "4", "-wA": "5"
    }  # fmt: skip


def test_another_value_for_the_same_instant_replaces_it_and_the_replaced_one_is_kept_as_history(
    stores: Stores, tables: Tables
) -> None:
    stores.readings.put_new("acme", quarter_hours(DAY, ["1.25"]))

    result = stores.readings.put_new("acme", quarter_hours(DAY, ["1.3"]))

    assert result == PutResult(written=[0], duplicates=[], replaced=[0])
    assert tables.bucket("acme#mtr-1", "2026-03-01T00:00Z#i15") == {
        "series": {"S": "acme#mtr-1"},
        "bucket": {"S": "2026-03-01T00:00Z#i15"},
        "--A": {"N": "1.3"},
        "--~1": {"S": "A 1.25 2026-03-01T09:00:00Z"},
        "version": {"N": "2"},
    }
    assert [
        stored.value for stored in stores.readings.between("acme", "mtr-1", DAY, DAY + timedelta(hours=1))
    ] == [D("1.3")]
    assert stores.readings.put_new("acme", quarter_hours(DAY, ["1.3"])) == PutResult([], [0])


def test_the_same_reading_twice_in_one_batch_is_written_once_and_a_later_value_in_it_replaces_it(
    stores: Stores, tables: Tables
) -> None:
    batch = quarter_hours(DAY, ["7"]) * 2 + quarter_hours(DAY, ["8"]) * 2

    assert stores.readings.put_new("acme", batch) == PutResult(
        written=[0, 2], duplicates=[1, 3], replaced=[2]
    )
    assert numbers(tables.bucket("acme#mtr-1", "2026-03-01T00:00Z#i15")) == {"--A": "8"}
    assert tables.bucket("acme#mtr-1", "2026-03-01T00:00Z#i15")["--~1"] == {"S": "A 7 2026-03-01T09:00:00Z"}  # type: ignore[index]


def test_a_better_quality_for_the_same_instant_and_value_replaces_it_and_a_worse_one_is_outranked(
    stores: Stores, tables: Tables
) -> None:
    stores.readings.put_new("acme", quarter_hours(DAY, ["2"], quality="E"))

    upgraded = stores.readings.put_new("acme", quarter_hours(DAY, ["2"], quality="A"))
    estimate_after_actual = stores.readings.put_new("acme", quarter_hours(DAY, ["2.5"], quality="E"))

    assert upgraded == PutResult(written=[0], duplicates=[], replaced=[0])
    assert estimate_after_actual == PutResult(written=[], duplicates=[], outranked=[0])
    assert numbers(tables.bucket("acme#mtr-1", "2026-03-01T00:00Z#i15")) == {"--A": "2"}


# --- reading back -------------------------------------------------------------------------------------------


def test_between_yields_the_readings_in_the_half_open_range_in_timestamp_order(stores: Stores) -> None:
    stores.readings.put_new("acme", quarter_hours(DAY + timedelta(hours=23), ["1", "2", "3", "4", "5", "6"]))
    stores.readings.put_new("acme", [reading(DAY + timedelta(hours=23, minutes=30), "100", kind="register")])

    got = list(
        stores.readings.between(
            "acme", "mtr-1", DAY + timedelta(hours=23, minutes=15), DAY + timedelta(days=1, minutes=15)
        )
    )

    assert [(stored.timestamp, stored.value, stored.type) for stored in got] == [
        (DAY + timedelta(hours=23, minutes=15), D("2"), "interval"),
        (DAY + timedelta(hours=23, minutes=30), D("3"), "interval"),
        (DAY + timedelta(hours=23, minutes=30), D("100"), "register"),
        (DAY + timedelta(hours=23, minutes=45), D("4"), "interval"),
        (DAY + timedelta(days=1), D("5"), "interval"),
    ]
    assert all(stored.timestamp.tzinfo is UTC for stored in got)


def test_between_takes_any_time_zone_and_refuses_naive_times(stores: Stores) -> None:
    stores.readings.put_new("acme", quarter_hours(datetime(2026, 3, 2, tzinfo=BERLIN), ["1", "2"]))

    got = list(
        stores.readings.between("acme", "mtr-1", datetime(2026, 3, 2, tzinfo=BERLIN), DAY + timedelta(days=1))
    )

    assert [stored.timestamp for stored in got] == [
        datetime(2026, 3, 1, 23, tzinfo=UTC),
        datetime(2026, 3, 1, 23, 15, tzinfo=UTC),
    ]
    with pytest.raises(InvalidInputError) as raised:
        stores.readings.between("acme", "mtr-1", datetime(2026, 3, 1), DAY + timedelta(days=1))
    assert raised.value.field == "start"


def test_between_shows_nothing_of_another_account_or_meter_or_an_empty_range(stores: Stores) -> None:
    stores.readings.put_new("acme", quarter_hours(DAY, ["1", "2"]))
    month = (DAY, DAY + timedelta(days=31))

    assert list(stores.readings.between("globex", "mtr-1", *month)) == []
    assert list(stores.readings.between("acme", "mtr-2", *month)) == []
    assert list(stores.readings.between("acme", "mtr-1", DAY + timedelta(hours=1), DAY)) == []


def test_between_reads_a_month_across_dynamodbs_pages(stores: Stores, faults: Faults) -> None:
    month = [reading(DAY + timedelta(minutes=15 * n), str(n % 10), interval=15) for n in range(31 * 96)]
    for first in range(0, len(month), 96 * 3):
        stores.readings.put_new("acme", month[first : first + 96 * 3])

    def two_buckets_a_page(params: dict[str, Any], **_: Any) -> None:
        params["Limit"] = 2

    faults.events.register("before-parameter-build.dynamodb.Query", two_buckets_a_page)

    got = list(stores.readings.between("acme", "mtr-1", DAY, DAY + timedelta(days=31)))

    assert got == month
    assert faults.calls["Query"] == 16  # 31 buckets, 2 a page


# --- invalid input ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        pytest.param(reading(datetime(2026, 3, 1), "1"), "readings[1].timestamp", id="naive timestamp"),
        pytest.param(reading(DAY, "NaN"), "readings[1].value", id="NaN"),
        pytest.param(reading(DAY, "Infinity"), "readings[1].value", id="infinity"),
        pytest.param(reading(DAY, "1" * 39), "readings[1].value", id="39 digits"),
        pytest.param(reading(DAY, "1E+126"), "readings[1].value", id="too large"),
        pytest.param(reading(DAY, "1", quality="a"), "readings[1].quality", id="lower-case quality"),
        pytest.param(reading(DAY, "1", quality="A~B"), "readings[1].quality", id="quality with a separator"),
        pytest.param(reading(DAY, "1", interval=0), "readings[1].interval_minutes", id="no interval"),
        pytest.param(reading(DAY, "1", meter="m#1"), "meter_id", id="meter id with the key separator"),
    ],
)
def test_a_reading_that_cannot_be_stored_exactly_fails_the_batch_before_anything_is_written(
    stores: Stores, tables: Tables, bad: RawReading, field: str
) -> None:
    with pytest.raises(InvalidInputError) as raised:
        stores.readings.put_new("acme", [reading(DAY, "1"), bad])

    assert raised.value.field == field
    assert tables.all(READINGS_TABLE) == []


# --- exactly once under races and faults --------------------------------------------------------------------


def test_a_resend_that_lands_while_the_first_request_is_in_flight_is_stored_once(
    stores: Stores, tables: Tables, faults: Faults
) -> None:
    first = quarter_hours(DAY, ["1", "2", "3", "4"])
    overlapping = quarter_hours(DAY + timedelta(minutes=30), ["3", "4", "5", "6"])
    answers: list[PutResult] = []
    resent: list[bool] = []

    def resend_just_before_our_put(**_: Any) -> None:
        if not resent:  # the first request has read the bucket; the resend reads, writes and answers now
            resent.append(True)
            answers.append(stores.readings.put_new("acme", overlapping))

    faults.events.register_first("before-call.dynamodb.PutItem", resend_just_before_our_put)

    answers.insert(0, stores.readings.put_new("acme", first))

    assert answers == [
        PutResult(written=[0, 1], duplicates=[2, 3]),
        PutResult(written=[0, 1, 2, 3], duplicates=[]),
    ]
    assert numbers(tables.bucket("acme#mtr-1", "2026-03-01T00:00Z#i15")) == {
        "--A": "1", "-EA": "2", "-TA": "3", "-hA": "4", "-wA": "5", "0AA": "6"
    }  # fmt: skip
    assert faults.calls["PutItem"] == 3  # the resend's put, our refused put, our put after reading again


def network_latency(**_: Any) -> None:
    time.sleep(0.02)


@pytest.mark.usefixtures("atomic_moto_writes")
def test_concurrent_resends_of_overlapping_batches_store_every_reading_once(
    db: DynamoDb, storage_settings: StorageSettings, tables: Tables
) -> None:
    day = [reading(DAY + timedelta(minutes=15 * n), f"{n}.5", meter=f"mtr-{n % 3}") for n in range(2 * 96)]
    batches = [
        day[start : start + 96] for start in (0, 24, 48, 72, 96)
    ] * 2  # every reading in 2 to 8 batches
    # A refused put means another request's put got through, so n racing requests need at most n attempts.
    racing = DynamoDb(storage_settings, retry=RetryPolicy(attempts=len(batches), sleep=lambda seconds: None))
    racing.client.meta.events.register("after-call.dynamodb.GetItem", network_latency)  # time to race
    concurrent_stores = stores_on(racing, parallel_requests=4)
    start_together = threading.Barrier(len(batches))
    results: list[tuple[list[RawReading], PutResult]] = []

    def push(batch: list[RawReading]) -> None:
        start_together.wait()
        results.append((batch, concurrent_stores.readings.put_new("acme", batch)))

    threads = [threading.Thread(target=push, args=(batch,)) for batch in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    written = [batch[index] for batch, result in results for index in result.written]
    assert sorted(written, key=lambda r: (r.meter_id, r.timestamp)) == sorted(
        day, key=lambda r: (r.meter_id, r.timestamp)
    )
    assert sum(len(result.written) + len(result.duplicates) for _, result in results) == sum(
        map(len, batches)
    )
    assert sum(len(numbers(item)) for item in tables.all(READINGS_TABLE)) == len(day)


def test_a_throttled_read_or_write_is_retried_and_the_batch_stored_once(
    stores: Stores, tables: Tables, faults: Faults, sleeps: list[float]
) -> None:
    faults.refuse("GetItem", "ProvisionedThroughputExceededException", when=lambda call: call == 1)
    faults.refuse("PutItem", "ThrottlingException", when=lambda call: call <= 2)

    result = stores.readings.put_new("acme", quarter_hours(DAY, ["1", "2"]))

    assert result == PutResult(written=[0, 1], duplicates=[])
    assert sleeps == [0.025, 0.025, 0.05]
    assert numbers(tables.bucket("acme#mtr-1", "2026-03-01T00:00Z#i15")) == {"--A": "1", "-EA": "2"}


def test_a_write_whose_answer_was_lost_is_stored_once_and_then_found_as_a_duplicate(
    stores: Stores, tables: Tables, faults: Faults
) -> None:
    faults.lose_answer("PutItem", when=lambda call: call == 1)

    result = stores.readings.put_new("acme", quarter_hours(DAY, ["1", "2"]))

    # The put was applied; its retry failed its condition, so the bucket was read again: both readings there.
    assert result == PutResult(written=[], duplicates=[0, 1])
    item = tables.bucket("acme#mtr-1", "2026-03-01T00:00Z#i15")
    assert (numbers(item), item["version"]) == ({"--A": "1", "-EA": "2"}, {"N": "1"})  # type: ignore[index]


def test_a_store_that_stays_throttled_is_unavailable_and_a_resend_later_stores_the_rest_once(
    stores: Stores, tables: Tables, faults: Faults
) -> None:
    batch = quarter_hours(DAY + timedelta(hours=22), [str(n) for n in range(16)])  # two UTC days
    outage = {"on": True}
    faults.refuse(
        "PutItem", "ProvisionedThroughputExceededException", when=lambda call: call > 1 and outage["on"]
    )

    with pytest.raises(StorageUnavailableError, match="storing readings: still failing after 6 attempts"):
        stores.readings.put_new("acme", batch)
    outage["on"] = False
    result = stores.readings.put_new("acme", batch)

    assert result == PutResult(written=list(range(8, 16)), duplicates=list(range(8)))
    assert sorted(len(numbers(item)) for item in tables.all(READINGS_TABLE)) == [8, 8]


def test_ten_thousand_readings_with_resends_and_faults_are_each_stored_exactly_once(
    db: DynamoDb, tables: Tables, faults: Faults
) -> None:
    sequential_stores = stores_on(
        db, parallel_requests=1
    )  # one call at a time: the faults hit the same calls
    rng = random.Random(20260301)
    readings = [
        reading(
            DAY + timedelta(minutes=15 * n), f"{rng.randint(0, 99999)}.{rng.randint(0, 999):03d}", f"mtr-{m}"
        )
        for m in range(20)
        for n in range(500)
    ]
    rng.shuffle(readings)
    first_half, second_half = readings[:5000], readings[5000:]
    resent = rng.sample(first_half, 3000)  # 30 % of the 10,000 arrive again in the second request
    faults.refuse("PutItem", "ProvisionedThroughputExceededException", when=lambda call: call % 7 == 0)
    faults.refuse("GetItem", "ThrottlingException", when=lambda call: call % 11 == 0)
    faults.lose_answer("PutItem", when=lambda call: call % 13 == 0)

    first = sequential_stores.readings.put_new("acme", first_half)
    second = sequential_stores.readings.put_new("acme", second_half + resent)

    stored = {
        (item["series"]["S"], item["bucket"]["S"], name): value
        for item in tables.all(READINGS_TABLE)
        for name, value in numbers(item).items()
    }
    assert len(stored) == 10_000
    assert sorted(
        (stored_reading.meter_id, stored_reading.timestamp, stored_reading.value)
        for meter in range(20)
        for stored_reading in sequential_stores.readings.between(
            "acme", f"mtr-{meter}", DAY, DAY + timedelta(days=6)
        )
    ) == sorted((r.meter_id, r.timestamp, r.value) for r in readings)
    # Lost answers turn some of our own writes into "duplicates"; nothing is ever lost or counted twice.
    assert len(first.written) + len(first.duplicates) == 5000
    assert len(second.written) + len(second.duplicates) == 8000
    assert set(second.duplicates) >= set(range(5000, 8000))


def test_the_shared_client_keeps_enough_connections_for_the_alert_pass_reading_16_meters_at_once() -> None:
    from meterbill.services.alerting import PARALLEL_READS

    db = DynamoDb(StorageSettings(catalog_table="c-table", readings_table="r-table", region="eu-central-1"))

    pool = db.client.meta.config.max_pool_connections
    assert (pool, PARALLEL_READS) == (32, 16)  # botocore's default of 10 would make 6 readers wait
