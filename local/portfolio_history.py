"""Two months of the demo portfolio's readings (``local/portfolio.py``; PORTFOLIO.md), with its four faults.

A pure, deterministic generator: the same readings on every run, no clock, no I/O. From Thursday 1 October
2026 00:00 to Tuesday 1 December 2026 00:00, Europe/Berlin (5,860 quarter hours: 25 October has 25 hours):

- the office building's electricity, 15-minute intervals in kWh: each tenant's own day (a bakery's ovens from
  03:00, offices from 08:00, a practice closed at lunch, a studio into the evening, a flat's mornings and
  evenings), nights and weekends lower, the common area's lights and lift, and the main meter = the sub-meters
  + the common area. Every value carries its own deterministic wobble (±12 %), so no two days are alike and
  no line is flat;
- the building's gas register (hourly reads, m³; the bakery's gas ovens) and water (hourly intervals, m³);
- the colocation room: eight rack PDUs (register reads every 15 minutes, kWh: each rack's feed carries half
  its load, a little busier by day) and a master meter per phase reading its PDUs + 1 % distribution losses;
- a compute cluster's busy seconds per hour (a queue of batch jobs, fuller by day, none alike);
- three machines' on-time (hours on per hour: two shifts on weekdays, two of them one on Saturday).

The faults (PORTFOLIO.md, "Faults injected"), and nothing else out of the ordinary:

- ``atelier`` sends nothing on Thursday 12 November (a communication failure);
- from Tuesday 24 November, 0.300 kWh a quarter hour passes ``office-main`` but no sub-meter (evasion);
- the ``office-gas`` register drops 250 m³ at Wednesday 18 November 12:00 and counts on from there;
- ``practice`` draws 3 kWh more each quarter hour on Friday 20 November from 19:00 to 20:00 (a spike).

Two events of the story that are not faults: the studio moves out on 16 November (its meter shows only a
vacant unit's standby from then on), and PDU ``r02-b`` is swapped on 16 November at 10:00 (``EXCHANGE``: the
old register's final read, the new one counting from 0.021 kWh). ``LATE_CORRECTION`` is a reading the
bakery's meter first sent wrong and its head end corrects after the bill was issued.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Final, Literal
from zoneinfo import ZoneInfo

ZONE: Final = ZoneInfo("Europe/Berlin")
START: Final = datetime(2026, 10, 1, tzinfo=ZONE)
END: Final = datetime(2026, 12, 1, tzinfo=ZONE)
QUARTER: Final = timedelta(minutes=15)
HOUR: Final = timedelta(hours=1)

# The faults.
QUIET_METER: Final = "atelier"
QUIET_FROM, QUIET_TO = datetime(2026, 11, 12, tzinfo=ZONE), datetime(2026, 11, 13, tzinfo=ZONE)
EVASION_METER: Final = "office-main"
EVASION_FROM: Final = datetime(2026, 11, 24, tzinfo=ZONE)
EVASION: Final = Decimal("0.300")  # kWh a quarter hour
DROP_METER: Final = "office-gas"
DROP_AT: Final = datetime(2026, 11, 18, 12, 0, tzinfo=ZONE)
DROP: Final = Decimal(250)  # m³
SPIKE_METER: Final = "practice"
SPIKE_FROM, SPIKE_TO = datetime(2026, 11, 20, 19, 0, tzinfo=ZONE), datetime(2026, 11, 20, 20, 0, tzinfo=ZONE)
SPIKE: Final = Decimal("3.000")  # kWh a quarter hour

# The story's events.
MOVE_OUT: Final = datetime(2026, 11, 16, tzinfo=ZONE)  # the studio's last day is 15 November
EXCHANGED_METER: Final = "r02-b"
EXCHANGE_AT: Final = datetime(2026, 11, 16, 10, 0, tzinfo=ZONE)
NEW_DEVICE_INITIAL: Final = Decimal("0.021")
LATE_CORRECTION_METER: Final = "shop-baker"
LATE_CORRECTION_AT: Final = datetime(2026, 11, 27, 5, 0, tzinfo=ZONE)
LATE_CORRECTION_ERROR: Final = Decimal("1.000")  # kWh the first reading said too much

MILLI: Final = Decimal("0.001")
WOBBLE: Final = Decimal("0.12")

ReadingType = Literal["interval", "register"]


@dataclass(frozen=True, slots=True)
class Reading:
    """One reading as a meter (or its head end) sends it."""

    meter_id: str
    timestamp: datetime  # aware, Europe/Berlin; an interval's start
    value: Decimal
    type: ReadingType
    interval_minutes: int | None


@dataclass(frozen=True, slots=True)
class Exchange:
    """A device swap as the technician records it: the old register's final read, the new one's first."""

    meter_id: str
    timestamp: datetime
    old_final: Decimal
    new_initial: Decimal


def steps(start: datetime, end: datetime, length: timedelta) -> Iterator[datetime]:
    """Interval starts in real time (UTC steps: 25 October has 100 quarter hours), on the Berlin clock."""
    moment = start.astimezone(UTC)
    while moment < end:
        yield moment.astimezone(ZONE)
        moment += length


def wobble(meter_id: str, at: datetime) -> Decimal:
    """The meter's own deterministic variation at ``at``: a factor in [1 - WOBBLE, 1 + WOBBLE)."""
    code = zlib.crc32(f"{meter_id}@{int(at.timestamp())}".encode())
    return 1 + WOBBLE * (Decimal(code % 2001) - 1000) / 1000


