"""Simulated meters: the devices on the demo's and the tests' field bus, without the bus.

A ``SimulatedMeter`` holds its quantities as exact values and shows them as registers through
``decoding.encode`` in the meter's word and byte order, so one profile can be served in all four orders
(``profile_with_order``). Its counters advance with a ``LoadShape`` (a working day's peak, quieter weekends,
deterministic noise) when told the time (``advance``), and it can be told to misbehave the way field devices
do: go silent, answer garbage, roll over, be swapped for a new device. ``simulator.Simulator`` serves these
meters over Modbus."""

from __future__ import annotations

import dataclasses
import math
import struct
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, localcontext
from fractions import Fraction
from typing import Literal
from zoneinfo import ZoneInfo

from pymodbus.constants import ExcCodes

from meterbill_collector.decoding import encode, shortest_float
from meterbill_collector.registers import (
    BIT_TABLES,
    WORDS,
    Order,
    Profile,
    RegisterSpec,
    Table,
)

GarbageKind = Literal["mixed", "nan", "short", "exception"]

FLOAT_ROLLOVER = Decimal(10) ** 7  # a float register "rolls over" where a meter's 7-digit display does
_UTC_ZONE = ZoneInfo("UTC")
_MICROS_PER_BUCKET = 60 * 10**6  # the load is constant within a minute (noise drawn per minute)
_MICROS_PER_HOUR = 3600 * 10**6
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def profile_with_order(profile: Profile, order: Order) -> Profile:
    """The same profile with every multi-word register in ``order`` (single registers and bits unchanged)."""
    registers = tuple(
        dataclasses.replace(spec, order=order)
        if WORDS[spec.type] > 1 and spec.table not in BIT_TABLES
        else spec
        for spec in profile.registers
    )
    return dataclasses.replace(profile, registers=registers)


def _mix(*numbers: int) -> float:
    """A deterministic number in [0, 1) from integers (splitmix64): same seed and minute, same noise."""
    state = 0x9E3779B97F4A7C15
    for number in numbers:
        state = (state ^ (number & 0xFFFFFFFFFFFFFFFF)) * 0xBF58476D1CE4E5B9 & 0xFFFFFFFFFFFFFFFF
        state ^= state >> 31
        state = state * 0x94D049BB133111EB & 0xFFFFFFFFFFFFFFFF
        state ^= state >> 29
    return (state >> 11) / float(1 << 53)


@dataclass(frozen=True, slots=True)
class LoadShape:
    """A load over the week: ``base`` all the time, plus ``peak`` on working days between ``day_start`` and
    ``day_end`` (local time in ``zone``, a sine bump highest at midday), ``weekend`` × that peak on Saturdays
    and Sundays, every minute scaled by 1 ± ``noise`` drawn from ``seed``.

    The unit is the quantity's per hour: kW for an energy register (kWh), pulses per hour for a pulse counter.
    A machine (an on/off status) runs while the shape's working-hours peak is on."""

    base: float = 0.4
    peak: float = 2.5
    weekend: float = 0.3
    day_start: float = 8.0  # hours
    day_end: float = 18.0
    noise: float = 0.1
    seed: int = 0
    zone: ZoneInfo = _UTC_ZONE

    @classmethod
    def constant(cls, rate: float) -> LoadShape:
        """The same rate around the clock, no noise (the tests' 2 kW)."""
        return cls(base=rate, peak=0.0, weekend=0.0, noise=0.0)

    def variant(self, index: int, factor: float = 1.0) -> LoadShape:
        """Another device of the kind: its own noise (seed) and ``factor`` × its rates (a PDU's outlet)."""
        return dataclasses.replace(
            self, base=self.base * factor, peak=self.peak * factor, seed=self.seed * 7919 + index
        )

    def _day_factor(self, local: datetime) -> float:
        hour = local.hour + local.minute / 60 + local.second / 3600
        if not self.day_start <= hour < self.day_end:
            return 0.0
        bump = 0.6 + 0.4 * math.sin(math.pi * (hour - self.day_start) / (self.day_end - self.day_start))
        return bump if local.weekday() < 5 else bump * self.weekend

    def running(self, at: datetime) -> bool:
        """Whether a machine on this shape's schedule runs at ``at`` (working hours on working days)."""
        local = at.astimezone(self.zone)
        hour = local.hour + local.minute / 60
        return local.weekday() < 5 and self.day_start <= hour < self.day_end and self.peak > 0

    def rate(self, at: datetime) -> float:
        """The load at ``at`` (per hour), noise included; never negative."""
        bucket = _micros(_EPOCH, at) // _MICROS_PER_BUCKET
        level = self.base + self.peak * self._day_factor(at.astimezone(self.zone))
        if self.noise:
            level *= 1 + self.noise * (2 * _mix(self.seed, bucket) - 1)
        return max(level, 0.0)

    def energy(self, start: datetime, end: datetime) -> Fraction:
        """The load integrated from ``start`` to ``end`` (rate × hours), minute by minute, exactly (a constant
        2 kW for 7 minutes and then 53 minutes adds exactly 2 kWh)."""
        if self.peak == 0 and self.noise == 0:
            return Fraction(max(self.base, 0.0)) * _micros(start, end) / _MICROS_PER_HOUR
        return self._integrate(start, end, self.rate)

    def running_hours(self, start: datetime, end: datetime) -> Fraction:
        """Hours a machine on this schedule ran between ``start`` and ``end``."""
        return self._integrate(start, end, lambda at: 1.0 if self.running(at) else 0.0)

    @staticmethod
    def _integrate(start: datetime, end: datetime, rate: Callable[[datetime], float]) -> Fraction:
        """Sum of rate × time, the rate taken at each minute's start (it holds for the whole minute)."""
        if end <= start:
            return Fraction(0)
        cursor, stop = _micros(_EPOCH, start), _micros(_EPOCH, end)
        total = Fraction(0)
        while cursor < stop:
            bucket = cursor // _MICROS_PER_BUCKET
            until = min((bucket + 1) * _MICROS_PER_BUCKET, stop)
            level = rate(_EPOCH + timedelta(microseconds=bucket * _MICROS_PER_BUCKET))
            if level:
                total += Fraction(level) * (until - cursor)
            cursor = until
        return total / _MICROS_PER_HOUR


