"""One Modbus line (a TCP connection to a meter or gateway, or an RS485 port) and its reads.

A line serves one request at a time (an RS485 bus carries one conversation; a gateway queues anyway), waits
``pause_ms`` between an answer and the next request, and gives every request its own timeout and retries.
What goes wrong comes back as a ``ModbusError`` whose message is what a heartbeat shows an operator:
``timeout after 0.5 s (2 attempts)``, ``exception 2 (illegal data address)``, ``connection refused
127.0.0.1:5020``, ``garbage: ...``. A unit that does not answer leaves the line usable for the next unit: a
late answer is told apart by its unit id (RTU) or transaction id (TCP) and dropped, and a broken connection
is reopened at the next read."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException, ModbusIOException
from pymodbus.framer import FramerType
from pymodbus.pdu import ModbusPDU

from meterbill_collector.config import RtuTransport, TcpTransport
from meterbill_collector.registers import BIT_TABLES, MAX_ADDRESS, ReadRequest

EXCEPTION_NAMES = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "device failure",
    5: "acknowledge",
    6: "device busy",
    8: "memory parity error",
    10: "gateway path unavailable",
    11: "gateway target device failed to respond",
}


MAX_REGISTERS = 125  # per read request (function codes 3 and 4)
MAX_BITS = 2000  # per read request (function codes 1 and 2)
DROP_AFTER_TIMEOUTS = 3  # attempts in a row that no unit answered: the connection is presumed dead, reopened


def quiet_pymodbus(level: int = logging.CRITICAL) -> None:
    """pymodbus logs every unanswered request and every dropped late frame as an ERROR with a hex dump of the
    last frames; the collector reports these as ``ModbusError`` (in its logs and heartbeats), so the process
    entry points (``run``, ``check``, ``simulate``) turn pymodbus's own logging down to ``level``."""
    logging.getLogger("pymodbus").setLevel(level)


class ModbusError(Exception):
    """A read that did not give the registers asked for; the message names what happened."""


class _NoConnection(ModbusError):
    """The line could not be opened (retried like a timeout)."""


Client = AsyncModbusTcpClient | AsyncModbusSerialClient


def _seconds(value: float) -> str:
    return f"{value:g}"


