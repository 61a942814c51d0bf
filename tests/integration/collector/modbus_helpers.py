"""What the collector's Modbus tests against the simulated meters share: running a scenario, a line to a
simulator, reading a whole profile the way a collector plans it, the shipped profiles' busy meters, pulse
counters, a free port."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable, Coroutine, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from meterbill_collector.config import RtuTransport, TcpTransport
from meterbill_collector.decoding import decode
from meterbill_collector.modbus import ModbusLine, open_line
from meterbill_collector.planning import plan_reads
from meterbill_collector.profiles import SHIPPED
from meterbill_collector.registers import Order, Profile, ReadRequest
from meterbill_collector.simulated_meters import (
    LoadShape,
    SimulatedMeter,
)
from meterbill_collector.simulator import Framer, Simulator

T = TypeVar("T")
FRAMERS: tuple[Framer, ...] = ("socket", "rtu")
T0 = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)  # a Monday
TIMEOUT = 0.2


def run(scenario: Callable[[], Coroutine[Any, Any, T]]) -> T:
    return asyncio.run(scenario())


def line_to(sim: Simulator, *, pause_ms: int = 0) -> ModbusLine:
    if sim.framer == "socket":
        return open_line(TcpTransport("sim-tcp", "127.0.0.1", sim.port, pause_ms=pause_ms))
    return open_line(RtuTransport("sim-rtu", sim.url, pause_ms=pause_ms))


async def read_all(line: ModbusLine, unit_id: int, profile: Profile) -> dict[str, Decimal]:
    values: dict[str, Decimal] = {}
    for request in plan_reads(profile):
        words = await line.read(unit_id, request, timeout=0.5, retries=0)
        assert len(words) == request.count
        for spec in request.specs:
            offset = spec.address - request.address
            values[spec.name] = decode(spec, words[offset : offset + spec.words])
    return values


def shipped(name: str) -> Profile:
    return SHIPPED[name](outlets=8) if name == "rack-pdu" else SHIPPED[name]()


def busy_meters(order: Order | None) -> list[SimulatedMeter]:
    """One meter of each shipped profile (units 1..6) with a day of office load behind them, started from
    values whose bytes all differ, so a word or byte out of place cannot go unnoticed."""
    starts = {
        "eastron-sdm120": {"import_kwh": Decimal("12345.67"), "export_kwh": Decimal("321.5")},
        "eastron-sdm630": {"import_kwh": Decimal("98765.4"), "import_kwh_l1": Decimal("40000.25")},
        "pulse-counter-32": {"pulses": Decimal(0x12345678)},
        "pulse-counter-64": {"pulses": Decimal(0x0102030405060708)},
        "on-off-hours": {"on_hours": Decimal("12345.67")},
        "rack-pdu": {f"outlet_{n}_kwh": Decimal(n * 1111) + Decimal("0.123") for n in range(1, 9)},
    }
    meters = [
        SimulatedMeter(
            unit, shipped(name), order=order, values=starts[name], load=LoadShape(seed=unit), start=T0
        )
        for unit, name in enumerate(SHIPPED, start=1)
    ]
    for meter in meters:
        meter.advance(T0 + timedelta(hours=13, minutes=17, seconds=23))  # Monday afternoon: running, loaded
    return meters


def pulse_meters(units: Sequence[int]) -> list[SimulatedMeter]:
    profile = SHIPPED["pulse-counter-32"]()
    return [SimulatedMeter(u, profile, values={"pulses": Decimal(u * 1000)}) for u in units]


PULSES = ReadRequest("holding", 0, 2, (SHIPPED["pulse-counter-32"]().register("pulses"),))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