def _micros(start: datetime, end: datetime) -> int:
    return (end - start) // timedelta(microseconds=1)


def _decimal(value: Fraction) -> Decimal:
    """A Fraction as a Decimal: exact when it has a finite decimal expansion within 34 digits."""
    with localcontext() as context:
        context.prec = 34
        return (Decimal(value.numerator) / Decimal(value.denominator)).normalize()


def default_load(profile: Profile, seed: int) -> LoadShape:
    """An office's load for an energy meter (kW), a building's gas or water use for a pulse counter (40 to
    290 pulses an hour: 0.4 to 2.9 m³ at 0.01 m³ a pulse)."""
    if any(spec.name == "pulses" for spec in profile.registers):
        return LoadShape(base=40.0, peak=250.0, seed=seed)
    return LoadShape(seed=seed)


def _rollover_modulus(spec: RegisterSpec) -> Decimal | None:
    """Where the value wraps back to zero, in the quantity's unit (after scale); None for non-counters."""
    if spec.type in ("uint16", "uint32", "uint64"):
        return Decimal(2 ** (16 * WORDS[spec.type])) * spec.scale
    if spec.type in ("int16", "int32", "int64"):
        return Decimal(2 ** (16 * WORDS[spec.type] - 1)) * spec.scale
    if spec.type in ("float32", "float64"):
        return FLOAT_ROLLOVER
    return None


def _held(spec: RegisterSpec, value: Fraction) -> Decimal:
    """What the meter's register shows for ``value``: an integer count of ``scale`` (cut toward zero), or the
    nearest float32 as its shortest decimal — the value ``decoding.decode`` reads back."""
    if spec.type == "bool":
        return Decimal(1 if value else 0) * spec.scale
    unscaled = value / Fraction(spec.scale)
    if spec.type == "float32":  # the float32 the register holds, then its shortest decimal (as decode does)
        exact = shortest_float(struct.unpack(">f", struct.pack(">f", float(unscaled)))[0], spec.type)
    elif spec.type == "float64":
        exact = shortest_float(float(unscaled), spec.type)
    else:
        exact = Decimal(int(unscaled))  # cut toward zero, as the meter's register counts
    return (exact * spec.scale).normalize() if spec.scale != 1 else exact


