"""Bill run: the hourly invoice schedule and its worker for N customers on DynamoDB (moto, in-process).

Run: ``.venv/bin/python bench/bill_run.py [--customers 100] [--recompute-sample 0]`` (not a test; prints its
figures, exits 0). 100 customers take about a minute; 1,000 several minutes (moto answers ~100-300 calls/s).

**Workload.** One account (bill day 1, grace 2 days, EUR), one site in Europe/Berlin, one flat tariff (energy
0.30 EUR/kWh, fixed charge 12.50 EUR/month). N customers, each with 2 meters of its own (15-minute kWh,
assigned from 2026-01-01) and a month of readings: January 2026 local, 2,976 quarter hours per meter, stored
through the readings store as one push per meter and day. The catalog (through the catalog service) and the
readings are built through the stores (the adapters on moto), and the rating pass runs once at 00:15 on
2026-02-01, as its 15-minute schedule would have (its cost is not counted here: ``ingest_cost.py`` and the
rating figures in docs/storage.md); then the real path runs: ``billrun.run(now, stores, queue)`` into an
in-memory queue, then ``billrun.work(item, stores)`` for every message, at three moments:

1. 2026-02-01T00:30+01:00: the first pass after the period ended: a draft per customer (computed from the
   rated days, stored with the fingerprint of its inputs).
2. 2026-02-01T01:30+01:00: the next hourly pass: every draft checked, its inputs unchanged: not recomputed,
   not rewritten.
   The schedule does this every hour until the grace has passed: 47 times (01:30 on the 1st .. 23:30 on the
   2nd), so the run's lifetime cost is pass 1 + 47 x pass 2 + pass 3.
3. 2026-02-03T00:30+01:00: grace over: checked once more (unchanged) and issued with its number.

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
import os
import resource
import sys
import time
import tracemalloc
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
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
import moto.dynamodb.models as moto_models  # noqa: E402
from moto import mock_aws  # noqa: E402
from moto.dynamodb.models.table import Table as MotoTable  # noqa: E402

from meterbill.adapters.dynamodb import DynamoDb, create_tables, stores_on  # noqa: E402
from meterbill.adapters.dynamodb.sizing import item_size, read_units, write_units  # noqa: E402
from meterbill.domain import Assignment, Customer, Meter, Site  # noqa: E402
from meterbill.ports import (  # noqa: E402
    AccountRecord,
    InvoiceWork,
    InvoiceWorkQueue,
    RatingStores,
    RawReading,
    Stores,
)
from meterbill.services import billing_settings, billrun, rating  # noqa: E402
from meterbill.services import catalog as catalog_service  # noqa: E402
from meterbill.settings import StorageSettings  # noqa: E402

ACCOUNT = "acc_5f2c9a1b7d3e4f60"
BERLIN = ZoneInfo("Europe/Berlin")
MONTH_START = datetime(2026, 1, 1, tzinfo=BERLIN)
DAYS = 31
QUARTER_HOURS = DAYS * 96
RATING_PASS = datetime(2026, 2, 1, 0, 15, tzinfo=BERLIN)  # the quarter-hourly rating pass before the run
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

# As deployed (infra/cdk/constructs/billing.py, infra/cdk/stages.py, prod): the worker 1,024 MB, a 2-minute
# timeout, SQS batches of 10, reserved (and maximum) concurrency 5; the schedule 512 MB, 5 minutes. On arm64 a
# function gets one whole vCPU at 1,769 MB, so compute measured here (one core) takes 1769/MB times longer.
WORKER_CONCURRENCY = 5
WORKER_BATCH = 10
WORKER_MEMORY_GB = Decimal(1)
WORKER_CPU_SLOWDOWN = 1769 / 1024
WORKER_TIMEOUT_S = 120
SCHEDULE_CPU_SLOWDOWN = 1769 / 512
SCHEDULE_TIMEOUT_S = 300
DYNAMODB_LATENCY_MS = 6.0  # a single-item call from Lambda in the same region, p50 (assumed, not measured)


# --- counting what DynamoDB would bill ----------------------------------------------------------------------


@dataclass
class Tally:
    read_units: Counter[str] = field(default_factory=Counter)
    write_units: Counter[str] = field(default_factory=Counter)
    calls: Counter[str] = field(default_factory=Counter)
    call_seconds: float = 0.0  # wall time inside DynamoDB calls
    call_cpu: float = 0.0  # this thread's CPU time inside them (serialising, moto, parsing)

    def add(self, other: Tally) -> None:
        self.read_units.update(other.read_units)
        self.write_units.update(other.write_units)
        self.calls.update(other.calls)
        self.call_seconds += other.call_seconds
        self.call_cpu += other.call_cpu


def category(table: str, key_value: str, readings_table: str) -> str:
    """What a request reads or writes, from its table and partition key."""
    if table == readings_table:
        return "readings"
    if "#invoice" in key_value:
        return "invoices"
    if key_value == "accounts" or key_value.count("#") <= 1:
        return "account"
    kind = key_value.split("#")[2]
    if kind in ("customer", "site", "meter", "assignment", "tariff", "assignment-by-customer"):
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
        self._pending = {
            "operation": model.name,
            "params": params,
            "started": time.perf_counter(),
            "cpu": time.thread_time(),
        }
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
        self.tally.call_cpu += time.thread_time() - pending.get("cpu", time.thread_time())
        if not self.counting:
            return
        operation, params = model.name, pending.get("params", {})
        table = params.get("TableName", "")
        failed = "Error" in parsed
        consistent = bool(params.get("ConsistentRead", False))
        if operation == "GetItem":
            where = category(table, next(iter(params["Key"].values()))["S"], self.readings_table)
            self.tally.read_units[where] += read_units(
                item_size(parsed.get("Item", {})), consistent=consistent
            )
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
                    raise NotImplementedError(
                        f"the benchmark does not count {sorted(entry)} in a transaction"
                    )
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


@contextmanager
def moto_transactions_without_table_copies() -> Iterator[None]:
    """moto backs up every table a transaction touches before applying it, a deep copy of the whole table per
    item of the transaction (to roll back on failure): at 1,000 customers each assignment create (a
    transaction of 3 items) copies the catalog table 3 times, which takes most of the build's time and GBs of
    memory. The build's transactions never fail: while it runs, the tables are not copied. DynamoDB itself
    has no such cost; the passes measured below run on moto as it is."""
    real = moto_models.copy

    def deepcopy(value: Any, memo: Any = None) -> Any:
        return value if isinstance(value, MotoTable) else real.deepcopy(value, memo)

    moto_models.copy = SimpleNamespace(deepcopy=deepcopy, copy=real.copy)  # type: ignore[assignment]
    try:
        yield
    finally:
        moto_models.copy = real


def build(stores: Stores, customers: int, with_readings: int) -> None:
    """The account, its catalog and (for the first ``with_readings`` customers) a month of readings."""
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
        catalog_service.create(
            ACCOUNT, Customer, {"id": customer_id(n), "name": f"Customer {n}"}, stores.catalog
        )
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
            # Through the service: its check reads the meter's own assignments (one Query), not the account's.
            catalog_service.create(ACCOUNT, Assignment, assignment, stores.catalog)
            for day in range(DAYS if n < with_readings else 0):
                stores.readings.put_new(ACCOUNT, day_of_readings(mid, n * 2 + k, day))


# --- the passes ---------------------------------------------------------------------------------------------


@dataclass
class Pass:
    name: str
    messages: int  # sent by the schedule's run
    worked: int  # of which the worker ran (the first ones)
    run_seconds: float
    run_cpu: float
    run_tally: Tally
    work_seconds: float
    work_cpu: float
    work_tally: Tally
    states: Counter[str]

    def per_message(self, seconds: float) -> float:
        return 1000 * seconds / max(self.messages, 1)

    def per_worked(self, seconds: float) -> float:
        return 1000 * seconds / max(self.worked, 1)

    def compute_ms(self) -> float:
        """CPU ms per message outside DynamoDB calls: what meterbill itself (and pynamodb) spends."""
        return self.per_worked(self.work_cpu - self.work_tally.call_cpu)

    def run_compute_ms(self) -> float:
        return self.per_message(self.run_cpu - self.run_tally.call_cpu)


def one_pass(name: str, now: datetime, stores: Stores, counter: CapacityCounter, worked: int) -> Pass:
    """One hourly pass: the schedule's run (all its messages), then the worker on the first ``worked``."""
    queue = ListQueue()
    counter.take()
    gc.collect()
    started, cpu = time.perf_counter(), time.thread_time()
    billrun.run(now, stores, queue)
    run_seconds, run_cpu = time.perf_counter() - started, time.thread_time() - cpu
    run_tally = counter.take()
    states: Counter[str] = Counter()
    started, cpu = time.perf_counter(), time.thread_time()
    for item in queue.items[:worked]:
        states[billrun.work(item, stores).state] += 1
    work_seconds, work_cpu = time.perf_counter() - started, time.thread_time() - cpu
    return Pass(
        name,
        len(queue.items),
        min(worked, len(queue.items)),
        run_seconds,
        run_cpu,
        run_tally,
        work_seconds,
        work_cpu,
        counter.take(),
        states,
    )


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


