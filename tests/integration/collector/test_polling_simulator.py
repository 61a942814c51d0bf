"""The poller on a real Modbus line (RTU frames over a socket) to the simulator on 127.0.0.1: a silent meter
gives a timeout in its health while the other meters on the same line keep being read on time."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from meterbill_collector.config import ApiConfig, CollectorConfig, MeterConfig, RtuTransport, SpoolConfig
from meterbill_collector.modbus import open_line
from meterbill_collector.model import MeterHealth, Reading
from meterbill_collector.polling import Poller
from meterbill_collector.profiles import eastron_sdm120
from meterbill_collector.simulated_meters import SimulatedMeter
from meterbill_collector.simulator import Simulator
from tests.unit.collector.clocks import RealClock

TIMEOUT = 0.3
MARGIN = timedelta(seconds=0.25)  # three requests with the line's 50 ms pause, on a busy machine
B0 = datetime(2026, 12, 4, 3, 15, tzinfo=UTC)
START = {1: "12345.67", 2: "200.5", 3: "31.25"}


class Spool:
    def __init__(self) -> None:
        self.readings: dict[tuple[str, datetime], Reading] = {}
        self.saved: dict[str, MeterHealth] = {}

    def add(self, readings: Iterable[Reading]) -> int:
        before = len(self.readings)
        self.readings.update(((r.meter_id, r.timestamp), r) for r in readings)
        return len(self.readings) - before

    def save_health(self, health: Iterable[MeterHealth]) -> None:
        self.saved.update((h.meter_id, h) for h in health)

    def health(self) -> list[MeterHealth]:
        return list(self.saved.values())


def collector_config(device: str) -> CollectorConfig:
    line = RtuTransport("line1", device, timeout_seconds=TIMEOUT, retries=0)  # pause_ms 50 (the RTU default)
    return CollectorConfig(
        collector_id="office-1",
        site_id=None,
        timezone=ZoneInfo("Europe/Berlin"),
        api=ApiConfig("http://127.0.0.1:8080", "mb_test"),
        spool=SpoolConfig(Path("spool.sqlite")),
        transports={"line1": line},
        meters=tuple(MeterConfig(f"m{unit}", "line1", unit, eastron_sdm120(), 1) for unit in (1, 2, 3)),
    )


def test_a_silent_meter_times_out_while_the_others_on_its_rtu_line_are_read_on_time() -> None:
    meters = [
        SimulatedMeter(unit, eastron_sdm120(), values={"import_kwh": Decimal(kwh)}, start=B0)
        for unit, kwh in START.items()
    ]
    spool, clock = Spool(), RealClock(B0)

    async def scenario() -> list[tuple[str, ...]]:
        async with Simulator(meters, framer="rtu") as sim:
            line = open_line(collector_config(sim.url).transports["line1"])
            poller = Poller(collector_config(sim.url), {"line1": line}, spool, spool, clock)
            sim.meter(2).silence()
            outcomes = []
            for minutes in (0, 1, 2, 5):  # 1: m2 backs off; 2: m2 tried last; 3, 4: backs off 2
                boundary = B0 + timedelta(minutes=minutes)
                if minutes == 5:
                    sim.meter(2).resume()
                clock.set(boundary)
                report = await poller.poll(boundary)
                outcomes.append(
                    report.read + tuple(report.failed) + tuple(f"skip {m}" for m in report.skipped)
                )
            await line.close()
            return outcomes

    outcomes = asyncio.run(scenario())

    assert outcomes == [("m1", "m3", "m2"), ("m1", "m3", "skip m2"), ("m1", "m3", "m2"), ("m1", "m3", "m2")]
    b0, b2 = B0, B0 + timedelta(minutes=2)
    # the first time, nothing is known yet: m3 waits for m2's one timeout (config order 1, 2, 3), no more
    assert spool.readings[("m1", b0)].read_at - b0 < MARGIN
    assert spool.readings[("m3", b0)].read_at - b0 < timedelta(seconds=TIMEOUT) + MARGIN
    assert spool.readings[("m3", b0)].read_at - b0 >= timedelta(seconds=TIMEOUT)
    # once m2 is known to fail it comes last: m1 and m3 are read at once
    assert spool.readings[("m1", b2)].read_at - b2 < MARGIN
    assert spool.readings[("m3", b2)].read_at - b2 < MARGIN
    assert ("m2", b0) not in spool.readings and ("m2", b2) not in spool.readings
    assert {(m, t): r.value for (m, t), r in spool.readings.items() if t == b0} == {
        ("m1", b0): Decimal("12345.67"),
        ("m3", b0): Decimal("31.25"),
    }
    # back again at b5: read, and its health clear
    b5 = B0 + timedelta(minutes=5)
    assert spool.readings[("m2", b5)].value == Decimal("200.5")
    assert spool.saved["m2"] == MeterHealth("m2", spool.readings[("m2", b5)].read_at, None)


def test_a_silent_meters_health_says_timeout_and_keeps_its_last_good_read() -> None:
    meters = [
        SimulatedMeter(unit, eastron_sdm120(), values={"import_kwh": Decimal(kwh)}, start=B0)
        for unit, kwh in START.items()
    ]
    spool, clock = Spool(), RealClock(B0)

    async def scenario() -> None:
        async with Simulator(meters, framer="rtu") as sim:
            line = open_line(collector_config(sim.url).transports["line1"])
            poller = Poller(collector_config(sim.url), {"line1": line}, spool, spool, clock)
            await poller.poll(B0)
            sim.meter(2).silence()
            clock.set(B0 + timedelta(minutes=1))
            await poller.poll(B0 + timedelta(minutes=1))
            await line.close()

    asyncio.run(scenario())
    good = spool.readings[("m2", B0)].read_at
    assert spool.saved["m2"] == MeterHealth("m2", good, "timeout after 0.3 s (1 attempt)")
    assert [spool.saved[m].error for m in ("m1", "m3")] == [None, None]
    assert ("m3", B0 + timedelta(minutes=1)) in spool.readings
