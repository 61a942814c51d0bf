"""A pymodbus server on 127.0.0.1 serving simulated meters: the demo's and the tests' field bus.

A ``Simulator`` serves a set of ``simulated_meters.SimulatedMeter`` (by unit id) over Modbus TCP
(``framer="socket"``) or RTU frames over a TCP socket (``framer="rtu"``, what an RTU-over-TCP gateway or
``socket://`` pyserial URL speaks); each read asks the meter of the unit id for its registers. A unit id it
does not serve gets exception 4 (device failure) over TCP, the way a gateway answers for a device that is not
there, and no answer at all over RTU, as on a real RS485 bus."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Literal

from pymodbus.constants import ExcCodes
from pymodbus.datastore import ModbusServerContext
from pymodbus.exceptions import NoSuchIdException
from pymodbus.framer import FramerType
from pymodbus.pdu import ExceptionResponse, ModbusPDU
from pymodbus.server import ModbusTcpServer
from pymodbus.server.requesthandler import ServerRequestHandler

from meterbill_collector.registers import BIT_TABLES, FUNCTION_CODES, Table
from meterbill_collector.simulated_meters import SimulatedMeter

Framer = Literal["socket", "rtu"]
_TABLE_OF_CODE: dict[int, Table] = {code: table for table, code in FUNCTION_CODES.items()}


class _Context(ModbusServerContext):
    """pymodbus's datastore hook: every read asks the meter of the unit id (pymodbus's own datastores hold
    fixed register arrays; ours are computed from the meters' values at each read)."""

    def __init__(self, meters: Mapping[int, SimulatedMeter], framer: Framer) -> None:  # no super(): it warns
        self.old_simulator = True  # pymodbus then calls our async_getValues as is
        self.simdevices = []
        self._meters = meters
        self._framer = framer

    async def async_getValues(
        self, device_id: int, func_code: int, address: int, count: int = 1
    ) -> list[int] | list[bool] | ExcCodes:
        meter = self._meters.get(device_id)
        if meter is None:
            if self._framer == "rtu":
                raise NoSuchIdException(f"no unit {device_id} on this bus")  # silence, like RS485
            return ExcCodes.DEVICE_FAILURE
        if meter.silent:
            raise NoSuchIdException(f"unit {device_id} is silent")
        if meter.delay:
            await asyncio.sleep(meter.delay)
        table = _TABLE_OF_CODE.get(func_code)
        if table is None:
            return ExcCodes.ILLEGAL_FUNCTION
        answer = meter.registers(table, address, count)
        if isinstance(answer, ExcCodes):
            return answer
        if table in BIT_TABLES:
            return [bool(bit) for bit in answer]
        return answer

    async def async_setValues(
        self, device_id: int, func_code: int, address: int, values: Sequence[int] | Sequence[bool]
    ) -> ExcCodes | None:
        if device_id not in self._meters or self._meters[device_id].silent:
            raise NoSuchIdException(f"no answer from unit {device_id}")
        return ExcCodes.ILLEGAL_FUNCTION  # meters are read-only here

    def device_ids(self) -> list[int]:
        return list(self._meters)


class _Handler(ServerRequestHandler):
    """One client connection. pymodbus's own handler stamps an answer with the request in hand when the
    answer is ready, so a slow meter's late answer would go out under the next request's unit and transaction
    id; this one answers each request under its own ids (a late answer stays recognisably late), and says
    nothing at all for a unit that is silent or absent on an RTU bus."""

    async def handle_request(self) -> None:
        request: ModbusPDU | None = self.last_pdu
        if request is None:
            return
        response: ModbusPDU
        try:
            response = await request.datastore_update(self.server.context, request.dev_id)
        except NoSuchIdException:
            return  # no answer: the client times out
        except Exception:  # a bug of ours must still look like a meter's failure, not kill the connection
            response = ExceptionResponse(request.function_code, ExcCodes.DEVICE_FAILURE)
        response.transaction_id = request.transaction_id
        response.dev_id = request.dev_id
        self.server_send(response, None)  # type: ignore[no-untyped-call]


