"""The collector's Modbus line against the simulated meters on 127.0.0.1, over Modbus TCP and over RTU frames
on a socket: every shipped profile decodes what the simulator holds in all four word and byte orders, a
custom profile works, and the field's misbehaviour (silence, garbage, slow answers, roll-over, a swapped
device, an unknown unit, a refused or broken connection) comes back as the errors and values a poller
needs."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import tomllib
import tty
from collections.abc import Callable, Coroutine, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

import pytest

from meterbill_collector.config import RtuTransport, TcpTransport
from meterbill_collector.decoding import DecodeError, decode
from meterbill_collector.modbus import ModbusError, ModbusLine, open_line
from meterbill_collector.profiles import SHIPPED
from meterbill_collector.registers import ORDERS, Order, Profile, ReadRequest, RegisterSpec
from meterbill_collector.simulate_command import (
    build_parser,
    config_toml,
    installed_values,
    meter_plans,
    simulate,
    simulate_main,
)
from meterbill_collector.simulated_meters import (
    FLOAT_ROLLOVER,
    LoadShape,
    SimulatedMeter,
    profile_with_order,
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


def plan(profile: Profile) -> list[ReadRequest]:
    """The reads a collector makes: per table, by address, merged while the span stays within ``max_read`` and
    the unmapped gap within ``max_gap`` (the rule of ``planning.plan_reads``)."""
    requests: list[ReadRequest] = []
    for table in ("coil", "discrete", "holding", "input"):
        specs = sorted((s for s in profile.registers if s.table == table), key=lambda s: s.address)
        group: list[RegisterSpec] = []
        for spec in specs:
            if group:
                start, end = group[0].address, max(s.address + s.words for s in group)
                if (
                    spec.address - end > profile.max_gap
                    or spec.address + spec.words - start > profile.max_read
                ):
                    requests.append(_request(group))
                    group = []
            group.append(spec)
        if group:
            requests.append(_request(group))
    return requests


def _request(specs: Sequence[RegisterSpec]) -> ReadRequest:
    start = specs[0].address
    end = max(s.address + s.words for s in specs)
    return ReadRequest(specs[0].table, start, end - start, tuple(specs))


async def read_all(line: ModbusLine, unit_id: int, profile: Profile) -> dict[str, Decimal]:
    values: dict[str, Decimal] = {}
    for request in plan(profile):
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


# ----- every profile, every order, both framings ------------------------------------------------------------


@pytest.mark.parametrize("framer", FRAMERS)
@pytest.mark.parametrize("order", ORDERS)
def test_every_shipped_profile_decodes_what_the_simulator_holds(framer: Framer, order: Order) -> None:
    meters = busy_meters(order)

    async def scenario() -> dict[str, dict[str, Decimal]]:
        async with Simulator(meters, framer=framer) as sim:
            line = line_to(sim)
            try:
                return {m.profile.name: await read_all(line, m.unit_id, profile_with_order(
                    shipped(m.profile.name), order)) for m in meters}  # fmt: skip
            finally:
                await line.close()

    read = run(scenario)
    for meter in meters:
        assert read[meter.profile.name] == meter.readings(), meter.profile.name
    sdm120 = read["eastron-sdm120"]
    # 13 h 17 min of office load on top of the start: more than the start, float32's 7 digits at most
    assert Decimal("12345.67") < sdm120["import_kwh"] < Decimal("12400")
    assert sdm120["export_kwh"] == Decimal("321.5")
    assert read["on-off-hours"]["running"] == 1  # a weekday afternoon: the machine runs
    assert read["on-off-hours"]["on_hours"] == Decimal("12345.67") + Decimal("5.28")  # 08:00 to 13:17, 0.01 h
    assert read["pulse-counter-64"]["pulses"] > 0x0102030405060708
    outlets = [
        read["rack-pdu"][f"outlet_{n}_kwh"] - Decimal(n * 1111) - Decimal("0.123") for n in range(1, 9)
    ]
    assert len(set(outlets)) == 8 and all(grown > 0 for grown in outlets)  # each outlet its own load


@pytest.mark.parametrize("framer", FRAMERS)
def test_a_custom_profile_decodes_uint64_cdab_and_a_scaled_int16(framer: Framer) -> None:
    custom = Profile(
        name="my-heat-meter",
        description="a custom profile from the config",
        registers=(
            RegisterSpec("heat_kwh", "holding", 100, "uint64", "CDAB", scale=Decimal("0.1"), unit="kWh"),
            RegisterSpec(
                "flow_temp", "input", 10, "int16", scale=Decimal("0.1"), unit="°C", cumulative=False
            ),
            RegisterSpec("volume_m3", "input", 11, "float64", "DCBA", unit="m³"),
            RegisterSpec("alarm", "discrete", 3, "bool", cumulative=False),
        ),
        primary="heat_kwh",
        max_read=10,
    )
    meter = SimulatedMeter(
        7,
        custom,
        values={
            "heat_kwh": Decimal("123456789012.3"),
            "flow_temp": Decimal("-12.3"),
            "volume_m3": Decimal("4567.125"),
            "alarm": Decimal(1),
        },
        load=LoadShape.constant(0),
    )

    async def scenario() -> dict[str, Decimal]:
        async with Simulator([meter], framer=framer) as sim:
            line = line_to(sim)
            try:
                return await read_all(line, 7, custom)
            finally:
                await line.close()

    assert run(scenario) == {
        "heat_kwh": Decimal("123456789012.3"),
        "flow_temp": Decimal("-12.3"),
        "volume_m3": Decimal("4567.125"),
        "alarm": Decimal(1),
    }
    assert plan(custom)[1] == ReadRequest("holding", 100, 4, (custom.register("heat_kwh"),))


@pytest.mark.parametrize("framer", FRAMERS)
def test_bits_come_back_as_exactly_the_count_asked_of_zeros_and_ones(framer: Framer) -> None:
    profile = Profile(
        "bits", "eight coils", tuple(RegisterSpec(f"c{n}", "coil", n, "bool") for n in range(11)), "c0"
    )
    meter = SimulatedMeter(1, profile, values={f"c{n}": Decimal(n % 3 == 0) for n in range(11)})

    async def scenario() -> list[int]:
        async with Simulator([meter], framer=framer) as sim:
            line = line_to(sim)
            try:
                return await line.read(
                    1, ReadRequest("coil", 0, 11, profile.registers), timeout=0.5, retries=0
                )
            finally:
                await line.close()

    assert run(scenario) == [1, 0, 0, 1, 0, 0, 1, 0, 0, 1, 0]


# ----- what the field does ---------------------------------------------------------------------------------


def pulse_meters(units: Sequence[int]) -> list[SimulatedMeter]:
    profile = SHIPPED["pulse-counter-32"]()
    return [SimulatedMeter(u, profile, values={"pulses": Decimal(u * 1000)}) for u in units]


PULSES = ReadRequest("holding", 0, 2, (SHIPPED["pulse-counter-32"]().register("pulses"),))


@pytest.mark.parametrize("framer", FRAMERS)
def test_a_silent_unit_times_out_and_the_next_unit_on_the_line_reads_at_once(framer: Framer) -> None:
    meters = pulse_meters([1, 2, 3])
    meters[1].silence()

    async def scenario() -> tuple[str, float, list[int], float, list[int]]:
        async with Simulator(meters, framer=framer) as sim:
            line = line_to(sim, pause_ms=20)
            try:
                before = await line.read(1, PULSES, timeout=TIMEOUT, retries=1)
                started = time.monotonic()
                with pytest.raises(ModbusError) as silent:
                    await line.read(2, PULSES, timeout=TIMEOUT, retries=1)
                waited = time.monotonic() - started
                started = time.monotonic()
                after = await line.read(3, PULSES, timeout=TIMEOUT, retries=1)
                return str(silent.value), waited, before, time.monotonic() - started, after
            finally:
                await line.close()

    message, waited, before, next_read, after = run(scenario)
    assert message == "timeout after 0.2 s (2 attempts)"
    assert 2 * TIMEOUT <= waited < 2 * TIMEOUT + 0.25  # two attempts of 0.2 s (and a 20 ms pause between)
    assert (before, after) == ([0, 1000], [0, 3000])
    assert next_read < 0.1


@pytest.mark.parametrize("framer", FRAMERS)
def test_a_slow_units_late_answer_is_not_taken_for_the_next_units(framer: Framer) -> None:
    """Unit 2 answers 0.3 s late, unit 3 0.15 s late: unit 2's answer reaches the line while it waits for
    unit 3's. It carries unit 2's id (RTU) and transaction id (TCP): the line drops it, waits for unit 3's."""
    meters = pulse_meters([1, 2, 3])
    meters[1].slow(0.3)
    meters[2].slow(0.15)

    async def scenario() -> list[list[int] | str]:
        async with Simulator(meters, framer=framer) as sim:
            line = line_to(sim)
            got: list[list[int] | str] = []
            try:
                for unit in (2, 3, 1, 2, 3, 1):
                    try:
                        got.append(await line.read(unit, PULSES, timeout=TIMEOUT, retries=0))
                    except ModbusError as error:
                        got.append(str(error))
                await asyncio.sleep(0.35)  # the last late answer arrives before the line closes
                return got
            finally:
                await line.close()

    late = "timeout after 0.2 s (1 attempt)"
    assert run(scenario) == [late, [0, 3000], [0, 1000], late, [0, 3000], [0, 1000]]


