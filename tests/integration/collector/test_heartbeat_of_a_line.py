"""What the platform hears when one meter of an RS485 line stops answering: the heartbeat, built from the
spool the poller wrote, carries that meter's Modbus error beside its neighbours' reads of one boundary."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from meterbill_collector.config import ApiConfig, CollectorConfig, MeterConfig, RtuTransport, SpoolConfig
from meterbill_collector.heartbeat import heartbeat_body
from meterbill_collector.modbus import open_line
from meterbill_collector.polling import Poller
from meterbill_collector.profiles import eastron_sdm120
from meterbill_collector.simulated_meters import SimulatedMeter
from meterbill_collector.simulator import Simulator
from meterbill_collector.spool import Spool

B0 = datetime(2026, 12, 4, 3, 15, tzinfo=UTC)


class FixedClock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def test_the_heartbeat_names_the_silent_meters_timeout_and_its_neighbours_reads(tmp_path: Path) -> None:
    meters = [
        SimulatedMeter(unit, eastron_sdm120(), values={"import_kwh": Decimal(100 * unit)}, start=B0)
        for unit in (1, 2, 3)
    ]
    clock = FixedClock(B0)

    async def scenario() -> dict[str, object]:
        async with Simulator(meters, framer="rtu") as sim:
            line = RtuTransport("line1", sim.url, timeout_seconds=0.3, retries=1, pause_ms=20)
            config = CollectorConfig(
                collector_id="office-1",
                site_id="office",
                timezone=ZoneInfo("Europe/Berlin"),
                api=ApiConfig("http://127.0.0.1:8080", "mb_test"),
                spool=SpoolConfig(tmp_path / "spool.sqlite"),
                transports={"line1": line},
                meters=tuple(
                    MeterConfig(
                        f"dev{unit}", "line1", unit, eastron_sdm120(), 15, send={"import_kwh": f"m{unit}"}
                    )
                    for unit in (1, 2, 3)
                ),
            )
            lines = {"line1": open_line(line)}
            with Spool(config.spool.path, quota_bytes=1 << 30) as spool:
                poller = Poller(config, lines, spool, spool, clock)
                await poller.poll(B0)
                sim.meter(2).silence()
                clock.at = B0 + timedelta(minutes=15)
                await poller.poll(clock.at)
                body = heartbeat_body("1.0.0", config.site_id, spool)
            await lines["line1"].close()
            return body

    body = asyncio.run(scenario())

    b1 = B0 + timedelta(minutes=15)
    assert body == {
        "version": "1.0.0",
        "spool_depth": 5,  # m1 and m3 at both boundaries, m2 at the first
        "last_push_at": None,
        "site_id": "office",
        "meters": [
            {"meter_id": "m2", "last_read_at": B0.isoformat(), "error": "timeout after 0.3 s (2 attempts)"},
            {"meter_id": "m1", "last_read_at": b1.isoformat(), "error": None},
            {"meter_id": "m3", "last_read_at": b1.isoformat(), "error": None},
        ],
    }
