"""``meterbill-collector simulate``: the config it prints, the meters it serves and the commands it obeys, the
config of re-ordered meters, a taken port, a run for a duration, meters that start as meters in service for
years."""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import tomllib
from decimal import Decimal

import pytest

from meterbill_collector.config import RtuTransport, TcpTransport
from meterbill_collector.modbus import ModbusError, open_line
from meterbill_collector.profiles import SHIPPED
from meterbill_collector.simulate_command import (
    build_parser,
    config_toml,
    installed_values,
    meter_plans,
    simulate,
    simulate_main,
)
from meterbill_collector.simulator import Framer, Simulator
from tests.integration.collector.modbus_helpers import (
    PULSES,
    TIMEOUT,
    pulse_meters,
    run,
)

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