@pytest.mark.parametrize("framer", FRAMERS)
def test_garbage_answers_are_modbus_errors_and_nan_does_not_decode(framer: Framer) -> None:
    sdm = SHIPPED["eastron-sdm120"]()
    import_kwh = sdm.register("import_kwh")
    energy = ReadRequest("input", import_kwh.address, 2, (import_kwh,))
    meters = [*pulse_meters([1]), SimulatedMeter(2, sdm, values={"import_kwh": Decimal("42.5")})]

    async def scenario() -> list[str | list[int]]:
        async with Simulator(meters, framer=framer) as sim:
            line = line_to(sim)
            outcomes: list[str | list[int]] = []

            async def attempt(unit: int, request: ReadRequest) -> None:
                try:
                    outcomes.append(await line.read(unit, request, timeout=TIMEOUT, retries=1))
                except ModbusError as error:
                    outcomes.append(str(error))

            try:
                for kind in ("short", "exception", "mixed"):
                    sim.meter(1).garbage(kind=kind)
                    await attempt(1, PULSES)
                sim.meter(2).garbage()  # mixed: a float register holds NaN
                await attempt(2, energy)
                sim.meter(1).resume()
                sim.meter(2).garbage(False)
                await attempt(1, PULSES)
                await attempt(2, energy)
                return outcomes
            finally:
                await line.close()

    short, exception, mixed, nan, good_pulses, good_energy = run(scenario)
    assert short == "garbage: 1 registers in the answer, 2 asked"
    assert exception == "exception 4 (device failure)"
    assert mixed == "garbage: 1 registers in the answer, 2 asked"
    assert isinstance(nan, list)
    with pytest.raises(DecodeError, match="import_kwh: the register holds nan"):
        decode(import_kwh, nan)
    assert good_pulses == [0, 1000]
    assert isinstance(good_energy, list) and decode(import_kwh, good_energy) == Decimal("42.5")


