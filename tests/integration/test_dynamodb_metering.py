"""The rating run on DynamoDB (moto): the marks ingest writes, the rated day and month items beside the raw
series, the running cost item, and the writes a pass issues (none the second time)."""

from __future__ import annotations

import zlib
from collections import Counter
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from meterbill.adapters.dynamodb import DynamoDb
from meterbill.adapters.rating import rating_stores
from meterbill.ports import AccountRecord, PendingMark, RatingStores, RawReading
from meterbill.services import catalog
from meterbill.services.rating import rating_pass
from tests.integration.conftest import CATALOG_TABLE, Tables
from tests.unit.test_service_rating import NOW, TEN_ON_THE_29TH, A, hourly_catalog, two_days

D = Decimal
M1_MARKS = "rating-marks#10"  # CRC-32 of "acc-a#m1" % 16
WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"})


class Calls:
    """Every DynamoDB call the adapters make, by operation, from botocore's hooks on their one client."""

    def __init__(self, db: DynamoDb) -> None:
        self.counts: Counter[str] = Counter()
        db.client.meta.events.register("after-call.dynamodb.*", self._after)

    def _after(self, model: Any, **_: Any) -> None:
        self.counts[model.name] += 1

    def writes(self) -> dict[str, int]:
        return {name: n for name, n in self.counts.items() if name in WRITES}

    def reset(self) -> None:
        self.counts.clear()


@pytest.fixture
def rating(db: DynamoDb) -> RatingStores:
    stores = rating_stores(db)
    hourly_catalog(store=stores.catalog)
    stores.accounts.create(AccountRecord(A, "Account A", datetime(2026, 1, 1, tzinfo=UTC)))
    return stores


def test_ingest_writes_one_mark_item_per_meter_and_utc_day_after_the_readings(
    rating: RatingStores, db: DynamoDb, tables: Tables
) -> None:
    calls = Calls(db)
    rating.readings.put_new(A, two_days())

    assert tables.catalog(M1_MARKS, f"{A}#m1#2026-03-28") == {
        "pk": {"S": M1_MARKS},
        "sk": {"S": f"{A}#m1#2026-03-28"},
        "changes": {"N": "1"},
    }
    # 47 hours in 3 UTC day buckets: 3 bucket puts, 3 mark updates.
    assert calls.writes() == {"PutItem": 3, "UpdateItem": 3}
    rating.readings.put_new(A, two_days())  # all duplicates: no mark
    assert rating.readings.pending_marks(limit=10) == [
        PendingMark(A, "m1", date(2026, 3, 27), 1),
        PendingMark(A, "m1", date(2026, 3, 28), 1),
        PendingMark(A, "m1", date(2026, 3, 29), 1),
    ]


def test_a_mark_changed_since_it_was_read_is_not_cleared(rating: RatingStores, tables: Tables) -> None:
    rating.readings.put_new(A, two_days(skip=TEN_ON_THE_29TH))
    (read, *_) = [m for m in rating.readings.pending_marks(limit=10) if m.day == date(2026, 3, 29)]
    rating.readings.put_new(A, [RawReading("m1", TEN_ON_THE_29TH, D("2.5"), "interval", 60)])

    assert rating.readings.clear_mark(read) is False
    assert tables.catalog(M1_MARKS, f"{A}#m1#2026-03-29")["changes"] == {"N": "2"}  # type: ignore[index]
    assert rating.readings.clear_mark(PendingMark(A, "m1", date(2026, 3, 29), 2)) is True
    assert tables.catalog(M1_MARKS, f"{A}#m1#2026-03-29") is None