def _between(hour: float, first: float, last: float) -> bool:
    return first <= hour < last


def _hour(at: datetime) -> float:
    return at.hour + at.minute / 60


# --- the office building: kW by the local clock ----------------------------------------------------------


def _baker(at: datetime) -> float:
    h, day = _hour(at), at.weekday()
    if day == 6:  # Sunday: a small bake, the shop open in the morning
        return 6.0 if _between(h, 5, 9) else 2.5 if _between(h, 9, 12) else 1.2
    if _between(h, 3, 11):
        return 18.0
    if _between(h, 11, 18 if day < 5 else 14):
        return 3.0
    return 1.2  # fridges and proofers


def _office(day_kw: float, night_kw: float, first: float, last: float) -> Callable[[datetime], float]:
    def load(at: datetime) -> float:
        return day_kw if at.weekday() < 5 and _between(_hour(at), first, last) else night_kw

    return load


def _atelier(at: datetime) -> float:
    return 3.5 if at.weekday() < 6 and _between(_hour(at), 10, 20) else 0.3


def _practice(at: datetime) -> float:
    h = _hour(at)
    if at.weekday() < 5 and (_between(h, 8, 13) or _between(h, 14, 18)):
        return 5.0
    return 0.6  # vaccine fridges, the server


def _studio(at: datetime) -> float:
    if at >= MOVE_OUT:
        return 0.15  # a vacant unit: the doorbell, the router, the emergency lights
    return 4.0 if at.weekday() < 5 and _between(_hour(at), 9, 22) else 0.4


def _flat(at: datetime) -> float:
    h = _hour(at)
    if _between(h, 17, 22):
        return 1.2
    if _between(h, 6, 8) or (at.weekday() >= 5 and _between(h, 9, 17)):
        return 0.7
    return 0.15


def _common(at: datetime) -> float:
    """The stairwell's lights, the lift, the heating pumps: what the main meter sees beyond its subs."""
    return 1.0 if at.weekday() < 5 and _between(_hour(at), 7, 20) else 0.35


OFFICE_SUBS: Final[dict[str, Callable[[datetime], float]]] = {
    "shop-baker": _baker,
    "law-a": _office(6.0, 0.8, 8, 19),
    "law-b": _office(4.0, 0.5, 8, 18),
    "atelier": _atelier,
    "practice": _practice,
    "studio": _studio,
    "flat-3": _flat,
}

# --- the colocation room ------------------------------------------------------------------------------------

RACK_KW: Final = {"R01": 4.2, "R02": 3.6, "R03": 5.0, "R04": 6.5}
PDUS: Final[dict[str, tuple[str, str]]] = {  # PDU → (rack, phase)
    "r01-a": ("R01", "L1"),
    "r01-b": ("R01", "L2"),
    "r02-a": ("R02", "L3"),
    "r02-b": ("R02", "L1"),
    "r03-a": ("R03", "L2"),
    "r03-b": ("R03", "L3"),
    "r04-a": ("R04", "L1"),
    "r04-b": ("R04", "L2"),
}
PHASE_MASTERS: Final = {"L1": "colo-l1", "L2": "colo-l2", "L3": "colo-l3"}
PDU_START: Final = {pdu: Decimal(12_000 + 1_731 * n) for n, pdu in enumerate(PDUS)}
DISTRIBUTION_LOSS: Final = Decimal("1.01")


def _rack(rack: str, at: datetime) -> float:
    busy = 1.08 if at.weekday() < 5 and _between(_hour(at), 9, 19) else 0.97
    return RACK_KW[rack] / 2 * busy  # one feed of two


# --- the other meters ---------------------------------------------------------------------------------------

GAS_START: Final = Decimal("48210.000")
MACHINES: Final = ("machine-1", "machine-2", "machine-3")


def _gas_m3_per_hour(at: datetime) -> Decimal:
    h = _hour(at)
    ovens = (_between(h, 3, 10) and at.weekday() < 6) or (at.weekday() == 6 and _between(h, 5, 9))
    return Decimal("5.4") if ovens else Decimal("0.6")  # the heating the rest of the day


def _water_m3(at: datetime) -> Decimal:
    return Decimal("0.300") if at.weekday() < 5 and _between(_hour(at), 7, 19) else Decimal("0.025")


def _busy_seconds(at: datetime) -> int:
    """The compute cluster's busy seconds in the hour: never idle (a queue of batch jobs), fuller by day."""
    code = zlib.crc32(f"gpu@{int(at.timestamp())}".encode())
    if at.weekday() < 5 and _between(_hour(at), 8, 20):
        return 2000 + code % 1501  # 2,000..3,500 s
    return 1300 + code % 801  # 1,300..2,100 s: an hour is never 3x its usual