@dataclass
class PerInvoice:
    """Request units and calls per customer-invoice."""

    reads: dict[str, float] = field(default_factory=dict)
    writes: dict[str, float] = field(default_factory=dict)
    calls: float = 0.0

    @classmethod
    def of(cls, tally: Tally, per: int) -> PerInvoice:
        per = max(per, 1)
        return cls(
            {c: u / per for c, u in tally.read_units.items()},
            {c: u / per for c, u in tally.write_units.items()},
            sum(tally.calls.values()) / per,
        )

    def plus(self, other: PerInvoice, times: int = 1) -> PerInvoice:
        keys_r, keys_w = set(self.reads) | set(other.reads), set(self.writes) | set(other.writes)
        return PerInvoice(
            {c: self.reads.get(c, 0) + times * other.reads.get(c, 0) for c in keys_r},
            {c: self.writes.get(c, 0) + times * other.writes.get(c, 0) for c in keys_w},
            self.calls + times * other.calls,
        )

    @property
    def rru(self) -> float:
        return sum(self.reads.values())

    @property
    def wru(self) -> float:
        return sum(self.writes.values())


def units_row(label: str, units: PerInvoice) -> str:
    reads = " ".join(f"{units.reads.get(c, 0):8.1f}" for c in CATEGORIES)
    writes = " ".join(f"{units.writes.get(c, 0):6.1f}" for c in CATEGORIES)
    other = (set(units.reads) | set(units.writes)) - set(CATEGORIES)
    extra = f"  (other: {sorted(other)})" if other else ""
    return f"{label:40} {units.calls:7.1f} | {reads} | {units.rru:8.1f} | {writes} | {units.wru:6.1f}{extra}"


