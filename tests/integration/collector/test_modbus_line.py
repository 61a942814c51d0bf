"""The collector's Modbus line itself against the simulator on 127.0.0.1: a refused or broken connection, a
serial port (a pseudo-terminal wired to the RTU simulator), a TCP connection on which nothing answers, the
pause between requests on an RTU line and one request at a time, a request Modbus cannot carry."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import tty

import pytest

from meterbill_collector.config import RtuTransport, TcpTransport
from meterbill_collector.modbus import ModbusError, open_line
from meterbill_collector.registers import ReadRequest
from meterbill_collector.simulator import Framer, Simulator
from tests.integration.collector.modbus_helpers import (
    FRAMERS,
    PULSES,
    TIMEOUT,
    free_port,
    line_to,
    pulse_meters,
    run,
)

# ----- the line: connections, pauses, concurrency ---------------------------------------------------------


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
