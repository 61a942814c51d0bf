"""VEE throughput: one year of one-minute register reads of one PDU through ``validate_readings``.

Run: ``.venv/bin/python bench/meterdata_vee.py [--runs N] [--zone Europe/Berlin]`` (not a test; prints its
figures, exits 0).

The load is a deterministic synthetic PDU (3-8 kW, a slow random walk) read every minute of 2025 by a kWh
register with 0.01 kWh resolution that wraps at 99,999.99: 525,601 reads, 1 % of them lost at random (all in
short gaps bounded by reads), the register rolls over once, and on 19 July at 12:00:30 the PDU is swapped for
a new one (an exchange record: the old one's final read, the new one's initial 0.00). Every gap is bounded by
register reads, so the validated year must add up to exactly what the PDUs measured; the bench checks that.
Timestamps are in UTC as collectors send them; ``--zone`` gives them a site zone (slower to convert). The goal
is about wall time; CPU time of this process is shown too, as other work on the machine inflates wall time.
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import sys
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "layers" / "common" / "python"))

from meterbill.domain import Meter
from meterbill.meterdata.readings import MeterExchange, RegisterRead
from meterbill.meterdata.vee import ValidatedIntervals, ValidationConfig, validate_readings

GOAL_READS_PER_S = 500_000
MINUTES = 365 * 24 * 60  # 525,600
START = datetime(2025, 1, 1, tzinfo=UTC)
REGISTER_START = 95_000_00  # hundredths of a kWh: wraps after about 5,000 kWh
WRAP_AT = 100_000_00  # 99,999.99 + 0.01
SWAP_MINUTE = 199 * 24 * 60 + 12 * 60  # 19 July 12:00; the swap happens 30 s later
LOST_SHARE = 0.01

METER = Meter(
    id="pdu-a1",
    account_id="acme",
    site_id="fra1",
    utility="electricity",
    unit="kWh",
    kind="main",
    register_max=Decimal("99999.99"),
    interval_minutes=1,
)
CONFIG = ValidationConfig(max_power=Decimal("20"))  # a 20 kW feed: nothing above 0.33 kWh a minute


def pdu_year(zone: ZoneInfo | None) -> tuple[list[RegisterRead], MeterExchange, int]:
    """The reads (in arrival order: by time), the swap record and the true total in hundredths of a kWh."""
    rng = random.Random(2025)
    watts = 5_000
    old_register, new_register = REGISTER_START, 0
    reads: list[RegisterRead] = []
    lost = set(rng.sample(range(1, MINUTES), int(MINUTES * LOST_SHARE)))
    true_total = 0
    exchange: MeterExchange | None = None
    for minute in range(MINUTES + 1):
        moment = START + timedelta(minutes=minute)
        if zone is not None:
            moment = moment.astimezone(zone)
        if minute <= SWAP_MINUTE:
            value, serial = old_register % WRAP_AT, "PDU-0001"
        else:
            value, serial = new_register, "PDU-0002"
        if minute not in lost:
            reads.append(RegisterRead(METER.id, moment, Decimal(value).scaleb(-2), "kWh", serial=serial))
        if minute == MINUTES:
            break
        watts = min(8_000, max(3_000, watts + rng.randint(-150, 150)))
        used = watts // 60 // 10  # hundredths of a kWh in this minute
        true_total += used
        if minute == SWAP_MINUTE:  # the swap, 30 s into this minute: half the minute on each PDU
            old_register += used // 2
            exchange = MeterExchange(
                METER.id,
                moment + timedelta(seconds=30),
                "PDU-0001",
                Decimal(old_register % WRAP_AT).scaleb(-2),
                "PDU-0002",
                Decimal(0).scaleb(-2),
            )
            new_register += used - used // 2
        elif minute < SWAP_MINUTE:
            old_register += used
        else:
            new_register += used
    assert exchange is not None
    return reads, exchange, true_total


def validate(reads: list[RegisterRead], exchange: MeterExchange) -> ValidatedIntervals:
    return validate_readings(
        METER, START, START + timedelta(minutes=MINUTES), registers=reads, exchanges=[exchange], config=CONFIG
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--zone", default=None, help="give the reads' timestamps this IANA zone")
    args = parser.parse_args()
    reads, exchange, true_total = pdu_year(ZoneInfo(args.zone) if args.zone else None)
    print(f"{len(reads):,} one-minute register reads of one PDU over 2025 ({MINUTES:,} intervals), 1 % lost,")
    print(f"one rollover, one swap; timestamps in {args.zone or 'UTC'}")

    walls, cpus = [], []
    result = validate(reads, exchange)
    for _ in range(args.runs):
        gc.collect()
        began, began_cpu = time.perf_counter(), time.process_time()
        result = validate(reads, exchange)
        walls.append(time.perf_counter() - began)
        cpus.append(time.process_time() - began_cpu)
    best, median, best_cpu = min(walls), statistics.median(walls), min(cpus)

    gc.collect()
    tracemalloc.start()
    validate(reads, exchange)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    counts = {q: result.qualities.count(q) for q in "AESFN"}
    kinds: dict[str, int] = {}
    for event in result.events:
        kinds[event.kind] = kinds.get(event.kind, 0) + 1
    measured = Decimal(true_total).scaleb(-2)
    rate = len(reads) / best
    runs = f"best {best:.3f} s, median {median:.3f} s of {args.runs} runs; CPU {best_cpu:.3f} s"
    print(f"validate_readings: {runs}")
    print(f"  {rate:,.0f} reads/s, {len(reads) / best_cpu:,.0f} per CPU second (goal {GOAL_READS_PER_S:,})")
    print(f"  peak memory {peak / 2**20:.1f} MiB (tracemalloc, one run)")
    print(f"  qualities: {', '.join(f'{q} {n:,}' for q, n in counts.items() if n)}")
    print(f"  events: {', '.join(f'{k} {n:,}' for k, n in sorted(kinds.items()))}")
    print(f"  validated total {result.total()} kWh, measured {measured} kWh: ", end="")
    print("equal" if result.total() == measured else "DIFFERENT")
    return 0


if __name__ == "__main__":
    sys.exit(main())