@pytest.mark.parametrize("framer", FRAMERS)
def test_an_address_the_meter_does_not_map_is_exception_2(framer: Framer) -> None:
    meters = pulse_meters([1])
    beyond = ReadRequest("holding", 0, 3, PULSES.specs)  # the pulse counter maps holding 0..1 only

    async def scenario() -> str:
        async with Simulator(meters, framer=framer) as sim:
            line = line_to(sim)
            try:
                with pytest.raises(ModbusError) as error:
                    await line.read(1, beyond, timeout=TIMEOUT, retries=1)
                return str(error.value)
            finally:
                await line.close()

    assert run(scenario) == "exception 2 (illegal data address)"


def test_an_unknown_unit_is_exception_4_over_tcp_and_silence_on_an_rtu_bus() -> None:
    async def scenario(framer: Framer) -> tuple[str, float]:
        async with Simulator(pulse_meters([1]), framer=framer) as sim:
            line = line_to(sim)
            started = time.monotonic()
            try:
                with pytest.raises(ModbusError) as error:
                    await line.read(9, PULSES, timeout=TIMEOUT, retries=0)
                return str(error.value), time.monotonic() - started
            finally:
                await line.close()

    tcp_error, tcp_took = asyncio.run(scenario("socket"))
    rtu_error, rtu_took = asyncio.run(scenario("rtu"))
    assert tcp_error == "exception 4 (device failure)" and tcp_took < 0.1
    assert rtu_error == "timeout after 0.2 s (1 attempt)" and rtu_took >= TIMEOUT


