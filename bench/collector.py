"""The collector's two costs: polling 200 meters every minute, and draining a spool of 1 million readings.

    .venv/bin/python bench/collector.py                       # 200 meters, 1,000,000 spooled readings
    .venv/bin/python bench/collector.py --meters 200 --spooled 100000 --cycles 5

Polling: the simulator (200 meters: 100 SDM120, 50 SDM630 sending import and export, 50 pulse counters)
runs in a process of its own on 127.0.0.1, behind four Modbus TCP "gateways" of 50 units each; this process
runs the collector's ``Poller`` for ``--cycles`` boundaries, each reading every meter and storing its readings
in the spool (SQLite, FULL sync). Figures: this process's CPU time per cycle (user + system) and so its share
of one core at one cycle a minute, the cycle's wall time, and the peak RSS.

Draining: ``--spooled`` readings are added to a new spool (10,000 per transaction), then the ``Pusher`` sends
them in batches of 1,000 (the config's default) to an API stand-in in a process of its own that parses each
body and answers as the API does, so the figure is the collector's own ceiling: readings per second, the
collector's CPU per reading, and the memory its drain allocates (``tracemalloc`` peak, taken at two spool
sizes to show it does not grow with the spool). Then the same push against the real local platform (the API's
handlers on moto, ``local.serve.LocalPlatform``) for ``--platform-sample`` readings: the API's rate, which is
what limits a real drain.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import multiprocessing
import random
import resource
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "collector"), str(ROOT / "layers/common/python")]

from meterbill_collector.api_client import ApiClient  # noqa: E402
from meterbill_collector.clock import SystemClock  # noqa: E402
from meterbill_collector.config import (  # noqa: E402
    ApiConfig,
    CollectorConfig,
    MeterConfig,
    SpoolConfig,
    TcpTransport,
)
from meterbill_collector.modbus import open_line  # noqa: E402
from meterbill_collector.model import Reading  # noqa: E402
from meterbill_collector.polling import Poller  # noqa: E402
from meterbill_collector.profiles import eastron_sdm120, eastron_sdm630, pulse_counter_32  # noqa: E402
from meterbill_collector.pushing import Pusher  # noqa: E402
from meterbill_collector.registers import Profile  # noqa: E402
from meterbill_collector.spool import Spool  # noqa: E402

GATEWAYS = 4
BIG_QUOTA = 64 * 1024**3


def fleet(meters: int) -> list[tuple[int, Profile, dict[str, str]]]:
    """(unit id, profile, send) of each meter: half SDM120, a quarter SDM630 (import and export), a quarter
    pulse counters."""
    out: list[tuple[int, Profile, dict[str, str]]] = []
    for unit in range(1, meters + 1):
        if unit % 4 in (1, 3):
            out.append((unit, eastron_sdm120(), {"import_kwh": f"m{unit}"}))
        elif unit % 4 == 2:
            out.append((unit, eastron_sdm630(), {"import_kwh": f"m{unit}", "export_kwh": f"m{unit}-x"}))
        else:
            out.append((unit, pulse_counter_32(), {"pulses": f"m{unit}"}))
    return out


def serve_simulator(meters: int, ports: Any, stop: Any) -> None:
    from meterbill_collector.simulated_meters import SimulatedMeter
    from meterbill_collector.simulator import Simulator

    simulated = [SimulatedMeter(unit, profile) for unit, profile, _ in fleet(meters)]
    simulator = Simulator(simulated, framer="socket")
    simulator.start_in_thread()
    ports.put(simulator.port)
    stop.wait()
    simulator.stop_thread()


def config_for(meters: int, port: int, folder: Path) -> CollectorConfig:
    transports = {
        f"gw{n}": TcpTransport(f"gw{n}", "127.0.0.1", port, timeout_seconds=2.0) for n in range(GATEWAYS)
    }
    return CollectorConfig(
        collector_id="bench",
        site_id=None,
        timezone=ZoneInfo("Europe/Berlin"),
        api=ApiConfig("http://127.0.0.1:9", "unused"),
        spool=SpoolConfig(folder / "poll.sqlite", BIG_QUOTA),
        transports=transports,
        meters=tuple(
            MeterConfig(f"meter-{unit}", f"gw{unit % GATEWAYS}", unit, profile, 1, send=send)
            for unit, profile, send in fleet(meters)
        ),
    )


async def poll_cycles(config: CollectorConfig, cycles: int) -> list[tuple[float, float, int]]:
    lines = {name: open_line(transport) for name, transport in config.transports.items()}
    results: list[tuple[float, float, int]] = []
    with Spool(config.spool.path, quota_bytes=BIG_QUOTA) as spool:
        poller = Poller(config, lines, spool, spool, SystemClock())
        boundary = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=cycles + 1)
        await poller.poll(boundary)  # connects the gateways: not counted
        for cycle in range(cycles):
            cpu, wall = time.process_time(), time.perf_counter()
            await poller.poll(boundary + timedelta(minutes=cycle + 1))
            results.append((time.process_time() - cpu, time.perf_counter() - wall, spool.depth()))
    for line in lines.values():
        await line.close()
    return results


def bench_polling(meters: int, cycles: int, folder: Path) -> None:
    ports: Any = multiprocessing.Queue()
    stop = multiprocessing.Event()
    simulator = multiprocessing.Process(target=serve_simulator, args=(meters, ports, stop), daemon=True)
    simulator.start()
    try:
        config = config_for(meters, ports.get(timeout=60), folder)
        results = asyncio.run(poll_cycles(config, cycles))
    finally:
        stop.set()
        simulator.join(timeout=10)
    cpu = sorted(result[0] for result in results)[len(results) // 2]
    wall = sorted(result[1] for result in results)[len(results) // 2]
    sent = sum(len(meter.sent) for meter in config.meters)
    print(
        f"polling: {meters} meters ({sent} readings a cycle) over {GATEWAYS} Modbus TCP gateways, "
        "1-minute interval"
    )
    print(f"  CPU per cycle (median of {cycles}): {cpu * 1000:.0f} ms -> {cpu / 60 * 100:.2f} % of one core")
    print(f"  wall time per cycle: {wall * 1000:.0f} ms; readings spooled: {results[-1][2]:,}")
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  peak RSS of the collector process: {peak_rss:.0f} MiB")


class _ApiStandIn(BaseHTTPRequestHandler):
    """Parses the batch and answers as POST /v1/readings does when every reading is new."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *_: Any) -> None:
        pass

    def do_POST(self) -> None:
        readings = json.loads(self.rfile.read(int(self.headers["Content-Length"])))["readings"]
        body = json.dumps(
            {"accepted": len(readings), "duplicates": 0, "rejected": [], "rejected_count": 0, "replaced": 0}
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def serve_api_stand_in(ports: Any, stop: Any) -> None:
    import threading

    server = ThreadingHTTPServer(("127.0.0.1", 0), _ApiStandIn)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    ports.put(server.server_address[1])
    stop.wait()
    server.shutdown()


def fill(spool: Spool, count: int, meters: int = 200) -> float:
    start = datetime(2026, 11, 1, tzinfo=UTC)
    began = time.perf_counter()
    chunk: list[Reading] = []
    for n in range(count):
        stamp = start + timedelta(minutes=n // meters)
        chunk.append(Reading(f"m{n % meters}", stamp, Decimal(n // meters) / 4, stamp))
        if len(chunk) == 10_000:
            spool.add(chunk)
            chunk.clear()
    spool.add(chunk)
    return time.perf_counter() - began


async def drain(spool: Spool, client: ApiClient, *, trace: bool) -> tuple[float, float, int, int]:
    pusher = Pusher(spool, client, batch_size=1000, clock=SystemClock(), rng=random.Random(1))
    if trace:
        tracemalloc.start()
    cpu, wall, pushed = time.process_time(), time.perf_counter(), spool.depth()
    while spool.depth():
        result = await pusher.push_once(datetime.now(UTC))
        if result.failed:
            raise RuntimeError(f"push failed: {result}")
    peak = tracemalloc.get_traced_memory()[1] if trace else 0
    if trace:
        tracemalloc.stop()
    return time.perf_counter() - wall, time.process_time() - cpu, pushed, peak


def bench_drain(spooled: int, folder: Path) -> None:
    ports: Any = multiprocessing.Queue()
    stop = multiprocessing.Event()
    api = multiprocessing.Process(target=serve_api_stand_in, args=(ports, stop), daemon=True)
    api.start()
    try:
        client = ApiClient(f"http://127.0.0.1:{ports.get(timeout=30)}", "bench", timeout=30)
        print("draining to an API stand-in (parses each batch of 1,000; its own process):")
        for size, trace in ((spooled // 10, True), (spooled, True), (spooled, False)):
            path = folder / f"drain-{size}-{trace}.sqlite"
            with Spool(path, quota_bytes=BIG_QUOTA) as spool:
                filled = fill(spool, size)
                megabytes = spool.size_bytes() / 1024**2
                wall, cpu, pushed, peak = asyncio.run(drain(spool, client, trace=trace))
            if trace:
                print(
                    f"  {size:>9,} spooled ({megabytes:,.0f} MB, filled at {size / filled:,.0f}/s): "
                    f"drain's peak allocation {peak / 1024**2:.2f} MiB (tracemalloc)"
                )
            else:
                print(
                    f"  {size:>9,} spooled: drained in {wall:.1f} s = {pushed / wall:,.0f} readings/s; "
                    f"collector CPU {cpu / pushed * 1e6:.1f} µs a reading"
                )
    finally:
        stop.set()
        api.join(timeout=10)


def bench_platform(sample: int, folder: Path) -> None:
    import contextlib
    import io
    import warnings

    from local.serve import LocalPlatform

    warnings.simplefilter("ignore")  # powertools: "No application metrics to publish"
    with contextlib.redirect_stdout(io.StringIO()), LocalPlatform() as platform:  # its metrics lines
        account = platform.create_account("bench")
        import requests

        admin = {"Authorization": f"Bearer {account.admin_key}"}
        requests.post(
            f"{platform.url}/v1/sites",
            json={"id": "s", "name": "S", "timezone": "UTC"},
            headers=admin,
            timeout=30,
        ).raise_for_status()
        for meter in range(200):
            requests.post(
                f"{platform.url}/v1/meters",
                json={
                    "id": f"m{meter}",
                    "site_id": "s",
                    "utility": "electricity",
                    "unit": "kWh",
                    "kind": "main",
                },
                headers=admin,
                timeout=30,
            ).raise_for_status()
        client = ApiClient(platform.url, account.ingest_key, timeout=60)
        with Spool(folder / "platform.sqlite", quota_bytes=BIG_QUOTA) as spool:
            fill(spool, sample)
            wall, _, pushed, _ = asyncio.run(drain(spool, client, trace=False))
    print(
        f"draining to the local platform (API handlers on moto, in this process): {pushed:,} readings in "
        f"{wall:.1f} s = {pushed / wall:,.0f} readings/s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--meters", type=int, default=200)
    parser.add_argument("--cycles", type=int, default=5)
    parser.add_argument("--spooled", type=int, default=1_000_000)
    parser.add_argument("--platform-sample", type=int, default=20_000)
    options = parser.parse_args()
    # The cycles poll past boundaries back to back: their "late read" warnings are not news here.
    logging.getLogger("meterbill_collector").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory() as folder:
        bench_polling(options.meters, options.cycles, Path(folder))
        bench_drain(options.spooled, Path(folder))
        if options.platform_sample:
            bench_platform(options.platform_sample, Path(folder))


if __name__ == "__main__":
    main()