def report(customers: int, passes: list[Pass], build_seconds: float, peak_mib: float) -> dict[str, float]:
    first = passes[0]
    print(
        f"\n{customers:,} customers, {2 * customers:,} meters; the worker ran {first.worked:,} of each "
        f"pass's {first.messages:,} messages ({2 * first.worked * QUARTER_HOURS:,} readings; built in "
        f"{build_seconds:.0f} s)"
    )
    print(
        "\nTime, ms per customer-invoice: wall; cpu (this thread's CPU time); compute = cpu outside DynamoDB "
        "calls (moto's, botocore's share left out)"
    )
    print(
        f"{'pass':28} {'msgs':>6} | {'run wall':>9} {'cpu':>7} {'compute':>8} | {'work wall':>10} {'cpu':>7} "
        f"{'compute':>8} | states"
    )
    for p in passes:
        run = f"{p.per_message(p.run_seconds):9.2f} {p.per_message(p.run_cpu):7.2f} {p.run_compute_ms():8.2f}"
        work = f"{p.per_worked(p.work_seconds):10.2f} {p.per_worked(p.work_cpu):7.2f} {p.compute_ms():8.2f}"
        print(f"{p.name:28} {p.messages:6} | {run} | {work} | {dict(p.states)}")
    print("\nRequest units per customer-invoice (reads in RRU | writes in WRU), by what they touch")
    head_r = " ".join(f"{c:>8}" for c in CATEGORIES)
    head_w = " ".join(f"{c[:6]:>6}" for c in CATEGORIES)
    print(f"{'':40} {'calls':>7} | {head_r} | {'RRU':>8} | {head_w} | {'WRU':>6}")
    per_pass = []
    for p in passes:
        run, work = PerInvoice.of(p.run_tally, p.messages), PerInvoice.of(p.work_tally, p.worked)
        per_pass.append(run.plus(work))
        print(units_row(f"{p.name}: schedule", run))
        print(units_row(f"{p.name}: worker", work))
    lifetime = per_pass[0].plus(per_pass[1], RECOMPUTES).plus(per_pass[2])
    one_shot = per_pass[0].plus(per_pass[2])
    print(units_row(f"lifetime: draft + {RECOMPUTES} recomputes + issue", lifetime))
    print(units_row("the same without the hourly recomputes", one_shot))
    print(
        f"\nPeak memory: tracemalloc {peak_mib:.1f} MiB over one worker step (largest of {MEMORY_SAMPLE}); "
        f"max RSS of the process {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB"
    )
    compute = max(p.compute_ms() for p in passes)
    worst_pass = max(u.rru for u in per_pass)

    def verdict(ok: bool) -> str:
        return "met" if ok else "NOT met"

    print(
        f"\nGoals per customer-invoice: compute <= {GOAL_COMPUTE_MS:.0f} ms: {compute:.1f} ms, "
        f"{verdict(compute <= GOAL_COMPUTE_MS)}; reads <= {GOAL_READ_UNITS:.0f} RRU: {worst_pass:.1f} in one "
        f"pass ({verdict(worst_pass <= GOAL_READ_UNITS)}), {lifetime.rru:.1f} over the run's lifetime "
        f"({verdict(lifetime.rru <= GOAL_READ_UNITS)}), {one_shot.rru:.1f} without the hourly recomputes "
        f"({verdict(one_shot.rru <= GOAL_READ_UNITS)})"
    )
    arithmetic(10_000, customers, passes, lifetime)
    return {"compute_ms": compute, "pass_rru": worst_pass, "lifetime_rru": lifetime.rru}


