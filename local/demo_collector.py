"""The demo's on-site part: a collector reads simulated meters over Modbus and delivers their readings.

The machine park ``werk-sued`` of the demo portfolio (``local/portfolio.py`` creates these meters) has a
three-phase main meter and a sub-meter on an RS485 line (RTU frames; here over a socket to the simulator), and
a gas pulse counter and its server room's PDU behind a Modbus TCP gateway. The collector's
config is the TOML an installer would write; the poller reads four quarter-hour boundaries of the last hour on
a test clock (the simulator's counters advance by constant loads, so every value is known), the gas meter goes
silent before the last one, the pusher delivers the spool to the local API with the ingest key, and the
heartbeat tells the platform which meter failed and why."""

from __future__ import annotations

import asyncio
import random
import tempfile
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Final, Protocol
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.table import Table

from local.serve import AccountKeys, LocalPlatform
from meterbill_collector import VERSION
from meterbill_collector.api_client import ApiClient
from meterbill_collector.config import CollectorConfig, load_config
from meterbill_collector.heartbeat import heartbeat_body
from meterbill_collector.modbus import open_line
from meterbill_collector.polling import Poller
from meterbill_collector.profiles import eastron_sdm120, eastron_sdm630, pulse_counter_32, rack_pdu
from meterbill_collector.pushing import Pusher
from meterbill_collector.simulated_meters import LoadShape, SimulatedMeter
from meterbill_collector.simulator import Simulator
from meterbill_collector.spool import Spool

ZONE: Final = ZoneInfo("Europe/Berlin")
SITE: Final = "werk-sued"
QUARTER: Final = timedelta(minutes=15)
_ON_SITE: Final = {"site_id": SITE, "interval_minutes": 15}
PLATFORM_METERS: Final[tuple[dict[str, Any], ...]] = (
    {"id": "werk-main", "utility": "electricity", "unit": "kWh", "kind": "main", **_ON_SITE},
    {"id": "werk-line-1", "utility": "electricity", "unit": "kWh", "kind": "sub", "parent_id": "werk-main",
     **_ON_SITE},
    {"id": "werk-gas", "utility": "gas", "unit": "m3", "kind": "main", **_ON_SITE},
    {"id": "werk-it-1", "utility": "electricity", "unit": "kWh", "kind": "main", **_ON_SITE},
    {"id": "werk-it-2", "utility": "electricity", "unit": "kWh", "kind": "main", **_ON_SITE},
)  # fmt: skip

CONFIG: Final = """
collector_id = "werk-collector"
site_id = "werk-sued"
timezone = "Europe/Berlin"

[api]
url = "{api_url}"
key_env = "METERBILL_INGEST_KEY"

[spool]
path = "spool.sqlite"

[transports.rs485]
kind = "rtu"
device = "socket://127.0.0.1:{rtu_port}"
baudrate = 9600
timeout_seconds = 0.5
retries = 0

[transports.gateway]
kind = "tcp"
host = "127.0.0.1"
port = {tcp_port}
timeout_seconds = 0.5
retries = 0

[[meters]]
id = "main-sdm630"
transport = "rs485"
unit_id = 1
profile = "eastron-sdm630"
interval_minutes = 15
send = {{ import_kwh = "werk-main" }}

[[meters]]
id = "line-1-sdm120"
transport = "rs485"
unit_id = 2
profile = "eastron-sdm120"
interval_minutes = 15
send = {{ import_kwh = "werk-line-1" }}

[[meters]]
id = "gas-pulses"
transport = "gateway"
unit_id = 3
profile = "pulse-counter-32"
interval_minutes = 15
multiplier = "0.01"
send = {{ pulses = "werk-gas" }}

[[meters]]
id = "rack-a-pdu"
transport = "gateway"
unit_id = 4
profile = "rack-pdu"
profile_options = {{ outlets = 4 }}
interval_minutes = 15
send = {{ outlet_1_kwh = "werk-it-1", outlet_2_kwh = "werk-it-2" }}
"""


class Api(Protocol):
    def call(self, method: str, path: str, body: Any = None, **query: str) -> Any: ...


class TestClock:
    """The poll's clock: each read happens at the boundary the demo sets."""

    def __init__(self) -> None:
        self.at = datetime.now(UTC)

    def now(self) -> datetime:
        return self.at

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def first_boundary(now: datetime) -> datetime:
    """The quarter hour an hour before the last one that has passed."""
    local = now.astimezone(ZONE)
    last = local.replace(minute=local.minute - local.minute % 15, second=0, microsecond=0).astimezone(UTC)
    return last - 3 * QUARTER


