"""One scheduled alert pass over N meters (default 10,000) in one account: time, peak memory, store calls.

    PYTHONPATH=layers/common/python:. .venv/bin/python bench/alerts.py     # 1,000 / 5,000 / 10,000 meters
    PYTHONPATH=layers/common/python:. .venv/bin/python bench/alerts.py --meters 10000 --daily

Runs ``services.alerting.scheduled_pass`` on IN-MEMORY stores (not DynamoDB): the catalog and alert fakes of
``tests/fakes``, and a reading store and a metering store that generate each meter's data when it is asked
for (the last day of 15-minute readings, 1.0-1.3 kWh; rated days for the baselines), so the setup holds no
readings and the pass pays the real per-meter work: one ``between`` per meter, the detectors, the lifecycle.
Every meter is healthy, so the pass keeps no finding (what 10,000 healthy meters must cost).

Figures per size: the pass's time (best of ``--runs``, GC on), its peak of memory allocated during the pass
(``tracemalloc``, a separate run: tracing slows Python), and the store calls it made, with what they would
cost on DynamoDB (docs/storage.md: a meter's day of 15-minute readings is one item of ~1.2 KB in the UTC-day
bucket, so a 24-hour lookback Query reads 2 items, under 4 KB: 1 read unit strongly consistent).
``--daily`` also times the pass at 01:00 local, which adds the daily detectors (usage of the last local day,
abnormal usage against 4 weeks: 5 rated-day reads per meter).
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
import tracemalloc
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path[:0] = [
    str(Path(__file__).resolve().parents[1]),
    str(Path(__file__).resolve().parents[1] / "layers/common/python"),
]

from meterbill.alerts.lifecycle import Notification  # noqa: E402
from meterbill.alerts.ports import AlertMessage  # noqa: E402
from meterbill.ports import AccountRecord, RatedDay, RawReading, ReadingStore  # noqa: E402
from meterbill.services.alerting import PARALLEL_READS, AlertSources, scheduled_pass  # noqa: E402
from meterbill.timeutil import local_midnight, zone  # noqa: E402
from tests.fakes import FakeAccountStore, FakeCatalogStore, FakeMeteringStore  # noqa: E402
from tests.fakes.alerts import FakeAlertPublisher, FakeAlertStore  # noqa: E402

ACCOUNT = "acc-bench"
BERLIN = zone("Europe/Berlin")
NOW = datetime(2026, 3, 4, 10, 2, tzinfo=UTC)  # a Wednesday, not the daily pass
DAILY = datetime(2026, 3, 4, 0, 0, tzinfo=UTC)  # 01:00 in Berlin: the daily pass
QUARTER = timedelta(minutes=15)
VALUES = tuple(Decimal(10 + n) / 10 for n in range(4))


class GeneratedReadings(ReadingStore):
    """Each meter's 15-minute readings up to the bench's moment, made when asked; counts the calls."""

    def __init__(self, until: datetime, latency: float = 0.0) -> None:
        self.until = until
        self.latency = latency  # seconds each call waits, as a DynamoDB Query would
        self.calls = Counter[str]()

    def between(self, account: str, meter_id: str, start: datetime, end: datetime) -> Iterator[RawReading]:
        self.calls["between"] += 1
        if self.latency:
            time.sleep(self.latency)
        last = min(end, self.until)
        at = start.astimezone(UTC).replace(minute=start.minute // 15 * 15, second=0, microsecond=0)
        if at < start:
            at += QUARTER
        n = 0
        while at + QUARTER <= last:
            yield RawReading(meter_id, at, VALUES[n % 4], "interval", 15)
            at += QUARTER
            n += 1

    def put_new(self, account: str, readings: Any) -> Any:
        raise NotImplementedError

    def superseded(self, account: str, meter_id: str, start: datetime, end: datetime) -> Iterator[Any]:
        raise NotImplementedError

    def mark_for_rating(self, account: str, meter_id: str, *days: date) -> None:
        raise NotImplementedError

    def pending_marks(self, *, limit: int) -> Any:
        raise NotImplementedError

    def clear_mark(self, mark: Any) -> bool:
        raise NotImplementedError


class GeneratedMetering(FakeMeteringStore):
    """Every meter's rated days (96 quarter hours of 1 kWh), made when asked; counts the calls."""

    def __init__(self, latency: float = 0.0) -> None:
        super().__init__()
        self.calls = Counter[str]()
        self.latency = latency  # seconds each call waits, as a DynamoDB Query would

    def days(
        self, account: str, meter_id: str, first: date, end: date, *, consistent: bool = True
    ) -> list[RatedDay]:
        self.calls["days"] += 1
        if self.latency:
            time.sleep(self.latency)
        out = []
        day = first
        while day < end:
            start = local_midnight(day, BERLIN)
            count = (
                local_midnight(day + timedelta(days=1), BERLIN).astimezone(UTC) - start.astimezone(UTC)
            ) // QUARTER
            out.append(RatedDay(meter_id, day, start, 15, "kWh", 0, (1,) * count, "A" * count))
            day += timedelta(days=1)
        return out


