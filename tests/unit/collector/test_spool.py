"""The spool keeps every reading until the API has it: once per meter and timestamp, in time order per meter,
one batch in flight under a key that survives a restart, and whole transactions even under SIGKILL."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

import meterbill_collector
from meterbill_collector.model import MeterHealth, Reading
from meterbill_collector.spool import Spool

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
QUOTA = 512 * 1024 * 1024


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def reading(meter: str, timestamp: datetime | str, value: str) -> Reading:
    moment = at(timestamp) if isinstance(timestamp, str) else timestamp
    return Reading(meter, moment, Decimal(value), moment + timedelta(seconds=3))


def stamps(readings: tuple[Reading, ...] | list[Reading], meter: str | None = None) -> list[str]:
    return [r.timestamp.isoformat() for r in readings if meter is None or r.meter_id == meter]


@pytest.fixture
def spool(tmp_path: Path) -> Iterator[Spool]:
    with Spool(tmp_path / "spool.sqlite", quota_bytes=QUOTA) as opened:
        yield opened


def test_a_reading_added_twice_is_stored_once(spool: Spool) -> None:
    first = spool.add([reading("m1", "2026-11-20T10:00:00+00:00", "12.5")])
    again = spool.add(
        [
            reading("m1", "2026-11-20T11:00:00+01:00", "12.5"),  # the same instant on another clock
            reading("m1", "2026-11-20T10:15:00+00:00", "12.75"),
        ]
    )

    assert (first, again, spool.depth()) == (1, 1, 2)


def test_values_and_times_come_back_exactly(spool: Spool) -> None:
    spool.add(
        [Reading("m1", at("2026-11-20T11:15:00+01:00"), Decimal("1E+3"), at("2026-11-20T10:15:02.5+00:00"))]
    )

    batch = spool.open_batch(10, NOW)

    assert batch is not None
    assert batch.readings == (
        Reading(
            "m1", at("2026-11-20T10:15:00+00:00"), Decimal("1000"), at("2026-11-20T10:15:02.500000+00:00")
        ),
    )
    assert str(batch.readings[0].value) == "1000"
    assert batch.created_at == NOW


def test_a_batch_takes_the_oldest_readings_in_time_order_per_meter(spool: Spool) -> None:
    spool.add(
        [reading("b", "2026-11-20T10:30:00+00:00", "3"), reading("a", "2026-11-20T10:15:00+00:00", "2")]
    )
    spool.add(
        [reading("a", "2026-11-20T10:00:00+00:00", "1"), reading("b", "2026-11-20T10:00:00+00:00", "1")]
    )
    spool.add([reading("a", "2026-11-20T10:45:00+00:00", "4")])

    batch = spool.open_batch(3, NOW)

    assert batch is not None
    assert [(r.meter_id, r.timestamp.strftime("%H:%M")) for r in batch.readings] == [
        ("a", "10:00"),
        ("b", "10:00"),
        ("a", "10:15"),
    ]


def test_the_batch_in_flight_is_sent_again_unchanged_with_its_key_after_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "spool.sqlite"
    with Spool(path, quota_bytes=QUOTA) as spool:
        spool.add([reading("m1", T0 + timedelta(minutes=15 * i), str(i)) for i in range(5)])
        first = spool.open_batch(3, NOW)
        spool.add([reading("m1", "2026-11-20T09:45:00+00:00", "0")])  # older, came late: not in this batch

    with Spool(path, quota_bytes=QUOTA) as reopened:
        again = reopened.open_batch(1000, NOW + timedelta(hours=1))

    assert first is not None
    assert again == first
    assert first.key.startswith("mbc-")
    assert stamps(first.readings) == [
        "2026-11-20T10:00:00+00:00",
        "2026-11-20T10:15:00+00:00",
        "2026-11-20T10:30:00+00:00",
    ]


def test_acknowledging_a_batch_empties_it_and_keeps_the_rejected_readings(spool: Spool) -> None:
    spool.add([reading("m1", T0 + timedelta(minutes=15 * i), f"{i}.5") for i in range(4)])
    batch = spool.open_batch(3, NOW)
    assert batch is not None

    spool.acknowledge(batch.key, {1: "meter_id: no meter 'm1'"}, NOW)
    following = spool.open_batch(3, NOW)

    assert spool.depth() == 1
    assert spool.last_push_at() == NOW
    assert following is not None and following.key != batch.key
    assert stamps(following.readings) == ["2026-11-20T10:45:00+00:00"]
    [kept] = spool.rejected()
    assert (kept.reading, kept.reason, kept.batch_key, kept.rejected_at) == (
        reading("m1", "2026-11-20T10:15:00+00:00", "1.5"),
        "meter_id: no meter 'm1'",
        batch.key,
        NOW,
    )
    assert spool.rejected_count() == 1


def test_an_unknown_batch_or_position_is_refused_and_changes_nothing(spool: Spool) -> None:
    spool.add([reading("m1", T0, "1")])
    batch = spool.open_batch(10, NOW)
    assert batch is not None

    with pytest.raises(KeyError, match="no batch 'mbc-other' is in flight"):
        spool.acknowledge("mbc-other", {}, NOW)
    with pytest.raises(ValueError, match=r"rejected positions \[1\] are not in the batch of 1 readings"):
        spool.acknowledge(batch.key, {1: "value: bad"}, NOW)

    assert (spool.depth(), spool.rejected_count(), spool.last_push_at()) == (1, 0, None)
    assert spool.open_batch(10, NOW) == batch


def test_nothing_to_send_opens_no_batch(spool: Spool) -> None:
    assert spool.open_batch(10, NOW) is None
    assert spool.pending_batch() is None


def test_health_is_kept_and_an_error_does_not_forget_the_last_good_read(tmp_path: Path) -> None:
    path = tmp_path / "spool.sqlite"
    with Spool(path, quota_bytes=QUOTA) as spool:
        spool.save_health([MeterHealth("m1", T0, None), MeterHealth("m2", T0, None)])
        spool.save_health([MeterHealth("m2", None, "timeout after 0.5 s (2 attempts)")])

    with Spool(path, quota_bytes=QUOTA) as other_process:
        assert other_process.health() == [
            MeterHealth("m1", T0, None),
            MeterHealth("m2", T0, "timeout after 0.5 s (2 attempts)"),
        ]


def test_under_its_quota_the_spool_thins_nothing(spool: Spool) -> None:
    spool.add([reading("m1", T0 + timedelta(minutes=15 * i), str(i)) for i in range(8)])

    assert spool.enforce_quota(NOW) is None
    assert (spool.depth(), spool.warnings()) == (8, [])


def test_over_its_quota_the_spool_thins_unsent_reads_to_hourly_but_never_the_batch_in_flight(
    tmp_path: Path,
) -> None:
    with Spool(tmp_path / "spool.sqlite", quota_bytes=1) as spool:
        quarter_hours = [
            reading("q", T0 + timedelta(minutes=15 * i), str(i)) for i in range(12)
        ]  # 10:00-12:45
        odd = [
            reading("o", f"2026-11-20T{hm}:00+00:00", str(n))
            for n, hm in enumerate(
                ["09:50", "10:07", "10:20", "10:59", "11:00", "11:01", "11:59", "12:30", "12:31"]
            )
        ]
        spool.add(quarter_hours + odd)
        in_flight = spool.open_batch(3, NOW)  # o 09:50, q 10:00, o 10:07
        assert in_flight is not None

        warning = spool.enforce_quota(NOW)

        assert warning == (
            "spool over its 1 bytes quota: thinned 10 reads of 2 meters to hourly before 2026-11-20T13:00Z"
        )
        assert spool.warnings() == [warning]
        assert spool.pending_batch() == in_flight
        kept = spool.open_batch(100, NOW)
        assert kept == in_flight
        spool.acknowledge(in_flight.key, {}, NOW)
        rest = spool.open_batch(100, NOW)
        assert rest is not None
        # q: the first read of each hour (10:00 went in flight, 10:15 is the first unsent one of that hour),
        # and the newest; o: the first of each hour's unsent reads, and the newest.
        assert stamps(rest.readings, "q") == [
            "2026-11-20T10:15:00+00:00",
            "2026-11-20T11:00:00+00:00",
            "2026-11-20T12:00:00+00:00",
            "2026-11-20T12:45:00+00:00",
        ]
        assert stamps(rest.readings, "o") == [
            "2026-11-20T10:20:00+00:00",
            "2026-11-20T11:00:00+00:00",
            "2026-11-20T12:30:00+00:00",
            "2026-11-20T12:31:00+00:00",
        ]
        # The kept values are the registers' own: cumulative, so every hour's total stays.
        assert [str(r.value) for r in rest.readings if r.meter_id == "q"] == ["1", "4", "8", "11"]


def test_thinning_keeps_the_full_hours_of_the_sites_clock(tmp_path: Path) -> None:
    with Spool(tmp_path / "spool.sqlite", quota_bytes=1, zone=ZoneInfo("Asia/Kolkata")) as spool:
        spool.add(
            [reading("q", T0 + timedelta(minutes=15 * i), str(i)) for i in range(12)]
        )  # 10:00-12:45 UTC

        spool.enforce_quota(NOW)
        kept = spool.open_batch(100, NOW)

        assert kept is not None
        # India's full hours are at :30 UTC: 15:30+05:30 is 10:00Z.
        assert stamps(kept.readings) == [
            "2026-11-20T10:00:00+00:00",  # the first of 15:00-16:00 local (15:30)
            "2026-11-20T10:30:00+00:00",  # 16:00 local
            "2026-11-20T11:30:00+00:00",  # 17:00 local
            "2026-11-20T12:30:00+00:00",  # 18:00 local
            "2026-11-20T12:45:00+00:00",  # the newest
        ]


def test_thinning_goes_oldest_first_and_stops_once_under_the_quota(tmp_path: Path) -> None:
    days = 20
    with Spool(tmp_path / "spool.sqlite", quota_bytes=QUOTA) as spool:
        start = datetime(2026, 11, 1, tzinfo=UTC)
        spool.add(
            reading(f"m{m}", start + timedelta(minutes=15 * i), str(i))
            for i in range(96 * days)
            for m in range(3)
        )
        spool.quota_bytes = spool.size_bytes() - 1  # one byte over: thinning the first day is enough

        warning = spool.enforce_quota(start + timedelta(days=days))
        size = spool.size_bytes()
        batch = spool.open_batch(4000, start + timedelta(days=days))

        assert warning == (
            f"spool over its {spool.quota_bytes:,} bytes quota: thinned 216 reads of 3 meters to hourly "
            "before 2026-11-02T00:00Z"
        )
        assert batch is not None
        first_day = [r for r in batch.readings if r.timestamp < start + timedelta(days=1)]
        assert len(first_day) == 24 * 3  # 96 - 72 (3 of every 4 quarter hours) per meter: 216 = 72 * 3
        assert spool.depth() == 96 * days * 3 - 216
        assert size <= spool.quota_bytes


def test_the_quota_warning_stands_until_the_thinned_reads_are_delivered(tmp_path: Path) -> None:
    with Spool(tmp_path / "spool.sqlite", quota_bytes=1) as spool:
        spool.add([reading("q", T0 + timedelta(minutes=15 * i), str(i)) for i in range(8)])
        warning = spool.enforce_quota(NOW)
        assert warning is not None
        spool.quota_bytes = QUOTA

        assert spool.enforce_quota(NOW) == warning  # under the quota, the thinned hours still unsent
        assert spool.warnings() == [warning]
        batch = spool.open_batch(100, NOW)
        assert batch is not None
        spool.acknowledge(batch.key, {}, NOW)

        assert spool.enforce_quota(NOW) is None
        assert spool.warnings() == []


# --- SIGKILL ------------------------------------------------------------------------------------------------

WRITER = textwrap.dedent(
    """
    import sys
    from datetime import UTC, datetime, timedelta
    from decimal import Decimal
    from pathlib import Path
    from meterbill_collector.model import Reading
    from meterbill_collector.spool import Spool

    path, size = Path(sys.argv[1]), int(sys.argv[2])
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with Spool(path, quota_bytes=10**12) as spool:
        for tx in range(1_000_000):
            moments = [start + timedelta(minutes=tx * size + i) for i in range(size)]
            spool.add(Reading(f"tx-{tx}", m, Decimal(tx), m) for m in moments)
            if tx % 3 == 2:
                batch = spool.open_batch(size // 2, start)
                if tx % 2:
                    spool.acknowledge(batch.key, {0: "value: refused"}, start)
            if tx == 0:
                print("started", flush=True)
    """
)


def added_so_far(path: Path) -> int:
    db = sqlite3.connect(path, timeout=10)
    try:
        return int(
            db.execute(
                "SELECT (SELECT count(*) FROM readings) + 250 * (SELECT count(*) FROM rejected)"
            ).fetchone()[0]
        )
    finally:
        db.close()


def test_a_process_killed_while_adding_leaves_whole_transactions(tmp_path: Path) -> None:
    path, size = tmp_path / "spool.sqlite", 500
    collector_folder = Path(meterbill_collector.__file__).parents[1]
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), str(size)],
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(collector_folder)},
    )
    assert writer.stdout is not None
    assert writer.stdout.readline() == b"started\n"
    deadline = time.monotonic() + 60
    while added_so_far(path) < 5000 and time.monotonic() < deadline:  # thousands of readings into the run
        time.sleep(0.02)
    time.sleep(random.uniform(0, 0.05))  # somewhere in a transaction
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait()

    db = sqlite3.connect(path)
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    queued = dict(db.execute("SELECT meter_id, count(*) FROM readings GROUP BY meter_id").fetchall())
    rejected = dict(db.execute("SELECT meter_id, count(*) FROM rejected GROUP BY meter_id").fetchall())
    pushed = db.execute("SELECT count(*) FROM state WHERE name = 'last_push_at'").fetchone()[0]
    batches = [key for (key,) in db.execute("SELECT key FROM batches")]
    in_flight = db.execute(
        "SELECT batch_key, count(*), min(position), max(position) FROM readings "
        "WHERE batch_key IS NOT NULL GROUP BY batch_key"
    ).fetchall()
    db.close()

    added = sorted(int(meter.removeprefix("tx-")) for meter in queued.keys() | rejected.keys())
    assert len(added) >= 10  # 5,000 readings and more
    assert added == list(range(len(added)))  # the adds that committed are the first ones, none half done
    half = size // 2
    # Each add is whole: its readings are queued, or went out in acknowledged batches of 250 (each batch of
    # this run lies within one add's readings and kept one rejected reading of it).
    assert {
        meter: queued.get(meter, 0) + half * rejected.get(meter, 0)
        for meter in queued.keys() | rejected.keys()
    } == {f"tx-{tx}": size for tx in added}
    # A batch is whole: its key with all of its positions, or none of it; the last push went with the acks.
    assert len(batches) <= 1
    assert in_flight == [(key, half, 0, half - 1) for key in batches]
    assert pushed == (1 if rejected else 0)
    with Spool(path, quota_bytes=QUOTA) as reopened:
        assert reopened.depth() == sum(queued.values())


def test_the_spool_is_a_sqlite_file_in_wal_mode_with_full_sync(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "spool.sqlite"
    with Spool(path, quota_bytes=QUOTA) as spool:
        synchronous = spool._db.execute("PRAGMA synchronous").fetchone()

        other = sqlite3.connect(path)
        journal = other.execute("PRAGMA journal_mode").fetchone()
        other.close()

    assert (journal, synchronous) == (("wal",), (2,))  # 2: FULL


def test_over_its_quota_with_nothing_left_to_thin_the_spool_deletes_nothing_and_says_so(
    tmp_path: Path,
) -> None:
    with Spool(tmp_path / "spool.sqlite", quota_bytes=1) as spool:
        spool.add([reading("h", T0 + timedelta(hours=i), str(i)) for i in range(6)])  # hourly already

        warning = spool.enforce_quota(NOW)

        assert warning == (
            "spool over its 1 bytes quota: every unsent read is hourly already or in flight, nothing is "
            "deleted; the disk fills until the API takes readings again"
        )
        assert (spool.depth(), spool.warnings()) == (6, [warning])
        spool.quota_bytes = QUOTA
        assert (spool.enforce_quota(NOW), spool.warnings()) == (None, [])


def test_thinning_again_adds_to_the_standing_warning(tmp_path: Path) -> None:
    with Spool(tmp_path / "spool.sqlite", quota_bytes=1) as spool:
        spool.add([reading("a", T0 + timedelta(minutes=15 * i), str(i)) for i in range(4)])  # 10:00-10:45
        first = spool.enforce_quota(NOW)
        spool.add(
            [reading("b", T0 + timedelta(hours=5, minutes=30 * i), str(i)) for i in range(3)]
        )  # 15:00-16:00

        second = spool.enforce_quota(NOW)

    assert (
        first == "spool over its 1 bytes quota: thinned 2 reads of 1 meter to hourly before 2026-11-20T11:00Z"
    )
    assert (
        second
        == "spool over its 1 bytes quota: thinned 3 reads of 2 meters to hourly before 2026-11-20T16:00Z"
    )