def simulated(start: datetime) -> tuple[list[SimulatedMeter], list[SimulatedMeter]]:
    """The RS485 line's meters and the gateway's, with constant loads: 12 kW on the main (3 kWh a quarter
    hour), 4 kW on line 1, 400 pulses an hour of gas (1 m³ a quarter hour at 0.01 m³ a pulse), and the PDU."""
    line = [
        SimulatedMeter(
            1,
            eastron_sdm630(),
            values={"import_kwh": Decimal("18250.5")},
            load=LoadShape.constant(12),
            start=start,
        ),
        SimulatedMeter(
            2,
            eastron_sdm120(),
            values={"import_kwh": Decimal("5120.25")},
            load=LoadShape.constant(4),
            start=start,
        ),
    ]
    gateway = [
        SimulatedMeter(
            3,
            pulse_counter_32(),
            values={"pulses": Decimal(123400)},
            load=LoadShape.constant(400),
            start=start,
        ),
        SimulatedMeter(
            4,
            rack_pdu(outlets=4),
            values={"outlet_1_kwh": Decimal("842.125"), "outlet_2_kwh": Decimal("611.5")},
            load=LoadShape.constant(2),
            start=start,
        ),
    ]
    return line, gateway


async def collect(
    config: CollectorConfig, rtu: Simulator, tcp: Simulator, start: datetime
) -> tuple[Any, ...]:
    """Four polls, then the gas meter silent at the last; the spool pushed; the heartbeat sent."""
    clock = TestClock()
    lines = {name: open_line(transport) for name, transport in config.transports.items()}
    client = ApiClient(config.api.url, config.api.key, timeout=config.api.timeout_seconds)
    polled: list[tuple[datetime, dict[str, Decimal], tuple[str, ...]]] = []
    with Spool(config.spool.path, quota_bytes=config.spool.quota_bytes, zone=config.timezone) as spool:
        poller = Poller(config, lines, spool, spool, clock)
        for n in range(4):
            boundary = start + n * QUARTER
            rtu.advance(boundary)
            tcp.advance(boundary)
            if n == 3:
                tcp.meter(3).silence()
            clock.at = boundary
            report = await poller.poll(boundary)
            values = {reading.meter_id: reading.value for reading in report.readings}
            polled.append((boundary, values, tuple(report.failed)))
        pusher = Pusher(spool, client, batch_size=config.api.batch_size, clock=clock, rng=random.Random(7))
        pushes = []
        while spool.depth():
            pushes.append(await pusher.push_once(datetime.now(UTC)))
        body = heartbeat_body(VERSION, config.site_id, spool)
        await asyncio.to_thread(client.post_heartbeat, config.collector_id, body)
    for line in lines.values():
        await line.close()
    return polled, pushes, body


def run(console: Console, platform: LocalPlatform, keys: AccountKeys) -> None:
    """The collector on the account's ingest key, for the meters ``PLATFORM_METERS`` (already created)."""
    console.rule("On site: a collector reads Modbus meters and delivers every reading")
    start = first_boundary(datetime.now(UTC))
    line_meters, gateway_meters = simulated(start)
    with tempfile.TemporaryDirectory() as folder:
        rtu = Simulator(line_meters, framer="rtu")
        tcp = Simulator(gateway_meters, framer="socket")
        rtu.start_in_thread()
        tcp.start_in_thread()
        try:
            path = Path(folder) / "collector.toml"
            path.write_text(CONFIG.format(api_url=platform.url, rtu_port=rtu.port, tcp_port=tcp.port))
            config = load_config(path, {"METERBILL_INGEST_KEY": keys.ingest_key})
            console.print(
                f"collector {config.collector_id} at {SITE}: {len(config.meters)} devices, 5 platform meters"
            )
            console.print("  an RS485 line (RTU) and a Modbus TCP gateway, simulated on 127.0.0.1")
            polled, pushes, body = asyncio.run(collect(config, rtu, tcp, start))
        finally:
            rtu.stop_thread()
            tcp.stop_thread()
    table = Table(
        "boundary", *(meter["id"] for meter in PLATFORM_METERS), title="Polled on the quarter hours"
    )
    for boundary, values, _ in polled:
        cells = [str(values[m["id"]]) if m["id"] in values else "-" for m in PLATFORM_METERS]
        table.add_row(f"{boundary.astimezone(ZONE):%H:%M}", *cells)
    console.print(table)
    for boundary, _, failed in polled:
        if failed:
            console.print(f"{boundary.astimezone(ZONE):%H:%M}  no answer from {', '.join(failed)}")
    accepted = sum(push.accepted for push in pushes)
    console.print(f"pushed {sum(push.sent for push in pushes)} readings: {accepted} stored by the API")
    for meter in body["meters"]:
        if meter["error"]:
            console.print(f"heartbeat: {meter['meter_id']}: {meter['error']}")
    stored = {
        meter["id"]: list(
            platform.stores.readings.between(keys.account_id, meter["id"], start, start + 4 * QUARTER)
        )
        for meter in PLATFORM_METERS
    }
    console.print("stored: " + ", ".join(f"{meter} {len(reads)}" for meter, reads in stored.items()))