class CountingAlertStore(FakeAlertStore):
    def __init__(self) -> None:
        super().__init__()
        self.calls = Counter[str]()

    def __getattribute__(self, name: str) -> Any:
        if name in (
            "lease",
            "release",
            "load_book",
            "save_book",
            "set_unsent",
            "get_rules",
            "silences",
            "heartbeats",
        ):
            object.__getattribute__(self, "calls")[name] += 1
        return object.__getattribute__(self, name)


def render(notification: Notification) -> AlertMessage:
    return AlertMessage(notification.title[:100], "", {"account_id": notification.account_id})


def world(
    meters: int, now: datetime, latency: float = 0.0
) -> tuple[AlertSources, CountingAlertStore, FakeCatalogStore]:
    from meterbill.domain import Meter, Site

    catalog = FakeCatalogStore()
    accounts = FakeAccountStore()
    accounts.create(AccountRecord(ACCOUNT, "Bench", datetime(2026, 1, 1, tzinfo=UTC)))
    site = Site(id="site-1", account_id=ACCOUNT, name="Site", timezone="Europe/Berlin")
    catalog.create(ACCOUNT, "site", site.id, site.model_dump(mode="json"))
    for n in range(meters):
        meter = Meter(
            id=f"m{n:06d}",
            account_id=ACCOUNT,
            site_id="site-1",
            utility="electricity",
            unit="kWh",
            kind="main",
        )
        catalog.create(ACCOUNT, "meter", meter.id, meter.model_dump(mode="json"))
    sources = AlertSources(catalog, GeneratedReadings(now, latency), GeneratedMetering(latency), accounts)
    return sources, CountingAlertStore(), catalog


def one_pass(
    meters: int, now: datetime, runs: int, latency: float = 0.0, parallel: int = PARALLEL_READS
) -> dict[str, Any]:
    sources, store, catalog = world(meters, now, latency)
    publisher = FakeAlertPublisher()
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        report = scheduled_pass(
            now, sources, store, publisher, render, owner="bench", parallel_reads=parallel
        )
        best = min(best, time.perf_counter() - started)
    assert report.meters == meters and report.steps[0].findings == 0, report
    readings, metering = sources.readings, sources.metering
    assert isinstance(readings, GeneratedReadings) and isinstance(metering, GeneratedMetering)
    calls = {
        "readings.between": readings.calls["between"] // runs,
        "metering.days": metering.calls["days"] // runs,
        "catalog pages": sum(catalog.list_calls.values()) // runs,
        **{f"alerts.{k}": v // runs for k, v in sorted(store.calls.items())},
    }
    gc.collect()
    tracemalloc.start()
    tracemalloc.reset_peak()
    scheduled_pass(now, sources, store, publisher, render, owner="bench")
    _current, peak = tracemalloc.get_traced_memory()
    # The fake catalog sorts every id of the kind for each page (DynamoDB reads one page): that part grows
    # with the meter count and is not the pass's.
    tracemalloc.reset_peak()
    catalog.list(ACCOUNT, "meter", limit=100)
    _current, paging = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "meters": meters,
        "seconds": best,
        "peak_mib": peak / 2**20,
        "paging_mib": paging / 2**20,
        "calls": calls,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--meters", type=int, action="append", help="meters in the account (repeatable)")
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--daily", action="store_true", help="also time the daily pass (01:00 local)")
    parser.add_argument(
        "--latency-ms",
        type=float,
        default=0.0,
        help="each readings or rated-days read waits this long (DynamoDB's latency)",
    )
    parser.add_argument(
        "--parallel",
        type=int,
        default=PARALLEL_READS,
        help="meters whose reads are in flight (parallel_reads)",
    )
    args = parser.parse_args()
    sizes = args.meters or [1_000, 5_000, 10_000]
    moments = [("5-minute pass", NOW)] + ([("daily pass (01:00 local)", DAILY)] if args.daily else [])
    print("In-memory stores (tests/fakes + generated readings), one account, one core; not DynamoDB.")
    print(f"Store reads (readings, rated days): {args.latency_ms} ms each, {args.parallel} meters in flight.")
    for label, now in moments:
        print(f"\n{label} at {now.isoformat()}")
        print(
            f"{'meters':>8} {'seconds':>8} {'ms/meter':>9} {'peak MiB':>9} {'fake paging':>12}  store calls"
        )
        for meters in sizes:
            result = one_pass(meters, now, args.runs, args.latency_ms / 1000, args.parallel)
            per_meter = result["seconds"] * 1000 / meters
            calls = ", ".join(f"{k} {v}" for k, v in result["calls"].items() if v)
            print(
                f"{meters:>8} {result['seconds']:>8.2f} {per_meter:>9.3f} {result['peak_mib']:>9.2f} "
                f"{result['paging_mib']:>12.2f}  {calls}"
            )
    biggest = max(sizes)
    rru = biggest  # one Query per meter, 2 items of ~1.2 KB (< 4 KB): 1 RRU strongly consistent
    passes = 12 * 24 * 30
    print(
        f"\nOn DynamoDB, {biggest:,} meters: {biggest:,} readings Queries a pass, ~{rru:,} read units "
        f"(1 per meter: a 24-hour lookback is 2 UTC-day items, < 4 KB), plus {biggest // 100 + 1} "
        f"catalog pages and ~6 alert-store calls per account; {passes:,} passes a month: "
        f"~{rru * passes / 1e6:.0f} M read units."
    )


if __name__ == "__main__":
    main()
