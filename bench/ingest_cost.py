"""Ingest cost: the DynamoDB capacity units the readings store really issues for one meter-month.

Run: ``.venv/bin/python bench/ingest_cost.py`` (not a test; prints its figures, exits 0; needs moto).

The store runs unchanged on moto, in-process. moto answers every call with a constant ``ConsumedCapacity``,
so the script counts for itself with botocore hooks on the store's one client: for each call, the item sizes
as DynamoDB bills them (``meterbill.adapters.dynamodb.sizing``: attribute name bytes + value bytes, a number
about 1 byte per 2 significant digits + 1) turned into units - a write 1 unit per started KB of the larger of
the old and the new item (the old size remembered from the put that wrote it, or peeked with a separate,
uncounted client for other writes), a strongly consistent read 1 unit per started 4 KB. Transactions would
count double; the readings store issues none. It takes about a minute (moto answers ~100 calls a second).

Since issue 9 every ``put_new`` that stores a reading also marks each (meter, UTC day) it stored readings of
for the rating pass: one UpdateItem ``ADD changes 1`` on an 80-byte item in the meter's shard of the catalog
table (``rating-marks#<n>``), 1 WRU per push here (every push touches one UTC day). Before the marks: hourly
0.2500, daily 0.0104 WRU per reading; with them: hourly 0.5000, daily 0.0208. The hourly goal cannot hold
with any write at ingest but the bucket: a push of 4 readings already costs the 1-unit minimum (see
docs/storage.md, "Rating marks", and bench/README.md for the designs compared: only Streams keep it).

The month: March 2026 (31 days, 2,976 quarter hours) of one 15-minute kWh meter, with values of 3 decimals
between 0.050 and 4.999 kWh (3-4 significant digits), ids of 20 characters like the API generates.

- hourly: 744 pushes of the hour's 4 readings (a collector posting every hour)
- daily: 31 pushes of the day's 96 readings (a nightly file)
- hourly, each push sent twice: a collector that retries every request (the second copies are duplicates)
- hourly with a correction: each push also sends a corrected value of the previous hour's last quarter hour
  (it replaces the stored one, which moves to the item's history)
- read back: the month with ``between`` (what usage and billing read)

Prices: on-demand, $1.25 per million write request units and $0.25 per million read request units - the
us-east-1 list prices the issue asks for (those before AWS halved on-demand prices on 1 November 2024; at
today's $0.625 / $0.125 every dollar figure here halves). Storage ($0.25 per GB-month) is shown apart.
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "layers" / "common" / "python"))

for name, value in {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
}.items():
    os.environ[name] = value  # moto, never a real account

import boto3  # noqa: E402
from moto import mock_aws  # noqa: E402

from meterbill.adapters.dynamodb import DynamoDb, create_tables, stores_on  # noqa: E402
from meterbill.adapters.dynamodb.sizing import item_size, read_units, write_units  # noqa: E402
from meterbill.ports import RawReading, Stores  # noqa: E402
from meterbill.settings import StorageSettings  # noqa: E402

PRICE_PER_WRITE_UNIT = Decimal("1.25") / 1_000_000
PRICE_PER_READ_UNIT = Decimal("0.25") / 1_000_000
PRICE_PER_GB_MONTH = Decimal("0.25")
CONTROL_PLANE = frozenset({"CreateTable", "DescribeTable", "DeleteTable"})
GOAL_HOURLY = Decimal("0.25")
GOAL_DAILY = Decimal("0.05")
ACCOUNT = "acc_5f2c9a1b7d3e4f60"
METER = "mtr_0a1b2c3d4e5f6789"
MONTH_START = datetime(2026, 3, 1, tzinfo=UTC)
DAYS = 31
QUARTER_HOURS = DAYS * 96


@dataclass
class Meter:
    """Units and calls counted from the hooks."""

    write_units: int = 0
    read_units: float = 0.0
    calls: Counter[str] = field(default_factory=Counter)
    largest_write_bytes: int = 0


class CapacityCounter:
    def __init__(self, db: DynamoDb) -> None:
        self.meter = Meter()
        self.uncounted = boto3.client("dynamodb", region_name=db.settings.region)  # peeks, scans, clean-up
        self._key_names = {
            definition["TableName"]: [key["AttributeName"] for key in definition["KeySchema"]]
            for definition in (db.catalog_definition, db.readings_definition)
        }
        self._pending: dict[str, Any] = {}
        # The size of every item the store has put, so a put is billed on the larger of old and new without
        # asking moto (the store is the only writer here).
        self._sizes: dict[str, int] = {}
        events = db.client.meta.events
        events.register("before-parameter-build.dynamodb.*", self._before)
        events.register("after-call.dynamodb.*", self._after)

    def reset(self) -> Meter:
        counted, self.meter = self.meter, Meter()
        return counted

    def _stored_size(self, table: str, key: dict[str, Any]) -> int:
        item = self.uncounted.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")
        return 0 if item is None else item_size(item)

    def _key_of(self, table: str, item: dict[str, Any]) -> dict[str, Any]:
        return {name: item[name] for name in self._key_names[table]}

    def _before(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        operation = model.name
        self._pending = {"operation": operation, "params": params}
        if operation == "PutItem":
            self._pending["key"] = self._key_of(params["TableName"], params["Item"])
            self._pending["old_size"] = self._sizes.get(repr(self._pending["key"]), 0)
        elif operation in ("UpdateItem", "DeleteItem"):
            self._pending["old_size"] = self._stored_size(params["TableName"], params["Key"])

    def _after(self, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        operation, params = model.name, self._pending.get("params", {})
        meter = self.meter
        meter.calls[operation] += 1
        consistent = bool(params.get("ConsistentRead", False))
        if operation == "PutItem":
            new_size = item_size(params["Item"])
            billed = max(self._pending["old_size"], new_size)
            if "Error" not in parsed:
                self._sizes[repr(self._pending["key"])] = new_size
            meter.write_units += write_units(billed)  # a refused conditional put is billed too
            meter.largest_write_bytes = max(meter.largest_write_bytes, billed)
        elif operation == "UpdateItem":
            new_size = self._stored_size(params["TableName"], params["Key"])
            meter.write_units += write_units(max(self._pending["old_size"], new_size))
        elif operation == "DeleteItem":
            meter.write_units += write_units(self._pending["old_size"])
        elif operation == "GetItem":
            meter.read_units += read_units(item_size(parsed.get("Item", {})), consistent=consistent)
        elif operation == "Query":
            returned = sum(map(item_size, parsed.get("Items", [])))
            meter.read_units += read_units(returned, consistent=consistent)
        elif operation in CONTROL_PLANE:
            pass  # not billed per request
        elif operation == "BatchGetItem":
            for items in parsed.get("Responses", {}).values():
                meter.read_units += sum(read_units(item_size(item), consistent=True) for item in items)
        else:
            raise NotImplementedError(f"the benchmark does not count {operation} yet")


@dataclass(frozen=True)
class Scenario:
    name: str
    pushes: Sequence[Sequence[RawReading]]
    goal: Decimal | None


def month_of_readings() -> list[RawReading]:
    readings = []
    for n in range(QUARTER_HOURS):
        hour = (n // 4) % 24
        base = 300 + 2500 * (8 <= hour < 20) + (n * 7919) % 1700  # deterministic, 0.050 to 4.999 kWh
        value = Decimal(50 + base % 4950) / 1000
        readings.append(RawReading(METER, MONTH_START + timedelta(minutes=15 * n), value, "interval", 15))
    return readings


def run(stores: Stores, counter: CapacityCounter, scenario: Scenario) -> tuple[Meter, int, int, int]:
    counter.reset()
    written = duplicates = replaced = 0
    for push in scenario.pushes:
        result = stores.readings.put_new(ACCOUNT, push)
        written += len(result.written)
        duplicates += len(result.duplicates)
        replaced += len(result.replaced)
    return counter.reset(), written, duplicates, replaced


def per_reading(units: float, readings: int) -> Decimal:
    return (Decimal(str(units)) / readings).quantize(Decimal("0.0001"))


def dollars(meter: Meter) -> Decimal:
    return meter.write_units * PRICE_PER_WRITE_UNIT + Decimal(str(meter.read_units)) * PRICE_PER_READ_UNIT


def row(name: str, meter: Meter, readings: int, note: str) -> str:
    calls = ", ".join(f"{count} {operation}" for operation, count in sorted(meter.calls.items()))
    return (
        f"{name:31} {calls:>26} {meter.write_units:>5} {meter.read_units:>5.0f} "
        f"{per_reading(meter.write_units, readings):>11} {per_reading(meter.read_units, readings):>11} "
        f"{dollars(meter):>13.6f}  {note}"
    )


def main() -> int:
    month = month_of_readings()
    hourly = [month[first : first + 4] for first in range(0, QUARTER_HOURS, 4)]
    daily = [month[first : first + 96] for first in range(0, QUARTER_HOURS, 96)]
    twice = [push for push in hourly for _ in (1, 2)]
    corrected = [
        push + ([replace(hourly[n - 1][-1], value=hourly[n - 1][-1].value + Decimal("0.001"))] if n else [])
        for n, push in enumerate(hourly)
    ]
    scenarios = [
        Scenario("hourly (744 pushes of 4)", hourly, GOAL_HOURLY),
        Scenario("daily (31 pushes of 96)", daily, GOAL_DAILY),
        Scenario("hourly, every push sent twice", twice, None),
        Scenario("hourly with a correction", corrected, None),
    ]
    print(__doc__.split("\n\n")[0])
    print()
    header = ("scenario", "calls", "WRU", "RRU", "WRU/reading", "RRU/reading", "$/meter-month")
    print("{:31} {:>26} {:>5} {:>5} {:>11} {:>11} {:>13}  goal".format(*header))
    all_met = True
    settings = StorageSettings(
        catalog_table="bench-catalog", readings_table="bench-readings", region="us-east-1"
    )
    with mock_aws():
        for scenario in scenarios:
            create_tables(settings)
            db = DynamoDb(settings)
            counter = CapacityCounter(db)
            stores = stores_on(db, parallel_requests=1)
            meter, written, duplicates, replaced = run(stores, counter, scenario)
            assert written - replaced == QUARTER_HOURS, (scenario.name, written)
            assert duplicates == sum(map(len, scenario.pushes)) - written, (scenario.name, duplicates)
            note = "-"
            if scenario.goal is not None:
                met = per_reading(meter.write_units, QUARTER_HOURS) <= scenario.goal
                all_met = all_met and met
                note = f"{'met' if met else 'MISSED'} (<= {scenario.goal})"
            print(row(scenario.name, meter, QUARTER_HOURS, note))
            if scenario is scenarios[1]:
                read_back(stores, counter, db)
            counter.uncounted.delete_table(TableName=settings.readings_table)
            counter.uncounted.delete_table(TableName=settings.catalog_table)
    print()
    print(
        f"Item per reading, for comparison: {QUARTER_HOURS:,} PutItems of one small item each = 1.0000 "
        f"WRU/reading, ${QUARTER_HOURS * PRICE_PER_WRITE_UNIT:.6f} per meter-month."
    )
    verdict = "both met." if all_met else "NOT met."
    print(
        f"Goals (issue 4): <= {GOAL_HOURLY} WRU per reading pushed hourly, <= {GOAL_DAILY} daily: {verdict}"
    )
    return 0


def read_back(stores: Stores, counter: CapacityCounter, db: DynamoDb) -> None:
    """The month read back with ``between``, and the size of the stored buckets (after the daily scenario)."""
    counter.reset()
    end = MONTH_START + timedelta(days=DAYS)
    count = sum(1 for _ in stores.readings.between(ACCOUNT, METER, MONTH_START, end))
    print(row("read back the month (between)", counter.reset(), count, f"{count:,} readings"))
    items = counter.uncounted.scan(TableName=db.settings.readings_table, ConsistentRead=True)["Items"]
    sizes = [item_size(item) for item in items]
    storage = Decimal(sum(sizes) + 100 * len(sizes)) / 10**9 * PRICE_PER_GB_MONTH  # + 100 bytes/item overhead
    print(
        f"{'stored':31} {len(sizes)} day items of {min(sizes)} to {max(sizes)} bytes; a write of the largest "
        f"is billed {write_units(max(sizes))} WRU; storage ${storage:.8f} per month"
    )


if __name__ == "__main__":
    sys.exit(main())