class _Server(ModbusTcpServer):
    def callback_new_connection(self) -> ServerRequestHandler:
        return _Handler(self, self.trace_packet, self.trace_pdu, self.trace_connect)  # type: ignore[no-untyped-call]


class Simulator:
    """A Modbus server on 127.0.0.1 serving ``meters`` by unit id.

    ``port`` 0 takes a free port (read ``.port`` after ``start``). Use ``async with`` (or ``start``/``stop``)
    inside an event loop, or ``start_in_thread``/``stop_thread`` from synchronous code (the server then runs
    on its own loop in a thread)."""

    def __init__(self, meters: Sequence[SimulatedMeter], *, framer: Framer = "socket", port: int = 0) -> None:
        if framer not in ("socket", "rtu"):
            raise ValueError(f"framer {framer!r} must be 'socket' or 'rtu'")
        self._meters: dict[int, SimulatedMeter] = {}
        for meter in meters:
            if meter.unit_id in self._meters:
                raise ValueError(f"unit id {meter.unit_id} is served twice")
            self._meters[meter.unit_id] = meter
        self.framer: Framer = framer
        self._requested_port = port
        self._port: int | None = None
        self._server: ModbusTcpServer | None = None
        self._listener: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def meters(self) -> list[SimulatedMeter]:
        return list(self._meters.values())

    def meter(self, unit_id: int) -> SimulatedMeter:
        return self._meters[unit_id]

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the simulator is not started")
        return self._port

    @property
    def url(self) -> str:
        """``socket://127.0.0.1:PORT``, the pyserial URL an RTU client opens."""
        return f"socket://127.0.0.1:{self.port}"

    def advance(self, to: datetime) -> None:
        for meter in self._meters.values():
            meter.advance(to)

    async def start(self) -> None:
        if self._server is not None:
            raise RuntimeError("the simulator is already started")
        server = _Server(
            _Context(self._meters, self.framer),
            framer=FramerType.SOCKET if self.framer == "socket" else FramerType.RTU,
            address=("127.0.0.1", self._requested_port),
        )
        try:
            await server.serve_forever(background=True)
        except RuntimeError as error:  # pymodbus's "Could not start listen": the port is taken
            await server.shutdown()  # type: ignore[no-untyped-call]
            raise OSError(
                f"cannot listen on 127.0.0.1:{self._requested_port} (is the port in use?)"
            ) from error
        listener = server.transport
        if not isinstance(listener, asyncio.Server):  # pragma: no cover - pymodbus internals
            await server.shutdown()  # type: ignore[no-untyped-call]
            raise RuntimeError("pymodbus did not start a TCP listener")
        self._server, self._listener = server, listener
        self._port = int(listener.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        server, listener = self._server, self._listener
        self._server = self._listener = None
        self._port = None
        if server is None:
            return
        await server.shutdown()  # type: ignore[no-untyped-call]  # closes the listener and every open connection
        if listener is not None:
            await listener.wait_closed()
        await asyncio.sleep(0)  # let the closed transports' callbacks run

    async def __aenter__(self) -> Simulator:
        await self.start()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        await self.stop()

    def start_in_thread(self) -> None:
        """Serve from a thread of its own (for synchronous callers); returns once the port is open."""
        if self._thread is not None:
            raise RuntimeError("the simulator is already started")
        started = threading.Event()
        failure: list[BaseException] = []
        loop = asyncio.new_event_loop()

        def serve() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.start())
            except BaseException as error:  # handed to the caller
                failure.append(error)
                started.set()
                loop.close()
                return
            started.set()
            loop.run_forever()
            loop.run_until_complete(self.stop())
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=serve, name=f"modbus-simulator-{self.framer}", daemon=True)
        self._thread.start()
        started.wait()
        if failure:
            self._thread.join()
            self._thread = self._loop = None
            raise failure[0]

    def stop_thread(self) -> None:
        thread, loop = self._thread, self._loop
        if thread is None or loop is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        self._thread = self._loop = None
