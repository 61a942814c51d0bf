"""``meterbill-collector simulate``: simulated meters on 127.0.0.1 for the demo, an installer's dry run and
the tests — a Modbus TCP server and an RTU-over-TCP server, each with the same set of meters whose counters
run with the wall clock (``--speed`` times faster).

Standard output is a collector config for these meters (TOML; the ports in a comment on top), so
``meterbill-collector simulate > site.toml`` gives a config that ``run`` and ``check`` take. Commands on
standard input steer the meters while it runs (``help`` lists them); their answers go to standard error.
SIGINT or SIGTERM stops it."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import TextIO, cast, get_args

from meterbill_collector.config import INTERVALS_MINUTES
from meterbill_collector.modbus import quiet_pymodbus
from meterbill_collector.profiles import PDU_MAX_OUTLETS, SHIPPED
from meterbill_collector.registers import ORDERS, Order, Profile
from meterbill_collector.simulated_meters import (
    GarbageKind,
    SimulatedMeter,
    default_load,
    profile_with_order,
)
from meterbill_collector.simulator import Simulator

DEFAULT_TCP_PORT = 5020
DEFAULT_RTU_PORT = 5021
TICK_SECONDS = 1.0  # how often the meters are told the time

COMMANDS = """commands (UNIT: a unit id; tcp or rtu before it steers one server only: silence rtu 3):
  silence UNIT            no answer at all (the collector times out)
  garbage UNIT [KIND]     answer garbage: mixed (default), nan, short, exception
  slow UNIT SECONDS       answer late
  rollover UNIT           counters just below their maximum: they wrap at the next advance
  swap UNIT               a new device: counters restart at 0
  resume UNIT             answer normally again
  set UNIT NAME VALUE     set a quantity (set 1 import_kwh 1234.5)
  show [UNIT]             the meters' values
  quit                    stop"""


@dataclass(frozen=True, slots=True)
class MeterPlan:
    unit_id: int
    profile: Profile
    profile_name: str  # the shipped profile's name (before any re-ordering)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="meterbill-collector simulate",
        description="Simulated meters on 127.0.0.1 over Modbus TCP and RTU frames over TCP; prints a "
        "collector config for them and runs until SIGINT/SIGTERM.",
        epilog=COMMANDS,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--port", type=_port, default=DEFAULT_TCP_PORT, help="Modbus TCP port (0: a free one)"
    )
    parser.add_argument(
        "--rtu-port", type=_port, default=DEFAULT_RTU_PORT, help="RTU-over-TCP port (0: a free one)"
    )
    parser.add_argument(
        "--meters",
        type=_count,
        default=None,
        help="how many meters (units 1..N; default one of each profile)",
    )
    parser.add_argument(
        "--profile", choices=sorted(SHIPPED), help="the meters' profile (default: each in turn)"
    )
    parser.add_argument("--outlets", type=_outlets, default=8, help="a rack PDU's outlets (default 8)")
    parser.add_argument(
        "--order", choices=ORDERS, help="serve every multi-word register in this word/byte order"
    )
    parser.add_argument(
        "--speed",
        type=_speed,
        default=1.0,
        help="simulated seconds per real second (default 1; 60: an hour a min)",
    )
    parser.add_argument("--start", type=_start, default=None, help="the simulated clock's start (ISO 8601)")
    parser.add_argument("--seed", type=int, default=0, help="the load shapes' seed (default 0)")
    parser.add_argument(
        "--interval", type=int, choices=INTERVALS_MINUTES, default=1, help="the config's polling interval"
    )
    parser.add_argument(
        "--api-url", default="http://127.0.0.1:8080", help="the config's API (meterbill serve)"
    )
    parser.add_argument("--duration", type=float, default=None, help="stop after this many real seconds")
    parser.add_argument("--no-stdin", action="store_true", help="ignore standard input (no commands)")
    return parser


def _port(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0-65535)")
    return int(text)


def _count(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 247:
        raise argparse.ArgumentTypeError(f"{text!r}: a bus holds 1 to 247 units")
    return int(text)


def _outlets(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= PDU_MAX_OUTLETS:
        raise argparse.ArgumentTypeError(f"{text!r}: a PDU has 1 to {PDU_MAX_OUTLETS} outlets")
    return int(text)


def _speed(text: str) -> float:
    try:
        speed = float(text)
    except ValueError:
        speed = 0.0
    if not 0 < speed <= 1e6:
        raise argparse.ArgumentTypeError(f"{text!r}: the speed must be a number above 0 (at most 1000000)")
    return speed


def _start(text: str) -> datetime:
    try:
        start = datetime.fromisoformat(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 time") from error
    if start.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} needs a UTC offset (2026-03-02T08:00+01:00)")
    return start


def meter_plans(
    count: int | None, profile_name: str | None, outlets: int, order: Order | None
) -> list[MeterPlan]:
    """Units 1..N: ``count`` meters of ``profile_name``, or of the shipped profiles in turn (one of each when
    no count is given)."""
    names = [profile_name] if profile_name else list(SHIPPED)
    total = count if count is not None else (1 if profile_name else len(names))
    plans = []
    for unit in range(1, total + 1):
        name = names[(unit - 1) % len(names)]
        profile = SHIPPED[name](outlets=outlets) if name == "rack-pdu" else SHIPPED[name]()
        plans.append(MeterPlan(unit, profile, name))
    return plans


def build_meters(
    plans: Sequence[MeterPlan], order: Order | None, seed: int, start: datetime
) -> list[SimulatedMeter]:
    return [
        SimulatedMeter(
            plan.unit_id,
            plan.profile,
            order=order,
            values=installed_values(plan.profile, seed + plan.unit_id),
            load=default_load(plan.profile, seed + plan.unit_id),
            start=start,
        )
        for plan in plans
    ]


_INSTALLED_RANGE = {"kWh": 40000, "pulses": 5_000_000, "h": 20000}  # what years of service leave on a counter


def installed_values(profile: Profile, seed: int) -> dict[str, Decimal]:
    """Counters as a meter in service for years shows them (a swapped meter restarts near zero): drawn from
    ``seed``, in the registers' resolution; an Eastron's total is its import plus export, its phases share its
    import 40/35/25 %."""
    draw = random.Random(seed)
    values: dict[str, Decimal] = {}
    for spec in profile.registers:
        if spec.cumulative:
            top = 5000 if spec.name.startswith("outlet_") else _INSTALLED_RANGE.get(spec.unit, 1000)
            drawn = Decimal(draw.randint(top * 10, top * 100)) / 100  # a tenth of top to top, in hundredths
            floats = spec.type in ("float32", "float64")
            values[spec.name] = drawn if floats else (drawn // spec.scale) * spec.scale
    if "import_kwh" in values:
        imported = values["import_kwh"]
        if "export_kwh" in values:
            values["export_kwh"] = (imported * Decimal("0.03")).quantize(Decimal("0.01"))
        if "total_kwh" in values:
            values["total_kwh"] = imported + values.get("export_kwh", Decimal(0))
        if "import_kwh_l1" in values:
            first = (imported * Decimal("0.40")).quantize(Decimal("0.01"))
            second = (imported * Decimal("0.35")).quantize(Decimal("0.01"))
            values.update(import_kwh_l1=first, import_kwh_l2=second, import_kwh_l3=imported - first - second)
    return values


def _toml_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def config_toml(
    plans: Sequence[MeterPlan],
    *,
    tcp_port: int,
    rtu_port: int,
    order: Order | None,
    interval: int,
    api_url: str,
) -> str:
    """A collector config reading every simulated meter over both servers (meter ids ``tcp-1``, ``rtu-1``,
    ...; the profile's primary quantity sent under the meter's id). With ``order``, the profiles are written
    as custom profiles in that order."""
    lines = [
        f"# meterbill-collector simulate: Modbus TCP on 127.0.0.1:{tcp_port}, "
        f"RTU frames on socket://127.0.0.1:{rtu_port}",
        'collector_id = "simulated"',
        'timezone = "UTC"',
        "heartbeat_minutes = 1",
        "",
        "[api]",
        f"url = {_toml_string(api_url)}",
        'key_env = "METERBILL_INGEST_KEY"',
        "",
        "[spool]",
        'path = "simulated-spool.sqlite"',
        "",
        "[transports.sim-tcp]",
        'kind = "tcp"',
        'host = "127.0.0.1"',
        f"port = {tcp_port}",
        "timeout_seconds = 1.0",
        "retries = 1",
        "",
        "[transports.sim-rtu]",
        'kind = "rtu"',
        f'device = "socket://127.0.0.1:{rtu_port}"',
        "baudrate = 9600",
        "timeout_seconds = 1.0",
        "retries = 1",
        "pause_ms = 20",
    ]
    written: set[str] = set()
    if order is not None:
        for plan in plans:
            name = f"{plan.profile_name}-{order.lower()}"
            if name in written:
                continue
            written.add(name)
            lines += ["", f"[profiles.{name}]", *_profile_toml(plan.profile, order)]
    for kind in ("tcp", "rtu"):
        for plan in plans:
            profile = f"{plan.profile_name}-{order.lower()}" if order is not None else plan.profile_name
            lines += [
                "",
                "[[meters]]",
                f'id = "{kind}-{plan.unit_id}"',
                f'transport = "sim-{kind}"',
                f"unit_id = {plan.unit_id}",
                f"profile = {_toml_string(profile)}",
                f"interval_minutes = {interval}",
            ]
            if order is None and plan.profile.options:
                options = ", ".join(f"{key} = {value}" for key, value in sorted(plan.profile.options.items()))
                lines.append(f"profile_options = {{ {options} }}")
    return "\n".join(lines) + "\n"


def _profile_toml(profile: Profile, order: Order) -> list[str]:
    reordered = profile_with_order(profile, order)
    lines = [
        f"description = {_toml_string(reordered.description + f' ({order})')}",
        f"primary = {_toml_string(reordered.primary)}",
        f"max_read = {reordered.max_read}",
        f"max_gap = {reordered.max_gap}",
        "registers = [",
    ]
    for spec in reordered.registers:
        fields = [
            f"name = {_toml_string(spec.name)}",
            f'table = "{spec.table}"',
            f"address = {spec.address}",
            f'type = "{spec.type}"',
            f'order = "{spec.order}"',
        ]
        if spec.scale != 1:
            fields.append(f'scale = "{spec.scale}"')
        if spec.unit:
            fields.append(f"unit = {_toml_string(spec.unit)}")
        if not spec.cumulative:
            fields.append("cumulative = false")
        lines.append("  { " + ", ".join(fields) + " },")
    lines.append("]")
    return lines


class Console:
    """The stdin commands, applied to the servers' meters."""

    def __init__(self, servers: dict[str, Simulator], out: TextIO, stop: asyncio.Event) -> None:
        self.servers = servers
        self.out = out
        self.stop = stop

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def handle(self, line: str) -> None:
        words = line.split()
        if not words:
            return
        command, rest = words[0].lower(), words[1:]
        try:
            self._run(command, rest)
        except (KeyError, ValueError, InvalidOperation) as error:
            self.say(f"{line.strip()}: {error}")

    def _targets(self, rest: list[str]) -> tuple[list[SimulatedMeter], list[str]]:
        servers = list(self.servers)
        if rest and rest[0].lower() in self.servers:
            servers, rest = [rest[0].lower()], rest[1:]
        if not rest:
            raise ValueError("a unit id is missing")
        if not rest[0].isdigit():
            raise ValueError(f"{rest[0]!r} is not a unit id")
        unit = int(rest[0])
        meters = [self.servers[name].meter(unit) for name in servers if unit in _units(self.servers[name])]
        if not meters:
            raise ValueError(
                f"no unit {unit} (units: {', '.join(map(str, _units(self.servers[servers[0]])))})"
            )
        return meters, rest[1:]

    def _run(self, command: str, rest: list[str]) -> None:
        if command in ("quit", "exit", "stop"):
            self.stop.set()
            return
        if command == "help":
            self.say(COMMANDS)
            return
        if command == "show":
            for name, server in self.servers.items():
                for meter in server.meters:
                    if rest and rest[-1].isdigit() and meter.unit_id != int(rest[-1]):
                        continue
                    values = ", ".join(f"{key}={value:f}" for key, value in meter.readings().items())
                    self.say(f"{name} {meter.unit_id} {meter.profile.name}: {values}")
            return
        if command not in _ACTIONS:
            raise ValueError(f"unknown command {command!r} (help lists them)")
        meters, args = self._targets(rest)
        needs = {"slow": 1, "set": 2}.get(command, 0)
        if len(args) < needs:
            raise ValueError(f"{command} needs {needs} more argument{'s' if needs > 1 else ''}")
        for name, server in self.servers.items():
            for meter in meters:
                if meter in server.meters:
                    self.say(f"{name} unit {meter.unit_id}: {_ACTIONS[command](meter, args)}")


