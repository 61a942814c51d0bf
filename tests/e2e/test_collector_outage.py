"""The collector on site against the local platform: the API goes away, the collector is killed with SIGKILL
in the middle of a push (the API stored the batch, the answer never came), then both come back. Every reading
arrives exactly once, in time order per meter, checked in the API's storage."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from local.serve import AccountKeys, LocalPlatform
from meterbill_collector.model import Reading
from meterbill_collector.profiles import eastron_sdm120
from meterbill_collector.simulated_meters import SimulatedMeter
from meterbill_collector.simulator import Simulator
from meterbill_collector.spool import Spool
from tests.e2e.conftest import Client
from tests.e2e.flaky_api import FlakyApi

REPO = Path(__file__).resolve().parents[2]
METERS = ("plant-m1", "plant-m2")
WEEK_OF_QUARTER_HOURS = 7 * 96


def wait_for(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {seconds} s for {what}")
        time.sleep(0.1)


@pytest.fixture
def simulator() -> Iterator[Simulator]:
    meters = [
        SimulatedMeter(1, eastron_sdm120(), values={"import_kwh": Decimal("50000")}),
        SimulatedMeter(2, eastron_sdm120(), values={"import_kwh": Decimal("70000")}),
    ]
    sim = Simulator(meters, framer="socket")
    sim.start_in_thread()
    yield sim
    sim.stop_thread()


@pytest.fixture
def plant(platform: LocalPlatform, account: AccountKeys) -> AccountKeys:
    admin = Client(platform.url, account.admin_key)
    made = [admin.post("/v1/sites", {"id": "plant", "name": "Plant", "timezone": "Europe/Berlin"})]
    made += [
        admin.post(
            "/v1/meters",
            {"id": meter, "site_id": "plant", "utility": "electricity", "unit": "kWh", "kind": "main"},
        )
        for meter in METERS
    ]
    assert [answer.status_code for answer in made] == [201, 201, 201]
    return account


def write_config(folder: Path, api_url: str, modbus_port: int) -> Path:
    config = folder / "collector.toml"
    config.write_text(
        f"""
collector_id = "plant-collector"
site_id = "plant"
timezone = "Europe/Berlin"
heartbeat_minutes = 1

[api]
url = "{api_url}"
key_env = "METERBILL_INGEST_KEY"
timeout_seconds = 30
batch_size = 100

[spool]
path = "spool.sqlite"

[transports.gateway]
kind = "tcp"
host = "127.0.0.1"
port = {modbus_port}
timeout_seconds = 0.5

[[meters]]
id = "{METERS[0]}"
transport = "gateway"
unit_id = 1
profile = "eastron-sdm120"
interval_minutes = 1

[[meters]]
id = "{METERS[1]}"
transport = "gateway"
unit_id = 2
profile = "eastron-sdm120"
interval_minutes = 1
"""
    )
    return config


def a_week_without_network(spool_path: Path, now: datetime) -> list[Reading]:
    """What the spool holds after a week offline: both meters' quarter-hour reads, 1,344 in all."""
    last = now.replace(minute=now.minute - now.minute % 15, second=0, microsecond=0) - timedelta(minutes=15)
    stamps = [last - timedelta(minutes=15 * n) for n in reversed(range(WEEK_OF_QUARTER_HOURS))]
    readings = [
        Reading(meter, stamp, Decimal(start) + Decimal("0.25") * n, stamp + timedelta(seconds=2))
        for meter, start in zip(METERS, ("40000", "60000"), strict=True)
        for n, stamp in enumerate(stamps)
    ]
    with Spool(spool_path, quota_bytes=512 * 1024 * 1024) as spool:
        assert spool.add(readings) == len(readings)
    return readings


def start_collector(config: Path, key: str, log: Path) -> subprocess.Popen[bytes]:
    environment = {
        **os.environ,
        "METERBILL_INGEST_KEY": key,
        "PYTHONPATH": os.pathsep.join([str(REPO / "collector"), os.environ.get("PYTHONPATH", "")]),
    }
    with log.open("ab") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "meterbill_collector", "--log-format", "json", "run", str(config)],
            env=environment,
            stdout=sink,
            stderr=sink,
            cwd=config.parent,
        )


def spool_depth(path: Path) -> int:
    with Spool(path, quota_bytes=512 * 1024 * 1024) as spool:
        return spool.depth()


def test_an_outage_and_a_kill_mid_push_lose_nothing_and_store_nothing_twice(
    platform: LocalPlatform, plant: AccountKeys, simulator: Simulator, tmp_path: Path
) -> None:
    seeded = a_week_without_network(tmp_path / "spool.sqlite", datetime.now(UTC))
    log = tmp_path / "collector.log"
    with FlakyApi(platform.url) as api:
        config = write_config(tmp_path, api.url, simulator.port)
        collector = start_collector(config, plant.ingest_key, log)
        try:
            wait_for(lambda: api.refused >= 1, 30, "a push refused while the API is down")
            api.mode = "swallow"
            wait_for(api.swallowed.is_set, 60, "a batch stored by the API whose answer never came")
            collector.send_signal(signal.SIGKILL)
            collector.wait(timeout=10)
        finally:
            collector.kill()
        api.release()
        swallowed = api.batches[0]
        assert swallowed.status is None

        collector = start_collector(config, plant.ingest_key, log)
        try:
            wait_for(lambda: spool_depth(tmp_path / "spool.sqlite") == 0, 120, "the spool to drain")
            collector.send_signal(signal.SIGTERM)
            assert collector.wait(timeout=30) == 0, log.read_text()
        finally:
            collector.kill()

    # The batch in flight at the kill was resent under its key, and the API answered it as a replay.
    resent = [batch for batch in api.batches[1:] if batch.idempotency_key == swallowed.idempotency_key]
    assert len(resent) == 1 and resent[0].replayed and resent[0].readings == swallowed.readings
    # Distinct batches hold distinct readings, and each meter's reads went out in time order.
    distinct = [batch for batch in api.batches if batch.status is None or not batch.replayed]
    sent = [(item["meter_id"], item["timestamp"]) for batch in distinct for item in batch.readings]
    assert len(sent) == len(set(sent))
    for meter in METERS:
        stamps = [datetime.fromisoformat(stamp) for sent_meter, stamp in sent if sent_meter == meter]
        assert stamps == sorted(stamps)

    # Storage holds exactly what was spooled (the week, and the live reads polled meanwhile), each once.
    store = platform.stores.readings
    start = seeded[0].timestamp - timedelta(days=1)
    end = datetime.now(UTC) + timedelta(days=1)
    live = {
        (item["meter_id"], datetime.fromisoformat(item["timestamp"]), Decimal(item["value"]))
        for batch in distinct
        for item in batch.readings
    }
    for meter in METERS:
        stored = [(r.timestamp, r.value, r.type) for r in store.between(plant.account_id, meter, start, end)]
        expected = sorted(
            {(r.timestamp, r.value) for r in seeded if r.meter_id == meter}
            | {(stamp, value) for sent_meter, stamp, value in live if sent_meter == meter}
        )
        assert [(stamp, value) for stamp, value, _ in stored] == expected
        assert {kind for _, _, kind in stored} == {"register"}
        assert list(store.superseded(plant.account_id, meter, start, end)) == []
    assert sum(1 for r in seeded if r.meter_id == METERS[0]) == WEEK_OF_QUARTER_HOURS
