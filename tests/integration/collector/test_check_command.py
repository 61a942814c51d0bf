"""``meterbill-collector check`` on day one, against simulated meters on 127.0.0.1: every quantity of every
meter is printed, a meter that does not answer shows its Modbus error, and the exit status says so."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from meterbill_collector import cli
from meterbill_collector.profiles import eastron_sdm120, pulse_counter_32
from meterbill_collector.simulated_meters import LoadShape, SimulatedMeter
from meterbill_collector.simulator import Simulator

CONFIG = """
collector_id = "plant-1"
timezone = "Europe/Berlin"

[api]
url = "https://api.example.com"
key_env = "METERBILL_INGEST_KEY"

[transports.gateway]
kind = "tcp"
host = "127.0.0.1"
port = {port}
timeout_seconds = 0.3
retries = 0

[[meters]]
id = "main"
transport = "gateway"
unit_id = 1
profile = "eastron-sdm120"
interval_minutes = 15

[[meters]]
id = "gas"
transport = "gateway"
unit_id = 2
profile = "pulse-counter-32"
interval_minutes = 60
multiplier = "0.01"
"""


@pytest.fixture
def simulator() -> Iterator[Simulator]:
    meters = [
        SimulatedMeter(
            1,
            eastron_sdm120(),
            values={
                "voltage": Decimal("231.5"),
                "current": Decimal("2.5"),
                "power": Decimal("578.75"),
                "import_kwh": Decimal("12345.67"),
                "export_kwh": Decimal("0"),
                "total_kwh": Decimal("12345.67"),
            },
            load=LoadShape.constant(0),
        ),
        SimulatedMeter(2, pulse_counter_32(), values={"pulses": Decimal(123456)}, load=LoadShape.constant(0)),
    ]
    sim = Simulator(meters, framer="socket")
    sim.start_in_thread()
    yield sim
    sim.stop_thread()


@pytest.fixture(autouse=True)
def root_logger_restored() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:], root.level = handlers, level
    logging.getLogger("pymodbus").setLevel(logging.NOTSET)


def check(config: Path) -> tuple[int, list[str]]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(["check", str(config)], out=out, err=err)
    assert err.getvalue() == ""
    return code, out.getvalue().splitlines()[1:]  # without the line of the time it ran


def test_check_prints_every_quantity_and_exits_0_when_every_meter_answers(
    simulator: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("METERBILL_INGEST_KEY", raising=False)  # check never calls the API
    config = tmp_path / "site.toml"
    config.write_text(CONFIG.format(port=simulator.port))

    assert check(config) == (
        0,
        [
            "meter  transport  unit  quantity    value          sent as",
            "main   gateway       1  voltage     231.5 V        -",
            "main   gateway       1  current     2.5 A          -",
            "main   gateway       1  power       578.75 W       -",
            "main   gateway       1  import_kwh  12345.67 kWh   main",
            "main   gateway       1  export_kwh  0 kWh          -",
            "main   gateway       1  total_kwh   12345.67 kWh   -",
            "gas    gateway       2  pulses      123456 pulses  gas = 1234.56 (× 0.01)",
            "2 meters: 2 read",
        ],
    )


def test_check_shows_a_silent_meters_timeout_and_exits_1(
    simulator: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("METERBILL_INGEST_KEY", raising=False)
    config = tmp_path / "site.toml"
    config.write_text(CONFIG.format(port=simulator.port))
    simulator.meter(2).silence()

    code, lines = check(config)

    assert code == 1
    assert lines[-2:] == [
        "gas    gateway       2  -           ERROR timeout after 0.3 s (1 attempt)",
        "2 meters: 1 read, 1 with errors (gas)",
    ]
