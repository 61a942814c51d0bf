"""The poller on fake Modbus lines: readings at the boundary, a dead unit that never stalls its line, per-unit
back-off, only the sent quantities; and the installer's ``check`` table."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from meterbill_collector.check import check, format_check
from meterbill_collector.config import (
    ApiConfig,
    CollectorConfig,
    MeterConfig,
    RtuTransport,
    SpoolConfig,
    TcpTransport,
    Transport,
)
from meterbill_collector.decoding import encode
from meterbill_collector.modbus import ModbusError
from meterbill_collector.model import MeterHealth, Reading
from meterbill_collector.polling import Poller, PollReport
from meterbill_collector.profiles import eastron_sdm120, eastron_sdm630, on_off_hours, pulse_counter_32
from meterbill_collector.registers import Profile, ReadRequest
from tests.unit.collector.clocks import RealClock

BERLIN = ZoneInfo("Europe/Berlin")
B0 = datetime(2026, 12, 4, 3, 15, tzinfo=UTC)  # 04:15 in Berlin: a boundary of every interval but 30 and 60


# --- fakes ----------------------------------------------------------------------------------------


class VirtualClock:
    """Time that only moves when someone sleeps, by exactly what they sleep."""

    def __init__(self, start: datetime) -> None:
        self.at = start
        self.slept: list[float] = []

    def now(self) -> datetime:
        return self.at

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.at += timedelta(seconds=seconds)
        await asyncio.sleep(0)


@dataclass
class FakeUnit:
    profile: Profile
    values: dict[str, Decimal]
    dead: bool = False  # no answer: the read times out
    error: str | None = None  # answers with this Modbus error
    short: bool = False  # answers one register too few

    def words(self, request: ReadRequest) -> list[int]:
        memory: dict[int, int] = {}
        for spec in self.profile.registers:
            if spec.table == request.table and spec.name in self.values:
                for offset, word in enumerate(encode(spec, self.values[spec.name])):
                    memory[spec.address + offset] = word
        words = [
            memory.get(address, 0) for address in range(request.address, request.address + request.count)
        ]
        return words[:-1] if self.short else words


@dataclass
class FakeLine:
    """A ModbusLine: answers from its units after ``latency``; a dead unit makes the caller wait its
    ``timeout``."""

    clock: RealClock | VirtualClock
    units: dict[int, FakeUnit]
    latency: float = 0.01
    calls: list[tuple[int, str, int, int, float, int]] = field(default_factory=list)

    async def read(self, unit_id: int, request: ReadRequest, *, timeout: float, retries: int) -> list[int]:
        self.calls.append((unit_id, request.table, request.address, request.count, timeout, retries))
        unit = self.units[unit_id]
        if unit.dead:
            await self.clock.sleep(timeout)
            raise ModbusError(f"timeout after {timeout} s ({retries + 1} attempts)")
        await self.clock.sleep(self.latency)
        if unit.error is not None:
            raise ModbusError(unit.error)
        return unit.words(request)

    def order(self) -> list[int]:
        """The units asked, each once per meter read, in order."""
        seen: list[int] = []
        for unit_id, *_ in self.calls:
            if not seen or seen[-1] != unit_id:
                seen.append(unit_id)
        return seen


class FakeSpool:
    """ReadingSink and HealthBook."""

    def __init__(self, health: Iterable[MeterHealth] = ()) -> None:
        self.readings: dict[tuple[str, datetime], Reading] = {}
        self.saved: dict[str, MeterHealth] = {h.meter_id: h for h in health}

    def add(self, readings: Iterable[Reading]) -> int:
        new = 0
        for reading in readings:
            if (reading.meter_id, reading.timestamp) not in self.readings:
                self.readings[(reading.meter_id, reading.timestamp)] = reading
                new += 1
        return new

    def save_health(self, health: Iterable[MeterHealth]) -> None:
        self.saved.update((h.meter_id, h) for h in health)

    def health(self) -> list[MeterHealth]:
        return list(self.saved.values())


def meter(
    meter_id: str,
    unit_id: int,
    *,
    profile: Profile | None = None,
    transport: str = "line1",
    interval_minutes: int = 1,
    multiplier: Decimal = Decimal(1),
    send: dict[str, str] | None = None,
    timeout_seconds: float | None = None,
    retries: int | None = None,
) -> MeterConfig:
    return MeterConfig(
        meter_id,
        transport,
        unit_id,
        profile or eastron_sdm120(),
        interval_minutes,
        multiplier,
        send or {},
        timeout_seconds,
        retries,
    )


def config(meters: Iterable[MeterConfig], transports: Iterable[Transport] = ()) -> CollectorConfig:
    lines = {t.name: t for t in transports} or {
        "line1": RtuTransport("line1", "socket://127.0.0.1:5021", timeout_seconds=0.15, retries=1)
    }
    return CollectorConfig(
        collector_id="office-1",
        site_id="office",
        timezone=BERLIN,
        api=ApiConfig("http://127.0.0.1:8080", "mb_test"),
        spool=SpoolConfig(Path("spool.sqlite")),
        transports=lines,
        meters=tuple(meters),
    )


def sdm120(import_kwh: str, export_kwh: str = "0", **more: str) -> FakeUnit:
    values = {
        "import_kwh": Decimal(import_kwh),
        "export_kwh": Decimal(export_kwh),
        "voltage": Decimal("230.1"),
    }
    values.update({name: Decimal(v) for name, v in more.items()})
    return FakeUnit(eastron_sdm120(), values)


def poll(poller: Poller, clock: RealClock | VirtualClock, boundary: datetime) -> PollReport:
    if isinstance(clock, RealClock):
        clock.set(boundary)
    else:
        clock.at = boundary
    return asyncio.run(poller.poll(boundary))


def values(readings: Iterable[Reading]) -> list[tuple[str, datetime, Decimal]]:
    return [(r.meter_id, r.timestamp, r.value) for r in readings]


# --- a healthy line -------------------------------------------------------------------------------


def test_a_healthy_line_of_three_meters_is_read_at_the_boundary_times_its_multiplier() -> None:
    clock = RealClock(B0)
    line = FakeLine(clock, {1: sdm120("12345.67"), 2: sdm120("8.25", "1.5"), 3: sdm120("99999.9")})
    cfg = config(
        [
            meter("shop", 1),  # no send: the primary quantity (import_kwh) under its own id
            meter("ct", 2, multiplier=Decimal("40"), send={"import_kwh": "ct-in", "export_kwh": "ct-out"}),
            meter("pv", 3, multiplier=Decimal("2.5")),
        ]
    )
    spool = FakeSpool()
    poller = Poller(cfg, {"line1": line}, spool, spool, clock)

    report = poll(poller, clock, B0)

    assert values(spool.readings.values()) == [
        ("shop", B0, Decimal("12345.67")),  # the float32 12345.669921875 sent as the meter shows it
        ("ct-in", B0, Decimal("8.25") * Decimal("40")),
        ("ct-out", B0, Decimal("1.5") * Decimal("40")),
        ("pv", B0, Decimal("99999.9") * Decimal("2.5")),
    ]
    assert [str(r.value) for r in spool.readings.values()] == ["12345.67", "330.00", "60.0", "249999.75"]
    assert all(r.timestamp.tzinfo is UTC and r.read_at.tzinfo is UTC for r in spool.readings.values())
    assert all(B0 < r.read_at < B0 + timedelta(seconds=1) for r in spool.readings.values())
    # one request per meter: only the sent registers (import 0x48, export 0x4A), with the line's timeout
    # and retries
    assert line.calls == [
        (1, "input", 0x48, 2, 0.15, 1),
        (2, "input", 0x48, 4, 0.15, 1),
        (3, "input", 0x48, 2, 0.15, 1),
    ]
    assert report.read == ("shop", "ct", "pv")
    assert report.stored == 4
    assert sorted((h.meter_id, h.error) for h in spool.health()) == [
        ("ct-in", None), ("ct-out", None), ("pv", None), ("shop", None),
    ]  # fmt: skip


def test_a_meters_own_timeout_and_retries_override_its_lines() -> None:
    clock = RealClock(B0)
    line = FakeLine(clock, {1: sdm120("1"), 2: sdm120("2")})
    cfg = config([meter("a", 1), meter("b", 2, timeout_seconds=0.5, retries=3)])
    spool = FakeSpool()
    poll(Poller(cfg, {"line1": line}, spool, spool, clock), clock, B0)
    assert [(c[0], c[4], c[5]) for c in line.calls] == [(1, 0.15, 1), (2, 0.5, 3)]


def test_only_the_sent_quantities_are_read_and_become_readings() -> None:
    clock = RealClock(B0)
    sdm630 = eastron_sdm630()
    values630 = {spec.name: Decimal(10 + i) for i, spec in enumerate(sdm630.registers)}
    line = FakeLine(
        clock,
        {
            1: FakeUnit(sdm630, values630),
            2: FakeUnit(pulse_counter_32(), {"pulses": Decimal(4_000_000_000)}),
            3: FakeUnit(on_off_hours(), {"running": Decimal(1), "on_hours": Decimal("1234.56")}),
        },
    )
    cfg = config(
        [
            meter("main", 1, profile=sdm630, send={"import_kwh": "main-in", "import_kwh_l3": "main-l3"}),
            meter("gas", 2, profile=pulse_counter_32(), multiplier=Decimal("0.01")),
            meter("pump", 3, profile=on_off_hours()),
        ]
    )
    spool = FakeSpool()
    poll(Poller(cfg, {"line1": line}, spool, spool, clock), clock, B0)
    assert values(spool.readings.values()) == [
        ("main-in", B0, values630["import_kwh"]),
        ("main-l3", B0, values630["import_kwh_l3"]),
        ("gas", B0, Decimal(4_000_000_000) * Decimal("0.01")),
        ("pump", B0, Decimal("1234.56")),
    ]
    # max_gap 0: import (0x48) and import_kwh_l3 (0x15E) are two requests; no voltage, power or coil read
    assert [c[:4] for c in line.calls] == [
        (1, "input", 0x48, 2), (1, "input", 0x15E, 2), (2, "holding", 0, 2), (3, "holding", 0, 2),
    ]  # fmt: skip


# --- a dead unit ----------------------------------------------------------------------------------


def test_a_dead_unit_is_tried_after_the_healthy_ones_and_backs_off_1_2_4_boundaries() -> None:
    clock = RealClock(B0)
    units = {1: sdm120("100"), 2: sdm120("200"), 3: sdm120("300")}
    line = FakeLine(clock, units, latency=0.01)
    cfg = config(
        [meter("m1", 1), meter("m2", 2, send={"import_kwh": "m2-in", "export_kwh": "m2-out"}), meter("m3", 3)]
    )
    spool = FakeSpool()
    poller = Poller(cfg, {"line1": line}, spool, spool, clock)
    b = [B0 + timedelta(minutes=k) for k in range(13)]  # a 1-minute interval: every minute is a boundary

    poll(poller, clock, b[0])
    good_read = spool.readings[("m2-in", b[0])].read_at

    units[2].dead = True
    line.calls.clear()
    first = poll(poller, clock, b[1])
    # nothing known yet: config order, so m3 waits for m2's timeout this once
    assert line.order() == [1, 2, 3]
    assert first.failed == {"m2": "timeout after 0.15 s (2 attempts)"}
    assert spool.readings[("m3", b[1])].read_at - b[1] >= timedelta(seconds=0.15)
    assert spool.saved["m2-in"] == MeterHealth("m2-in", good_read, "timeout after 0.15 s (2 attempts)")
    assert spool.saved["m2-out"] == MeterHealth("m2-out", good_read, "timeout after 0.15 s (2 attempts)")
    assert poller.in_backoff("m2") == b[3]

    line.calls.clear()
    skipped = poll(poller, clock, b[2])
    assert skipped.skipped == ("m2",)
    assert line.order() == [1, 3]

    line.calls.clear()
    again = poll(poller, clock, b[3])
    assert line.order() == [1, 3, 2]  # the failing unit after the healthy ones
    assert again.read == ("m1", "m3")
    for meter_id in ("m1", "m3"):  # not delayed by m2's timeout: one fake latency each, plus scheduling
        assert spool.readings[(meter_id, b[3])].read_at - b[3] < timedelta(seconds=0.1)
    assert poller.in_backoff("m2") == b[6]  # skips 2

    tried = [1, 3]
    for k in range(4, 11):
        line.calls.clear()
        report = poll(poller, clock, b[k])
        if 2 in line.order():
            tried.append(k)
            assert line.order() == [1, 3, 2]
        else:
            assert report.skipped == ("m2",)
    assert tried == [1, 3, 6]  # then skips 4: b7..b10
    assert poller.in_backoff("m2") == b[11]
    assert ("m2-in", b[6]) not in spool.readings
    assert spool.saved["m2-in"] == MeterHealth("m2-in", good_read, "timeout after 0.15 s (2 attempts)")

    units[2].dead = False  # someone replaced the fuse
    line.calls.clear()
    recovered = poll(poller, clock, b[11])
    assert line.order() == [1, 3, 2]
    assert recovered.read == ("m1", "m3", "m2")
    assert spool.saved["m2-in"] == MeterHealth("m2-in", spool.readings[("m2-in", b[11])].read_at, None)
    assert poller.in_backoff("m2") is None
    line.calls.clear()
    poll(poller, clock, b[12])
    assert line.order() == [1, 2, 3]


def test_back_off_is_capped_at_an_hour_of_boundaries() -> None:
    clock = RealClock(B0)
    units = {1: sdm120("1")}
    units[1].error = "exception 4 (slave device failure)"
    line = FakeLine(clock, units, latency=0)
    spool = FakeSpool()
    quarter = Poller(config([meter("q", 1, interval_minutes=15)]), {"line1": line}, spool, spool, clock)
    b = [B0 + timedelta(minutes=15 * k) for k in range(26)]
    tried = [k for k in range(26) if poll(quarter, clock, b[k]).failed]
    assert tried == [0, 2, 5, 10, 15, 20, 25]  # skips 1, 2, 4, then 4 (an hour of 15-minute boundaries)
    assert spool.saved["q"].error == "exception 4 (slave device failure)"

    hours = [datetime(2026, 12, 4, 3, tzinfo=UTC) + timedelta(hours=k) for k in range(7)]  # Berlin's hours
    hourly = Poller(config([meter("h", 1, interval_minutes=60)]), {"line1": line}, spool, spool, clock)
    assert [k for k in range(7) if poll(hourly, clock, hours[k]).failed] == [0, 2, 4, 6]


def test_an_undecodable_answer_fails_that_meter_like_a_modbus_error() -> None:
    clock = RealClock(B0)
    units = {1: sdm120("1"), 2: sdm120("nan"), 3: sdm120("3")}
    units[3].short = True
    line = FakeLine(clock, units)
    cfg = config([meter("a", 1), meter("nan", 2), meter("short", 3)])
    spool = FakeSpool()
    poller = Poller(cfg, {"line1": line}, spool, spool, clock)
    report = poll(poller, clock, B0)
    assert report.failed == {
        "nan": "import_kwh: the register holds nan (not a number)",
        "short": "input 72: 1 registers read, the request asked for 2",
    }
    assert values(spool.readings.values()) == [("a", B0, Decimal("1"))]
    assert spool.saved["nan"] == MeterHealth("nan", None, "import_kwh: the register holds nan (not a number)")
    assert poller.in_backoff("nan") == B0 + timedelta(minutes=2)


def test_the_last_good_read_survives_a_restart_through_the_health_book() -> None:
    clock = RealClock(B0)
    earlier = B0 - timedelta(days=2)
    units = {1: sdm120("1")}
    units[1].dead = True
    spool = FakeSpool([MeterHealth("a", earlier, None)])
    poller = Poller(config([meter("a", 1)]), {"line1": FakeLine(clock, units)}, spool, spool, clock)
    poll(poller, clock, B0)
    assert spool.saved["a"] == MeterHealth("a", earlier, "timeout after 0.15 s (2 attempts)")


def test_lines_are_read_in_parallel() -> None:
    clock = RealClock(B0)
    lines = {
        "line1": FakeLine(clock, {1: sdm120("1"), 2: sdm120("2")}, latency=0.1),
        "gw": FakeLine(clock, {1: sdm120("5"), 2: sdm120("6")}, latency=0.1),
    }
    cfg = config(
        [meter("a", 1), meter("b", 2), meter("c", 1, transport="gw"), meter("d", 2, transport="gw")],
        [RtuTransport("line1", "/dev/ttyUSB0"), TcpTransport("gw", "10.0.0.5")],
    )
    spool = FakeSpool()
    started = time.monotonic()
    poll(Poller(cfg, lines, spool, spool, clock), clock, B0)
    elapsed = time.monotonic() - started
    assert sorted(r.meter_id for r in spool.readings.values()) == ["a", "b", "c", "d"]
    assert 0.2 <= elapsed < 0.35  # two meters of 0.1 s on each line, the lines side by side (not 0.4 s)


def test_a_read_after_the_next_boundary_keeps_its_own_stamp_and_is_logged_late(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = VirtualClock(B0)
    line = FakeLine(clock, {1: sdm120("7")}, latency=60.25)  # answers 0.25 s after the next 1-minute boundary
    spool = FakeSpool()
    poller = Poller(config([meter("slow", 1)]), {"line1": line}, spool, spool, clock)
    with caplog.at_level(logging.WARNING, logger="meterbill_collector.poll"):
        report = poll(poller, clock, B0)
    assert report.late == ("slow",)
    (reading,) = spool.readings.values()
    assert (reading.timestamp, reading.read_at) == (B0, B0 + timedelta(seconds=60.25))
    (record,) = caplog.records
    assert (record.meter, record.unit, record.transport, record.late_seconds) == ("slow", 1, "line1", 0.25)


def test_a_failed_read_is_logged_with_the_meter_unit_transport_and_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = RealClock(B0)
    units = {4: sdm120("1")}
    units[4].error = "exception 2 (illegal data address)"
    spool = FakeSpool()
    poller = Poller(config([meter("m4", 4)]), {"line1": FakeLine(clock, units)}, spool, spool, clock)
    with caplog.at_level(logging.WARNING, logger="meterbill_collector.poll"):
        poll(poller, clock, B0)
    (record,) = caplog.records
    assert (record.meter, record.unit, record.transport, record.error) == (
        "m4", 4, "line1", "exception 2 (illegal data address)",
    )  # fmt: skip
    assert record.levelno == logging.WARNING


def test_a_meter_whose_line_is_not_open_is_refused() -> None:
    with pytest.raises(ValueError, match="meter 'a': transport: no line open for 'line1'"):
        Poller(config([meter("a", 1)]), {}, FakeSpool(), FakeSpool(), RealClock(B0))
    with pytest.raises(ValueError, match="meter 'a': transport: no line open for 'line1'"):
        asyncio.run(check(config([meter("a", 1)]), {}, RealClock(B0)))


# --- the run loop ---------------------------------------------------------------------------------


def test_run_sleeps_to_each_boundary_of_the_site_clock_and_wakes_the_pusher_after_storing() -> None:
    clock = VirtualClock(datetime(2026, 12, 4, 3, 14, 50, tzinfo=UTC))
    line = FakeLine(clock, {1: sdm120("1"), 2: sdm120("2")}, latency=0.5)
    cfg = config([meter("q", 1, interval_minutes=15), meter("h", 2, interval_minutes=60)])
    spool = FakeSpool()
    poller = Poller(cfg, {"line1": line}, spool, spool, clock)
    stop = asyncio.Event()
    woken: list[int] = []

    def on_stored() -> None:
        woken.append(len(spool.readings))
        if len(woken) == 4:
            stop.set()

    asyncio.run(poller.run(stop, on_stored))
    t = datetime(2026, 12, 4, 3, tzinfo=UTC)
    m = timedelta(minutes=1)
    assert sorted(values(spool.readings.values()), key=lambda v: (v[1], v[0])) == [
        ("q", t + 15 * m, Decimal(1)),
        ("q", t + 30 * m, Decimal(1)),
        ("q", t + 45 * m, Decimal(1)),
        ("h", t + 60 * m, Decimal(2)),
        ("q", t + 60 * m, Decimal(1)),
    ]
    assert woken == [1, 2, 3, 5]
    assert clock.slept == [10.0, 0.5, 899.5, 0.5, 899.5, 0.5, 899.5, 0.5, 0.5]


def test_run_returns_when_stopped_while_it_sleeps() -> None:
    class NeverWakes(RealClock):
        async def sleep(self, seconds: float) -> None:
            await asyncio.Event().wait()

    clock = NeverWakes(B0)
    spool = FakeSpool()
    poller = Poller(
        config([meter("a", 1)]), {"line1": FakeLine(clock, {1: sdm120("1")})}, spool, spool, clock
    )

    async def scenario() -> float:
        stop = asyncio.Event()
        asyncio.get_running_loop().call_later(0.05, stop.set)
        started = time.monotonic()
        await asyncio.wait_for(poller.run(stop, lambda: None), timeout=2)
        return time.monotonic() - started

    assert asyncio.run(scenario()) < 0.5
    assert spool.readings == {}


# --- check ----------------------------------------------------------------------------------------


def test_check_prints_every_quantity_of_every_meter_and_each_error() -> None:
    clock = RealClock(datetime(2026, 12, 4, 3, 20, 5, tzinfo=UTC))
    units = {
        1: sdm120("12345.67", "0.5", current="1.25", power="287.6", total_kwh="12346.17"),
        2: sdm120("1"),
        3: FakeUnit(on_off_hours(), {"running": Decimal(1), "on_hours": Decimal("1234.56")}),
        4: sdm120("nan", "2"),
    }
    units[2].dead = True
    gw = {7: FakeUnit(pulse_counter_32(), {"pulses": Decimal(123456)})}
    cfg = config(
        [
            meter(
                "main",
                1,
                multiplier=Decimal("40"),
                send={"import_kwh": "office-main", "export_kwh": "office-exp"},
            ),
            meter("spare", 2, timeout_seconds=0.05),
            meter("pump", 3, profile=on_off_hours()),
            meter("odd", 4),
            meter("gas", 7, profile=pulse_counter_32(), transport="gw", multiplier=Decimal("0.01")),
        ],
        [RtuTransport("line1", "/dev/ttyUSB0", timeout_seconds=0.15), TcpTransport("gw", "10.0.0.5")],
    )
    lines: Mapping[str, FakeLine] = {"line1": FakeLine(clock, units), "gw": FakeLine(clock, gw)}
    table = asyncio.run(check(cfg, lines, clock))
    assert table.failing == ("spare", "odd")
    assert [(row.meter, row.quantity) for row in table.errors] == [("spare", None), ("odd", "import_kwh")]
    assert format_check(table) == (
        "check of office-1 at 2026-12-04 04:20:05 Europe/Berlin\n"
        "meter  transport  unit  quantity    value          sent as\n"
        "main   line1         1  voltage     230.1 V        -\n"
        "main   line1         1  current     1.25 A         -\n"
        "main   line1         1  power       287.6 W        -\n"
        "main   line1         1  import_kwh  12345.67 kWh   office-main = 493826.80 (× 40)\n"
        "main   line1         1  export_kwh  0.5 kWh        office-exp = 20.0 (× 40)\n"
        "main   line1         1  total_kwh   12346.17 kWh   -\n"
        "spare  line1         2  -           ERROR timeout after 0.05 s (2 attempts)\n"
        "pump   line1         3  running     on             -\n"
        "pump   line1         3  on_hours    1234.56 h      pump\n"
        "odd    line1         4  voltage     230.1 V        -\n"
        "odd    line1         4  current     0 A            -\n"
        "odd    line1         4  power       0 W            -\n"
        "odd    line1         4  import_kwh  ERROR import_kwh: the register holds nan (not a number)\n"
        "odd    line1         4  export_kwh  2 kWh          -\n"
        "odd    line1         4  total_kwh   0 kWh          -\n"
        "gas    gw            7  pulses      123456 pulses  gas = 1234.56 (× 0.01)\n"
        "5 meters: 3 read, 2 with errors (spare, odd)\n"
    )


# --- the spool's writes off the event loop -------------------------------------------------------


class SlowSpool(FakeSpool):
    """A spool whose ``add`` blocks its thread (as SQLite's fsync does) until a task on the event loop has
    released it, or 2 s have passed."""

    def __init__(self) -> None:
        super().__init__()
        self.adding = threading.Event()
        self.released = threading.Event()
        self.events: list[str] = []

    def add(self, readings: Iterable[Reading]) -> int:
        self.events.append("add")
        self.adding.set()
        self.events.append("stored" if self.released.wait(timeout=2) else "stored after blocking 2 s")
        return super().add(readings)

    def save_health(self, health: Iterable[MeterHealth]) -> None:
        self.events.append("health")
        super().save_health(health)


def test_while_the_spool_writes_the_event_loop_keeps_ticking_and_the_poll_waits_for_it() -> None:
    clock = RealClock(B0)
    spool = SlowSpool()
    poller = Poller(
        config([meter("a", 1)]), {"line1": FakeLine(clock, {1: sdm120("7.5")})}, spool, spool, clock
    )
    ticks: list[int] = []

    async def ticker() -> None:  # another task of the loop: the pusher, the heartbeat, another line
        while not spool.adding.is_set():
            await asyncio.sleep(0.001)
        for tick in range(3):
            ticks.append(tick)
            await asyncio.sleep(0.001)
        spool.events.append("ticked 3 times")
        spool.released.set()

    async def main() -> PollReport:
        ticking = asyncio.ensure_future(ticker())
        report = await poller.poll(B0)
        await ticking
        return report

    report = asyncio.run(main())

    # The loop ran the ticker while add waited in its thread; the poll went on only once add had returned.
    assert spool.events == ["add", "ticked 3 times", "stored", "health"]
    assert (report.stored, values(spool.readings.values())) == (1, [("a", B0, Decimal("7.5"))])