class SimulatedMeter:
    """One device on the simulated bus.

    ``values`` are the quantities' start values (in the profile's units, after scale); missing ones start at
    0 (counters) or at a plausible reading (voltage 230 V). ``order`` re-orders every multi-word register
    (``profile_with_order``); None keeps the profile's own. ``load`` drives the counters (``default_load``
    shape when None); ``start`` is the time the values hold at (else the first ``advance`` sets it).

    Counters by name: ``import_kwh``/``total_kwh`` (and the ``_l1``..``_l3`` phases, shares 40/35/25 %) grow
    with the load, ``power*``, ``current``, ``voltage*`` follow it, ``export_kwh`` stays; ``pulses`` count the
    load; ``running``/``on_hours`` follow the shape's working hours; ``outlet_N_kwh`` each follow their own
    variant of the load; any other cumulative register grows with the load, any other stays as set."""

    def __init__(
        self,
        unit_id: int,
        profile: Profile,
        *,
        order: Order | None = None,
        values: Mapping[str, Decimal] | None = None,
        load: LoadShape | None = None,
        start: datetime | None = None,
    ) -> None:
        if not 0 <= unit_id <= 247:
            raise ValueError(f"unit id {unit_id} must be between 0 and 247")
        self.unit_id = unit_id
        self.profile = profile if order is None else profile_with_order(profile, order)
        self.order = order
        self.load = load if load is not None else default_load(profile, unit_id)
        self._lock = threading.Lock()
        self._values: dict[str, Fraction] = {
            spec.name: self._initial(spec) for spec in self.profile.registers
        }
        for name, value in (values or {}).items():
            self.set(name, value)
        self._time = start
        self._silent = False
        self._garbage: GarbageKind | None = None
        self._delay = 0.0
        self._index: dict[Table, dict[int, tuple[RegisterSpec, int]]] = {}
        for spec in self.profile.registers:
            for offset in range(WORDS[spec.type]):
                self._index.setdefault(spec.table, {})[spec.address + offset] = (spec, offset)
        self._outlet_loads = {
            spec.name: self.load.variant(n, 0.15 + 0.25 * _mix(self.load.seed, n))
            for n, spec in enumerate(self.profile.registers, start=1)
            if spec.name.startswith("outlet_")
        }

    @staticmethod
    def _initial(spec: RegisterSpec) -> Fraction:
        return Fraction(230) if spec.name.startswith("voltage") else Fraction(0)

    # ----- the meter's state -----------------------------------------------------------------------------

    @property
    def values(self) -> dict[str, Decimal]:
        """The exact quantities (before the registers' resolution)."""
        with self._lock:
            return {name: _decimal(value) for name, value in self._values.items()}

    def reading(self, name: str) -> Decimal:
        """What a collector decoding this meter's register ``name`` must read (its resolution applied)."""
        spec = self.profile.register(name)
        with self._lock:
            return _held(spec, self._values[name])

    def readings(self) -> dict[str, Decimal]:
        return {spec.name: self.reading(spec.name) for spec in self.profile.registers}

    @property
    def time(self) -> datetime | None:
        return self._time

    def set(self, name: str, value: Decimal | int) -> None:
        """Set quantity ``name`` (in its unit, after scale); ValueError if its register cannot hold it."""
        spec = self.profile.register(name)  # KeyError for a name the profile does not have
        exact = Fraction(value)
        try:
            _encode_held(spec, exact)
        except (struct.error, OverflowError) as error:
            raise ValueError(f"{name}: {value} does not fit a {spec.type} register") from error
        with self._lock:
            self._values[spec.name] = exact

    def silence(self, on: bool = True) -> None:
        """Stop answering at all (a dead meter, a cut cable): the collector times out."""
        self._silent = on

    def garbage(self, on: bool = True, kind: GarbageKind = "mixed") -> None:
        """Answer garbage: ``nan`` in float registers, ``short`` answers (fewer registers than asked),
        ``exception`` 4 (device failure), or ``mixed`` (NaN where a float is read, short answers
        elsewhere)."""
        self._garbage = kind if on else None

    def slow(self, seconds: float) -> None:
        """Answer ``seconds`` late (a slow meter, a congested gateway); 0 answers at once again."""
        self._delay = max(seconds, 0.0)

    @property
    def delay(self) -> float:
        return self._delay

    def resume(self) -> None:
        """Answer normally again (not silent, no garbage, not slow)."""
        self._silent = False
        self._garbage = None
        self._delay = 0.0

    @property
    def silent(self) -> bool:
        return self._silent

    def roll_over(self, margin: Decimal | None = None) -> None:
        """Put every counter just below where it wraps (``margin`` below, default 5 units of the quantity):
        the next ``advance`` carries it past its maximum and back near zero."""
        with self._lock:
            for spec in self.profile.registers:
                modulus = _rollover_modulus(spec)
                if spec.cumulative and modulus is not None:
                    below = margin if margin is not None else Decimal(5)
                    self._values[spec.name] = Fraction(modulus - max(below, spec.scale))

    def swap(self, values: Mapping[str, Decimal] | None = None) -> None:
        """A new device in the old one's place: counters restart (at ``values`` or 0), misbehaviour ends."""
        with self._lock:
            for spec in self.profile.registers:
                if spec.cumulative:
                    self._values[spec.name] = Fraction(0)
        for name, value in (values or {}).items():
            self.set(name, value)
        self.resume()

    def advance(self, to: datetime) -> None:
        """Let time run to ``to``: the counters grow by the load between the last time and ``to``."""
        if to.tzinfo is None:
            raise ValueError(f"to must carry a UTC offset, got {to.isoformat()}")
        start = self._time
        self._time = to if start is None or to > start else start
        if start is None or to <= start:
            self._instant(to)
            return
        growth: dict[str, Fraction] = {}
        energy: Fraction | None = None
        for spec in self.profile.registers:  # integrated outside the lock: reads go on meanwhile
            name = spec.name
            if not spec.cumulative or name == "export_kwh":
                continue
            if name.startswith("outlet_"):
                growth[name] = self._outlet_loads[name].energy(start, to)
            elif name == "on_hours":
                growth[name] = self.load.running_hours(start, to)
            else:
                if energy is None:
                    energy = self.load.energy(start, to)
                share = _PHASE_SHARE.get(name[-2:], Fraction(1)) if name[-3:-2] == "_" else Fraction(1)
                growth[name] = energy * share
        with self._lock:
            for spec in self.profile.registers:
                if spec.name in growth:
                    self._grow(spec, growth[spec.name])
        self._instant(to)

    def _grow(self, spec: RegisterSpec, by: Fraction) -> None:
        value = self._values[spec.name] + by
        modulus = _rollover_modulus(spec)
        if modulus is not None and value >= modulus:
            value %= Fraction(modulus)
        self._values[spec.name] = value

    def _instant(self, at: datetime) -> None:
        """The instantaneous quantities (power, current, status) at ``at``."""
        kw = self.load.rate(at)
        with self._lock:
            for spec in self.profile.registers:
                name = spec.name
                if spec.cumulative:
                    continue
                if name == "running":
                    self._values[name] = Fraction(1 if self.load.running(at) else 0)
                elif name == "power":
                    self._values[name] = Fraction(f"{kw * 1000:.1f}")
                elif name.startswith("power_l"):
                    self._values[name] = Fraction(f"{kw * 1000 * float(_PHASE_SHARE[name[-2:]]):.1f}")
                elif name == "current":
                    self._values[name] = Fraction(f"{kw * 1000 / 230:.3f}")

    # ----- the registers ---------------------------------------------------------------------------------

    def registers(self, table: Table, address: int, count: int) -> list[int] | ExcCodes:
        """The answer to a read of ``count`` registers (bits) of ``table`` from ``address``: values, or the
        exception code a real meter answers (2: an address it does not map, 3: more than it reads at once)."""
        if count > self.profile.max_read:
            return ExcCodes.ILLEGAL_VALUE
        index = self._index.get(table, {})
        if not index:
            return ExcCodes.ILLEGAL_ADDRESS
        addresses = range(address, address + count)
        if self.profile.max_gap == 0:
            if any(a not in index for a in addresses):
                return ExcCodes.ILLEGAL_ADDRESS
        elif address < min(index) or address + count - 1 > max(index):
            return ExcCodes.ILLEGAL_ADDRESS
        garbage = self._garbage
        if garbage == "exception":
            return ExcCodes.DEVICE_FAILURE
        words: dict[RegisterSpec, list[int]] = {}
        answer: list[int] = []
        nan_in_answer = False
        with self._lock:
            for a in addresses:
                if a not in index:
                    answer.append(0)
                    continue
                spec, offset = index[a]
                if spec not in words:
                    if garbage in ("nan", "mixed") and spec.type in ("float32", "float64"):
                        words[spec] = _nan_words(spec)
                        nan_in_answer = True
                    else:
                        words[spec] = _encode_held(spec, self._values[spec.name])
                answer.append(words[spec][offset])
        if garbage == "short" or (garbage == "mixed" and not nan_in_answer):
            return answer[: max(count - 1, 0)] if table not in BIT_TABLES else answer[: max(count - 8, 0)]
        return answer


_PHASE_SHARE = {"l1": Fraction(40, 100), "l2": Fraction(35, 100), "l3": Fraction(25, 100)}


def _encode_held(spec: RegisterSpec, value: Fraction) -> list[int]:
    if spec.type == "bool":
        return [1 if value else 0]
    return encode(spec, _held(spec, value))


def _nan_words(spec: RegisterSpec) -> list[int]:
    raw = struct.pack(">f" if spec.type == "float32" else ">d", math.nan)
    return _reorder([int.from_bytes(raw[i : i + 2], "big") for i in range(0, len(raw), 2)], spec.order)


def _reorder(words: list[int], order: Order) -> list[int]:
    """Big-endian words (ABCD) laid out in ``order``."""
    raw = b"".join(w.to_bytes(2, "big") for w in words)
    if order in ("BADC", "DCBA"):
        raw = b"".join(raw[i : i + 2][::-1] for i in range(0, len(raw), 2))
    out = [int.from_bytes(raw[i : i + 2], "big") for i in range(0, len(raw), 2)]
    return list(reversed(out)) if order in ("CDAB", "DCBA") else out