def _silence(meter: SimulatedMeter, _: list[str]) -> str:
    meter.silence()
    return "silent"


def _garbage(meter: SimulatedMeter, args: list[str]) -> str:
    kind = args[0] if args else "mixed"
    if kind not in get_args(GarbageKind):
        raise ValueError(f"garbage kind {kind!r}: one of {', '.join(get_args(GarbageKind))}")
    meter.garbage(kind=cast(GarbageKind, kind))
    return f"answers garbage ({kind})"


def _slow(meter: SimulatedMeter, args: list[str]) -> str:
    meter.slow(float(args[0]))
    return f"answers {float(args[0]):g} s late"


def _rollover(meter: SimulatedMeter, _: list[str]) -> str:
    meter.roll_over()
    return "counters just below their maximum"


def _swap(meter: SimulatedMeter, _: list[str]) -> str:
    meter.swap()
    return "swapped: counters restart at 0"


def _resume(meter: SimulatedMeter, _: list[str]) -> str:
    meter.resume()
    return "answers normally"


def _set(meter: SimulatedMeter, args: list[str]) -> str:
    meter.set(args[0], Decimal(args[1]))
    return f"{args[0]} = {args[1]}"


_ACTIONS: dict[str, Callable[[SimulatedMeter, list[str]], str]] = {
    "silence": _silence,
    "garbage": _garbage,
    "slow": _slow,
    "rollover": _rollover,
    "swap": _swap,
    "resume": _resume,
    "set": _set,
}