def test_a_pass_stores_the_dst_day_beside_the_raw_series_and_a_second_pass_writes_nothing(
    rating: RatingStores, db: DynamoDb, tables: Tables
) -> None:
    rating.readings.put_new(A, two_days(skip=TEN_ON_THE_29TH))
    calls = Calls(db)

    report = rating_pass(NOW, rating)

    assert (report.days_written, report.months_written, report.costs_written, report.marks_cleared) == (
        2,
        1,
        1,
        3,
    )
    # 2 days in one BatchWriteItem + 1 month + 1 running cost; 3 marks deleted.
    assert calls.writes() == {"BatchWriteItem": 1, "PutItem": 2, "DeleteItem": 3}
    item = tables.bucket(f"{A}#m1#rated", "day#2026-03-29")
    assert item == {
        "series": {"S": f"{A}#m1#rated"},
        "bucket": {"S": "day#2026-03-29"},
        "zone": {"S": "Europe/Berlin"},
        "start": {"S": "2026-03-28T23:00:00+00:00"},
        "interval": {"N": "60"},
        "unit": {"S": "kWh"},
        "exp": {"N": "0"},
        "values": {"S": ",".join(["1"] * 7 + ["2"] * 12 + ["1"] * 4)},
        "q": {"S": "A" * 9 + "E" + "A" * 13},
        "subs": {
            "L": [{"S": "9-9|linear|no readings for 1 h; interpolated between the neighbouring intervals"}]
        },
        "hours": {"S": ",".join(["1"] * 7 + ["2"] * 12 + ["1"] * 4)},
        "total": {"N": "35"},
        "estimated": {"N": "2"},
        "intervals": {"N": "23"},
        "missing": {"N": "0"},
    }
    assert tables.bucket(f"{A}#m1#rated", "month#2026-03") == {
        "series": {"S": f"{A}#m1#rated"},
        "bucket": {"S": "month#2026-03"},
        "zone": {"S": "Europe/Berlin"},
        "start": {"S": "2026-03-27T23:00:00+00:00"},
        "end": {"S": "2026-03-29T22:00:00+00:00"},
        "unit": {"S": "kWh"},
        "days": {"N": "2"},
        "total": {"N": "71"},
        "estimated": {"N": "2"},
        "intervals": {"N": "47"},
        "missing": {"N": "0"},
        # sha256 of the days' "<day>|<UTC start>|<interval>|<exponent>|<values>|<flags>" lines, 32 hex digits
        "digest": {"S": "497443cbded47acd3462f5046d7e4668"},
        # sha256 of "<unit>|<the meter's validation settings as JSON>", 32 hex digits
        "rated_with": {"S": "a617edbc4f7d7effa36430b7608e5d4e"},
    }
    running = rating.metering.running_cost(A, "c1")
    assert running is not None
    assert (running.cost, running.projected) == ((D(36) + D(35)) * D("0.30"), D("22.77"))
    assert tables.catalog(f"account#{A}#running-cost", "c1") is not None

    # The same days marked again (an identical resend cannot mark; a mark left by a crash can): reads only.
    db.client.update_item(
        TableName=CATALOG_TABLE,
        Key={"pk": {"S": M1_MARKS}, "sk": {"S": f"{A}#m1#2026-03-28"}},
        UpdateExpression="ADD changes :one",
        ExpressionAttributeValues={":one": {"N": "1"}},
    )
    calls.reset()
    again = rating_pass(NOW + timedelta(minutes=15), rating)

    assert (again.meters, again.days_written, again.months_written, again.costs_written) == (1, 0, 0, 0)
    assert calls.writes() == {"DeleteItem": 1}  # the mark, nothing else


def test_rated_days_read_back_equal_to_what_was_computed(rating: RatingStores) -> None:
    rating.readings.put_new(A, two_days(skip=TEN_ON_THE_29TH))
    rating_pass(NOW, rating)

    (first, dst_day) = rating.metering.days(A, "m1", date(2026, 3, 1), date(2026, 4, 1))

    assert (first.day, dst_day.day) == (date(2026, 3, 28), date(2026, 3, 29))
    assert dst_day.start == datetime(2026, 3, 28, 23, tzinfo=UTC)
    assert [h.start.hour for h in dst_day.hours()][:3] == [0, 1, 3]  # on the site's clock again
    assert dst_day.substitutions[9][0] == "linear"
    assert rating.metering.days(A, "m1", date(2026, 3, 29), date(2026, 3, 29)) == []
    # The first and the last rated day (the month item beside them is no day); none for a meter not rated.
    assert rating.metering.rated_span(A, "m1") == (date(2026, 3, 28), date(2026, 3, 29))
    assert rating.metering.rated_span(A, "m2") is None


