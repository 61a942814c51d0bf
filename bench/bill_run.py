"""Bill run: the hourly invoice schedule and its worker for N customers on DynamoDB (moto, in-process).

Run: ``.venv/bin/python bench/bill_run.py [--customers 100] [--recompute-sample 0]`` (not a test; prints its
figures, exits 0). 100 customers take about a minute; 1,000 several minutes (moto answers ~100-300 calls/s).

**Workload.** One account (bill day 1, grace 2 days, EUR), one site in Europe/Berlin, one flat tariff (energy
0.30 EUR/kWh, fixed charge 12.50 EUR/month). N customers, each with 2 meters of its own (15-minute kWh,
assigned from 2026-01-01) and a month of readings: January 2026 local, 2,976 quarter hours per meter, stored
through the readings store as one push per meter and day. The catalog and the readings are built through the
stores (the adapters on moto), then the real path runs: ``billrun.run(now, stores, queue)`` into an in-memory
queue, then ``billrun.work(item, stores)`` for every message, at three moments:

1. 2026-02-01T00:30+01:00: the first pass after the period ended: a draft per customer (computed, stored).
2. 2026-02-01T01:30+01:00: the next hourly pass: every draft recomputed, found unchanged, not rewritten.
   The schedule does this every hour until the grace has passed: 47 times (01:30 on the 1st .. 23:30 on the
   2nd), so the run's lifetime cost is pass 1 + 47 x pass 2 + pass 3.
3. 2026-02-03T00:30+01:00: grace over: recomputed once more and issued with its number.

**Measured.** Wall time of each pass (the schedule's ``run`` and the workers apart), per customer-invoice;
compute = wall time minus the time spent inside DynamoDB calls (from botocore's ``before-parameter-build``
to its ``after-call``: request serialisation, moto's work, response parsing - what a real DynamoDB call's
latency replaces in Lambda); the calls and the request units per customer-invoice, by what they read or write
(catalog objects, account settings, readings, the invoice store), counted from the item sizes as DynamoDB
bills them (``meterbill.adapters.dynamodb.sizing``; moto's ``ConsumedCapacity`` is a constant): a strongly
consistent read 1 unit per started 4 KB (a Query: of what it returns together), eventually consistent half;
a write 1 unit per started KB of the larger of old and new item, twice in a transaction, plus one write of
the item for the index when it carries the index keys (invoices). Peak memory: tracemalloc's peak over one
worker step (sampled on the first 20 messages of a recompute pass; moto's own allocations for the call
included), and the process's max RSS at the end.

Prices: on-demand us-east-1, $0.125 per million read request units and $0.625 per million write request units
(since 1 November 2024), Lambda arm64 $0.0000133334 per GB-s and $0.20 per million requests, SQS $0.40 per
million requests.
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import resource
import sys
import time
import tracemalloc
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

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
from meterbill.domain import Assignment, Customer, Meter, Site  # noqa: E402
from meterbill.ports import AccountRecord, InvoiceWork, InvoiceWorkQueue, RawReading, Stores  # noqa: E402
from meterbill.services import billing_settings, billrun  # noqa: E402
from meterbill.services import catalog as catalog_service  # noqa: E402
from meterbill.settings import StorageSettings  # noqa: E402

ACCOUNT = "acc_5f2c9a1b7d3e4f60"
BERLIN = ZoneInfo("Europe/Berlin")
MONTH_START = datetime(2026, 1, 1, tzinfo=BERLIN)
DAYS = 31
QUARTER_HOURS = DAYS * 96
FIRST_PASS = datetime(2026, 2, 1, 0, 30, tzinfo=BERLIN)
RECOMPUTE_PASS = datetime(2026, 2, 1, 1, 30, tzinfo=BERLIN)
ISSUE_PASS = datetime(2026, 2, 3, 0, 30, tzinfo=BERLIN)
RECOMPUTES = 47  # hourly passes from 01:30 on the 1st to 23:30 on the 2nd: the draft waits its 2 grace days
GOAL_COMPUTE_MS = 50.0
GOAL_READ_UNITS = 30.0
MEMORY_SAMPLE = 20

PRICE_READ_UNIT = Decimal("0.125") / 1_000_000
PRICE_WRITE_UNIT = Decimal("0.625") / 1_000_000
PRICE_GB_SECOND = Decimal("0.0000133334")
PRICE_LAMBDA_REQUEST = Decimal("0.20") / 1_000_000
PRICE_SQS_REQUEST = Decimal("0.40") / 1_000_000

# The invoice worker as deployed (infra/cdk/constructs/billing.py): reserved concurrency 5 in prod,
# SQS batches of 10, 1,024 MB, a 15-minute timeout at most.
WORKER_CONCURRENCY = 5
WORKER_BATCH = 10
WORKER_MEMORY_GB = Decimal(1)
LAMBDA_TIMEOUT_S = 900
DYNAMODB_LATENCY_MS = 6.0  # a single-item call from Lambda in the same region, p50 (assumed, not measured)


# --- counting what DynamoDB would bill -----------------------------------------------------------------------


@dataclass
class Tally:
    read_units: Counter[str] = field(default_factory=Counter)
    write_units: Counter[str] = field(default_factory=Counter)
    calls: Counter[str] = field(default_factory=Counter)
    call_seconds: float = 0.0

    def add(self, other: Tally) -> None:
        self.read_units.update(other.read_units)
        self.write_units.update(other.write_units)
        self.calls.update(other.calls)
        self.call_seconds += other.call_seconds


def category(table: str, key_value: str, readings_table: str) -> str:
    """What a request reads or writes, from its table and partition key."""
    if table == readings_table:
        return "readings"
    if "#invoice" in key_value:
        return "invoices"
    if key_value == "accounts" or key_value.count("#") <= 1:
        return "account"
    kind = key_value.split("#")[2]
    if kind in ("customer", "site", "meter", "assignment", "tariff"):
        return "catalog"
    if kind in ("settings", "billing-settings"):
        return "account"
    return kind


class CapacityCounter:
    """Request units and time inside DynamoDB calls, counted with botocore hooks on the stores' one client."""

    def __init__(self, db: DynamoDb) -> None:
        self.tally = Tally()
        self.counting = True
        self.uncounted = boto3.client("dynamodb", region_name=db.settings.region)
        self.readings_table = db.readings_definition["TableName"]
        self._keys = {
            d["TableName"]: [k["AttributeName"] for k in d["KeySchema"]]
            for d in (db.catalog_definition, db.readings_definition)
        }
        self._sizes: dict[str, int] = {}  # size of every item put through the stores
        self._pending: dict[str, Any] = {}
        events = db.client.meta.events
        events.register("before-parameter-build.dynamodb.*", self._before)
        events.register("after-call.dynamodb.*", self._after)

    def take(self) -> Tally:
        taken, self.tally = self.tally, Tally()
        return taken

    def _key(self, table: str, item: dict[str, Any]) -> str:
        return repr((table, [item[name] for name in self._keys[table]]))

    def _old_size(self, table: str, key: dict[str, Any]) -> int:
        known = self._sizes.get(self._key(table, key))
        if known is not None:
            return known
        item = self.uncounted.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")
        return 0 if item is None else item_size(item)

    def _before(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        self._pending = {"operation": model.name, "params": params, "started": time.perf_counter()}
        if not self.counting:
            return
        if model.name in ("UpdateItem", "DeleteItem"):
            self._pending["old_size"] = self._old_size(params["TableName"], params["Key"])

    def _put(self, table: str, item: dict[str, Any], transaction: bool, succeeded: bool) -> None:
        key = self._key(table, item)
        new_size = item_size(item)
        units = write_units(max(self._sizes.get(key, 0), new_size)) * (2 if transaction else 1)
        if "account_pk" in item and succeeded:
            units += write_units(new_size)  # the index (projection ALL) writes its copy
        where = category(table, item[self._keys[table][0]]["S"], self.readings_table)
        self.tally.write_units[where] += units
        if succeeded:
            self._sizes[key] = new_size

    def _after(self, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        pending, self._pending = self._pending, {}
        self.tally.call_seconds += time.perf_counter() - pending.get("started", time.perf_counter())
        if not self.counting:
            return
        operation, params = model.name, pending.get("params", {})
        table = params.get("TableName", "")
        failed = "Error" in parsed
        consistent = bool(params.get("ConsistentRead", False))
        if operation == "GetItem":
            where = category(table, next(iter(params["Key"].values()))["S"], self.readings_table)
            self.tally.read_units[where] += read_units(item_size(parsed.get("Item", {})), consistent=consistent)
        elif operation == "Query":
            values = [v["S"] for v in params.get("ExpressionAttributeValues", {}).values() if "S" in v]
            where = category(table, values[0] if values else "", self.readings_table)
            returned = sum(map(item_size, parsed.get("Items", [])))
            self.tally.read_units[where] += read_units(returned, consistent=consistent)
        elif operation == "BatchGetItem":
            for name, items in parsed.get("Responses", {}).items():
                for item in items:
                    where = category(name, item[self._keys[name][0]]["S"], self.readings_table)
                    self.tally.read_units[where] += read_units(item_size(item), consistent=True)
        elif operation == "PutItem":
            self._put(table, params["Item"], False, not failed)
        elif operation == "TransactWriteItems":
            for entry in params["TransactItems"]:
                if "Put" in entry:
                    self._put(entry["Put"]["TableName"], entry["Put"]["Item"], True, not failed)
                else:
                    raise NotImplementedError(f"the benchmark does not count {sorted(entry)} in a transaction")
        elif operation in ("UpdateItem", "DeleteItem"):
            new_size = 0
            if operation == "UpdateItem":
                stored = self.uncounted.get_item(TableName=table, Key=params["Key"], ConsistentRead=True)
                new_size = item_size(stored.get("Item", {}))
                self._sizes[self._key(table, params["Key"])] = new_size
            else:
                self._sizes.pop(self._key(table, params["Key"]), None)
            where = category(table, next(iter(params["Key"].values()))["S"], self.readings_table)
            self.tally.write_units[where] += write_units(max(pending.get("old_size", 0), new_size))
        elif operation in ("CreateTable", "DescribeTable", "DeleteTable"):
            return
        else:
            raise NotImplementedError(f"the benchmark does not count {operation} yet")
        self.tally.calls[operation] += 1


# --- the portfolio ------------------------------------------------------------------------------------------


class ListQueue(InvoiceWorkQueue):
    def __init__(self) -> None:
        self.items: list[InvoiceWork] = []

    def send(self, items: Sequence[InvoiceWork]) -> None:
        self.items += items


def customer_id(n: int) -> str:
    return f"cus_{n:016x}"


def meter_id(n: int, k: int) -> str:
    return f"mtr_{n:014x}{k:02x}"


def day_of_readings(meter: str, seed: int, day: int) -> list[RawReading]:
    start = MONTH_START + timedelta(days=day)
    readings = []
    for q in range(96):
        base = 300 + 2500 * (32 <= q < 80) + ((day * 96 + q) * 7919 + seed * 104729) % 1700
        value = Decimal(50 + base % 4950) / 1000  # 0.050 .. 4.999 kWh
        readings.append(RawReading(meter, start + timedelta(minutes=15 * q), value, "interval", 15))
    return readings


def build(stores: Stores, customers: int) -> None:
    at = datetime(2025, 12, 1, tzinfo=BERLIN)
    stores.accounts.create(AccountRecord(ACCOUNT, "Bench", at))
    billing_settings.replace(
        ACCOUNT,
        {"bill_day": 1, "grace_days": 2, "currency": "EUR", "invoice_number_prefix": "BEN-2026-"},
        stores.accounts,
        at,
        if_match=None,
    )
    catalog_service.create(
        ACCOUNT, Site, {"id": "site-berlin", "name": "Berlin", "timezone": "Europe/Berlin"}, stores.catalog
    )
    tariff = {
        "id": "flat",
        "name": "Flat",
        "currency": "EUR",
        "effective_from": "2025-01-01",
        "fixed": [{"description": "Standing charge", "amount": "12.50", "per": "month"}],
        "energy": {"periods": [{"name": "all", "tiers": [{"rate": "0.30"}]}]},
    }
    catalog_service.create_tariff(ACCOUNT, tariff, stores.catalog)
    for n in range(customers):
        catalog_service.create(ACCOUNT, Customer, {"id": customer_id(n), "name": f"Customer {n}"}, stores.catalog)
        for k in range(2):
            mid = meter_id(n, k)
            meter = {
                "id": mid,
                "site_id": "site-berlin",
                "utility": "electricity",
                "unit": "kWh",
                "kind": "main",
                "interval_minutes": 15,
            }
            catalog_service.create(ACCOUNT, Meter, meter, stores.catalog)
            assignment = {
                "id": f"as_{mid}",
                "meter_id": mid,
                "customer_id": customer_id(n),
                "tariff_id": "flat",
                "share": "1",
                "effective_from": "2026-01-01",
                "effective_to": None,
            }
            catalog_service.create(ACCOUNT, Assignment, assignment, stores.catalog)
            for day in range(DAYS):
                stores.readings.put_new(ACCOUNT, day_of_readings(mid, n * 2 + k, day))


# --- the passes ---------------------------------------------------------------------------------------------


@dataclass
class Pass:
    name: str
    messages: int
    run_seconds: float
    run_tally: Tally
    work_seconds: float
    work_tally: Tally
    states: Counter[str]

    def per_message(self, seconds: float) -> float:
        return 1000 * seconds / max(self.messages, 1)

    def compute_ms(self) -> float:
        return self.per_message(self.work_seconds - self.work_tally.call_seconds)


def one_pass(name: str, now: datetime, stores: Stores, counter: CapacityCounter) -> Pass:
    queue = ListQueue()
    counter.take()
    gc.collect()
    started = time.perf_counter()
    billrun.run(now, stores, queue)
    run_seconds = time.perf_counter() - started
    run_tally = counter.take()
    states: Counter[str] = Counter()
    started = time.perf_counter()
    for item in queue.items:
        states[billrun.work(item, stores).state] += 1
    work_seconds = time.perf_counter() - started
    return Pass(name, len(queue.items), run_seconds, run_tally, work_seconds, counter.take(), states)


def memory_sample(now: datetime, stores: Stores, counter: CapacityCounter) -> float:
    """tracemalloc's peak over one worker step (recomputing a draft), the largest of the first messages."""
    queue = ListQueue()
    billrun.run(now, stores, queue)
    counter.counting = False
    tracemalloc.start()
    peak = 0
    try:
        for item in queue.items[:MEMORY_SAMPLE]:
            tracemalloc.reset_peak()
            base = tracemalloc.get_traced_memory()[0]
            billrun.work(item, stores)
            peak = max(peak, tracemalloc.get_traced_memory()[1] - base)
    finally:
        tracemalloc.stop()
        counter.counting = True
    return peak / 2**20


# --- printing -----------------------------------------------------------------------------------------------

CATEGORIES = ("catalog", "account", "readings", "invoices")


def units_row(label: str, tally: Tally, per: int) -> str:
    reads = " ".join(f"{tally.read_units[c] / per:8.1f}" for c in CATEGORIES)
    writes = " ".join(f"{tally.write_units[c] / per:6.1f}" for c in CATEGORIES)
    other = set(tally.read_units) | set(tally.write_units)
    extra = f"  (other: {sorted(other - set(CATEGORIES))})" if other - set(CATEGORIES) else ""
    calls = sum(tally.calls.values()) / per
    return (
        f"{label:34} {calls:7.1f} | {reads} | {sum(tally.read_units.values()) / per:8.1f} | {writes} | "
        f"{sum(tally.write_units.values()) / per:6.1f}{extra}"
    )


def report(customers: int, passes: list[Pass], build_seconds: float, peak_mib: float) -> dict[str, float]:
    first, recompute, issue = passes
    print(f"\n{customers:,} customers, {2 * customers:,} meters, {2 * customers * QUARTER_HOURS:,} readings "
          f"(built in {build_seconds:.0f} s)")  # fmt: skip
    print("\nTime (ms per customer-invoice; compute = wall minus time inside DynamoDB calls)")
    print(f"{'pass':34} {'msgs':>6} {'run wall':>9} {'run cpu':>8} {'work wall':>10} {'work cpu':>9} {'states'}")
    for p in passes:
        run_compute = 1000 * (p.run_seconds - p.run_tally.call_seconds) / max(p.messages, 1)
        print(
            f"{p.name:34} {p.messages:6} {p.per_message(p.run_seconds):9.2f} {run_compute:8.2f} "
            f"{p.per_message(p.work_seconds):10.2f} {p.compute_ms():9.2f} {dict(p.states)}"
        )
    print("\nRequest units per customer-invoice (reads RRU | writes WRU), by what they touch")
    head_r = " ".join(f"{c:>8}" for c in CATEGORIES)
    head_w = " ".join(f"{c[:6]:>6}" for c in CATEGORIES)
    print(f"{'':34} {'calls':>7} | {head_r} | {'RRU':>8} | {head_w} | {'WRU':>6}")
    for p in passes:
        print(units_row(f"{p.name}: schedule (run)", p.run_tally, p.messages))
        print(units_row(f"{p.name}: worker", p.work_tally, p.messages))
    lifetime = Tally()
    for p, times in ((first, 1), (recompute, RECOMPUTES), (issue, 1)):
        for _ in range(times):
            lifetime.add(p.run_tally)
            lifetime.add(p.work_tally)
    print(units_row(f"lifetime: 1 + {RECOMPUTES} recomputes + issue", lifetime, customers))
    one_shot = Tally()
    for p in (first, issue):
        one_shot.add(p.run_tally)
        one_shot.add(p.work_tally)
    print(units_row("without the hourly recomputes", one_shot, customers))
    print(f"\nPeak memory: tracemalloc {peak_mib:.1f} MiB over one worker step (largest of {MEMORY_SAMPLE}); "
          f"max RSS of the process {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")  # fmt: skip

    compute = max(p.compute_ms() for p in passes)
    reads_per_pass = max(sum(p.work_tally.read_units.values()) for p in passes) / customers
    calls_per_msg = max(sum(p.work_tally.calls.values()) for p in passes) / customers
    print(
        f"\nGoals per customer-invoice: compute <= {GOAL_COMPUTE_MS:.0f} ms: {compute:.1f} ms "
        f"({'met' if compute <= GOAL_COMPUTE_MS else 'NOT met'}); reads <= {GOAL_READ_UNITS:.0f} RRU: "
        f"{reads_per_pass:.1f} per worker pass ({'met' if reads_per_pass <= GOAL_READ_UNITS else 'NOT met'}), "
        f"{sum(lifetime.read_units.values()) / customers:.1f} over the run's lifetime "
        f"({'met' if sum(lifetime.read_units.values()) / customers <= GOAL_READ_UNITS else 'NOT met'})"
    )
    arithmetic(10_000, passes, lifetime, customers, calls_per_msg)
    return {
        "compute_ms": compute,
        "reads_per_pass": reads_per_pass,
        "lifetime_reads": sum(lifetime.read_units.values()) / customers,
    }


def arithmetic(target: int, passes: list[Pass], lifetime: Tally, measured: int, calls: float) -> None:
    """The measured per-invoice figures scaled to ``target`` customers on Lambda with SQS fan-out."""
    first, recompute, issue = passes
    print(f"\nFor {target:,} customers on Lambda (SQS fan-out, batches of {WORKER_BATCH}, reserved concurrency "
          f"{WORKER_CONCURRENCY}, {WORKER_MEMORY_GB} GB; DynamoDB latency assumed {DYNAMODB_LATENCY_MS:.0f} ms "
          "a call, calls made one after another):")  # fmt: skip
    for p in passes:
        per_message_ms = p.compute_ms() + DYNAMODB_LATENCY_MS * sum(p.work_tally.calls.values()) / p.messages
        batch_s = WORKER_BATCH * per_message_ms / 1000
        total_s = target * per_message_ms / 1000 / WORKER_CONCURRENCY
        run_ms = 1000 * (p.run_seconds - p.run_tally.call_seconds) * target / measured
        run_calls = sum(p.run_tally.calls.values()) * target / measured
        run_s = run_ms / 1000 + run_calls * DYNAMODB_LATENCY_MS / 1000
        verdict = "fits" if batch_s < LAMBDA_TIMEOUT_S and run_s < LAMBDA_TIMEOUT_S else "DOES NOT FIT"
        print(
            f"  {p.name:32} schedule Lambda {run_s:6.1f} s (one invocation, {run_calls:,.0f} calls); worker "
            f"{per_message_ms:6.1f} ms a message, {batch_s:5.2f} s a batch; all {target:,} messages "
            f"{total_s / 60:5.1f} min at concurrency {WORKER_CONCURRENCY} "
            f"({total_s / 60 * WORKER_CONCURRENCY / 100:4.2f} min at 100): {verdict} in {LAMBDA_TIMEOUT_S} s"
        )
        if total_s > 3600:
            print(f"    the pass takes longer than the hour between passes: the next one overlaps it")
    reads = Decimal(str(sum(lifetime.read_units.values()))) * target / measured
    writes = Decimal(sum(lifetime.write_units.values())) * target / measured
    gb_s = sum(
        (p.compute_ms() + DYNAMODB_LATENCY_MS * sum(p.work_tally.calls.values()) / p.messages) / 1000 * times
        for p, times in ((first, 1), (recompute, RECOMPUTES), (issue, 1))
    ) * target
    messages = target * (RECOMPUTES + 2)
    cost_db = reads * PRICE_READ_UNIT + writes * PRICE_WRITE_UNIT
    cost_lambda = Decimal(str(gb_s)) * WORKER_MEMORY_GB * PRICE_GB_SECOND + messages * PRICE_LAMBDA_REQUEST / WORKER_BATCH
    cost_sqs = messages * 3 * PRICE_SQS_REQUEST / WORKER_BATCH  # send, receive, delete in batches of 10
    print(
        f"  a month's run (1 + {RECOMPUTES} + 1 passes): {reads:,.0f} RRU + {writes:,.0f} WRU = ${cost_db:.2f} "
        f"DynamoDB; {messages:,} messages; Lambda {gb_s:,.0f} GB-s = ${cost_lambda:.2f}; SQS ${cost_sqs:.2f}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=100)
    args = parser.parse_args(argv)
    print(__doc__.split("\n\n")[0])
    settings = StorageSettings(catalog_table="bench-catalog", readings_table="bench-readings", region="us-east-1")
    with mock_aws():
        create_tables(settings)
        db = DynamoDb(settings)
        counter = CapacityCounter(db)
        stores = stores_on(db, clock=lambda: ISSUE_PASS, parallel_requests=1)
        counter.counting = False
        started = time.perf_counter()
        build(stores, args.customers)
        build_seconds = time.perf_counter() - started
        counter.counting = True
        passes = [
            one_pass("1. draft (02-01 00:30)", FIRST_PASS, stores, counter),
            one_pass("2. recompute (02-01 01:30)", RECOMPUTE_PASS, stores, counter),
        ]
        peak = memory_sample(RECOMPUTE_PASS + timedelta(hours=1), stores, counter)
        passes.append(one_pass("3. issue (02-03 00:30)", ISSUE_PASS, stores, counter))
        issued = stores.invoices.list(ACCOUNT, state="issued", limit=1000)
        count = len(issued.items)
        while issued.cursor is not None:
            issued = stores.invoices.list(ACCOUNT, state="issued", limit=1000, cursor=issued.cursor)
            count += len(issued.items)
        report(args.customers, passes, build_seconds, peak)
        print(f"\nIssued: {count:,} invoices")
    return 0 if count == args.customers else 1


if __name__ == "__main__":
    sys.exit(main())