def _units(server: Simulator) -> list[int]:
    return [meter.unit_id for meter in server.meters]


def _read_commands(source: TextIO, loop: asyncio.AbstractEventLoop, handle: Callable[[str], None]) -> None:
    """Standard input, line by line, handed to the loop (a thread: a terminal must stay blocking)."""

    def pump() -> None:
        try:
            for line in source:
                loop.call_soon_threadsafe(handle, line)
        except (OSError, ValueError, RuntimeError):  # closed stdin, or the loop already closed
            return

    threading.Thread(target=pump, name="simulate-commands", daemon=True).start()


async def simulate(args: argparse.Namespace, *, stdin: TextIO, stdout: TextIO, stderr: TextIO) -> int:
    order = cast(Order | None, args.order)
    plans = meter_plans(args.meters, args.profile, args.outlets, order)
    start = cast(datetime, args.start) if args.start is not None else datetime.now(UTC)
    servers = {
        "tcp": Simulator(build_meters(plans, order, args.seed, start), framer="socket", port=args.port),
        "rtu": Simulator(build_meters(plans, order, args.seed, start), framer="rtu", port=args.rtu_port),
    }
    try:
        for server in servers.values():
            await server.start()
    except OSError as error:
        for server in servers.values():
            await server.stop()
        print(f"meterbill-collector simulate: cannot listen: {error}", file=stderr)
        return 1
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(number, stop.set)
    try:
        stdout.write(
            config_toml(
                plans,
                tcp_port=servers["tcp"].port,
                rtu_port=servers["rtu"].port,
                order=order,
                interval=args.interval,
                api_url=args.api_url,
            )
        )
        stdout.flush()
        console = Console(servers, stderr, stop)
        console.say(
            f"meterbill-collector simulate: {len(plans)} meters on 127.0.0.1:{servers['tcp'].port} (TCP) and "
            f"socket://127.0.0.1:{servers['rtu'].port} (RTU), speed {args.speed:g}; 'help' for commands"
        )
        if not args.no_stdin:
            _read_commands(stdin, loop, console.handle)
        began = time.monotonic()
        deadline = began + args.duration if args.duration is not None else None
        while not stop.is_set():
            now = start + timedelta(seconds=(time.monotonic() - began) * args.speed)
            for server in servers.values():
                server.advance(now)
            wait = TICK_SECONDS if deadline is None else min(TICK_SECONDS, deadline - time.monotonic())
            if wait <= 0:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=wait)
        return 0
    finally:
        for number in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(number)
        for server in servers.values():
            await server.stop()


def simulate_main(argv: Sequence[str]) -> int:
    """``meterbill-collector simulate [options]``; returns the exit status."""
    args = build_parser().parse_args(list(argv))
    quiet_pymodbus()
    return asyncio.run(simulate(args, stdin=sys.stdin, stdout=sys.stdout, stderr=sys.stderr))