def test_a_recorded_meter_exchange_marks_its_utc_day_like_a_reading_does(
    rating: RatingStores, db: DynamoDb, tables: Tables
) -> None:
    swap = {"timestamp": "2026-03-29T00:30:00+01:00", "old_final": "1234.5", "new_initial": "0.0"}
    calls = Calls(db)

    entry = catalog.record_exchange(A, "m1", swap, rating.catalog, rating.readings, if_match=None)

    assert entry.value.exchanges[0].timestamp == datetime(2026, 3, 28, 23, 30, tzinfo=UTC)
    assert tables.catalog(M1_MARKS, f"{A}#m1#2026-03-28") == {
        "pk": {"S": M1_MARKS},
        "sk": {"S": f"{A}#m1#2026-03-28"},
        "changes": {"N": "1"},
    }
    assert calls.writes() == {"UpdateItem": 1, "TransactWriteItems": 1}  # the mark, then the meter
    assert rating.readings.pending_marks(limit=10) == [PendingMark(A, "m1", date(2026, 3, 28), 1)]


def test_marks_of_many_meters_spread_over_the_shards_and_one_pass_rates_each_exactly_once(
    db: DynamoDb, tables: Tables
) -> None:
    rating = rating_stores(db)
    hourly_catalog(meters=48, store=rating.catalog)
    rating.accounts.create(AccountRecord(A, "Account A", datetime(2026, 1, 1, tzinfo=UTC)))
    for n in range(1, 49):
        rating.readings.put_new(A, [RawReading(f"m{n}", TEN_ON_THE_29TH, D("1.5"), "interval", 60)])
    marks = [item for item in tables.all(CATALOG_TABLE) if item["pk"]["S"].startswith("rating-marks")]
    shards = Counter(item["pk"]["S"] for item in marks)

    assert len(marks) == 48
    assert sorted(shards) == sorted(f"rating-marks#{n}" for n in range(16))  # every shard holds some
    assert max(shards.values()) <= 6  # 48 meters, 16 shards: no shard holds most of them
    # A limit is shared out: each of the 16 shards gives its first mark before any gives a second.
    assert len({(m.account, m.meter_id) for m in rating.readings.pending_marks(limit=16)}) == 16
    assert Counter(
        f"rating-marks#{n}" for n in map(shard_of, rating.readings.pending_marks(limit=16))
    ) == Counter({f"rating-marks#{n}": 1 for n in range(16)})
    calls = Calls(db)

    report = rating_pass(NOW, rating)

    # Each meter's one reading makes its day and month; c1 (on m1) gets its running cost.
    assert (report.meters, report.days_written, report.months_written, report.costs_written) == (
        48,
        48,
        48,
        1,
    )
    assert (report.marks_cleared, report.marks_kept, report.failures) == (48, 0, [])
    assert calls.writes()["DeleteItem"] == 48  # each mark cleared once
    assert rating.readings.pending_marks(limit=100) == []
    calls.reset()
    again = rating_pass(NOW + timedelta(minutes=15), rating)
    assert (again.meters, again.days_written, again.marks_cleared) == (0, 0, 0)
    assert calls.writes() == {}


def shard_of(mark: PendingMark) -> int:
    return zlib.crc32(f"{mark.account}#{mark.meter_id}".encode()) % 16


def test_running_costs_lists_the_accounts_customers_in_one_query(rating: RatingStores, db: DynamoDb) -> None:
    from meterbill.ports import RunningCost, UsageSoFar

    def running(customer_id: str, cost: str) -> RunningCost:
        return RunningCost(
            customer_id=customer_id,
            period_start=date(2026, 3, 1),
            period_end=date(2026, 4, 1),
            as_of=date(2026, 3, 20),
            currency="EUR",
            usage=(UsageSoFar("kWh", D("100.5"), D("0")),),
            cost=D(cost),
            projected=D(cost) * 31 / 19,
            computed_at=datetime(2026, 3, 20, 0, 15, tzinfo=UTC),
        )

    for customer_id, cost in (("c2", "20.05"), ("c1", "10.10")):
        rating.metering.put_running_cost(A, running(customer_id, cost))
    rating.metering.put_running_cost("acc-other", running("c9", "99.99"))
    calls = Calls(db)

    listed = rating.metering.running_costs(A)

    assert listed == [running("c1", "10.10"), running("c2", "20.05")]
    assert dict(calls.counts) == {"Query": 1}
    assert rating.metering.running_costs("acc-empty") == []