class ModbusLine:
    """Reads of the meters behind one transport, one at a time.

    Not connected until the first read; a read after a broken connection reconnects first."""

    def __init__(self, transport: TcpTransport | RtuTransport) -> None:
        self.transport = transport
        self._client: Client | None = None
        self._lock = asyncio.Lock()
        self._last_done: float | None = None  # monotonic time the previous request ended
        self._timeouts = 0  # attempts in a row without any answer on this line

    @property
    def name(self) -> str:
        return self.transport.name

    @property
    def where(self) -> str:
        """``host:port`` or the serial device, for messages."""
        if isinstance(self.transport, TcpTransport):
            return f"{self.transport.host}:{self.transport.port}"
        return self.transport.device

    def _new_client(self) -> Client:
        transport = self.transport
        if isinstance(transport, TcpTransport):
            return AsyncModbusTcpClient(
                transport.host,
                port=transport.port,
                framer=FramerType.SOCKET,
                timeout=transport.timeout_seconds,
                retries=0,
                reconnect_delay=0,  # no background reconnects: the next read reconnects
                name=transport.name,
            )
        if transport.device.startswith("socket://"):  # RTU frames over TCP (a gateway, the simulator)
            host, _, port = transport.device.removeprefix("socket://").rpartition(":")
            # pymodbus's TCP client speaks RTU framing as well; pyserial's socket:// emulation would block the
            # event loop for 0.3 s at every close.
            return AsyncModbusTcpClient(
                host.strip("[]"),
                port=int(port),
                framer=FramerType.RTU,
                timeout=transport.timeout_seconds,
                retries=0,
                reconnect_delay=0,
                name=transport.name,
            )
        return AsyncModbusSerialClient(
            transport.device,
            framer=FramerType.RTU,
            baudrate=transport.baudrate,
            bytesize=transport.bytesize,
            parity=transport.parity,
            stopbits=transport.stopbits,
            timeout=transport.timeout_seconds,
            retries=0,
            reconnect_delay=0,
            name=transport.name,
        )

    async def _connected(self, timeout: float) -> Client:
        client = self._client
        if client is not None and client.connected:
            return client
        if client is not None:
            client.close()
        client = self._client = self._new_client()
        client.ctx.comm_params.timeout_connect = timeout
        client.set_max_no_responses(1 << 30)  # a silent unit must not make pymodbus close the line
        started = time.monotonic()
        try:
            connected = await client.connect()
        except Exception as error:  # a serial port that refuses its settings (termios.error), a driver gone
            client.close()
            self._client = None
            raise _NoConnection(f"cannot open {self.where}: {error}") from error
        if not connected:
            client.close()
            self._client = None
            if time.monotonic() - started >= timeout * 0.9:
                raise _NoConnection(f"connect timeout after {_seconds(timeout)} s {self.where}")
            if isinstance(self.transport, TcpTransport) or self.transport.device.startswith("socket://"):
                raise _NoConnection(f"connection refused {self._address()}")
            raise _NoConnection(f"cannot open {self.transport.device}")
        return client

    def _address(self) -> str:
        device = self.where
        return device.removeprefix("socket://")

    async def _pause(self) -> None:
        if self._last_done is None or not self.transport.pause_ms:
            return
        wait = self._last_done + self.transport.pause_ms / 1000 - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)

    async def read(self, unit_id: int, request: ReadRequest, *, timeout: float, retries: int) -> list[int]:
        """The ``request.count`` registers (or bits, as 0/1) of ``request`` from unit ``unit_id``.

        ``retries`` more attempts follow a timeout or a failed connection; an exception answer or a malformed
        one is final (the meter answered)."""
        if timeout <= 0:
            raise ValueError(f"timeout {timeout} must be positive")
        bits = request.table in BIT_TABLES
        limit = MAX_BITS if bits else MAX_REGISTERS
        if not 1 <= request.count <= limit or request.address + request.count - 1 > MAX_ADDRESS:
            what = "bits" if bits else "registers"
            raise ValueError(
                f"{request.count} {request.table} {what} from {request.address}: Modbus reads 1 to {limit} at"
                f" once, up to address {MAX_ADDRESS}"
            )
        attempts = 1 + max(retries, 0)
        async with self._lock:
            failure: ModbusError | None = None
            for _ in range(attempts):
                await self._pause()
                try:
                    client = await self._connected(timeout)
                    answer = await self._attempt(client, unit_id, request, timeout)
                except TimeoutError:
                    failure = None
                    self._timeouts += 1
                    if self._timeouts >= DROP_AFTER_TIMEOUTS:  # a half-open TCP connection, a dead adapter
                        self._drop()
                        self._timeouts = 0
                    continue
                except _NoConnection as error:
                    failure = error
                    continue
                except ModbusError:
                    self._timeouts = 0  # the meter answered, if wrongly: the line is alive
                    raise
                finally:
                    self._last_done = time.monotonic()
                self._timeouts = 0
                return answer
            if failure is not None:
                raise failure
            plural = "attempt" if attempts == 1 else "attempts"
            raise ModbusError(f"timeout after {_seconds(timeout)} s ({attempts} {plural})")

    async def _attempt(self, client: Client, unit_id: int, request: ReadRequest, timeout: float) -> list[int]:
        call = self._call(client, request.table)
        # pymodbus waits longer than we do: our timeout decides, and a cancelled wait leaves pymodbus's
        # no-answer counter (which would close the connection under the other units) alone.
        client.ctx.comm_params.timeout_connect = timeout + 1.0
        try:
            async with asyncio.timeout(timeout):
                response = await call(request.address, count=request.count, device_id=unit_id)
        except ModbusIOException as error:
            if "No response" in str(error):
                raise TimeoutError from error
            raise ModbusError(f"garbage: {error}") from error
        except ModbusException as error:  # a frame pymodbus could not match or decode
            raise ModbusError(f"garbage: {error}") from error
        return self._values(response, request)

    @staticmethod
    def _call(client: Client, table: str) -> Callable[..., Awaitable[ModbusPDU]]:
        calls: dict[str, Callable[..., Awaitable[ModbusPDU]]] = {
            "coil": client.read_coils,
            "discrete": client.read_discrete_inputs,
            "holding": client.read_holding_registers,
            "input": client.read_input_registers,
        }
        return calls[table]

    @staticmethod
    def _values(response: ModbusPDU, request: ReadRequest) -> list[int]:
        code = request.function_code
        if response.isError():
            exception = int(getattr(response, "exception_code", 0))
            if response.function_code != code | 0x80:
                raise ModbusError(f"garbage: exception answer for function {response.function_code & 0x7F}")
            name = EXCEPTION_NAMES.get(exception, "unknown")
            raise ModbusError(f"exception {exception} ({name})")
        if response.function_code != code:
            raise ModbusError(f"garbage: answer for function {response.function_code}, asked {code}")
        if request.table in BIT_TABLES:
            bits = list(response.bits)
            if len(bits) < request.count or len(bits) >= request.count + 8:
                raise ModbusError(f"garbage: {len(bits)} bits in the answer, {request.count} asked")
            return [1 if bit else 0 for bit in bits[: request.count]]
        registers = list(response.registers)
        if len(registers) != request.count:
            raise ModbusError(f"garbage: {len(registers)} registers in the answer, {request.count} asked")
        return registers

    def _drop(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    async def close(self) -> None:
        async with self._lock:
            self._drop()


def open_line(transport: TcpTransport | RtuTransport) -> ModbusLine:
    """The line for ``transport`` (not connected until its first read)."""
    return ModbusLine(transport)