@pytest.mark.parametrize("framer", FRAMERS)
def test_a_counter_rolls_over_past_its_types_maximum(framer: Framer) -> None:
    pulses = SimulatedMeter(1, SHIPPED["pulse-counter-32"](), load=LoadShape.constant(10), start=T0)
    energy = SimulatedMeter(2, SHIPPED["eastron-sdm120"](), load=LoadShape.constant(10), start=T0)
    import_kwh = energy.profile.register("import_kwh")
    energy_request = ReadRequest("input", import_kwh.address, 2, (import_kwh,))
    pulses.roll_over()
    energy.roll_over()

    async def scenario() -> tuple[Decimal, Decimal, Decimal, Decimal]:
        async with Simulator([pulses, energy], framer=framer) as sim:
            line = line_to(sim)
            try:
                near = decode(PULSES.specs[0], await line.read(1, PULSES, timeout=0.5, retries=0))
                near_kwh = decode(import_kwh, await line.read(2, energy_request, timeout=0.5, retries=0))
                sim.advance(T0 + timedelta(hours=1))  # 10 pulses, 10 kWh: past the maximum
                past = decode(PULSES.specs[0], await line.read(1, PULSES, timeout=0.5, retries=0))
                past_kwh = decode(import_kwh, await line.read(2, energy_request, timeout=0.5, retries=0))
                return near, past, near_kwh, past_kwh
            finally:
                await line.close()

    near, past, near_kwh, past_kwh = run(scenario)
    assert (near, past) == (Decimal(2**32 - 5), Decimal(2**32 - 5 + 10 - 2**32))
    assert (near_kwh, past_kwh) == (FLOAT_ROLLOVER - 5, FLOAT_ROLLOVER - 5 + 10 - FLOAT_ROLLOVER)


@pytest.mark.parametrize("framer", FRAMERS)
def test_a_swapped_meter_restarts_its_counters_low_and_answers_again(framer: Framer) -> None:
    meter = SimulatedMeter(1, SHIPPED["pulse-counter-64"](), values={"pulses": Decimal(987654321)})
    request = ReadRequest("holding", 0, 4, meter.profile.registers)

    async def scenario() -> tuple[Decimal, str, Decimal, Decimal]:
        async with Simulator([meter], framer=framer) as sim:
            line = line_to(sim)
            try:
                old = decode(request.specs[0], await line.read(1, request, timeout=TIMEOUT, retries=0))
                meter.silence()  # the old device taken out
                with pytest.raises(ModbusError) as gone:
                    await line.read(1, request, timeout=TIMEOUT, retries=0)
                meter.swap({"pulses": Decimal(12)})
                new = decode(request.specs[0], await line.read(1, request, timeout=TIMEOUT, retries=0))
                meter.swap()
                zero = decode(request.specs[0], await line.read(1, request, timeout=TIMEOUT, retries=0))
                return old, str(gone.value), new, zero
            finally:
                await line.close()

    assert run(scenario) == (Decimal(987654321), "timeout after 0.2 s (1 attempt)", Decimal(12), Decimal(0))


@pytest.mark.parametrize("framer", FRAMERS)
def test_one_hour_at_a_constant_2_kw_adds_exactly_2_kwh(framer: Framer) -> None:
    meter = SimulatedMeter(
        1,
        SHIPPED["eastron-sdm630"](),
        values={"import_kwh": Decimal("12345.67")},
        load=LoadShape.constant(2.0),
        start=T0,
    )
    import_kwh = meter.profile.register("import_kwh")
    request = ReadRequest("input", import_kwh.address, 2, (import_kwh,))

    async def scenario() -> list[Decimal]:
        async with Simulator([meter], framer=framer) as sim:
            line = line_to(sim)
            read: list[Decimal] = []
            try:
                for minutes in (0, 60, 67, 120):  # one hour at once, then 7 and 53 minutes
                    meter.advance(T0 + timedelta(minutes=minutes))
                    read.append(decode(import_kwh, await line.read(1, request, timeout=0.5, retries=0)))
                return read
            finally:
                await line.close()

    # float32 holds 12347.67 as 12347.669921875: the line reads the meter's 7 digits, not the float's tail;
    # after 67 minutes the meter holds 12345.67 + 2 × 67 / 60 = 12347.90333…, float32 shows 12347.903
    assert run(scenario) == [
        Decimal("12345.67"),
        Decimal("12345.67") + 2 * 1,
        Decimal("12347.903"),
        Decimal("12345.67") + 2 * 2,
    ]
    assert meter.values["import_kwh"] == Decimal("12345.67") + 2 * 2  # 7 + 53 minutes: exactly 2 kWh more
    assert meter.values["power"] == Decimal("2000.0")


# ----- the line: connections, pauses, concurrency ---------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize("framer", FRAMERS)
def test_a_refused_connection_names_the_host_and_port(framer: Framer) -> None:
    port = free_port()
    transport: TcpTransport | RtuTransport = (
        TcpTransport("gateway", "127.0.0.1", port)
        if framer == "socket"
        else RtuTransport("line1", f"socket://127.0.0.1:{port}")
    )

    async def scenario() -> str:
        line = open_line(transport)
        try:
            with pytest.raises(ModbusError) as error:
                await line.read(1, PULSES, timeout=TIMEOUT, retries=1)
            return str(error.value)
        finally:
            await line.close()

    assert run(scenario) == f"connection refused 127.0.0.1:{port}"


