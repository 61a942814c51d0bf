"""The heartbeat's body and ``status``'s table, both read from the spool."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from meterbill_collector.heartbeat import heartbeat_body
from meterbill_collector.model import MeterHealth, Reading
from meterbill_collector.spool import Spool
from meterbill_collector.status import InFlightBatch, SpoolStatus, format_status, spool_status

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def reading(meter: str, minutes: int, value: str) -> Reading:
    moment = T0 + timedelta(minutes=minutes)
    return Reading(meter, moment, Decimal(value), moment)


@pytest.fixture
def spool(tmp_path: Path) -> Iterator[Spool]:
    with Spool(tmp_path / "spool.sqlite", quota_bytes=512 * 1024 * 1024) as opened:
        yield opened


def test_a_heartbeat_says_depth_last_push_and_each_meters_health_failing_first(spool: Spool) -> None:
    spool.add([reading("main", 15 * i, str(i)) for i in range(5)])
    batch = spool.open_batch(2, NOW)
    assert batch is not None
    spool.acknowledge(batch.key, {}, NOW)
    spool.save_health(
        [
            MeterHealth("main", T0, None),
            MeterHealth("pv", T0 - timedelta(hours=1), "timeout after 0.5 s (2 attempts)"),
            MeterHealth("new", None, None),  # never tried: the API wants a read or an error
        ]
    )

    assert heartbeat_body("1.0.0", "site-1", spool) == {
        "version": "1.0.0",
        "spool_depth": 3,
        "last_push_at": "2026-11-20T12:00:00+00:00",
        "site_id": "site-1",
        "meters": [
            {
                "meter_id": "pv",
                "last_read_at": "2026-11-20T09:00:00+00:00",
                "error": "timeout after 0.5 s (2 attempts)",
            },
            {"meter_id": "main", "last_read_at": "2026-11-20T10:00:00+00:00", "error": None},
        ],
    }


def test_a_heartbeat_carries_the_spools_warnings_only_when_there_are_some(tmp_path: Path) -> None:
    with Spool(tmp_path / "spool.sqlite", quota_bytes=1) as spool:
        assert "warnings" not in heartbeat_body("1.0.0", None, spool)
        spool.add([reading("main", 15 * i, str(i)) for i in range(8)])
        spool.enforce_quota(NOW)

        body = heartbeat_body("1.0.0", None, spool)

    assert body["warnings"] == [
        "spool over its 1 bytes quota: thinned 5 reads of 1 meter to hourly before 2026-11-20T12:00Z"
    ]
    assert (body["spool_depth"], body["last_push_at"], body["site_id"]) == (3, None, None)


def test_status_reads_the_spool_another_process_writes(tmp_path: Path) -> None:
    path = tmp_path / "spool.sqlite"
    with Spool(path, quota_bytes=10**9) as collector:
        collector.add([reading("main", 15 * i, str(i)) for i in range(4)])
        first = collector.open_batch(1, NOW)
        assert first is not None
        collector.acknowledge(first.key, {0: "meter_id: no meter 'main'"}, NOW)
        batch = collector.open_batch(2, NOW + timedelta(minutes=5))
        assert batch is not None
        collector.save_health(
            [MeterHealth("main", T0, None), MeterHealth("pv", None, "exception 2 (illegal data address)")]
        )

        with Spool(path, quota_bytes=10**9) as status_command:
            status = spool_status(status_command)

    assert status == SpoolStatus(
        depth=3,
        oldest_unsent=T0 + timedelta(minutes=15),
        last_push_at=NOW,
        in_flight_batch=InFlightBatch(batch.key, 2, NOW + timedelta(minutes=5)),
        rejected_count=1,
        failing=(MeterHealth("pv", None, "exception 2 (illegal data address)"),),
        warnings=(),
    )
    assert format_status(status) == (
        "spool depth          3 readings\n"
        "oldest unsent        2026-11-20 10:15:00Z\n"
        "last push            2026-11-20 12:00:00Z\n"
        f"batch in flight      {batch.key} (2 readings since 2026-11-20 12:05:00Z)\n"
        "rejected by the API  1 reading\n"
        "failing meters       1\n"
        "\n"
        "meter  last good read        error\n"
        "pv     never                 exception 2 (illegal data address)\n"
    )


def test_an_empty_spool_says_so() -> None:
    empty = SpoolStatus(0, None, None, None, 0, (), ("spool over its 512 MB quota: ...",))

    assert format_status(empty) == (
        "spool depth          0 readings\n"
        "oldest unsent        none\n"
        "last push            never\n"
        "batch in flight      none\n"
        "rejected by the API  0 readings\n"
        "failing meters       none\n"
        "\n"
        "warning: spool over its 512 MB quota: ...\n"
    )
