"""The meter models the collector knows out of the box. A custom profile in the config (``[profiles.NAME]``,
``config``) is the same value; "to add a new meter, choose its type".

Addresses are protocol addresses (0-based). Sources: Eastron's SDM120 and SDM630 Modbus protocol sheets (input
registers, float32, high word first); the pulse counter, on/off and PDU maps are the generic layouts of such
devices, their quantities named so that a config's ``send`` reads plainly."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from meterbill_collector.registers import Profile, RegisterSpec


def _float(name: str, address: int, unit: str, *, cumulative: bool = True) -> RegisterSpec:
    return RegisterSpec(name, "input", address, "float32", "ABCD", unit=unit, cumulative=cumulative)


def eastron_sdm120(**_: int) -> Profile:
    return Profile(
        name="eastron-sdm120",
        description="Eastron SDM120 single-phase kWh meter",
        registers=(
            _float("voltage", 0x0000, "V", cumulative=False),
            _float("current", 0x0006, "A", cumulative=False),
            _float("power", 0x000C, "W", cumulative=False),
            _float("import_kwh", 0x0048, "kWh"),
            _float("export_kwh", 0x004A, "kWh"),
            _float("total_kwh", 0x0156, "kWh"),
        ),
        primary="import_kwh",
        max_read=80,
    )


def eastron_sdm630(**_: int) -> Profile:
    return Profile(
        name="eastron-sdm630",
        description="Eastron SDM630 three-phase kWh meter",
        registers=(
            _float("voltage_l1", 0x0000, "V", cumulative=False),
            _float("voltage_l2", 0x0002, "V", cumulative=False),
            _float("voltage_l3", 0x0004, "V", cumulative=False),
            _float("power_l1", 0x000C, "W", cumulative=False),
            _float("power_l2", 0x000E, "W", cumulative=False),
            _float("power_l3", 0x0010, "W", cumulative=False),
            _float("power", 0x0034, "W", cumulative=False),
            _float("import_kwh", 0x0048, "kWh"),
            _float("export_kwh", 0x004A, "kWh"),
            _float("total_kwh", 0x0156, "kWh"),
            _float("import_kwh_l1", 0x015A, "kWh"),
            _float("import_kwh_l2", 0x015C, "kWh"),
            _float("import_kwh_l3", 0x015E, "kWh"),
        ),
        primary="import_kwh",
        max_read=80,
    )


def pulse_counter_32(**_: int) -> Profile:
    """A pulse input (gas, water, heat) counting into a 32-bit holding register; the meter's ``multiplier`` is
    the volume per pulse (0.01 m³). It rolls over at 2³²: the platform's validation sees the rollover."""
    return Profile(
        name="pulse-counter-32",
        description="pulse counter, 32-bit holding register",
        registers=(RegisterSpec("pulses", "holding", 0, "uint32", "ABCD", unit="pulses"),),
        primary="pulses",
    )


def pulse_counter_64(**_: int) -> Profile:
    return Profile(
        name="pulse-counter-64",
        description="pulse counter, 64-bit holding register",
        registers=(RegisterSpec("pulses", "holding", 0, "uint64", "ABCD", unit="pulses"),),
        primary="pulses",
    )


def on_off_hours(**_: int) -> Profile:
    """A machine's run status (coil 0) and its on-time counter in hundredths of an hour (Alpiron-style)."""
    return Profile(
        name="on-off-hours",
        description="on/off status coil with an hour counter",
        registers=(
            RegisterSpec("running", "coil", 0, "bool", unit="on", cumulative=False),
            RegisterSpec("on_hours", "holding", 0, "uint32", "ABCD", scale=Decimal("0.01"), unit="h"),
        ),
        primary="on_hours",
    )


PDU_MAX_OUTLETS = 48


def rack_pdu(*, outlets: int = 8, **_: int) -> Profile:
    """A metered rack PDU: outlet N's energy in Wh, uint32 input registers from 0x0100, two per outlet."""
    if not 1 <= outlets <= PDU_MAX_OUTLETS:
        raise ValueError(f"outlets {outlets} must be between 1 and {PDU_MAX_OUTLETS}")
    return Profile(
        name="rack-pdu",
        description=f"metered rack PDU, {outlets} outlets",
        registers=tuple(
            RegisterSpec(
                f"outlet_{n}_kwh", "input", 0x0100 + 2 * (n - 1), "uint32", scale=Decimal("0.001"), unit="kWh"
            )
            for n in range(1, outlets + 1)
        ),
        primary="outlet_1_kwh",
        options={"outlets": outlets},
    )


# name -> the profile built from its options (only rack-pdu takes one: outlets)
SHIPPED: dict[str, Callable[..., Profile]] = {
    "eastron-sdm120": eastron_sdm120,
    "eastron-sdm630": eastron_sdm630,
    "pulse-counter-32": pulse_counter_32,
    "pulse-counter-64": pulse_counter_64,
    "on-off-hours": on_off_hours,
    "rack-pdu": rack_pdu,
}
SHIPPED_OPTIONS: dict[str, tuple[str, ...]] = {"rack-pdu": ("outlets",)}