def test_rated_days_are_stored_25_a_request(rating: RatingStores, db: DynamoDb) -> None:
    """30 days of a meter: ceil(30 / 25) = 2 BatchWriteItem requests, not 30 PutItem; read back as put."""
    rating.readings.put_new(A, two_days())
    rating_pass(NOW, rating)
    (day,) = rating.metering.days(A, "m1", date(2026, 3, 29), date(2026, 3, 30))
    days = [replace(day, day=date(2026, 1, 1) + timedelta(days=n)) for n in range(30)]
    calls = Calls(db)

    rating.metering.put_days(A, days)

    assert calls.writes() == {"BatchWriteItem": 2}
    assert rating.metering.days(A, "m1", date(2026, 1, 1), date(2026, 1, 31)) == days


def test_marks_are_cleared_side_by_side_each_on_its_own_condition(rating: RatingStores, db: DynamoDb) -> None:
    """One conditional DeleteItem a mark; the one a reading touched since it was read stays, answered in
    mark order."""
    rating.readings.put_new(A, two_days())
    marks = sorted(rating.readings.pending_marks(limit=10), key=lambda m: m.day)
    rating.readings.mark_for_rating(A, "m1", marks[1].day)  # a reading of that day came meanwhile
    calls = Calls(db)

    cleared = rating.readings.clear_marks(marks)

    assert cleared == [True, False] + [True] * (len(marks) - 2)
    assert calls.writes() == {"DeleteItem": len(marks)}
    assert [(m.day, m.changes) for m in rating.readings.pending_marks(limit=10)] == [
        (marks[1].day, marks[1].changes + 1)
    ]


def test_month_rollups_are_read_100_a_request_and_a_missing_one_is_absent(
    rating: RatingStores, db: DynamoDb
) -> None:
    """250 meters' March: ceil(250 / 100) = 3 BatchGetItem requests, not 250 GetItem; each rollup read back
    as stored, under its own (meter, year, month); a month never stored is not in the answer."""
    rating.readings.put_new(A, two_days())
    rating_pass(NOW, rating)
    stored = rating.metering.month(A, "m1", 2026, 3)
    assert stored is not None
    rollups = [
        replace(stored, meter_id=f"pdu-{n:03d}", total=replace(stored.total, total=D(n))) for n in range(250)
    ]
    for rollup in rollups:
        rating.metering.put_month(A, rollup)
    wanted = [(f"pdu-{n:03d}", 2026, 3) for n in range(250)] + [("pdu-000", 2026, 2), ("m1", 2026, 3)]
    calls = Calls(db)

    found = rating.metering.months(A, wanted)

    assert dict(calls.counts) == {"BatchGetItem": 3}
    assert found == {(r.meter_id, 2026, 3): r for r in rollups} | {("m1", 2026, 3): stored}
    assert found[("pdu-007", 2026, 3)].total.total == 7
    assert rating.metering.months("acc-other", wanted[:3]) == {}  # another account's keys hold nothing


def test_month_rollups_left_unprocessed_are_asked_again(
    rating: RatingStores, db: DynamoDb, sleeps: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    """DynamoDB may answer part of a BatchGetItem and return the rest as UnprocessedKeys: asked again."""
    rating.readings.put_new(A, two_days())
    rating_pass(NOW, rating)
    stored = rating.metering.month(A, "m1", 2026, 3)
    assert stored is not None
    second = replace(stored, meter_id="m2")
    rating.metering.put_month(A, second)
    table = db.readings_table
    real = table.batch_get_item
    asked: list[int] = []

    def first_answer_partial(keys: list[dict[str, Any]], **options: Any) -> dict[str, Any]:
        asked.append(len(keys))
        answer = real(keys, **options)
        if len(asked) == 1:  # keep the first item, hand the second back unprocessed
            held = answer["Responses"][table.table_name][1:]
            answer["Responses"][table.table_name] = answer["Responses"][table.table_name][:1]
            answer["UnprocessedKeys"] = {
                table.table_name: {"Keys": [{k: item[k] for k in ("series", "bucket")} for item in held]}
            }
        return answer

    monkeypatch.setattr(table, "batch_get_item", first_answer_partial)

    found = rating.metering.months(A, [("m1", 2026, 3), ("m2", 2026, 3)])

    assert (asked, sleeps) == ([2, 1], [0.025])  # the rest asked again after the first backoff
    assert found == {("m1", 2026, 3): stored, ("m2", 2026, 3): second}