def _on_hours(machine: str, at: datetime) -> Decimal:
    h, day = _hour(at), at.weekday()
    shifts = (6, 22) if day < 5 else (6, 14) if day == 5 and machine != "machine-3" else None
    if shifts is None or not _between(h, *shifts):
        return Decimal(0)
    code = zlib.crc32(f"{machine}@{int(at.timestamp())}".encode())
    return Decimal(600 + code % 381) * MILLI  # 0.600..0.980 h of the hour: a machine pauses


# --- the generator -----------------------------------------------------------------------------------------


def _kwh(kw: float, meter_id: str, at: datetime) -> Decimal:
    return (Decimal(str(kw)) / 4 * wobble(meter_id, at)).quantize(MILLI)


def common_area_kwh(at: datetime) -> Decimal:
    """What the common area used in the quarter hour from ``at``: the main meter's residual, faults aside."""
    return _kwh(_common(at), "common", at)


def office_electricity(start: datetime = START, end: datetime = END) -> Iterator[Reading]:
    for at in steps(start, end, QUARTER):
        total = Decimal(0)
        for meter_id, load in OFFICE_SUBS.items():
            value = _kwh(load(at), meter_id, at)
            if meter_id == SPIKE_METER and SPIKE_FROM <= at < SPIKE_TO:
                value += SPIKE
            total += value
            if meter_id == LATE_CORRECTION_METER and at == LATE_CORRECTION_AT:
                value += LATE_CORRECTION_ERROR  # what it first sent; its actual use stays in the total
            if meter_id == QUIET_METER and QUIET_FROM <= at < QUIET_TO:
                continue
            yield Reading(meter_id, at, value, "interval", 15)
        main = total + common_area_kwh(at)
        if at >= EVASION_FROM:
            main += EVASION
        yield Reading("office-main", at, main, "interval", 15)


def office_gas(start: datetime = START, end: datetime = END) -> Iterator[Reading]:
    register = GAS_START
    for at in steps(START, end + HOUR, HOUR):  # the read at ``end`` closes the last hour
        if at == DROP_AT:
            register -= DROP
        if at >= start:
            yield Reading("office-gas", at, register, "register", None)
        register += (_gas_m3_per_hour(at) * wobble("office-gas", at)).quantize(MILLI)


def office_water(start: datetime = START, end: datetime = END) -> Iterator[Reading]:
    for at in steps(start, end, HOUR):
        yield Reading(
            "office-water", at, (_water_m3(at) * wobble("office-water", at)).quantize(MILLI), "interval", 60
        )


def colocation(start: datetime = START, end: datetime = END) -> Iterator[Reading]:
    registers = dict(PDU_START)
    for at in steps(START, end + QUARTER, QUARTER):  # the reads at ``end`` close the last quarter hour
        phases = dict.fromkeys(PHASE_MASTERS, Decimal(0))
        for pdu, (rack, phase) in PDUS.items():
            if pdu == EXCHANGED_METER and at == EXCHANGE_AT:
                registers[pdu] = NEW_DEVICE_INITIAL  # the new device; the exchange record holds both reads
            elif at >= start:
                yield Reading(pdu, at, registers[pdu], "register", None)
            used = _kwh(_rack(rack, at), pdu, at)
            registers[pdu] += used
            phases[phase] += used
        if start <= at < end:
            for phase, master in PHASE_MASTERS.items():
                yield Reading(master, at, (phases[phase] * DISTRIBUTION_LOSS).quantize(MILLI), "interval", 15)


def exchange() -> Exchange:
    """The r02-b swap: the old register at 10:00 (its final read) and the new device's initial read."""
    register = PDU_START[EXCHANGED_METER]
    rack = PDUS[EXCHANGED_METER][0]
    for at in steps(START, EXCHANGE_AT, QUARTER):
        register += _kwh(_rack(rack, at), EXCHANGED_METER, at)
    return Exchange(EXCHANGED_METER, EXCHANGE_AT, register, NEW_DEVICE_INITIAL)


def compute(start: datetime = START, end: datetime = END) -> Iterator[Reading]:
    for at in steps(start, end, HOUR):
        yield Reading("gpu-cluster", at, Decimal(_busy_seconds(at)), "interval", 60)


def machines(start: datetime = START, end: datetime = END) -> Iterator[Reading]:
    for at in steps(start, end, HOUR):
        for machine in MACHINES:
            yield Reading(machine, at, _on_hours(machine, at), "interval", 60)


def history(start: datetime = START, end: datetime = END) -> list[Reading]:
    """Every reading of the portfolio: the intervals starting in [start, end), the register reads taken in
    [start, end] (the read at ``end`` closes the last interval)."""
    parts: Iterable[Iterator[Reading]] = (
        office_electricity(start, end),
        office_gas(start, end),
        office_water(start, end),
        colocation(start, end),
        compute(start, end),
        machines(start, end),
    )
    return [reading for part in parts for reading in part]