def worker_ms(p: Pass) -> float:
    """A message's duration in Lambda: the compute measured plus an assumed latency per DynamoDB call."""
    return WORKER_CPU_SLOWDOWN * p.compute_ms() + DYNAMODB_LATENCY_MS * sum(
        p.work_tally.calls.values()
    ) / max(p.worked, 1)


def arithmetic(target: int, measured: int, passes: list[Pass], lifetime: PerInvoice) -> None:
    """The measured per-invoice figures scaled to ``target`` customers on Lambda with SQS fan-out."""
    print(
        f"\nFor {target:,} customers on Lambda: SQS fan-out, batches of {WORKER_BATCH}, reserved concurrency "
        f"{WORKER_CONCURRENCY}, {WORKER_MEMORY_GB} GB (compute x{WORKER_CPU_SLOWDOWN:.2f}; the schedule x"
        f"{SCHEDULE_CPU_SLOWDOWN:.2f} at 512 MB); DynamoDB latency assumed "
        f"{DYNAMODB_LATENCY_MS:.0f} ms a call, the calls one after another. The schedule's "
        "figures scale linearly from the run measured "
        "(its Queries read pages: at small sizes this overstates its calls)."
    )
    for p in passes:
        scale = target / max(p.messages, 1)
        run_calls = sum(p.run_tally.calls.values()) * scale
        run_s = (
            SCHEDULE_CPU_SLOWDOWN * p.run_compute_ms() / 1000 * target
            + run_calls * DYNAMODB_LATENCY_MS / 1000
        )
        batch_s = WORKER_BATCH * worker_ms(p) / 1000
        total_s = target * worker_ms(p) / 1000 / WORKER_CONCURRENCY
        fits = batch_s < WORKER_TIMEOUT_S and run_s < SCHEDULE_TIMEOUT_S
        print(
            f"  {p.name:28} schedule {run_s:6.1f} s ({run_calls:,.0f} calls); worker "
            f"{worker_ms(p):6.1f} ms a message, {batch_s:5.2f} s a batch of {WORKER_BATCH}; "
            f"{target:,} messages in "
            f"{total_s / 60:5.1f} min at concurrency {WORKER_CONCURRENCY}: "
            f"{'fits' if fits else 'DOES NOT FIT'} the timeouts "
            f"({SCHEDULE_TIMEOUT_S} s, {WORKER_TIMEOUT_S} s)"
            + ("; longer than the hour between passes" if total_s > 3600 else "")
        )
    reads = Decimal(str(lifetime.rru)) * target
    writes = Decimal(str(lifetime.wru)) * target
    first, recompute, issue = passes
    gb_s = Decimal(str((worker_ms(first) + RECOMPUTES * worker_ms(recompute) + worker_ms(issue)) / 1000))
    gb_s *= target * WORKER_MEMORY_GB
    messages = target * (RECOMPUTES + 2)
    cost_db = reads * PRICE_READ_UNIT + writes * PRICE_WRITE_UNIT
    cost_lambda = gb_s * PRICE_GB_SECOND + messages * PRICE_LAMBDA_REQUEST / WORKER_BATCH
    cost_sqs = messages * 3 * PRICE_SQS_REQUEST / WORKER_BATCH  # send, receive and delete in batches of 10
    print(
        f"  a month's bill run (draft + {RECOMPUTES} recomputes + issue): {reads:,.0f} RRU + "
        f"{writes:,.0f} WRU = ${cost_db:.2f} DynamoDB; {messages:,} messages; worker {gb_s:,.0f} GB-s = "
        f"${cost_lambda:.2f} "
        f"Lambda; ${cost_sqs:.2f} SQS"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=100)
    parser.add_argument(
        "--worked",
        type=int,
        default=None,
        help="the worker runs only the first N messages of each pass (only they get readings); default: all",
    )
    args = parser.parse_args(argv)
    worked = args.customers if args.worked is None else min(args.worked, args.customers)
    print(__doc__.split("\n\n")[0])
    settings = StorageSettings(
        catalog_table="bench-catalog", readings_table="bench-readings", region="us-east-1"
    )
    with mock_aws():
        create_tables(settings)
        db = DynamoDb(settings)
        counter = CapacityCounter(db)
        stores = stores_on(db, clock=lambda: ISSUE_PASS, parallel_requests=1)
        counter.counting = False
        started = time.perf_counter()
        with moto_transactions_without_table_copies():
            build(stores, args.customers, worked)
        build_seconds = time.perf_counter() - started
        started = time.perf_counter()
        assert stores.metering is not None
        with moto_transactions_without_table_copies():
            rated = rating.rating_pass(
                RATING_PASS,
                RatingStores(
                    stores.readings, stores.catalog, stores.metering, stores.accounts, stores.invoices
                ),
                mark_limit=100 * DAYS * 2 * worked,
            )
        print(
            f"The rating pass (every 15 min in production; not counted below) at {RATING_PASS.isoformat()}: "
            f"{rated.meters} meters, {rated.days_written} rated days, {rated.months_written} months written "
            f"in {time.perf_counter() - started:.0f} s; failures: {rated.failures or 'none'}"
        )
        counter.counting = True
        passes = [
            one_pass("1. draft (02-01 00:30)", FIRST_PASS, stores, counter, worked),
            one_pass("2. recompute (02-01 01:30)", RECOMPUTE_PASS, stores, counter, worked),
        ]
        peak = memory_sample(RECOMPUTE_PASS + timedelta(hours=1), stores, counter)
        passes.append(one_pass("3. issue (02-03 00:30)", ISSUE_PASS, stores, counter, worked))
        report(args.customers, passes, build_seconds, peak)
        counter.counting = False
        issued = 0
        cursor = None
        while True:
            page = stores.invoices.list(ACCOUNT, state="issued", limit=1000, cursor=cursor)
            issued += len(page.items)
            if page.cursor is None:
                break
            cursor = page.cursor
        print(f"\nIssued: {issued:,} invoices")
    return 0 if issued == worked else 1


if __name__ == "__main__":
    sys.exit(main())
