"""The simulated meters against the collector's Modbus line on 127.0.0.1, over Modbus TCP and over RTU
frames on a socket: every shipped profile decodes what the simulator holds in all four word and byte orders,
a custom profile works, the field's misbehaviour (silence, garbage, slow answers, roll-over, a swapped
device, an unknown unit) comes back as the errors and values a poller needs, and the simulator itself (load
shape, clean stops, re-ordered profiles, values its registers cannot hold)."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from datetime import timedelta
from decimal import Decimal

import pytest

from meterbill_collector.decoding import DecodeError, decode
from meterbill_collector.modbus import ModbusError
from meterbill_collector.planning import plan_reads
from meterbill_collector.profiles import SHIPPED
from meterbill_collector.registers import ORDERS, Order, Profile, ReadRequest, RegisterSpec
from meterbill_collector.simulated_meters import (
    FLOAT_ROLLOVER,
    LoadShape,
    SimulatedMeter,
    profile_with_order,
)
from meterbill_collector.simulator import Framer, Simulator
from tests.integration.collector.modbus_helpers import (
    FRAMERS,
    PULSES,
    T0,
    TIMEOUT,
    busy_meters,
    line_to,
    pulse_meters,
    read_all,
    run,
    shipped,
)

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
    assert plan_reads(custom)[1] == ReadRequest("holding", 100, 4, (custom.register("heat_kwh"),))


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


def test_a_value_its_register_cannot_hold_is_refused() -> None:
    meter = SimulatedMeter(1, SHIPPED["pulse-counter-32"]())
    with pytest.raises(ValueError, match="pulses: 4294967296 does not fit a uint32 register"):
        meter.set("pulses", 2**32)
    with pytest.raises(KeyError):
        meter.set("import_kwh", 1)
    meter.set("pulses", 2**32 - 1)
    assert meter.reading("pulses") == 2**32 - 1