@pytest.mark.parametrize("framer", FRAMERS)
def test_the_line_reconnects_after_the_connection_broke(framer: Framer) -> None:
    meters = pulse_meters([1])

    async def scenario() -> tuple[list[int], str, list[int]]:
        first = Simulator(meters, framer=framer)
        await first.start()
        port = first.port
        line = line_to(first)
        try:
            before = await line.read(1, PULSES, timeout=TIMEOUT, retries=0)
            await first.stop()  # the gateway reboots: the connection breaks
            await asyncio.sleep(0.05)
            with pytest.raises(ModbusError) as down:
                await line.read(1, PULSES, timeout=TIMEOUT, retries=0)
            meters[0].set("pulses", 1234)
            async with Simulator(meters, framer=framer, port=port):
                after = await line.read(1, PULSES, timeout=TIMEOUT, retries=0)
            return before, str(down.value), after
        finally:
            await line.close()

    before, down, after = run(scenario)
    assert (before, after) == ([0, 1000], [0, 1234])
    assert down.startswith("connection refused 127.0.0.1:")


async def _pty_to_tcp(master: int, port: int) -> None:
    """The far end of a serial cable: a pseudo-terminal's master side to and from the RTU simulator."""
    loop = asyncio.get_running_loop()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    os.set_blocking(master, False)

    def forward() -> None:
        with contextlib.suppress(BlockingIOError):
            writer.write(os.read(master, 1024))

    loop.add_reader(master, forward)
    try:
        while data := await reader.read(1024):
            os.write(master, data)
    finally:
        loop.remove_reader(master)
        writer.close()


def test_an_rtu_line_on_a_serial_port_reads_and_times_out_like_on_a_socket() -> None:
    """The serial path (pyserial on a tty with baud rate, parity, stop bits) through a pseudo-terminal whose
    other side is wired to the RTU simulator."""
    meters = pulse_meters([1, 2])

    async def scenario() -> tuple[list[int], str, list[int], str]:
        async with Simulator(meters, framer="rtu") as sim:
            master, slave = os.openpty()
            tty.setraw(slave)
            cable = asyncio.create_task(_pty_to_tcp(master, sim.port))
            line = open_line(RtuTransport("line1", os.ttyname(slave), baudrate=19200, parity="N", stopbits=2))
            try:
                first = await line.read(1, PULSES, timeout=0.5, retries=0)
                meters[0].silence()
                with pytest.raises(ModbusError) as silent:
                    await line.read(1, PULSES, timeout=TIMEOUT, retries=1)
                second = await line.read(2, PULSES, timeout=0.5, retries=0)
            finally:
                await line.close()
                cable.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await cable
                os.close(slave)
                os.close(master)
        missing = open_line(RtuTransport("line2", "/dev/ttyNOPE0"))
        with pytest.raises(ModbusError) as absent:
            await missing.read(1, PULSES, timeout=TIMEOUT, retries=1)
        await missing.close()
        return first, str(silent.value), second, str(absent.value)

    assert run(scenario) == (
        [0, 1000],
        "timeout after 0.2 s (2 attempts)",
        [0, 2000],
        "cannot open /dev/ttyNOPE0",
    )


def test_a_tcp_connection_on_which_nothing_answers_is_reopened() -> None:
    """A half-open connection (the gateway rebooted without a reset): after 3 attempts in a row without any
    answer on the line, the next attempt opens a new connection."""
    accepted: list[asyncio.StreamWriter] = []

    async def scenario() -> tuple[list[str], int]:
        async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            accepted.append(writer)
            while await reader.read(256):
                pass

        server = await asyncio.start_server(swallow, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        line = open_line(TcpTransport("gateway", "127.0.0.1", port))
        errors: list[str] = []
        try:
            for _ in range(4):
                try:
                    await line.read(1, PULSES, timeout=0.1, retries=0)
                except ModbusError as error:
                    errors.append(str(error))
            return errors, len(accepted)
        finally:
            await line.close()
            for writer in accepted:
                writer.close()
            server.close()
            await server.wait_closed()

    errors, connections = run(scenario)
    assert errors == ["timeout after 0.1 s (1 attempt)"] * 4
    assert connections == 2


def test_an_rtu_line_pauses_between_requests_and_serves_one_at_a_time() -> None:
    meters = pulse_meters([1, 2, 3])

    async def scenario() -> tuple[list[list[int]], float]:
        async with Simulator(meters, framer="rtu") as sim:
            line = line_to(sim, pause_ms=100)
            try:
                await line.read(1, PULSES, timeout=0.5, retries=0)
                started = time.monotonic()
                got = await asyncio.gather(*(line.read(u, PULSES, timeout=0.5, retries=0) for u in (3, 2, 1)))
                return list(got), time.monotonic() - started
            finally:
                await line.close()

    got, took = run(scenario)
    assert got == [[0, 3000], [0, 2000], [0, 1000]]
    assert 0.3 <= took < 0.6  # three requests, each after a 100 ms pause


# ----- the simulator itself ---------------------------------------------------------------------------------


def test_the_load_shape_peaks_on_working_days_and_repeats_from_its_seed() -> None:
    shape = LoadShape(seed=3)
    monday_noon, monday_night = T0 + timedelta(hours=13), T0 + timedelta(hours=3)
    sunday_noon = T0 - timedelta(hours=11)
    assert shape.rate(monday_noon) > shape.rate(sunday_noon) > shape.rate(monday_night) > 0
    week = shape.energy(T0, T0 + timedelta(days=7))
    assert week == LoadShape(seed=3).energy(T0, T0 + timedelta(days=7))
    assert week != LoadShape(seed=4).energy(T0, T0 + timedelta(days=7))
    # 0.4 kW around the clock (67.2 kWh) plus 10 h of a 2.5 kW peak × 0.6..1.0 on five days, 0.3 × that
    # at the weekend, ± 10 % noise
    assert 67.2 + 5 * 10 * 2.5 * 0.6 < week < (67.2 + 5 * 10 * 2.5 + 2 * 10 * 2.5 * 0.3) * 1.1
    assert shape.running(monday_noon) and not shape.running(sunday_noon) and not shape.running(monday_night)
    assert shape.running_hours(T0, T0 + timedelta(days=7)) == 5 * 10


def test_the_simulator_stops_cleanly_in_a_loop_and_in_a_thread() -> None:
    threads_before = threading.active_count()

    async def cycles() -> tuple[int, set[asyncio.Task[object]]]:
        last_port = 0
        for framer in FRAMERS * 5:
            async with Simulator(pulse_meters([1]), framer=framer) as sim:
                line = line_to(sim)
                assert await line.read(1, PULSES, timeout=0.5, retries=0) == [0, 1000]
                await line.close()
                last_port = sim.port
        return last_port, asyncio.all_tasks() - {asyncio.current_task()}

    last_port, left = asyncio.run(cycles())
    assert left == set()
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", last_port), timeout=1):
        pass

    sim = Simulator(pulse_meters([1, 2]), framer="rtu")
    sim.start_in_thread()
    try:
        sim.meter(2).set("pulses", 77)

        async def read() -> list[int]:
            line = line_to(sim)
            try:
                return await line.read(2, PULSES, timeout=0.5, retries=0)
            finally:
                await line.close()

        assert asyncio.run(read()) == [0, 77]
    finally:
        sim.stop_thread()
    assert threading.active_count() == threads_before
    with pytest.raises(RuntimeError, match="not started"):
        _ = sim.port


def test_profile_with_order_reorders_multi_word_registers_only() -> None:
    reordered = profile_with_order(SHIPPED["on-off-hours"](), "DCBA")
    assert [(s.name, s.order) for s in reordered.registers] == [("running", "ABCD"), ("on_hours", "DCBA")]
    assert reordered.registers[1].scale == Decimal("0.01")


# ----- meterbill-collector simulate -------------------------------------------------------------------------


def simulate_args(argv: list[str]) -> argparse.Namespace:
    return build_parser().parse_args(argv)


SIMULATE = (
    "import sys; from meterbill_collector.simulate_command import simulate_main; "
    "sys.exit(simulate_main(sys.argv[1:]))"
)


def test_the_simulate_command_prints_a_config_serves_it_and_obeys_its_commands() -> None:
    command = [sys.executable, "-c", SIMULATE, "--port", "0", "--rtu-port", "0", "--meters", "3"]
    command += ["--profile", "pulse-counter-32", "--speed", "3600", "--start", "2026-03-02T12:00+00:00"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(["collector", *sys.path])}
    process = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    assert process.stdin is not None and process.stdout is not None and process.stderr is not None
    try:
        banner = process.stderr.readline()
        found = re.search(r"on 127\.0\.0\.1:(\d+) \(TCP\) and socket://127\.0\.0\.1:(\d+) \(RTU\)", banner)
        assert found, banner
        tcp_port, rtu_port = int(found[1]), int(found[2])

        async def read(port: int, unit: int, framer: Framer) -> list[int] | str:
            transport: TcpTransport | RtuTransport = (
                TcpTransport("t", "127.0.0.1", port)
                if framer == "socket"
                else RtuTransport("r", f"socket://127.0.0.1:{port}")
            )
            line = open_line(transport)
            try:
                return await line.read(unit, PULSES, timeout=TIMEOUT, retries=0)
            except ModbusError as error:
                return str(error)
            finally:
                await line.close()

        first = asyncio.run(read(tcp_port, 1, "socket"))
        time.sleep(1.2)  # more than an hour of simulated midday gas use: 40 + 250 × ~0.99 pulses
        later = asyncio.run(read(tcp_port, 1, "socket"))
        assert isinstance(first, list) and isinstance(later, list)
        assert (later[0] << 16 | later[1]) - (first[0] << 16 | first[1]) >= 40

        process.stdin.write("silence rtu 2\n")
        process.stdin.flush()
        assert process.stderr.readline() == "rtu unit 2: silent\n"
        assert asyncio.run(read(rtu_port, 2, "rtu")) == "timeout after 0.2 s (1 attempt)"
        assert isinstance(asyncio.run(read(tcp_port, 2, "socket")), list)  # the TCP server's unit 2 answers
        process.stdin.write("rollover 3\nbogus 1\n")
        process.stdin.flush()
        assert [process.stderr.readline() for _ in range(3)] == [
            "tcp unit 3: counters just below their maximum\n",
            "rtu unit 3: counters just below their maximum\n",
            "bogus 1: unknown command 'bogus' (help lists them)\n",
        ]
        rolled = asyncio.run(read(rtu_port, 3, "rtu"))
        assert isinstance(rolled, list) and rolled[0] in (0, 0xFFFF)  # just below 2³², or wrapped past it

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        config = tomllib.loads(process.stdout.read())
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for stream in (process.stdin, process.stdout, process.stderr):
            if stream is not None:
                stream.close()

    assert config["transports"] == {
        "sim-tcp": {
            "kind": "tcp",
            "host": "127.0.0.1",
            "port": tcp_port,
            "timeout_seconds": 1.0,
            "retries": 1,
        },
        "sim-rtu": {
            "kind": "rtu",
            "device": f"socket://127.0.0.1:{rtu_port}",
            "baudrate": 9600,
            "timeout_seconds": 1.0,
            "retries": 1,
            "pause_ms": 20,
        },
    }
    assert [(m["id"], m["transport"], m["unit_id"], m["profile"]) for m in config["meters"]] == [
        ("tcp-1", "sim-tcp", 1, "pulse-counter-32"),
        ("tcp-2", "sim-tcp", 2, "pulse-counter-32"),
        ("tcp-3", "sim-tcp", 3, "pulse-counter-32"),
        ("rtu-1", "sim-rtu", 1, "pulse-counter-32"),
        ("rtu-2", "sim-rtu", 2, "pulse-counter-32"),
        ("rtu-3", "sim-rtu", 3, "pulse-counter-32"),
    ]


def test_the_simulate_config_of_reordered_meters_carries_custom_profiles() -> None:
    plans = meter_plans(None, None, 8, "CDAB")
    config = tomllib.loads(
        config_toml(
            plans, tcp_port=5020, rtu_port=5021, order="CDAB", interval=15, api_url="http://127.0.0.1:8080"
        )
    )
    assert [plan.profile_name for plan in plans] == list(SHIPPED)
    assert sorted(config["profiles"]) == sorted(f"{name}-cdab" for name in SHIPPED)
    hours = config["profiles"]["on-off-hours-cdab"]
    assert hours["registers"] == [
        {"name": "running", "table": "coil", "address": 0, "type": "bool", "order": "ABCD", "unit": "on",
         "cumulative": False},
        {"name": "on_hours", "table": "holding", "address": 0, "type": "uint32", "order": "CDAB",
         "scale": "0.01", "unit": "h"},
    ]  # fmt: skip
    assert (hours["primary"], hours["max_read"], hours["max_gap"]) == ("on_hours", 125, 0)
    assert len(config["profiles"]["rack-pdu-cdab"]["registers"]) == 8
    assert {m["interval_minutes"] for m in config["meters"]} == {15}
    assert [m["profile"] for m in config["meters"]][:6] == [f"{name}-cdab" for name in SHIPPED]
    assert "profile_options" not in config["meters"][5]  # the outlets are in the custom profile
    plain = tomllib.loads(
        config_toml(
            meter_plans(None, None, 12, None), tcp_port=1, rtu_port=2, order=None, interval=1, api_url="x"
        )
    )
    assert plain["meters"][5] == {
        "id": "tcp-6", "transport": "sim-tcp", "unit_id": 6, "profile": "rack-pdu", "interval_minutes": 1,
        "profile_options": {"outlets": 12},
    }  # fmt: skip


def test_simulate_on_a_taken_port_says_so_and_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    async def taken() -> int:
        async with Simulator(pulse_meters([1])) as busy:
            return await simulate(
                simulate_args(["--port", str(busy.port), "--rtu-port", "0", "--no-stdin"]),
                stdin=sys.stdin,
                stdout=sys.stdout,
                stderr=sys.stderr,
            )

    assert run(taken) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("meterbill-collector simulate: cannot listen: cannot listen on 127.0.0.1:")
    assert captured.err.endswith("(is the port in use?)\n")


def test_simulate_runs_for_its_duration_and_stops_its_servers(capsys: pytest.CaptureFixture[str]) -> None:
    threads_before = threading.active_count()
    argv = ["--port", "0", "--rtu-port", "0", "--no-stdin", "--duration", "0.3", "--meters", "2"]
    assert simulate_main([*argv, "--profile", "rack-pdu", "--outlets", "4", "--order", "DCBA"]) == 0
    config = tomllib.loads(capsys.readouterr().out)
    assert sorted(config["profiles"]) == ["rack-pdu-dcba"]
    assert [spec["order"] for spec in config["profiles"]["rack-pdu-dcba"]["registers"]] == ["DCBA"] * 4
    assert [m["id"] for m in config["meters"]] == ["tcp-1", "tcp-2", "rtu-1", "rtu-2"]
    assert threading.active_count() == threads_before
    tcp_port = config["transports"]["sim-tcp"]["port"]
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", tcp_port), timeout=1):
        pass


def test_a_value_its_register_cannot_hold_is_refused() -> None:
    meter = SimulatedMeter(1, SHIPPED["pulse-counter-32"]())
    with pytest.raises(ValueError, match="pulses: 4294967296 does not fit a uint32 register"):
        meter.set("pulses", 2**32)
    with pytest.raises(KeyError):
        meter.set("import_kwh", 1)
    meter.set("pulses", 2**32 - 1)
    assert meter.reading("pulses") == 2**32 - 1


def test_a_request_modbus_cannot_carry_is_refused_before_it_is_sent() -> None:
    line = open_line(TcpTransport("gateway", "127.0.0.1", free_port()))

    async def attempt(request: ReadRequest) -> str:
        with pytest.raises(ValueError) as error:
            await line.read(1, request, timeout=TIMEOUT, retries=0)
        return str(error.value)

    async def scenario() -> list[str]:
        return [
            await attempt(ReadRequest("input", 0, 126, ())),
            await attempt(ReadRequest("coil", 0, 2001, ())),
            await attempt(ReadRequest("holding", 65535, 2, ())),
        ]

    assert run(scenario) == [
        "126 input registers from 0: Modbus reads 1 to 125 at once, up to address 65535",
        "2001 coil bits from 0: Modbus reads 1 to 2000 at once, up to address 65535",
        "2 holding registers from 65535: Modbus reads 1 to 125 at once, up to address 65535",
    ]


def test_simulated_meters_start_as_meters_in_service_for_years() -> None:
    sdm630 = installed_values(SHIPPED["eastron-sdm630"](), seed=3)
    assert sdm630 == installed_values(SHIPPED["eastron-sdm630"](), seed=3)
    assert sdm630 != installed_values(SHIPPED["eastron-sdm630"](), seed=4)
    assert Decimal(4000) <= sdm630["import_kwh"] <= Decimal(40000)
    assert sdm630["total_kwh"] == sdm630["import_kwh"] + sdm630["export_kwh"]
    assert sdm630["import_kwh_l1"] + sdm630["import_kwh_l2"] + sdm630["import_kwh_l3"] == sdm630["import_kwh"]
    pulses = installed_values(SHIPPED["pulse-counter-32"](), seed=3)["pulses"]
    assert pulses == pulses.to_integral_value() and 500_000 <= pulses <= 5_000_000
    outlets = installed_values(SHIPPED["rack-pdu"](outlets=8), seed=3)
    assert all(v == v.quantize(Decimal("0.001")) and 500 <= v <= 5000 for v in outlets.values())
